"""Excel import without Flask: a declarative spec per model, file checks, a dry-run plan, apply.

A spec names the model, its natural key and its columns (Chinese header → attribute, parser).
`read_sheet` refuses files that are not xlsx, encrypted, too large, empty or with missing/unknown
columns, and hostile ones (zip bombs, DTDs, too many cells: rules/xlsx_guard.py) before openpyxl
parses anything; whatever openpyxl still fails on while reading is a refusal too, never a crash.
`make_plan` parses every row, lists every bad cell (row number, column, reason in Chinese; NUL and
over-long text included, so no such value reaches the database) and compares good rows with the
database by natural key (create / update / unchanged); `apply_plan` writes the plan in the caller's
transaction, through the ORM so that every row is audited. Re-importing the same file finds every row unchanged.

To add a model: write one `ImportSpec` and `register(spec)`; the import page and the CLI list
every registered spec. Import does not filter rows by data scope, so a spec may only name roles
whose scope is 全部 (`register` refuses any other).
"""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Callable, Iterable, Optional, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from models import DICT_CATEGORIES, DictItem, Enterprise, EnterpriseStatus, Region, RegionKind, Role, Unit, UnitStatus
from rules import audit, scope, xlsx_guard
from rules.enterprise_review import link_units
from rules.refusal import Refused
from rules.validators import bank_code_error, capital_error, email_error, mobile_error, phone_error, postcode_error, uscc_error

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


class ImportRefused(Refused):
    """The whole file is refused; the message says why, in Chinese."""


class Invalid(Exception):
    """One cell is bad; the message is the reason shown next to its row and column."""


# -- parsers: cell value (str, number, datetime from openpyxl) + lookups → Python value ------
Lookups = dict[str, dict]
Parser = Callable[[Any, Lookups], Any]


OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
INT_RANGE = 2**31 - 1  # the database's INTEGER


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    value = str(value)
    if "_x" in value:  # Excel writes control characters as _xHHHH_ (ECMA-376 ST_Xstring); openpyxl keeps them so
        value = OOXML_ESCAPE.sub(_unescape, value)
    if "\x00" in value:  # PostgreSQL cannot store NUL in text; the row is refused rather than altered
        raise Invalid("含有空字符（NUL），请删除后重新上传")
    return value.strip()


def _unescape(match: re.Match) -> str:
    code = int(match.group(1), 16)
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate cannot be stored


def shorten(value: Any, limit: int = 30) -> str:
    """A value quoted in a message: a 5,000-character cell or file name must not flood the page
    (or the session cookie that carries flashed messages)."""
    value = str(value).replace("\x00", "")
    return value if len(value) <= limit else value[:limit] + "…"


def text(max_length: int, check: Optional[Callable[[str], Optional[str]]] = None) -> Parser:
    def parse(value, lookups):
        value = _text(value)
        if not value:
            return None
        if len(value) > max_length:
            raise Invalid(f"长度不能超过 {max_length} 个字符")
        if check and (problem := check(value)):
            raise Invalid(problem)
        return value

    return parse


def upper_text(max_length: int, check=None) -> Parser:
    inner = text(max_length, check)
    return lambda value, lookups: inner(_text(value).upper(), lookups)


def integer(value, lookups):
    if value is None or _text(value) == "":
        return None
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise Invalid("应为整数") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise Invalid("应为整数")
    if not -INT_RANGE <= number <= INT_RANGE:  # before int() ("1e999999999"); abs() would overflow the context
        raise Invalid("数值超出范围")
    return int(number)


def amount(value, lookups):
    """A non-negative amount with at most 2 decimals (万元)."""
    if value is None or _text(value) == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid("应为数字") from None
    if not number.is_finite() or number < 0:
        raise Invalid("应为不小于 0 的数字")
    if number.as_tuple().exponent < -2:
        raise Invalid("最多保留 2 位小数")
    if number >= Decimal("1e12"):
        raise Invalid("数值过大")
    return number.quantize(Decimal("0.01"))


def a_date(value, lookups):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or _text(value) == "":
        return None
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", _text(value))
    if match:
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            pass
    raise Invalid("应为日期，如 2020-01-31")


YES, NO = {"是", "y", "yes", "true", "1", "√"}, {"否", "n", "no", "false", "0", ""}


