"""Shared plumbing of the enterprise statistics and library pages: role gate, year choice, xlsx export."""
from __future__ import annotations

import enum
import tempfile
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Optional

from flask import Response, request
from flask_admin import BaseView

from rules.exporting import content_disposition, write_xlsx
from rules.params import BIGINT_MAX, clean_text, parse_int

from .base import RoleGate, principal
from .export import XLSX_MIME

class ScopedPage(RoleGate, BaseView):
    """A non-model page inside the admin, gated by the permission table like ScopedModelView (others get 404)."""

    @property
    def p(self):
        return principal()


# What a page argument may be; anything else (², 2**63, year -2, text) falls back to the default.
ARG_BOUNDS = {"year": (1900, 2100), "first_year": (1900, 2100), "page": (0, 10**6)}


def arg_int(name: str, default: Optional[int] = None) -> Optional[int]:
    lo, hi = ARG_BOUNDS.get(name, (1, BIGINT_MAX))
    value = parse_int(request.args.get(name), lo=lo, hi=hi)
    return default if value is None else value


def arg_text(name: str, limit: int = 100) -> str:
    """A search word from the URL; NUL bytes or pages of text mean no search at all."""
    return (clean_text(request.args.get(name) or "", limit=limit) or "").strip()


def plain(value):
    """A value as the page and the workbook show it."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01")) if value != value.to_integral() else int(value)
    return value


def display(value) -> str:
    value = plain(value)
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def xlsx_response(title: str, headers: list[str], rows: Iterable[Iterable], total: Optional[list] = None,
                  caption: bool = False, note: str = "") -> Response:
    """What the page shows as a workbook (the shared streaming writer): rows, then 合计 if any.
    With `caption` the title (e.g. "2022年 区县入库企业情况统计表") is also the first row, followed by `note`."""
    def values():
        for row in rows:
            yield [_excel(v) for v in row]
        if total:
            yield [_excel(v) for v in total]

    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    first_row = (f"{title}　注：{note}" if note else title) if caption else None
    write_xlsx(spool, title, [str(h) for h in headers], values(), caption=first_row)
    spool.seek(0)
    filename = f"{title}_{datetime.now():%Y%m%d%H%M%S}.xlsx"
    return Response(spool.read(), mimetype=XLSX_MIME, headers={"Content-Disposition": content_disposition(filename)})


def _excel(value):
    value = plain(value)
    return float(value) if isinstance(value, Decimal) else value
