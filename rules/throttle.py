"""Login throttling, per account and per address, with a back-off instead of a captcha.

An account: 5 failures within 15 minutes lock it for 15 minutes. An address (IP): 20 failures
within 15 minutes, whatever the accounts tried, lock it for 15 minutes. Each further lock of the
same key within a day doubles the lock, up to a cap (account 4 hours, address 24 hours). A key's
kind is the text before its first colon (`user:5`, `login:bob`, `ip:10.0.0.1`); other kinds (a
colleague's 忘记密码 keys) get the account limits unless they add their own to `LIMITS`.

Counters live in Redis when configured (shared by every worker and machine), otherwise in the
database table `login_throttle`, which is shared by workers on one database too. Both keep the
same three facts per key: failures in the window, the lock, and the locks counted for back-off
(the database as a second row `<key>#locks`, Redis as `<key>:locks`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import LoginThrottle


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    lock: timedelta  # the first lock; each further lock within `memory` doubles it
    max_lock: timedelta
    memory: timedelta = timedelta(hours=24)

    def lock_for(self, locks: int) -> timedelta:
        return min(self.lock * 2 ** max(0, min(locks - 1, 20)), self.max_lock)


ACCOUNT = Limit(5, timedelta(minutes=15), timedelta(minutes=15), timedelta(hours=4))
ADDRESS = Limit(20, timedelta(minutes=15), timedelta(minutes=15), timedelta(hours=24))
LIMITS: dict[str, Limit] = {"user": ACCOUNT, "login": ACCOUNT, "ip": ADDRESS}

# kept for readers of the account rule
MAX_FAILURES = ACCOUNT.failures
WINDOW = ACCOUNT.window
LOCK = ACCOUNT.lock


def account_key(login: str) -> str:
    """An unknown login name: counted by the name typed, so it locks like an account."""
    return "login:" + login.strip().lower()[:100]


def user_key(user_id: int) -> str:
    return f"user:{user_id}"


def ip_key(address: Optional[str]) -> str:
    return "ip:" + (address or "unknown")[:45]


def limit_of(key: str) -> Limit:
    return LIMITS.get(key.split(":", 1)[0], ACCOUNT)


def is_address(key: str) -> bool:
    return key.startswith("ip:")


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
        """Count one failure; return the lock end when this failure locks the key."""
        for _ in range(3):  # a concurrent first failure may insert the row before us
            try:
                with self.session_factory() as s, s.begin():
                    return self._fail(s, key)
            except IntegrityError:
                continue
        return None

    def _row(self, s: Session, key: str, now: datetime) -> LoginThrottle:
        row = s.execute(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).scalar_one_or_none()
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            s.add(row)
        return row

    def _fail(self, s: Session, key: str) -> Optional[datetime]:
        now, limit = self.now(), limit_of(key)
        row = self._row(s, key, now)
        if row.locked_until and row.locked_until > now:
            return None  # already locked: said by locked_until, not counted again
        if now - row.window_start > limit.window or row.locked_until:
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures < limit.failures:
            return None
        locks = self._row(s, key + "#locks", now)  # failures = locks so far, window_start = the last
        if now - locks.window_start > limit.memory:
            locks.failures = 0
        locks.failures += 1
        locks.window_start = now
        row.locked_until = now + limit.lock_for(locks.failures)
        return row.locked_until

    def reset(self, key: str) -> None:
        """Forget the key's failures, lock and back-off (a successful login, 解锁)."""
        with self.session_factory() as s, s.begin():
            s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_((key, key + "#locks"))))


class RedisThrottle:
    def __init__(self, client, now: Callable[[], datetime] = datetime.now):
        self.r = client
        self.now = now

    def locked_until(self, key: str) -> Optional[datetime]:
        ttl = self.r.ttl(key + ":lock")
        return self.now() + timedelta(seconds=ttl) if ttl and ttl > 0 else None

    def fail(self, key: str) -> Optional[datetime]:
        limit = limit_of(key)
        if self.locked_until(key):
            return None
        pipe = self.r.pipeline()
        pipe.incr(key + ":fails")
        pipe.expire(key + ":fails", int(limit.window.total_seconds()), nx=True)
        failures, _ = pipe.execute()
        if failures < limit.failures:
            return None
        pipe = self.r.pipeline()
        pipe.incr(key + ":locks")
        pipe.expire(key + ":locks", int(limit.memory.total_seconds()))
        pipe.delete(key + ":fails")
        locks, _, _ = pipe.execute()
        duration = limit.lock_for(locks)
        self.r.set(key + ":lock", 1, ex=int(duration.total_seconds()))
        return self.now() + duration

    def reset(self, key: str) -> None:
        """Forget the key's failures, lock and back-off (a successful login, 解锁)."""
        self.r.delete(key + ":fails", key + ":lock", key + ":locks")