def yes_no(value, lookups):
    token = _text(value).lower()
    if token in YES:
        return True
    if token in NO:
        return False
    raise Invalid("应填“是”或“否”")


def enum_label(enum_cls) -> Parser:
    def parse(value, lookups):
        token = _text(value)
        if not token:
            return None
        for member in enum_cls:
            if token in (member.label, member.value):
                return member
        raise Invalid("应为以下之一：" + "、".join(m.label for m in enum_cls))

    return parse


def dictionary(category: str, what: Optional[str] = None) -> Parser:
    """A dictionary entry by name (or code) → its id; `what` names it in errors when the column's
    label differs from the dictionary's (产业类型 is the dictionary 行业门类)."""
    what = what or DICT_CATEGORIES.get(category, category)

    def parse(value, lookups):
        token = _text(value)
        if not token:
            return None
        found = lookups["dict"].get((category, token))
        if found is None:
            raise Invalid(f"“{shorten(token)}”不是有效的{what}")
        return found

    parse.names = lambda lookups: lookups["dict_names"]  # id → name, for the preview
    return parse


def region(value, lookups):
    """A 区县/园区 by name or 行政区划代码 → its id."""
    token = _text(value)
    if not token:
        return None
    found = lookups["region"].get(token)
    if found is None:
        raise Invalid(f"“{shorten(token)}”不是重庆市的区县或园区")
    return found


region.names = lambda lookups: lookups["region_names"]


def region_of(kind: RegionKind) -> Parser:
    """A region of one kind only (an enterprise's 区县, or its 园区/新区) → its id."""

    def parse(value, lookups):
        found = region(value, lookups)
        if found is not None and lookups["region_kind"][found] != kind:
            raise Invalid(f"“{shorten(_text(value))}”不是{kind.label}")
        return found

    parse.names = region.names
    return parse


def dict_category(value, lookups):
    token = _text(value)
    if not token:
        return None
    for code, name in DICT_CATEGORIES.items():
        if token in (code, name):
            return code
    raise Invalid("应为以下之一：" + "、".join(DICT_CATEGORIES.values()))


def load_lookups(session: Session) -> Lookups:
    dicts: dict = {}
    dict_names: dict = {}
    for item_id, category, code, name in session.execute(select(DictItem.id, DictItem.category, DictItem.code, DictItem.name)):
        dicts[(category, code)] = item_id
        dicts.setdefault((category, name), item_id)
        dict_names[item_id] = name
    regions: dict = {}
    region_names: dict = {}
    region_kind: dict = {}
    for region_id, code, name, kind in session.execute(select(Region.id, Region.code, Region.name, Region.kind)):
        regions[code] = region_id
        regions[name] = region_id
        region_names[region_id] = name
        region_kind[region_id] = kind
    return {"dict": dicts, "region": regions, "dict_names": dict_names, "region_names": region_names,
            "region_kind": region_kind}


# -- the spec --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    attr: str
    parse: Parser
    required: bool = False
    note: str = ""


@dataclass(frozen=True)
class ImportSpec:
    name: str                      # URL and CLI name, e.g. "unit"
    title: str                     # 单位信息
    model: type
    key: tuple[str, ...]           # natural key attributes (upsert by these)
    columns: tuple[Column, ...]
    examples: tuple[tuple, ...] = ()
    roles: frozenset = frozenset({Role.sysadmin})
    unique: tuple[str, ...] = ()   # other unique attributes, checked against the file and the database
    row_check: Optional[Callable[[dict], list[tuple[str, str]]]] = None  # values → [(header, reason)]
    defaults: dict = field(default_factory=dict)  # values set on created rows only
    after_apply: Optional[Callable[[Session], Any]] = None  # runs in the same transaction, after the rows
    create_only: bool = False  # a key already in the database is a row error, never an update (老项目)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, attr: str) -> Column:
        return next(c for c in self.columns if c.attr == attr)


SPECS: dict[str, ImportSpec] = {}


def register(spec: ImportSpec) -> ImportSpec:
    if not spec.roles <= scope.EVERYTHING:  # the plan reads and writes rows of every scope
        raise ValueError(f"import spec {spec.name!r}: only roles with data scope 全部 may import")
    SPECS[spec.name] = spec
    return spec


