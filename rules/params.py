"""Reading numbers and words a user typed into a URL: what parses is used, the rest is ignored.

`int("²")` raises, `int("9" * 30)` does not but overflows a BIGINT in the database, `"a\\x00b"`
is refused by PostgreSQL: each is caught here, once, rather than in every page.
"""
from __future__ import annotations

from typing import Optional

from rules.validators import has_control_chars

BIGINT_MAX = 2**63 - 1
MAX_ARG_LENGTH = 200  # the longest search or filter text a list accepts


def parse_int(raw, lo: int = -BIGINT_MAX, hi: int = BIGINT_MAX) -> Optional[int]:
    """An integer written in ASCII digits (optionally negative) within lo..hi, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if lo <= raw <= hi else None
    text = str(raw if raw is not None else "").strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits or len(digits) > 19 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def clean_text(raw, limit: int = MAX_ARG_LENGTH) -> Optional[str]:
    """Text without NUL or other control characters and at most `limit` long, else None."""
    text = str(raw if raw is not None else "")
    if len(text) > limit or has_control_chars(text):
        return None
    return text


def like_literal(text: str) -> str:
    """`text` inside a LIKE pattern (ESCAPE '\\') matching `\\`, `%` and `_` as typed."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
