"""The one way a rule says no: `Refused`, a Chinese message, optionally the form field(s) it concerns.

Transitions, account changes, registrations and imports all raise it (or a subclass that only
names the situation), so a view turns any refusal into the same thing: the message next to the
field, or a flash when it concerns no field.
"""
from __future__ import annotations

from typing import Optional


class Refused(Exception):
    """Why an action is not allowed now, in Chinese; `field` names the form field it concerns,
    `errors` several fields at once (a registration form)."""

    def __init__(self, message: str = "", field: Optional[str] = None, errors: Optional[dict[str, str]] = None):
        self.errors = dict(errors or ({field: message} if field else {}))
        self.field = field or (next(iter(self.errors)) if self.errors else None)
        super().__init__(message or "；".join(self.errors.values()))

    @property
    def message(self) -> str:
        return str(self)
