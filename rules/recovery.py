"""密保问题 (seed 004): three questions chosen at 单位管理用户注册, answers kept only as hashes, used
by 忘记密码 to prove who is asking; and the 忘记密码 journey itself (seed 002 §2.3)."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Channel, Message, PasswordReset, User
from rules import audit, notify
from rules.passwords import hash_password, policy_errors, verify_password

# The questions offered on the registration form (seed 004 图 10: 问题一/二/三 ---请选择问题---).
QUESTIONS = (
    "您母亲的姓名是？",
    "您父亲的姓名是？",
    "您配偶的姓名是？",
    "您的出生地是？",
    "您小学的校名是？",
    "您高中班主任的姓名是？",
    "您最喜欢的一本书是？",
    "您单位的成立年份是？",
)
COUNT = 3
ANSWER_MAX = 50


def normalise(answer: str) -> str:
    """Answers compare without case, width (全角/半角) or spacing differences."""
    return "".join(unicodedata.normalize("NFKC", answer or "").lower().split())


def security_questions(pairs: Iterable[tuple[str, str]]) -> list[dict]:
    """What User.security_questions stores: each question with the hash of its normalised answer."""
    return [{"question": q, "answer": hash_password(normalise(a))} for q, a in pairs]


def answers_match(stored: list[dict] | None, answers: list[str]) -> bool:
    """All three answers right (in the stored order); never says which one was wrong."""
    stored = stored or []
    if len(stored) != COUNT or len(answers) != COUNT:
        return False
    results = [verify_password(item.get("answer") or "", normalise(a)) for item, a in zip(stored, answers)]
    return all(results)


def pairs_errors(pairs: list[tuple[str, str]]) -> dict[int, str]:
    """Form errors by position (0–2): a question from the list, three different ones, an answer."""
    errors: dict[int, str] = {}
    seen = set()
    for i, (question, answer) in enumerate(pairs):
        if question not in QUESTIONS:
            errors[i] = "请选择问题"
        elif question in seen:
            errors[i] = "三个问题不能重复"
        elif not normalise(answer):
            errors[i] = "请填写答案"
        elif len(answer) > ANSWER_MAX:
            errors[i] = f"答案最多 {ANSWER_MAX} 个字符"
        seen.add(question)
    return errors


# -- 忘记密码 (seed 002 §2.3): identify, prove it (密保问题 or a one-time code), set a new password --

RESET_TTL = timedelta(minutes=30)  # the whole journey
CODE_TTL = timedelta(minutes=10)  # a code, and the time to choose a password once proven
MAX_ATTEMPTS = 5
CODE_DIGITS = 6

MISMATCH = "账号信息不匹配"
VOID = "本次找回密码已失效，请重新开始"
TOO_MANY = "验证失败次数过多，本次找回密码已失效，请重新开始"
EXPIRED = "验证码已过期，请重新获取"
WRONG_CODE = "验证码不正确"
WRONG_ANSWERS = "密保问题答案不正确"
DISABLED = "账号已停用，不能找回密码，请联系单位管理员"
METHODS = {"question": "回答密保问题", "email": "发送验证码至电子邮箱", "sms": "发送验证码至手机"}
CHANNELS = {"email": Channel.email, "sms": Channel.sms}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def contact_matches(user: User, contact: str) -> bool:
    """The challenge: the account's registered 手机号码 or 电子邮箱 typed again."""
    contact = (contact or "").strip()
    if not contact:
        return False
    same_mobile = bool(user.mobile) and secrets.compare_digest(contact.encode(), user.mobile.encode())
    same_email = bool(user.email) and secrets.compare_digest(contact.lower().encode(), user.email.strip().lower().encode())
    return same_mobile or same_email


def has_questions(user: User) -> bool:
    return len(user.security_questions or []) == COUNT


def methods(user: User, notifier: Optional[notify.Notifier] = None) -> dict[str, str]:
    """The ways this account can prove itself now: its 密保问题, and the channels that reach it."""
    notifier = notifier or notify.current()
    found = {"question": METHODS["question"]} if has_questions(user) else {}
    for name, channel in CHANNELS.items():
        if channel in notifier.channels_for(user):
            address = user.email if channel == Channel.email else user.mobile
            found[name] = f"{METHODS[name]} {notify.mask(address)}"
    return found


