"""Audit trail: every ORM write is logged in the same transaction, with before/after values.

The actor (who, from which IP) lives in a context variable that the web layer sets per request
and the CLI sets per command, so rules stay free of Flask.
"""
from __future__ import annotations

import contextvars
import enum
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Optional

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from models import AuditLog, LoginThrottle

REDACTED = "******"
SECRET_COLUMNS = frozenset({"password_hash"})
# per table: a message body may carry a temporary password or a one-time code
SECRET_FIELDS = frozenset({("message", "body"), ("password_reset", "code_hash"), ("password_reset", "token_hash")})
NOT_AUDITED = (AuditLog, LoginThrottle)


@dataclass(frozen=True)
class Actor:
    user_id: Optional[int] = None
    username: Optional[str] = None
    ip: Optional[str] = None


SYSTEM = Actor(username="system")
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _actor.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _actor.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, dict, str, int, float, bool)) or value is None:
        return value
    return str(value)


def _value(key: str, value: Any, table: Optional[str] = None) -> Any:
    secret = key in SECRET_COLUMNS or (table, key) in SECRET_FIELDS
    return REDACTED if secret and value is not None else jsonable(value)


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of an ORM object as JSON-safe data."""
    mapper = inspect(obj).mapper
    table = getattr(obj, "__tablename__", None)
    return {attr.key: _value(attr.key, getattr(obj, attr.key), table) for attr in mapper.column_attrs}


def _changes(obj: Any) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new and jsonable(old) != jsonable(new):  # a form posts an enum as its code: no change
                before[attr.key] = _value(attr.key, old, obj.__tablename__)
                after[attr.key] = _value(attr.key, new, obj.__tablename__)
    return before, after


def _row_id(obj: Any) -> str:
    # new rows have their key in the attributes already, but not yet an identity, during the flush
    return ",".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


def record(
    session: Session,
    action: str,
    table_name: Optional[str] = None,
    row_id: Any = None,
    before: Optional[dict] = None,
    after: Optional[dict] = None,
    summary: Optional[str] = None,
    actor: Optional[Actor] = None,
) -> None:
    """Write one audit row through the session's connection (same transaction as the change)."""
    record_all(session, [entry(action, table_name, row_id, before, after, summary, actor)])


def record_all(session: Session, entries: list[dict]) -> None:
    """Write many `entry()` rows in one INSERT (a bulk transition audits every row it moved)."""
    if entries:
        session.execute(insert(AuditLog), entries)


def entry(action, table_name, row_id, before=None, after=None, summary=None, actor=None, at: Optional[datetime] = None) -> dict:
    """One audit row as values: for changes made by core UPDATEs, which the flush listener never sees."""
    actor = actor or current_actor()
    return {
        "at": at or datetime.now(),
        "user_id": actor.user_id,
        "username": actor.username,
        "ip": actor.ip,
        "action": action,
        "table_name": table_name,
        "row_id": None if row_id is None else str(row_id),
        "before": before,
        "after": after,
        "summary": summary,
    }


def _after_flush(session: Session, flush_context) -> None:
    if session.info.get("audit_disabled"):
        return
    rows = []
    for obj in session.new:
        if not isinstance(obj, NOT_AUDITED):
            rows.append(entry("create", obj.__tablename__, _row_id(obj), None, snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, NOT_AUDITED) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if after:
            rows.append(entry("update", obj.__tablename__, _row_id(obj), before, after))
    for obj in session.deleted:
        if not isinstance(obj, NOT_AUDITED):
            rows.append(entry("delete", obj.__tablename__, _row_id(obj), snapshot(obj), None))
    if rows:
        session.connection().execute(insert(AuditLog), rows)


def install(session_class: Any = Session) -> None:
    """Attach the audit listener to a session class (idempotent)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
