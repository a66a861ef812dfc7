"""Shared plumbing of the enterprise statistics and library pages: role gate, year choice, xlsx export."""
from __future__ import annotations

import enum
import tempfile
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Optional
from urllib.parse import quote

from flask import Response, abort, redirect, request, url_for
from flask_admin import BaseView
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from models import Role

from .base import current_role, principal

DISTRICT_AND_CITY = frozenset({Role.authority, Role.bureau, Role.sysadmin})
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")


class ScopedPage(BaseView):
    """A non-model page inside the admin, gated by role like ScopedModelView (others get 404)."""

    roles: frozenset = DISTRICT_AND_CITY

    def is_accessible(self) -> bool:
        return current_role() in self.roles

    def inaccessible_callback(self, name, **kwargs):
        if not (current_user and current_user.is_authenticated):
            return redirect(url_for("auth.login", next=request.full_path))
        abort(404)

    @property
    def p(self):
        return principal()


def arg_int(name: str, default: Optional[int] = None) -> Optional[int]:
    raw = (request.args.get(name) or "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


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


def _cell(ws, value):
    value = plain(value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, str):
        cell = WriteOnlyCell(ws)
        cell._value = value.replace("\x00", "")  # never a formula, whatever it starts with
        cell.data_type = "s"
        return cell
    return value


def xlsx_response(title: str, headers: list[str], rows: Iterable[Iterable], total: Optional[list] = None) -> Response:
    """What the page shows as a workbook: header row, rows, then the 合计 row if any."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header_cells = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=str(text))
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        ws.append([_cell(ws, v) for v in row])
    if total:
        ws.append([_cell(ws, v) for v in total])
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    wb.save(spool)
    spool.seek(0)
    data = spool.read()
    filename = f"{title}_{datetime.now():%Y%m%d%H%M%S}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=\"export.xlsx\"; filename*=UTF-8''{quote(filename)}"},
    )
