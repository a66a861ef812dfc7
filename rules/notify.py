"""消息: one way to tell a user something (temporary passwords, one-time codes, review outcomes).

`notify()` records the message in the caller's transaction and picks its channel: e-mail when the
user has an address and SMTP is configured, else SMS when the user has a mobile and a gateway is
configured, else it stays in the 消息 outbox for the system administrator. The configured
`Notifier` delivers only after that transaction commits (a rolled-back change sends nothing),
then writes 已发送/发送失败 in a short transaction of its own; a delivered secret is not kept.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import importlib
import logging
import smtplib
import socket
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any, Mapping, Optional

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from models import Channel, Message, MessageStatus, User

log = logging.getLogger("kjback.notify")

REDACTED = "******"
PENDING = "notify_pending"  # session.info key: messages waiting for the commit

KINDS = {
    "temporary_password": "临时密码",
    "reset_code": "找回密码验证码",
    "password_reset": "密码重置通知",
}


class DeliveryError(Exception):
    """A delivery that did not happen, with the reason in Chinese (kept in Message.error)."""


class SmsGateway(ABC):
    """The interface of an SMS provider: `SMS_GATEWAY="package.module:Class"` names a subclass.
    It is built with the application's configuration and raises DeliveryError when it fails."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None) -> None:
        self.config = dict(config or {})

    @abstractmethod
    def send(self, mobile: str, text: str) -> None:
        """Deliver `text` to `mobile`, or raise DeliveryError (a subclass without it cannot be built)."""


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int = 25
    username: Optional[str] = None
    password: Optional[str] = None
    use_tls: bool = False
    use_ssl: bool = False
    sender: str = "noreply@localhost"
    timeout: float = 10.0


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value)


def mail_settings(config: Mapping[str, Any]) -> Optional[MailSettings]:
    """The MAIL_* settings (Flask-Mail's names), or None when no MAIL_SERVER is set."""
    server = (config.get("MAIL_SERVER") or "").strip()
    if not server:
        return None
    use_ssl = _flag(config.get("MAIL_USE_SSL", False))
    return MailSettings(
        server=server,
        port=int(config.get("MAIL_PORT") or (465 if use_ssl else 25)),
        username=config.get("MAIL_USERNAME") or None,
        password=config.get("MAIL_PASSWORD") or None,
        use_tls=_flag(config.get("MAIL_USE_TLS", False)),
        use_ssl=use_ssl,
        sender=config.get("MAIL_DEFAULT_SENDER") or config.get("MAIL_USERNAME") or f"noreply@{server}",
        timeout=float(config.get("MAIL_TIMEOUT") or 10),
    )


def load_gateway(spec: Optional[str], config: Optional[Mapping[str, Any]] = None) -> Optional[SmsGateway]:
    """SMS_GATEWAY="module:Class" → an instance; a wrong name stops the start-up with a clear error."""
    if not spec:
        return None
    module_name, _, class_name = spec.partition(":")
    try:
        gateway_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"SMS_GATEWAY {spec!r} cannot be loaded: {error}") from error
    return gateway_class(config)


