"""Excel export without Flask: typed, formula-safe cell values and a small streaming xlsx writer.

Why our own writer: openpyxl's write-only mode is about 2.2× slower than xlsxwriter, and both turn
a text starting with "=" into a formula unless told otherwise. This writer streams the sheet XML
straight into the zip entry (inline strings, three shared styles), so memory stays flat whatever
the row count, and a text cell can never become a formula: formulas need an <f> element, which
it never writes. Texts that *look* like formulas also carry Excel's quotePrefix style, so editing
the cell in Excel keeps it text.
"""
from __future__ import annotations

import enum
import math
import re
import unicodedata
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any, Iterable, Optional, Sequence
from urllib.parse import quote

# A text starting with one of these would be read as a formula (or DDE) by a spreadsheet.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")
MAX_CELL_CHARS = 32767
MAX_INT_DIGITS = 15  # Excel keeps 15 significant digits; longer integers go out as text
EPOCH = datetime(1899, 12, 30)

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet would evaluate `text` typed into a cell (CSV/formula injection)."""
    return text.startswith(FORMULA_TRIGGERS)


def safe_text(text: str) -> str:
    """Text an xlsx cell can hold: no XML-illegal control characters (NUL…), at most 32,767 chars."""
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("", text)
    return text[:MAX_CELL_CHARS]


def cell_value(value: Any) -> Any:
    """A Python value as Excel should hold it: numbers as numbers, dates as dates, labels as text.

    Enums become their Chinese `label`, booleans 是/否, related rows their `str()` (a dictionary
    entry's name), anything else its text.
    """
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is datetime or kind is date:
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, enum.Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, (list, tuple, set)):
        return "、".join(str(cell_value(v)) for v in value if v is not None)
    return str(value)


def display_width(text: str) -> int:
    """Columns a text takes in Excel: CJK and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_widths(headers: Sequence[str], sample: Iterable[Sequence[Any]], low: int = 8, high: int = 50) -> list[float]:
    """Widths from the header and a sample of rows, clamped to [low, high]."""
    widths = [display_width(str(h)) + 2 for h in headers]
    for row in sample:
        for i, v in enumerate(row[: len(widths)]):
            if v is None:
                continue
            if isinstance(v, datetime):
                w = 19
            elif isinstance(v, date):
                w = 10
            else:
                w = display_width(str(v)[:100])
            if w + 2 > widths[i]:
                widths[i] = w + 2
    return [float(min(high, max(low, w))) for w in widths]


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def content_disposition(filename: str, fallback: str = "export.xlsx") -> str:
    """An attachment header with the Chinese file name in RFC 5987 `filename*` and an ASCII fallback."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def sheet_title(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", "", str(name)).strip("'") or "Sheet1"
    return cleaned[:31]


# -- the writer ------------------------------------------------------------------------------
STYLE_DATE, STYLE_DATETIME, STYLE_HEADER, STYLE_TEXT = 1, 2, 3, 4

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font>'
    '<font><b/><sz val="11"/><name val="等线"/><family val="2"/><charset val="134"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" quotePrefix="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _escape(text: str) -> str:
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("", text)
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS]
    return text.translate(_ESCAPE)


def _text_cell(ref: str, text: str) -> str:
    style = ' s="4"' if text.startswith(FORMULA_TRIGGERS) else ""
    body = _escape(text)
    space = ' xml:space="preserve"' if body[:1].isspace() or body[-1:].isspace() or body[:5] == "&#13;" else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{body}</t></is></c>'


def _number_cell(ref: str, number) -> str:
    return f'<c r="{ref}"><v>{number}</v></c>'


def _serial(value: datetime) -> float:
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    delta = value - EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000


def _cell(ref: str, value: Any) -> str:
    """One <c> element for any value (the slow path; the row writer inlines the common types)."""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return _number_cell(ref, value) if len(str(abs(value))) <= MAX_INT_DIGITS else _text_cell(ref, str(value))
    if isinstance(value, float):
        return _number_cell(ref, repr(value)) if math.isfinite(value) else _text_cell(ref, str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            return _text_cell(ref, str(value))
        digits = len(value.as_tuple().digits)
        return _number_cell(ref, format(value, "f") if digits <= MAX_INT_DIGITS else repr(float(value)))
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{STYLE_DATETIME}"><v>{_serial(value)!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{STYLE_DATE}"><v>{(value - EPOCH.date()).days}</v></c>'
    return _text_cell(ref, str(value))


class XlsxStreamWriter:
    """Write one sheet of rows into an .xlsx file incrementally.

        with XlsxStreamWriter(fileobj, "人员", headers, widths) as xw:
            xw.write_rows(rows)

    `fileobj` may be unseekable (zip data descriptors are used then). Nothing but one row is
    held in memory; the header row is bold, filled and frozen, with an auto-filter.
    """

    def __init__(
        self,
        fileobj: IO[bytes],
        sheet_name: str,
        headers: Sequence[str],
        widths: Optional[Sequence[float]] = None,
        compresslevel: int = 1,
        flush_rows: int = 500,
        caption: Optional[str] = None,
    ) -> None:
        """`caption`, if any, is a title row above the header row (e.g. "2022年 区县入库企业情况统计表")."""
        self.headers = [str(h) for h in headers]
        self.rows_written = 0
        self._ncols = len(self.headers)
        self._letters = [column_letter(i + 1) for i in range(max(self._ncols, 1))]
        self._flush_rows = flush_rows
        self._title = sheet_title(sheet_name)
        self._zip = zipfile.ZipFile(fileobj, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._caption = caption
        self._row = self._head = 2 if caption else 1
        self._buffer: list[str] = []
        widths = list(widths) if widths is not None else column_widths(self.headers, [])
        self._put(self._sheet_head(widths))
        if caption:
            self._buffer.append(f'<row r="1"><c r="A1" s="{STYLE_HEADER}" t="inlineStr"><is><t>{_escape(caption)}</t></is></c></row>')
        head = self._head
        self._buffer.append(
            f'<row r="{head}">' + "".join(
                f'<c r="{letter}{head}" s="{STYLE_HEADER}" t="inlineStr"><is><t>{_escape(h)}</t></is></c>'
                for letter, h in zip(self._letters, self.headers)
            ) + "</row>"
        )

    def _sheet_head(self, widths: Sequence[float]) -> str:
        cols = "".join(f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(widths, start=1))
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheetViews><sheetView workbookViewId="0" tabSelected="1">'
            f'<pane ySplit="{self._head}" topLeftCell="A{self._head + 1}" activePane="bottomLeft" state="frozen"/>'
            f'<selection pane="bottomLeft" activeCell="A{self._head + 1}" sqref="A{self._head + 1}"/></sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + "<sheetData>"
        )

    def _put(self, text: str) -> None:
        self._sheet.write(text.encode("utf-8", "replace"))  # a lone surrogate becomes "?"

    def write_row(self, values: Sequence[Any]) -> None:
        self._row += 1
        n = str(self._row)
        letters = self._letters
        cells = []
        append = cells.append
        for i, value in enumerate(values):
            if value is None:
                continue
            ref = letters[i] + n
            kind = type(value)
            if kind is str:
                if value and value[0] in "=+-@\t\r\x00":
                    append(_text_cell(ref, value))
                elif "&" in value or "<" in value or ">" in value or _ILLEGAL_XML.search(value) or value[:1].isspace() or value[-1:].isspace() or "\r" in value or len(value) > MAX_CELL_CHARS:
                    append(_text_cell(ref, value))
                else:
                    append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
            elif kind is int and -999_999_999_999_999 <= value <= 999_999_999_999_999:
                append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                append(_cell(ref, value))
        self._buffer.append(f'<row r="{n}">{"".join(cells)}</row>')
        self.rows_written += 1
        if len(self._buffer) >= self._flush_rows:
            self._flush()

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> int:
        for values in rows:
            self.write_row(values)
        return self.rows_written

    def _flush(self) -> None:
        if self._buffer:
            self._put("".join(self._buffer))
            self._buffer.clear()

    def close(self) -> None:
        if self._zip is None:
            return
        self._flush()
        last = self._letters[self._ncols - 1] if self._ncols else "A"
        tail = "</sheetData>"
        if self._ncols:
            tail += f'<autoFilter ref="A{self._head}:{last}{self._row}"/>'
        if self._caption and self._ncols > 1:
            tail += f'<mergeCells count="1"><mergeCell ref="A1:{last}1"/></mergeCells>'
        tail += '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
        self._put(tail)
        self._sheet.close()
        now = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        z = self._zip
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<bookViews><workbookView/></bookViews><sheets><sheet name="{_escape(self._title)}" sheetId="1" r:id="rId1"/></sheets>'
            + (f'<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
               f"'{_escape(self._title)}'!$A${self._head}:${last}${self._row}</definedName></definedNames>" if self._ncols else "")
            + "</workbook>",
        )
        z.writestr(
            "docProps/core.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:title>{_escape(self._title)}</dc:title>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>',
        )
        z.writestr(
            "docProps/app.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            "<Application>Microsoft Excel</Application></Properties>",
        )
        z.close()
        self._zip = None

    def __enter__(self) -> "XlsxStreamWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self._zip is not None:
            self._sheet.close()
            self._zip.close()
            self._zip = None


def write_xlsx(fileobj: IO[bytes], sheet_name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
               sample_rows: int = 200, caption: Optional[str] = None) -> int:
    """Write `rows` (an iterator is fine) with widths taken from the header and the first rows;
    `caption` is a title row above the header."""
    rows = iter(rows)
    head = []
    for values in rows:
        head.append(values)
        if len(head) >= sample_rows:
            break
    with XlsxStreamWriter(fileobj, sheet_name, headers, column_widths(headers, head), caption=caption) as xw:
        xw.write_rows(head)
        xw.write_rows(rows)
        return xw.rows_written
