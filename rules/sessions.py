"""Sessions that end: 在线用户 rows, and the one rule that ends a user's sessions.

A signed-in browser holds a random token (only its sha256 is stored, in `login_session`) and the
user's `session_version` as it was at login. A session counts while its row is open and that
version is still the user's. Raising `User.session_version` ends every session of the user; it is
raised here, by a flush listener, whenever the password, the 启用 state, the role or the unit of a
user changes — in a form, an action, a transition, the CLI alike — and by logout itself. The
open rows of that user are closed in the same transaction, so 在线用户 shows what still counts.
"""
from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import event, inspect, insert, select, update
from sqlalchemy.orm import Session

from models import LoginSession, User

from . import audit

# a change of one of these ends every session of the user
# (the unit also as its relationship: a form sets `user.unit`, and unit_id follows only in the flush)
WATCHED = {"password_hash": "password", "active": "disabled", "role": "role", "unit_id": "role", "unit": "role"}
END_REASONS = {
    "logout": "退出登录",
    "password": "密码变更",
    "disabled": "账号停用",
    "role": "角色或单位变更",
    "forced": "强制退出",
    "ended": "会话失效",
}
IDLE = timedelta(hours=8)  # an untouched session ends (PERMANENT_SESSION_LIFETIME)
TOUCH_EVERY = timedelta(minutes=1)
_PENDING = "sessions_to_end"
COOKIE_TOKEN, COOKIE_VERSION = "_sid", "_sv"  # in the Flask session: the login_session token, the user's version


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user: User, ip: Optional[str], user_agent: Optional[str]) -> str:
    """Open a session row for `user`; the returned token goes into the cookie, never the database.
    Recorded by the login's own audit row, hence a core insert."""
    token = secrets.token_urlsafe(32)
    now = datetime.now()
    session.execute(
        insert(LoginSession).values(
            token_hash=token_hash(token), user_id=user.id, ip=(ip or "")[:45] or None,
            user_agent=(user_agent or "")[:200] or None, started_at=now, last_seen_at=now,
        )
    )
    return token


def lookup(session: Session, user_id: int, version: int, token: str) -> Optional[tuple[User, int, datetime]]:
    """The signed-in user of a request, in one query: an active user whose version is the
    session's, with an open, recently used row for its token. (user, row id, last seen) or None."""
    row = session.execute(
        select(User, LoginSession.id, LoginSession.last_seen_at)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.active.is_(True),
            User.session_version == version,
            LoginSession.token_hash == token_hash(token),
            LoginSession.ended_at.is_(None),
            LoginSession.last_seen_at > datetime.now() - IDLE,
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


def touch(session: Session, row_id: int, last_seen: datetime) -> bool:
    """最近访问时间, written at most once a minute (a bookkeeping write, not audited)."""
    now = datetime.now()
    if now - last_seen < TOUCH_EVERY:
        return False
    session.execute(update(LoginSession).where(LoginSession.id == row_id).values(last_seen_at=now))
    return True


_BROWSERS = (("MicroMessenger", "微信"), ("QQBrowser", "QQ浏览器"), ("360SE", "360浏览器"), ("Edg", "Edge"),
             ("OPR", "Opera"), ("Firefox", "Firefox"), ("Chrome", "Chrome"), ("Safari", "Safari"), ("Trident", "IE"), ("MSIE", "IE"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Mac OS", "macOS"), ("Linux", "Linux"))


def browser_label(user_agent: Optional[str]) -> str:
    """浏览器 as 在线用户 shows it: "Chrome（Windows）" from the User-Agent, else the text itself."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    if browser is None:
        return ua[:40] or "未知"
    return f"{browser}（{system}）" if system else browser


def open_sessions():
    """The 在线用户 rows: open, recently used, of an active user."""
    return (
        LoginSession.ended_at.is_(None),
        LoginSession.last_seen_at > datetime.now() - IDLE,
        LoginSession.user_id.in_(select(User.id).where(User.active.is_(True))),
    )


def end_user_sessions(session: Session, user_id: int, reason: str, except_token: Optional[str] = None) -> int:
    """Close the open rows of a user (the version is raised by the caller or the listener)."""
    stmt = update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
    if except_token:
        stmt = stmt.where(LoginSession.token_hash != token_hash(except_token))
    return session.execute(stmt.values(ended_at=datetime.now(), end_reason=reason)).rowcount


def end_all(session: Session, user: User, reason: str = "logout") -> None:
    """Logout: every session of the user ends, in other browsers and workers too."""
    user.session_version = (user.session_version or 0) + 1
    session.info.setdefault(_PENDING, {})[user.id] = reason


def force_end(session: Session, row_id: int, current_token: Optional[str]) -> Optional[str]:
    """强退 one session (在线用户); the refusal in Chinese, or None when it ended. Audited."""
    row = session.get(LoginSession, row_id)
    if row is None or row.ended_at is not None:
        return "该会话已结束"
    if current_token and row.token_hash == token_hash(current_token):
        return "不能强退您自己当前的会话，请使用“退出登录”"
    user = session.get(User, row.user_id)
    session.execute(
        update(LoginSession).where(LoginSession.id == row_id, LoginSession.ended_at.is_(None))
        .values(ended_at=datetime.now(), end_reason="forced")
    )
    audit.record(
        session, "force_logout", "login_session", row_id,
        before={"ended_at": None}, after={"ended_at": audit.jsonable(datetime.now()), "end_reason": "forced"},
        summary=f"强退 {user.username if user else row.user_id} 的会话（{row.ip or '未知地址'}）",
    )
    return None


# -- the one rule: a change of password, 启用, role or unit raises the version -------------------
def _plain(values) -> list:
    return [v.value if isinstance(v, enum.Enum) else v for v in values]


def _changed(user: User, key: str) -> bool:
    """Whether the attribute really changed: the same value set again (a form posts the role as its
    code, "applicant" for Role.applicant) is no change."""
    hist = inspect(user).attrs[key].history
    return bool(hist.added) and _plain(hist.added) != _plain(hist.deleted)


def _before_flush(session: Session, flush_context, instances) -> None:
    pending = session.info.setdefault(_PENDING, {})
    for obj in list(session.dirty):
        if not isinstance(obj, User) or obj.id is None:
            continue
        reasons = [WATCHED[k] for k in WATCHED if _changed(obj, k)]
        if _changed(obj, "session_version"):
            pending.setdefault(obj.id, reasons[0] if reasons else "ended")
        elif reasons:
            obj.session_version = (obj.session_version or 0) + 1
            pending.setdefault(obj.id, reasons[0])


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, None)
    for user_id, reason in (pending or {}).items():
        end_user_sessions(session, user_id, reason)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(session_class=Session) -> None:
    """Attach the listeners to a session class (idempotent), as rules.audit.install does."""
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush), ("after_rollback", _after_rollback)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
