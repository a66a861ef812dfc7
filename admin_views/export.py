"""导出Excel: the rows of a list as the user sees it (scope, filters, search, sort), streamed to xlsx."""
from __future__ import annotations

import enum
import re
import tempfile
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response, request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")
CHUNK = 1000


def cell_value(value):
    """A Python value as Excel should hold it: numbers as numbers, dates as dates, labels as text."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (int, float, date, datetime)):
        return value
    return str(value)


def text_cell(ws, value: str) -> WriteOnlyCell:
    """A text cell Excel never evaluates, whatever it starts with (=, +, -, @, tab, CR, NUL)."""
    cell = WriteOnlyCell(ws)
    cell._value = value.replace("\x00", "")
    cell.data_type = "s"
    return cell


def resolve(obj, path: str):
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def content_disposition(filename: str) -> str:
    ascii_name = "export.xlsx"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def write_rows(ws, headers: list[str], rows, bold: Font | None = None):
    header_cells = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold or Font(bold=True)
        header_cells.append(cell)
    ws.freeze_panes = "A2"
    for i, text in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(text) * 2 + 4))
    ws.append(header_cells)
    count = 0
    for values in rows:
        ws.append([text_cell(ws, v) if isinstance(v, str) else v for v in values])
        count += 1
    return count


def export_query(view):
    """The list's query without pagination: same scope, filters, search and sort as the page."""
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    _, query = view.get_list(
        0, sort[0] if sort else None, args.sort_desc, args.search, args.filters, execute=False, page_size=0
    )
    selected = request.values.getlist("rowid")
    if selected:
        query = query.filter(view._pk_column().in_(view.scoped_ids(selected)))
    return query


def export_response(view) -> Response:
    columns = list(view._export_columns)
    query = export_query(view)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=re.sub(r"[\\/*?:\[\]]", "_", str(view.name))[:31] or "导出")

    def rows():
        for obj in query.yield_per(CHUNK):
            yield [cell_value(resolve(obj, name)) for name, _ in columns]

    write_rows(ws, [str(label) for _, label in columns], rows())
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    wb.save(spool)
    spool.seek(0)
    filename = f"{view.name}_{datetime.now():%Y%m%d%H%M%S}.xlsx"

    def stream():
        with spool:
            while chunk := spool.read(64 * 1024):
                yield chunk

    return Response(
        stream(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": content_disposition(filename)},
    )
