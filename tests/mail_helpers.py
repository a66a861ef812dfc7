"""A real SMTP server (aiosmtpd) on a free local port and a recording SMS gateway, wired into
rules.notify for one test: the oracle is the message actually received."""
from __future__ import annotations

import email
import re
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from rules import notify


class Inbox:
    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.received if m["To"] == address]

    def text(self, message) -> str:
        return message.get_content()


class RecordingGateway(notify.SmsGateway):
    """SMS_GATEWAY="tests.mail_helpers:RecordingGateway": keeps what it was asked to send."""

    def __init__(self, config=None):
        super().__init__(config)
        self.sent: list[tuple[str, str]] = []

    def send(self, mobile: str, text: str) -> None:
        if self.config.get("SMS_FAIL"):
            raise notify.DeliveryError("短信网关拒绝发送")
        self.sent.append((mobile, text))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    previous = notify.configure(notify.from_config({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": controller.port, "MAIL_DEFAULT_SENDER": "科技后台 <noreply@kj.example.cn>"}))
    try:
        yield inbox
    finally:
        notify.configure(previous)
        controller.stop()


@pytest.fixture
def sms(app):
    previous = notify.configure(notify.from_config({"SMS_GATEWAY": "tests.mail_helpers:RecordingGateway"}))
    try:
        yield notify.current().sms
    finally:
        notify.configure(previous)


@pytest.fixture
def smtp_down(app):
    """MAIL_SERVER set to a port where nobody listens."""
    previous = notify.configure(notify.from_config({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port(), "MAIL_TIMEOUT": 3}))
    try:
        yield
    finally:
        notify.configure(previous)


def temporary_password(text: str) -> str:
    """The password in a 临时密码 message (e-mail, SMS or outbox body)."""
    return re.search(r"临时密码为 (\S+) 。", text).group(1)


def outbox_password(session) -> str:
    """With no channel configured, the latest temporary password waits in the 消息 outbox."""
    from models import Message

    session.expire_all()
    body = session.scalar(select(Message.body).where(Message.kind == "temporary_password").order_by(Message.id.desc()).limit(1))
    return temporary_password(body)