# -- reading ---------------------------------------------------------------------------------
def check_file(head: bytes, size: int, max_bytes: int) -> None:
    """Refuse what is not an xlsx we can read, before parsing: too large, encrypted, xls, other."""
    if size == 0:
        raise ImportRefused("文件为空，请选择要导入的 Excel 文件")
    if size > max_bytes:
        raise ImportRefused(f"文件过大（{size / 1048576:.1f} MB），最大允许 {max_bytes / 1048576:.0f} MB")
    if head.startswith(OLE_MAGIC):
        raise ImportRefused("文件不是 .xlsx 格式（可能是设置了打开密码的加密文件或旧版 .xls 文件），请取消密码并另存为 .xlsx 后重新上传")
    if not head.startswith(ZIP_MAGIC):
        raise ImportRefused("文件不是 Excel（.xlsx）格式，请使用下载的模板填写后上传")


@dataclass
class Sheet:
    headers: list[str]
    rows: Iterable[tuple[int, tuple]]  # (Excel row number, values)
    close: Callable[[], None]


def read_sheet(fileobj: IO[bytes], spec: ImportSpec, max_bytes: int, max_rows: int,
               limits: Optional[xlsx_guard.Limits] = None) -> Sheet:
    """Check the file as a zip, then open its first sheet in openpyxl's read-only mode and check
    its header row. `limits` (unpacked size, cells…) default to ones that fit `max_rows`."""
    import openpyxl

    limits = limits or xlsx_guard.Limits.for_rows(max_rows)
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    head = fileobj.read(8)
    fileobj.seek(0)
    check_file(head, size, max_bytes)
    if size and _is_encrypted(fileobj):
        raise ImportRefused("文件设置了打开密码，请取消密码后重新上传")
    if problem := xlsx_guard.problem(fileobj, limits):
        raise ImportRefused(problem)
    try:
        wb = openpyxl.load_workbook(fileobj, read_only=True, data_only=True)
    except Exception as exc:  # the file passed the guard yet openpyxl cannot open it: any reason means "unreadable"
        raise ImportRefused(xlsx_guard.NOT_XLSX) from exc
    try:
        return _open_sheet(wb, spec, max_rows, limits.cells)
    except Exception:
        wb.close()
        raise


def _open_sheet(wb, spec: ImportSpec, max_rows: int, max_cells: int) -> Sheet:
    try:
        ws = wb.worksheets[0]
    except IndexError:
        raise ImportRefused(xlsx_guard.NOT_XLSX) from None
    # Row widths then come from the cells themselves: a <dimension> that lies can neither pad every
    # row to 16,384 columns nor cut the sheet short.
    ws.reset_dimensions()
    rows = _rows(ws, max_cells)
    header_row = next(rows, None)
    if header_row is None or not any(v not in (None, "") for v in header_row):
        raise ImportRefused("文件为空：第 1 行应为列标题，第 2 行起为数据")
    headers = _headers(header_row)
    problems = _header_problems(spec, headers)
    if problems:
        raise ImportRefused("；".join(problems) + "。请使用下载的模板")
    # The row limit is enforced while reading: asking openpyxl for max_row would parse the
    # whole sheet once more when the file has no <dimension>.

    def data():
        count = 0
        for number, values in enumerate(rows, start=2):
            if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            count += 1
            if count > max_rows:
                raise ImportRefused(f"数据行数过多，一次最多导入 {max_rows} 行，请分批导入")
            yield number, values

    return Sheet(headers, data(), wb.close)


def _rows(ws, max_cells: int) -> Iterable[tuple]:
    """The sheet's rows as openpyxl parses them, counting cells as they come: XML broken past the
    guard's look, or more cells than allowed whatever the dimension said, is a refusal."""
    rows = ws.iter_rows(values_only=True)
    cells = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl, expat, zipfile (CRC, truncation), dates out of range…
            raise ImportRefused(xlsx_guard.NOT_XLSX) from exc
        cells += max(1, len(values))  # an empty row is a step too: a gap to row 10^9 must not hang
        if cells > max_cells:
            raise ImportRefused(xlsx_guard.cells_message(max_cells))
        yield values


# Headers of templates downloaded before a column was renamed, still read as the new name.
HEADER_ALIASES = {"E-mail": "电子邮箱"}


def _headers(header_row: tuple) -> list[str]:
    try:
        headers = [_text(h).rstrip("*＊").strip() for h in header_row]
        headers = [HEADER_ALIASES.get(h, h) for h in headers]
    except Invalid as exc:
        raise ImportRefused(f"列标题{exc}") from None
    while headers and not headers[-1]:
        headers.pop()
    return headers


