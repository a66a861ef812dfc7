"""Password hashing (argon2id) and the password policy used on every form that sets a password."""
from __future__ import annotations

import re
import secrets
import string
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MAX_LENGTH = 128  # longer input is refused before hashing so a 10 kB password costs nothing


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if not password or len(password) > MAX_LENGTH or not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A valid hash of a random string: verified against when the user is unknown, so that an unknown
# user name costs the same time as a wrong password and does not reveal itself by timing.
DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


COMMON = "密码过于常见，请换一个不易被猜到的密码"
_TAIL = re.compile(r"[\W\d_]+$")  # trailing digits and symbols: "Password1!" is "password" + "1!"
_LEET = str.maketrans("@4$5013!", "aassoiei")


def _base(text: str) -> str:
    return _TAIL.sub("", text.lower())


@lru_cache(maxsize=1)
def _common() -> tuple[frozenset, frozenset]:
    """The list (rules/common_passwords.txt) and its base words: each entry without its trailing
    digits and symbols, so that `Qwer1234!!` is refused as `qwer` + suffix."""
    lines = (Path(__file__).with_name("common_passwords.txt").read_text(encoding="utf-8").splitlines())
    words = frozenset(w.strip() for w in lines if w.strip() and not w.startswith("# "))
    bases = frozenset(b for b in map(_base, words) if len(b) >= 2)
    return words, bases


def is_common(password: str) -> bool:
    """A listed password, or a listed word followed by digits or symbols, in any case (`P@ssw0rd!`
    also as its plain-letter reading `password`)."""
    words, bases = _common()
    lowered = password.lower()
    if lowered in words:
        return True
    base = _base(lowered)
    return base in bases or base in words or _base(base.translate(_LEET)) in bases


def policy_errors(password: str, username: str = "", mobile: str = "") -> list[str]:
    """Why a password is refused (seed 004): ≥8 chars, 3 of 4 kinds, no user name or phone inside,
    not a common password."""
    errors = []
    if len(password) < 8:
        errors.append("密码长度至少 8 位")
    if len(password) > MAX_LENGTH:
        errors.append(f"密码长度不能超过 {MAX_LENGTH} 位")
    kinds = sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 3:
        errors.append("密码须包含大写字母、小写字母、数字、符号中的至少三种")
    lowered = password.lower()
    if username and len(username) >= 3 and username.lower() in lowered:
        errors.append("密码不能包含用户名")
    if mobile and mobile in password:
        errors.append("密码不能包含手机号码")
    if is_common(password):
        errors.append(COMMON)
    return errors


def temporary_password() -> str:
    """A one-time password that satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(10))
    return secrets.choice(string.ascii_uppercase) + body + secrets.choice("@#%&*") + secrets.choice(string.digits)