def start(session: Session, user: User, ip: Optional[str], now: Optional[datetime] = None) -> str:
    """A new attempt for this account (older open ones end); returns the browser's token."""
    now = now or datetime.now()
    for old in session.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(token_hash=token_hash(token), user_id=user.id, ip=(ip or "")[:45] or None,
                              created_at=now, expires_at=now + RESET_TTL, attempts=0))
    session.flush()
    return token


def current(session: Session, token: Optional[str], now: Optional[datetime] = None) -> Optional[PasswordReset]:
    """The open attempt behind this token: not used, not void, within its 30 minutes, account enabled."""
    if not token or len(token) > 100:
        return None
    now = now or datetime.now()
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
    if reset is None or reset.used_at is not None or reset.attempts >= MAX_ATTEMPTS or reset.created_at + RESET_TTL < now:
        return None
    user = session.get(User, reset.user_id)
    return reset if user is not None and user.active else None


def send_code(session: Session, reset: PasswordReset, user: User, method: str, now: Optional[datetime] = None) -> Message:
    """A fresh 6-digit code (hashed here, valid 10 minutes) sent through notify() on commit."""
    now = now or datetime.now()
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    reset.method, reset.code_hash, reset.expires_at, reset.verified_at = method, hash_password(code), now + CODE_TTL, None
    body = f"您正在找回科技项目申报与企业库管理后台的登录密码，验证码：{code}，10 分钟内有效。如非本人操作，请忽略本消息。"
    return notify.notify(session, user, "reset_code", "找回密码验证码", body, via=CHANNELS[method], secret=code)


def _wrong(session: Session, reset: PasswordReset, message: str) -> str:
    reset.attempts = (reset.attempts or 0) + 1
    session.flush()
    return TOO_MANY if reset.attempts >= MAX_ATTEMPTS else f"{message}，还可尝试 {MAX_ATTEMPTS - reset.attempts} 次"


def _verified(reset: PasswordReset, method: str, now: datetime) -> None:
    reset.method, reset.code_hash, reset.verified_at, reset.expires_at = method, None, now, now + CODE_TTL


def check_code(session: Session, reset: PasswordReset, code: str, now: Optional[datetime] = None) -> Optional[str]:
    """None when the code is right (it is then spent); otherwise why not."""
    now = now or datetime.now()
    if reset.method not in CHANNELS or not reset.code_hash:
        return EXPIRED
    if reset.expires_at < now:
        return EXPIRED
    if not verify_password(reset.code_hash, (code or "").strip()):
        return _wrong(session, reset, WRONG_CODE)
    _verified(reset, reset.method, now)
    return None


def check_answers(session: Session, reset: PasswordReset, user: User, answers: list[str], now: Optional[datetime] = None) -> Optional[str]:
    now = now or datetime.now()
    if not answers_match(user.security_questions, answers):
        return _wrong(session, reset, WRONG_ANSWERS)
    _verified(reset, "question", now)
    return None


def may_set_password(reset: PasswordReset, now: Optional[datetime] = None) -> bool:
    return reset.verified_at is not None and reset.expires_at >= (now or datetime.now())


@dataclass
class Done:
    errors: list[str]
    message: Optional[Message] = None


def complete(session: Session, reset: PasswordReset, user: User, password: str, actor: audit.Actor, now: Optional[datetime] = None) -> Done:
    """The new password: policy first; the attempt spent once (compare-and-set); every session ends."""
    now = now or datetime.now()
    problems = policy_errors(password, user.username, user.mobile or "")
    if verify_password(user.password_hash, password):
        problems.append("新密码不能与原密码相同")
    if problems:
        return Done(problems)
    spent = session.execute(
        update(PasswordReset).where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if spent != 1:
        return Done([VOID])
    user.password_hash = hash_password(password)
    user.must_change_password = False
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    how = METHODS.get(reset.method or "", reset.method or "")
    audit.record(session, "password_reset", "app_user", user.id, summary=f"忘记密码：通过{how}验证后重置密码", actor=actor)
    body = f"您的密码已于 {now:%Y-%m-%d %H:%M} 通过“忘记密码”重置。如非本人操作，请立即联系单位管理员。"
    return Done([], notify.notify(session, user, "password_reset", "您的密码已重置", body))