def _header_problems(spec: ImportSpec, headers: list[str]) -> list[str]:
    known = set(spec.headers)
    unknown = [shorten(h) or f"第 {i + 1} 列（无标题）" for i, h in enumerate(headers) if h not in known]
    missing = [c.header for c in spec.columns if c.required and c.header not in headers]
    counts = Counter(headers)  # not headers.count(h) per header: a row can be 16,384 cells wide
    duplicated = sorted({shorten(h) for h in headers if h and counts[h] > 1})
    problems = []
    if missing:
        problems.append("缺少必填列：" + "、".join(missing))
    if unknown:
        problems.append("无法识别的列：" + _some(unknown))
    if duplicated:
        problems.append("列重复：" + _some(duplicated))
    return problems


def _some(names: list[str], shown: int = 10) -> str:
    more = f" 等 {len(names)} 列" if len(names) > shown else ""
    return "、".join(names[:shown]) + more


def _is_encrypted(fileobj: IO[bytes]) -> bool:
    """An OOXML file with an open password is an OLE container with an EncryptedPackage stream."""
    fileobj.seek(0)
    sample = fileobj.read(1 << 16)
    fileobj.seek(0)
    return sample.startswith(OLE_MAGIC) and ENCRYPTED_MARK in sample


# -- the plan --------------------------------------------------------------------------------
@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class Plan:
    spec: ImportSpec
    creates: list[tuple[int, dict]] = field(default_factory=list)            # (row, values)
    updates: list[tuple[int, Any, dict, dict]] = field(default_factory=list)  # (row, pk, before, after)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    lookups: Lookups = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def show(self, attr: str, value: Any) -> str:
        """A planned or current value as the user reads it (names for dictionary ids, 是/否…)."""
        if value is None:
            return "（空）"
        names = getattr(self.spec.column(attr).parse, "names", None)
        if names is not None:
            return str(names(self.lookups).get(value, value))
        if isinstance(value, bool):
            return "是" if value else "否"
        return str(getattr(value, "label", value))

    def summary(self) -> str:
        return f"新增 {len(self.creates)} 条，更新 {len(self.updates)} 条，未变化 {self.unchanged} 条"


def _lengths(spec: ImportSpec) -> dict[str, int]:
    """The database's own length limits (VARCHAR(n)) per attribute: a parser with a looser limit
    than its column must still give a row error, not a truncation error from the database."""
    table = spec.model.__table__
    found = {}
    for column in spec.columns:
        length = getattr(table.c[column.attr].type, "length", None) if column.attr in table.c else None
        if length:
            found[column.attr] = length
    return found


def _fits(value: Any, length: Optional[int]) -> Any:
    if length and type(value) is str and len(value) > length:  # not a str-valued enum: stored by name
        raise Invalid(f"长度不能超过 {length} 个字符")
    return value


def _key_of(spec: ImportSpec, values: dict) -> tuple:
    return tuple(values.get(k) for k in spec.key)


def make_plan(session: Session, spec: ImportSpec, sheet: Sheet, progress: Callable[[int], None] = lambda n: None,
              chunk: int = 2000) -> Plan:
    """Parse and validate every row, then compare with the database by natural key. Writes nothing."""
    lookups = load_lookups(session)
    plan = Plan(spec, lookups=lookups)
    positions = [(i, next(c for c in spec.columns if c.header == h)) for i, h in enumerate(sheet.headers) if h]
    present = {c.attr for _, c in positions}
    lengths = _lengths(spec)
    seen_keys: dict[tuple, int] = {}
    seen_unique: dict[str, dict[Any, int]] = {u: {} for u in spec.unique}
    parsed: list[tuple[int, dict]] = []
    try:
        for number, values in sheet.rows:
            plan.rows += 1
            row: dict = {}
            bad = False
            for i, column in positions:
                raw = values[i] if i < len(values) else None
                try:
                    value = _fits(column.parse(raw, lookups), lengths.get(column.attr))
                except Invalid as exc:
                    plan.errors.append(RowError(number, column.header, str(exc)))
                    bad = True
                    continue
                if value is None and column.required:
                    plan.errors.append(RowError(number, column.header, "不能为空"))
                    bad = True
                row[column.attr] = value
            if not bad and spec.row_check:
                for header, reason in spec.row_check(row):
                    plan.errors.append(RowError(number, header, reason))
                    bad = True
            if not bad:
                key = _key_of(spec, row)
                if key in seen_keys:
                    plan.errors.append(RowError(number, spec.column(spec.key[-1]).header, f"与第 {seen_keys[key]} 行重复"))
                    bad = True
                else:
                    seen_keys[key] = number
                for attr in spec.unique:
                    value = row.get(attr)
                    if value is not None and value in seen_unique[attr]:
                        plan.errors.append(RowError(number, spec.column(attr).header, f"与第 {seen_unique[attr][value]} 行重复"))
                        bad = True
                    elif value is not None:
                        seen_unique[attr][value] = number
            if not bad:
                parsed.append((number, row))
            if plan.rows % 1000 == 0:
                progress(1000)
        progress(plan.rows % 1000)
    finally:
        sheet.close()
    _compare(session, spec, plan, parsed, present, chunk)
    return plan


