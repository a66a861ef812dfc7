"""消息: one way to tell a user something (temporary passwords, one-time codes, review outcomes).

`notify()` records the message in the caller's transaction; the configured channels deliver it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy.orm import Session

from models import Channel, Message, MessageStatus, User


def notify(session: Session, user: Optional[User], kind: str, subject: str, body: str, *, address: Optional[str] = None) -> Message:
    """Record a notice for `user` (or for a bare `address`). Until a channel is configured it stays
    in the 消息 outbox for the system administrator."""
    message = Message(
        user_id=user.id if user is not None else None,
        channel=Channel.outbox,
        address=address or (user.email if user is not None else None),
        kind=kind,
        subject=subject[:200],
        body=body,
        status=MessageStatus.kept,
        created_at=datetime.now(),
    )
    session.add(message)
    session.flush()
    return message