def send_mail(settings: MailSettings, to: str, subject: str, body: str) -> None:
    """One plain-text e-mail through SMTP (stdlib), every step bounded by the timeout."""
    message = EmailMessage()
    name, address = parseaddr(settings.sender)
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    with smtp_class(settings.server, settings.port, timeout=settings.timeout) as smtp:
        if settings.use_tls and not settings.use_ssl:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def mail_error(error: Exception) -> str:
    """What went wrong with SMTP, said in Chinese for the outbox."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return "邮件服务器认证失败，请检查发件账号配置"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "邮件服务器拒绝了该收件地址"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "连接邮件服务器超时"
    if isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, socket.gaierror)):
        return "无法连接邮件服务器"
    if isinstance(error, smtplib.SMTPException):
        return "邮件服务器拒绝发送"
    return "邮件发送失败"


@dataclass
class Notifier:
    """The configured channels. With none of them, every message stays in the outbox."""

    mail: Optional[MailSettings] = None
    sms: Optional[SmsGateway] = None

    def can(self, channel: Channel) -> bool:
        return (channel == Channel.email and self.mail is not None) or (channel == Channel.sms and self.sms is not None)

    def channels_for(self, user: Optional[User]) -> list[Channel]:
        """The channels that can reach this user, best first."""
        if user is None:
            return []
        found = []
        if user.email and self.can(Channel.email):
            found.append(Channel.email)
        if user.mobile and self.can(Channel.sms):
            found.append(Channel.sms)
        return found

    def choose(self, user: Optional[User], address: Optional[str], via: Optional[Channel]) -> tuple[Channel, Optional[str]]:
        if address:  # a bare address: an e-mail has an @, anything else is a mobile number
            channel = Channel.email if "@" in address else Channel.sms
            return (channel, address) if self.can(channel) and via in (None, channel) else (Channel.outbox, address)
        options = self.channels_for(user)
        if via is not None:
            options = [c for c in options if c == via]
        if options:
            return options[0], (user.email if options[0] == Channel.email else user.mobile)
        return Channel.outbox, (user.email or user.mobile) if user is not None else None

    def send(self, message: Message) -> None:
        if message.channel == Channel.email:
            try:
                send_mail(self.mail, message.address, message.subject, message.body)
            except Exception as error:  # noqa: BLE001 — any failure is a 发送失败, never a 500
                log.warning("邮件发送失败 message=%s: %r", message.id, error)
                raise DeliveryError(mail_error(error)) from error
        elif message.channel == Channel.sms:
            try:
                self.sms.send(message.address, f"【{message.subject}】{message.body}")
            except DeliveryError:
                raise
            except Exception as error:  # noqa: BLE001
                log.warning("短信发送失败 message=%s: %r", message.id, error)
                raise DeliveryError("短信网关发送失败") from error

    def deliver(self, bind, pending: list["_Pending"]) -> None:
        """Send each committed message, then record the outcome in a short transaction of its own."""
        for item in pending:
            with Session(bind=bind) as session, session.begin():
                message = session.get(Message, item.message_id)
                if message is None or message.status != MessageStatus.kept or message.channel == Channel.outbox:
                    continue
                try:
                    self.send(message)
                except DeliveryError as error:
                    message.status, message.error = MessageStatus.failed, str(error)[:200]
                else:
                    message.status, message.sent_at, message.error = MessageStatus.sent, datetime.now(), None
                    if item.secret:
                        message.body = message.body.replace(item.secret, REDACTED)
                outcome = {key: getattr(message, key) for key in ("status", "error", "sent_at", "body")}
            if item.message is not None:  # the caller's copy says how it went, without a query
                for key, value in outcome.items():
                    set_committed_value(item.message, key, value)


@dataclass
class _Pending:
    message_id: int
    secret: Optional[str]
    transaction: Optional[SessionTransaction] = field(default=None, compare=False)
    message: Optional[Message] = field(default=None, compare=False)


_notifier = Notifier()


def configure(notifier: Notifier) -> Notifier:
    """Install the channels (app.py does, from the configuration); returns the previous ones."""
    global _notifier
    previous, _notifier = _notifier, notifier
    install()
    return previous


def from_config(config: Mapping[str, Any]) -> Notifier:
    return Notifier(mail=mail_settings(config), sms=load_gateway(config.get("SMS_GATEWAY"), config))


def current() -> Notifier:
    return _notifier


def notify(
    session: Session,
    user: Optional[User],
    kind: str,
    subject: str,
    body: str,
    *,
    address: Optional[str] = None,
    via: Optional[Channel] = None,
    secret: Optional[str] = None,
) -> Message:
    """Record a notice for `user` (or for a bare `address`), to be delivered once the caller's
    transaction commits. `via` asks for one channel; `secret` (a code, a temporary password) is
    blanked out of the stored body once the message has been delivered."""
    channel, to = _notifier.choose(user, address, via)
    message = Message(
        user_id=user.id if user is not None else None,
        channel=channel,
        address=(to or "")[:120] or None,
        kind=kind,
        subject=subject[:200],
        body=body,
        status=MessageStatus.kept,
        created_at=datetime.now(),
    )
    session.add(message)
    session.flush()
    if channel != Channel.outbox:
        real = session() if isinstance(session, scoped_session) else session  # the session whose commit delivers
        real.info.setdefault(PENDING, []).append(_Pending(message.id, secret, real.get_nested_transaction(), message))
    return message


def temporary_password(session: Session, user: User, password: str) -> Message:
    """The one-time password of a new or reset account, told to its owner (seed 004: 新密码会发送到注册邮箱)."""
    body = (f"{user.name}，您好：您的账号 {user.username} 的临时密码为 {password} 。"
            "请尽快登录，首次登录须修改密码。如非本人申请，请联系单位管理员。")
    return notify(session, user, "temporary_password", "您的临时密码", body, secret=password)


# -- delivery after commit ------------------------------------------------------------------
def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        _notifier.deliver(session.get_bind(), pending)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    """A rolled-back savepoint forgets the messages recorded inside it; a full rollback, all."""
    pending = session.info.get(PENDING)
    if not pending:
        return
    if not previous.nested:
        session.info.pop(PENDING, None)
        return

    def inside(txn: Optional[SessionTransaction]) -> bool:
        while txn is not None:
            if txn is previous:
                return True
            txn = txn.parent
        return False

    session.info[PENDING] = [p for p in pending if not inside(p.transaction)]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(PENDING, None)  # closed without a commit: nothing was sent


def install(session_class: Any = Session) -> None:
    """Attach the delivery hooks to a session class (idempotent)."""
    for name, fn in (("after_commit", _after_commit), ("after_soft_rollback", _after_soft_rollback), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)


# -- what the user is told --------------------------------------------------------------------
def mask(address: Optional[str]) -> str:
    """z***@example.com, 138****5678: enough to recognise one's own address, not to learn someone's."""
    if not address:
        return ""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{address[:3]}****{address[-4:]}" if len(address) >= 8 else address[:1] + "****"


def outcome(message: Message) -> str:
    """How the message went, in one Chinese phrase: 已通过电子邮件发送至 z***@example.com, …"""
    if message.status == MessageStatus.sent:
        return f"已通过{message.channel.label}发送至 {mask(message.address)}"
    if message.status == MessageStatus.failed:
        return f"{message.channel.label}发送失败（{message.error}），已保存至站内消息，请联系系统管理员转告"
    if message.channel != Channel.outbox:
        return f"正在通过{message.channel.label}发送至 {mask(message.address)}"
    return "已保存至站内消息，请联系系统管理员转告"