def _compare(session, spec, plan, parsed, present, chunk) -> None:
    model = spec.model
    key_cols = [getattr(model, k) for k in spec.key]
    pk = model.__mapper__.primary_key[0]
    tracked = sorted(present)
    for start in range(0, len(parsed), chunk):
        part = parsed[start:start + chunk]
        keys = [_key_of(spec, row) for _, row in part]
        cols = [pk, *key_cols, *(getattr(model, a) for a in tracked)]
        where = key_cols[0].in_([k[0] for k in keys]) if len(key_cols) == 1 else tuple_(*key_cols).in_(keys)
        existing = {}
        for record in session.execute(select(*cols).where(where)):
            existing[tuple(record[1:1 + len(key_cols)])] = (record[0], dict(zip(tracked, record[1 + len(key_cols):])))
        for attr in spec.unique:  # another row of the database already holds this value
            values = [row[attr] for _, row in part if row.get(attr) is not None]
            if not values:
                continue
            holders = dict(session.execute(select(getattr(model, attr), pk).where(getattr(model, attr).in_(values))).all())
            for number, row in part:
                holder = holders.get(row.get(attr))
                mine = existing.get(_key_of(spec, row))
                if holder is not None and (mine is None or mine[0] != holder):
                    plan.errors.append(RowError(number, spec.column(attr).header, f"“{row[attr]}”已被其他记录使用"))
        failed = {e.row for e in plan.errors}
        for number, row in part:
            if number in failed:
                continue
            found = existing.get(_key_of(spec, row))
            if found is None:
                plan.creates.append((number, row))
                continue
            if spec.create_only:
                key = spec.column(spec.key[-1])
                plan.errors.append(RowError(number, key.header, f"{key.header}“{shorten(row[key.attr])}”已存在，不能重复导入"))
                continue
            row_pk, current = found
            before = {a: current[a] for a in tracked if not _same(current[a], row[a])}
            if before:
                plan.updates.append((number, row_pk, before, {a: row[a] for a in before}))
            else:
                plan.unchanged += 1
    if plan.errors:
        plan.errors.sort(key=lambda e: (e.row, e.column))


def _same(old, new) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        try:
            return old is not None and new is not None and Decimal(old) == Decimal(new)
        except (InvalidOperation, TypeError):
            return False
    if isinstance(old, datetime) and isinstance(new, date) and not isinstance(new, datetime):
        return old.date() == new
    return old == new


def apply_plan(session: Session, plan: Plan, batch: int = 2000) -> None:
    """Write the plan in the caller's transaction (the caller commits). Every row is audited."""
    if plan.errors:
        raise ImportRefused("存在错误数据，未导入任何记录")
    spec = plan.spec
    model = spec.model
    for start in range(0, len(plan.creates), batch):
        session.add_all(model(**{**spec.defaults, **row}) for _, row in plan.creates[start:start + batch])
        session.flush()
    pk_attr = model.__mapper__.primary_key[0].key
    for start in range(0, len(plan.updates), batch):
        part = plan.updates[start:start + batch]
        objs = {getattr(o, pk_attr): o for o in session.scalars(select(model).where(getattr(model, pk_attr).in_([u[1] for u in part])))}
        for _, row_pk, _, after in part:
            obj = objs[row_pk]
            for attr, value in after.items():
                setattr(obj, attr, value)
        session.flush()
    if spec.after_apply:
        spec.after_apply(session)
    audit.record(session, "import", model.__tablename__, None, summary=f"Excel 导入{spec.title}：{plan.summary()}")


