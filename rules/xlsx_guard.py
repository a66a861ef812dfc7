"""Looks at an uploaded .xlsx as a zip before any XML parser does: size once unpacked, zip bombs,
DTDs (XXE, billion laughs) and the cell count each sheet's <dimension> claims.

`problem(fileobj, limits)` answers in Chinese why the file must not reach openpyxl, or None. It
reads the zip's directory and only the first `limits.head_bytes` of each XML part, so a hostile
file costs little to refuse. What the head cannot show (a dimension that lies, XML broken further
down) is caught while the rows are read (rules/importing.py counts the cells itself).
"""
from __future__ import annotations

import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Optional
from xml.parsers import expat

MB = 1 << 20
NOT_XLSX = "文件无法读取：不是有效的 Excel（.xlsx）文件"
FORBIDDEN = "文件包含不允许的内容（外部实体声明），拒绝读取"
BOMB = "文件异常：压缩比过高（疑似“压缩炸弹”），拒绝读取"
REQUIRED = ("[Content_Types].xml", "xl/workbook.xml")
XML_SUFFIXES = (".xml", ".rels", ".vml")
RATIO_FLOOR = MB  # small parts may compress very well (styles, empty sheets) and cost nothing
ROWS_PER_STEP = 100_000


def cells_message(cells: int) -> str:
    return f"单元格过多：最多 {cells:,} 个，请分批导入"


@dataclass(frozen=True)
class Limits:
    """What one upload may hold once unpacked. 100,000 rows of the widest import (19 columns) are
    1.9 million cells and about 90 MB unpacked as Excel saves them; the defaults leave room."""

    unpacked_bytes: int = 200 * MB
    cells: int = 3_000_000
    members: int = 1000          # a workbook has ~10 parts; a few hundred with pictures
    ratio: int = 200             # unpacked / packed per part; Excel's own sheets are ~10
    head_bytes: int = 64 * 1024  # the XML prolog (where a DTD must be) and a sheet's <dimension>

    @classmethod
    def for_rows(cls, rows: int) -> "Limits":
        """The defaults for up to 100,000 rows, grown in proportion for a larger row allowance
        (the command line trusts its operator with 10 million)."""
        steps = max(1, math.ceil(rows / ROWS_PER_STEP))
        return cls(unpacked_bytes=cls.unpacked_bytes * steps, cells=cls.cells * steps)


# zipfile, zlib and expat raise these on a damaged or foreign file; each means "not an xlsx".
UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError,
              NotImplementedError, zlib.error, expat.ExpatError)


def problem(fileobj: IO[bytes], limits: Limits) -> Optional[str]:
    """Why this upload must not be parsed, in Chinese; None when openpyxl may read it."""
    try:
        with zipfile.ZipFile(fileobj) as archive:
            return _archive_problem(archive, limits)
    except UNREADABLE:
        return NOT_XLSX
    finally:
        fileobj.seek(0)


def _archive_problem(archive: zipfile.ZipFile, limits: Limits) -> Optional[str]:
    members = archive.infolist()
    if len(members) > limits.members:
        return f"文件无法读取：包含 {len(members)} 个部件（最多 {limits.members} 个），不是正常的 Excel 文件"
    names = {m.filename for m in members}
    if not all(name in names for name in REQUIRED):
        return NOT_XLSX
    # zipfile stops every part at its declared size (and fails its CRC past it), so the declared
    # sizes bound what openpyxl can ever unpack.
    if sum(m.file_size for m in members) > limits.unpacked_bytes:
        return f"文件过大：解压后超过 {limits.unpacked_bytes / MB:.0f} MB"
    if any(m.file_size > RATIO_FLOOR and m.file_size > limits.ratio * max(1, m.compress_size) for m in members):
        return BOMB
    for member in members:
        if member.filename.lower().endswith(XML_SUFFIXES):
            found = _xml_problem(archive, member, limits)
            if found:
                return found
    return None


def _xml_problem(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: Limits) -> Optional[str]:
    head = _scan_head(archive, member, limits.head_bytes)
    if head.forbidden:
        return FORBIDDEN
    if not head.root:  # a prolog longer than the head could hide a DTD after it
        return NOT_XLSX
    if head.dimension and dimension_cells(head.dimension) > limits.cells:
        return cells_message(limits.cells)
    return None


class _Stop(Exception):
    """The part of the document that matters has been seen."""


@dataclass
class Head:
    forbidden: bool = False
    root: Optional[str] = None       # the root element's local name, once seen
    dimension: Optional[str] = None  # a worksheet's <dimension ref="A1:S100001">


def _scan_head(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> Head:
    """Feed at most `budget` bytes of one XML part to expat, stopping at the root element (or,
    in a worksheet, at its <dimension> or <sheetData>). Any DTD is refused the moment it starts,
    before an entity could be declared, expanded or fetched."""
    head = Head()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def forbid(*args):
        head.forbidden = True
        raise _Stop

    def start(name, attrs):
        local = name.rpartition(":")[2]
        if head.root is None:
            head.root = local
            if local == "worksheet":
                return
        elif local == "dimension":
            head.dimension = attrs.get("ref")
        elif local != "sheetData" and head.root == "worksheet":
            return
        raise _Stop

    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.StartElementHandler = start
    with archive.open(member) as stream:
        read = 0
        try:
            while read < budget:
                chunk = stream.read(min(16 * 1024, budget - read))
                if not chunk:
                    break
                read += len(chunk)
                parser.Parse(chunk, False)
        except _Stop:
            pass
    return head


REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?")


def dimension_cells(ref: str) -> float:
    """Rows × columns of a dimension such as "A1:S100001" (one cell for "A1"); infinite for a
    row number no sheet can have, 0 when the ref is not one (openpyxl judges it then)."""
    match = REF.fullmatch(ref.strip())
    if not match:
        return 0
    first_col, first_row, last_col, last_row = match.groups()
    if len(first_row) > 9 or len(last_row or "") > 9:
        return math.inf
    rows = abs(int(last_row or first_row) - int(first_row)) + 1
    columns = abs(_column(last_col or first_col) - _column(first_col)) + 1
    return rows * columns


def _column(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number
