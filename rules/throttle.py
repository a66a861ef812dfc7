"""Login throttling: 5 failures for an account within 15 minutes lock it for 15 minutes.

Counters live in Redis when configured (shared by every worker and machine), otherwise in the
database table `login_throttle`, which is shared by workers on one database too.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import LoginThrottle

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)


def account_key(login: str) -> str:
    return "login:" + login.strip().lower()[:100]


class DbThrottle:
    def __init__(self, session_factory: Callable[[], Session], now: Callable[[], datetime] = datetime.now):
        self.session_factory = session_factory
        self.now = now

    def locked_until(self, key: str) -> Optional[datetime]:
        with self.session_factory() as s:
            row = s.get(LoginThrottle, key)
            if row and row.locked_until and row.locked_until > self.now():
                return row.locked_until
        return None

    def fail(self, key: str) -> Optional[datetime]:
        """Count one failure; return the lock end when this failure locks the account."""
        for _ in range(3):  # a concurrent first failure may insert the row before us
            try:
                with self.session_factory() as s, s.begin():
                    return self._fail(s, key)
            except IntegrityError:
                continue
        return None

    def _fail(self, s: Session, key: str) -> Optional[datetime]:
        now = self.now()
        row = s.execute(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).scalar_one_or_none()
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            s.add(row)
        if now - row.window_start > WINDOW or (row.locked_until and row.locked_until <= now):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= MAX_FAILURES:
            row.locked_until = now + LOCK
            return row.locked_until
        return None

    def reset(self, key: str) -> None:
        with self.session_factory() as s, s.begin():
            s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


class RedisThrottle:
    def __init__(self, client, now: Callable[[], datetime] = datetime.now):
        self.r = client
        self.now = now

    def locked_until(self, key: str) -> Optional[datetime]:
        ttl = self.r.ttl(key + ":lock")
        return self.now() + timedelta(seconds=ttl) if ttl and ttl > 0 else None

    def fail(self, key: str) -> Optional[datetime]:
        pipe = self.r.pipeline()
        pipe.incr(key + ":fails")
        pipe.expire(key + ":fails", int(WINDOW.total_seconds()), nx=True)
        failures, _ = pipe.execute()
        if failures >= MAX_FAILURES:
            self.r.set(key + ":lock", 1, ex=int(LOCK.total_seconds()))
            self.r.delete(key + ":fails")
            return self.now() + LOCK
        return None

    def reset(self, key: str) -> None:
        self.r.delete(key + ":fails", key + ":lock")