# -- the specs -------------------------------------------------------------------------------
def _unit_check(row: dict) -> list[tuple[str, str]]:
    problem = capital_error(row.get("registered_capital"), row.get("paid_in_capital"))
    return [("实收资本(万元)", problem)] if problem else []


register(ImportSpec(
    name="dictionary",
    title="数据字典",
    model=DictItem,
    key=("category", "code"),
    columns=(
        Column("字典类别", "category", dict_category, required=True, note="如：学历、职称、单位性质"),
        Column("代码", "code", text(40), required=True),
        Column("名称", "name", text(100), required=True),
        Column("排序", "sort", integer),
        Column("启用", "active", yes_no, note="是/否，空为否"),
    ),
    examples=(("学历", "01", "博士研究生", 1, "是"), ("职称", "91", "正高级工程师", 9, "是")),
))

register(ImportSpec(
    name="region",
    title="区县/园区",
    model=Region,
    key=("code",),
    unique=("name",),
    columns=(
        Column("行政区划代码", "code", text(12), required=True),
        Column("名称", "name", text(40), required=True),
        Column("类型", "kind", enum_label(RegionKind), required=True, note="区县 或 园区/新区"),
        Column("两江新区", "in_liangjiang", yes_no),
        Column("高新区", "in_gaoxin", yes_no),
        Column("经开区", "in_jingkai", yes_no),
        Column("市级高新区", "in_city_hitech", yes_no),
        Column("排序", "sort", integer),
    ),
    examples=(("500112", "渝北区", "区县", "是", "否", "否", "是", 12),),
))

register(ImportSpec(
    name="unit",
    title="单位信息",
    model=Unit,
    key=("uscc",),
    unique=("name",),
    roles=frozenset({Role.sysadmin, Role.bureau}),
    row_check=_unit_check,
    defaults={"status": UnitStatus.approved},
    after_apply=link_units,  # an enterprise already on file with this credit code becomes the unit's
    columns=(
        Column("单位名称", "name", text(200), required=True),
        Column("统一社会信用代码", "uscc", upper_text(18, uscc_error), required=True),
        Column("单位所在区县", "region_id", region, note="区县名称，如 渝北区"),
        Column("通信地址", "address", text(200)),
        Column("邮政编码", "postcode", text(6, postcode_error)),
        Column("注册时间", "registered_on", a_date, note="如 2015-06-30"),
        Column("注册资本(万元)", "registered_capital", amount),
        Column("实收资本(万元)", "paid_in_capital", amount),
        Column("登记注册类型", "registration_type_id", dictionary("registration_type")),
        Column("单位性质", "nature_id", dictionary("unit_nature")),
        Column("行业门类", "industry_id", dictionary("industry")),
        Column("法定代表人", "legal_rep", text(50)),
        Column("单位联系人姓名", "contact_name", text(50)),
        Column("单位联系人手机", "contact_mobile", text(11, mobile_error)),
        Column("单位联系人办公电话", "contact_phone", text(20, phone_error)),
        Column("电子邮箱", "email", text(120, email_error)),
        Column("开户银行", "bank_name", text(200)),
        Column("银行账号", "bank_account", text(40)),
        Column("银行行号", "bank_code", text(12, bank_code_error)),
    ),
    examples=(
        ("重庆示例科技有限公司", "91500112MA5U3K8X2G", "渝北区", "重庆市渝北区示例路1号", "401120", "2016-05-20", 1000, 800,
         "有限责任公司", "非公有制经济", "", "王示例", "李联系", "13800000000", "023-67000000", "contact@example.cn",
         "中国工商银行重庆分行", "3100020009024000001", "102653000013"),
    ),
))

# Enterprises the city bureau seeds count as reviewed, as units do; defaults apply to new rows
# only, so a re-import never undoes a district's review. 入库 is the libraries' decision: new rows
# stay 未入库 (the model's default).
register(ImportSpec(
    name="enterprise",
    title="科技型企业",
    model=Enterprise,
    key=("uscc",),
    unique=("name",),
    roles=frozenset({Role.sysadmin, Role.bureau}),
    defaults={"review_status": EnterpriseStatus.approved},
    after_apply=link_units,  # the unit with the same credit code (if any) sees it and fills its 年报
    columns=(
        Column("企业名称", "name", text(200), required=True),
        Column("统一社会信用代码", "uscc", upper_text(18, uscc_error), required=True),
        Column("所属区县", "region_id", region_of(RegionKind.district), required=True, note="区县名称，如 渝北区"),
        Column("所在园区/新区", "zone_id", region_of(RegionKind.zone), note="如 两江新区，不在园区的留空"),
        Column("注册时间", "registered_on", a_date, note="如 2015-06-30"),
        Column("注册资本(万元)", "registered_capital", amount),
        Column("法定代表人", "legal_rep", text(50)),
        Column("通信地址", "address", text(200)),
        Column("产业类型", "industry_id", dictionary("industry", "产业类型"), note="如 第二产业"),
        Column("产业类别", "industry_category_id", dictionary("industry_category"), note="如 新一代信息技术"),
        Column("企业规模", "scale_id", dictionary("enterprise_scale"), note="大型、中型、小型或微型"),
        Column("高新技术领域", "hitech_field_id", dictionary("hitech_field"), note="如 电子信息"),
        Column("科研联系人", "contact_name", text(50)),
        Column("科研联系人手机", "contact_mobile", text(11, mobile_error)),
        Column("主营业务", "main_business", text(200)),
        Column("主营业务收入(千元)", "main_revenue", amount),
        Column("规上工业企业", "above_scale", yes_no, note="是/否，空为否"),
    ),
    examples=(
        ("重庆示例智造科技有限公司", "91500112MA61C7LQ3L", "渝北区", "两江新区", "2018-03-15", 500, "张示例",
         "重庆市渝北区示例大道8号", "第二产业", "新一代信息技术", "小型", "电子信息", "李科研", "13600000000",
         "智能传感器研发、生产及销售", 12500.5, "否"),
        ("重庆示例生物医药有限公司", "91500105MA60K2RB7B", "江北区", "", "2009-11-02", 3000, "周示例",
         "重庆市江北区示例路16号", "第二产业", "生物医药", "中型", "生物与新医药", "吴科研", "13700000000",
         "体外诊断试剂研发与生产", 86000, "是"),
    ),
))


def template_rows(spec: ImportSpec) -> tuple[list[str], list[Sequence]]:
    return spec.headers, [list(r) for r in spec.examples]


# -- 老项目导入 (issue 14): projects of earlier years for 老项目认领 ----------------------------------
from models import LegacyProject  # noqa: E402  (the block stays at the end of the file)


def project_year(value, lookups):
    year = integer(value, lookups)
    if year is not None and not 1990 <= year <= 2100:
        raise Invalid("应为 1990 到 2100 之间的年份，如 2019")
    return year


# 项目编号 is the old system's: a number already imported is refused (a claimed project never
# changes under its enterprise through a second file).
register(ImportSpec(
    name="legacy_project",
    title="老项目",
    model=LegacyProject,
    key=("number",),
    create_only=True,
    roles=frozenset({Role.sysadmin, Role.bureau}),
    columns=(
        Column("项目编号", "number", text(30), required=True),
        Column("年度", "year", project_year, required=True, note="如 2019"),
        Column("批次", "batch", text(20), note="如 第二批、上半年"),
        Column("企业名称", "enterprise_name", text(200), required=True),
        Column("统一社会信用代码", "uscc", upper_text(18, uscc_error), required=True, note="认领时与企业的统一社会信用代码比对"),
        Column("项目名称", "name", text(200), required=True),
        Column("项目技术水平", "tech_level", text(50), note="如 国内先进"),
        Column("产业类别", "industry_category", text(50), note="如 新一代信息技术"),
        Column("状态", "original_status", text(30), note="原系统的项目状态，如 已批准、已上报省"),
    ),
    examples=(
        ("201821901203", 2018, "第二批", "重庆示例智造科技有限公司", "91500112MA61C7LQ3L", "人才公共服务信息平台", "国内先进", "新一代信息技术", "已批准"),
        ("201931001105", 2019, "第三批", "重庆示例智造科技有限公司", "91500112MA61C7LQ3L", "微服务开发平台", "国内先进", "新一代信息技术", "已上报省"),
    ),
))
