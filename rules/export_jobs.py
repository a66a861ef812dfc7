"""An export as data (which rows of which model, for whom, which columns) and the code that writes
it — in the request for small lists, in the 下载中心 worker for large ones — with no Flask in it.

The request resolves the list once into an ExportSpec stored on the ExportJob: the list's ordered
ids as its own compiled SELECT (scope, filters, search, sort) with the bound values kept beside the
SQL, never spliced into it; the columns as model paths or display readers (rules.display). The
worker runs that SELECT again, then loads the rows 1,000 at a time through the owner's scope as the
database has the owner *now* (rules.scope.predicate), so a user who lost rows since asking does
not get them. Both paths write through `write`, so they produce the same sheet.
"""
from __future__ import annotations

import base64
import logging
import math
import secrets
import uuid
from array import array
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Optional, Sequence

from sqlalchemy import Engine, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, object_session

from models import Base, DictItem, ExportJob, ExportStatus, User
from rules import audit, display, form_fields, permissions, scope
from rules.exporting import cell_value, write_xlsx

CHUNK = 1000
PROGRESS_EVERY = 5000
SPEC_VERSION = 1
log = logging.getLogger(__name__)


class ExportError(Exception):
    """A failure whose Chinese message the owner should read as is."""


# -- the rows: the list's own SELECT of ids, to run again ------------------------------------
@dataclass(frozen=True)
class Selection:
    """Ordered primary keys as SQL in the database's own parameter style, values bound beside it."""

    dialect: str
    sql: str
    params: Any  # a list (positional parameter styles) or a dict (named ones), see _encode

    @classmethod
    def of(cls, statement, dialect) -> "Selection":
        """Compile `statement` for `dialect` with every value already in the form the driver gets."""
        compiled = statement.compile(dialect=dialect)
        state = compiled.construct_expanded_state()  # IN (…) lists expanded to one parameter each
        values = dict(state.parameters)
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)  # enum → code, …
            if process is None:
                continue
            for key in state.parameter_expansion.get(name, (name,)):
                if key in values:
                    values[key] = process(values[key])
        if compiled.positional:
            return cls(dialect.name, state.statement, [_encode(values[k]) for k in state.positiontup])
        return cls(dialect.name, state.statement, {k: _encode(v) for k, v in values.items()})

    def ids(self, session: Session) -> Sequence:
        """The ids in list order: an int array (8 bytes a row) when they are integers."""
        conn = session.connection()
        if conn.dialect.name != self.dialect:
            raise ExportError("导出任务与当前数据库不一致，请重新导出")
        if isinstance(self.params, list):
            params: Any = tuple(_decode(v) for v in self.params)
        else:
            params = {k: _decode(v) for k, v in self.params.items()}
        result = conn.execution_options(stream_results=True).exec_driver_sql(self.sql, params)
        out: Any = None
        for (value,) in result.yield_per(10_000):
            if out is None:
                out = array("q") if type(value) is int else []
            out.append(value)
        return out if out is not None else []

    def to_json(self) -> dict:
        return {"dialect": self.dialect, "sql": self.sql, "params": self.params}

    @classmethod
    def from_json(cls, data: Mapping) -> "Selection":
        return cls(data["dialect"], data["sql"], data["params"])


def _encode(value: Any) -> Any:
    """A driver value as JSON: what JSON lacks is tagged (`{"$": "datetime", "v": "…"}`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    for kind, tag, text in _TAGGED:
        if isinstance(value, kind):
            return {"$": tag, "v": text(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    raise ExportError("该列表的查询条件无法用于导出，请调整筛选条件后重试")


_TAGGED = (  # datetime before date: a datetime is a date
    (datetime, "datetime", datetime.isoformat),
    (date, "date", date.isoformat),
    (time, "time", time.isoformat),
    (Decimal, "decimal", str),
    (uuid.UUID, "uuid", str),
    (bytes, "bytes", lambda b: base64.b64encode(b).decode("ascii")),
)
_UNTAG: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat, "date": date.fromisoformat, "time": time.fromisoformat, "decimal": Decimal,
    "uuid": uuid.UUID, "bytes": base64.b64decode, "float": float,
}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return _UNTAG[value["$"]](value["v"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# -- the columns ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SheetColumn:
    """One column of the sheet: a column, many-to-one relationship or path of the model (`name`,
    `unit`, `enterprise.uscc`), or — `display` — the model's display reader (rules.display)."""

    name: str
    label: str
    display: bool = False


def _resolve(obj, path: str):
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


CUSTOM_PREFIX = "extra:"  # a call's own field (rules/form_fields.py): "extra:<call id>:<key>"


def custom_column(call_id: int, key: str) -> str:
    return f"{CUSTOM_PREFIX}{call_id}:{key}"


def _custom_getter(name: str) -> Callable[[Any], Any]:
    """A declaration's value of its call's own field, in words; empty for rows of other calls."""
    call_part, _, key = name.removeprefix(CUSTOM_PREFIX).partition(":")
    call_id = int(call_part) if call_part.isdigit() else None
    names: dict = {}

    def get(obj):
        if obj.call_id != call_id:
            return None
        defn = next((d for d in form_fields.of_declaration(obj) if d["key"] == key), None)
        value = (obj.extra or {}).get(key)
        if defn is None or value is None:
            return None
        if defn["type"] == "number":
            return Decimal(str(value))
        if defn["type"] == "select" and value not in names:
            item = object_session(obj).get(DictItem, value)
            names[value] = item.name if item is not None else "（已停用的选项）"
        return cell_value(form_fields.shown(defn, value, names))

    return get


def object_getter(model: type, column: SheetColumn) -> Callable[[Any], Any]:
    """ORM row → typed cell value."""
    name = column.name
    if name.startswith(CUSTOM_PREFIX):
        return _custom_getter(name)
    if column.display:
        read = display.reader(model, name)
        if read is None:
            raise ExportError("导出字段已变更，请重新导出")

        def get(obj):
            try:
                return cell_value(read(obj))
            except Exception:  # odd data (an unknown code) exports as stored rather than failing the file
                return cell_value(_resolve(obj, name))

        return get
    related = _related_getter(model, name)
    if related is not None:
        return related
    if "." not in name:
        plain = attrgetter(name)
        return lambda obj: cell_value(plain(obj))
    return lambda obj: cell_value(_resolve(obj, name))


def _many_to_one(model: type, name: str):
    """(mapper, relationship, rest) when `name` is a many-to-one relationship read through one
    foreign key (`region`, `region.name`), else None."""
    head, _, rest = name.partition(".")
    mapper = sa_inspect(model)
    rel = mapper.relationships.get(head)
    if rel is None or rel.uselist or len(rel.local_columns) != 1 or "." in rest:
        return None
    return mapper, rel, rest


def _related_getter(model: type, name: str) -> Optional[Callable[[Any], Any]]:
    """A many-to-one column read through its foreign key with a per-export cache: one look-up per
    distinct related row instead of one join or query per row."""
    found = _many_to_one(model, name)
    if found is None:
        return None
    mapper, rel, rest = found
    head = rel.key
    read_fk = attrgetter(mapper.get_property_by_column(next(iter(rel.local_columns))).key)
    cache: dict = {}

    def get(obj):
        key = read_fk(obj)
        if key is None:
            return None
        try:
            return cache[key]
        except KeyError:
            target = getattr(obj, head)
            value = cell_value(getattr(target, rest) if rest and target is not None else target)
            cache[key] = value
            return value

    return get


def tuple_reader(session: Session, model: type, columns: Sequence[SheetColumn]):
    """(entities, getters) reading plain tuples instead of ORM objects — several times faster —
    when every column is a plain column or a many-to-one relationship; else None."""
    mapper = sa_inspect(model)
    plain = set(mapper.column_attrs.keys())
    entities: list = []
    getters: list = []
    for column in columns:
        if column.display:
            return None
        position = len(entities) + 1  # 0 is the primary key
        if column.name in plain:
            entities.append(getattr(model, column.name))
            getters.append(lambda row, p=position: cell_value(row[p]))
            continue
        found = _many_to_one(model, column.name)
        if found is None:
            return None
        _, rel, rest = found
        target = rel.mapper
        if len(target.primary_key) != 1 or target.primary_key[0] not in rel.remote_side:
            return None
        entities.append(getattr(model, mapper.get_property_by_column(next(iter(rel.local_columns))).key))
        getters.append(_cached_target(session, target.class_, rest, position))
    return entities, getters


def _cached_target(session: Session, model: type, attr: str, position: int) -> Callable[[Any], Any]:
    """Foreign key at `position` → the related row's text (or its `attr`), one look-up per key."""
    cache: dict = {}

    def get(row):
        key = row[position]
        if key is None:
            return None
        try:
            return cache[key]
        except KeyError:
            obj = session.get(model, key)
            value = cell_value(getattr(obj, attr) if attr and obj is not None else obj)
            cache[key] = value
            return value

    return get


def iter_rows(session: Session, model: type, principal: Optional[scope.Principal], ids: Sequence, columns: Sequence[SheetColumn],
              chunk: int = CHUNK, progress: Optional[Callable[[int], None]] = None) -> Iterator[list]:
    """Rows of typed values for `ids`, in that order, loaded `chunk` at a time through the scope."""
    pk = sa_inspect(model).primary_key[0]
    visible = scope.predicate(principal, model)
    reader = tuple_reader(session, model, columns)
    if reader is not None:
        entities, getters = reader
        load = lambda part: {row[0]: row for row in session.execute(select(pk, *entities).where(pk.in_(part), visible))}  # noqa: E731
    else:
        getters = [object_getter(model, column) for column in columns]
        key = sa_inspect(model).get_property_by_column(pk).key
        load = lambda part: {getattr(o, key): o for o in session.scalars(select(model).where(pk.in_(part), visible))}  # noqa: E731
    done = 0
    for start in range(0, len(ids), chunk):
        part = list(ids[start:start + chunk])
        by_id = load(part)
        for value in part:
            item = by_id.get(value)
            if item is not None:  # deleted, or out of the scope, since the ids were read
                yield [get(item) for get in getters]
        done += len(part)
        del by_id
        if progress:
            progress(done)


# -- the spec ---------------------------------------------------------------------------------
def model_of(table: str) -> Optional[type]:
    for mapper in Base.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table:
            return mapper.class_
    return None


def principal_facts(p: Optional[scope.Principal]) -> Optional[dict]:
    """The Principal's fields as JSON (a record of who asked; the worker reads the user afresh)."""
    if p is None:
        return None
    facts = {}
    for f in fields(p):
        value = getattr(p, f.name)
        facts[f.name] = sorted(value) if isinstance(value, (set, frozenset)) else audit.jsonable(value)
    return facts


@dataclass(frozen=True)
class ExportSpec:
    """Everything an export needs, resolved in the request: the model (its table), the list (its
    endpoint in rules.permissions), the sheet's title, who asked, the ordered ids, the columns, and
    the ticked rows (which must all still be in the owner's scope when the job runs)."""

    table: str
    endpoint: str
    title: str
    principal: Optional[dict]
    selection: Selection
    columns: tuple[SheetColumn, ...]
    rowids: Optional[tuple] = None

    @property
    def model(self) -> type:
        model = model_of(self.table)
        if model is None:
            raise ExportError("导出的列表已不存在")
        return model

    def to_json(self) -> dict:
        return {
            "version": SPEC_VERSION, "table": self.table, "endpoint": self.endpoint, "title": self.title,
            "principal": self.principal, "selection": self.selection.to_json(),
            "columns": [[c.name, c.label, c.display] for c in self.columns],
            "rowids": list(self.rowids) if self.rowids is not None else None,
        }

    @classmethod
    def from_json(cls, data: Optional[Mapping]) -> "ExportSpec":
        try:
            if not data or data.get("version") != SPEC_VERSION:
                raise ValueError(data and data.get("version"))
            return cls(
                table=data["table"], endpoint=data["endpoint"], title=data["title"], principal=data.get("principal"),
                selection=Selection.from_json(data["selection"]),
                columns=tuple(SheetColumn(name, label, bool(shown)) for name, label, shown in data["columns"]),
                rowids=tuple(data["rowids"]) if data.get("rowids") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            raise ExportError("导出任务已失效（系统升级前提交），请重新导出") from None


def write(session: Session, principal: Optional[scope.Principal], spec: ExportSpec, fileobj: IO[bytes], ids: Sequence,
          progress: Optional[Callable[[int], None]] = None) -> int:
    """The sheet of `ids` (in order, as `principal` may see them) with the spec's columns."""
    rows = iter_rows(session, spec.model, principal, ids, spec.columns, progress=progress)
    return write_xlsx(fileobj, spec.title, [c.label for c in spec.columns], rows)


def export_filename(title: str, now: Optional[datetime] = None) -> str:
    return f"{title}_{now or datetime.now():%Y%m%d%H%M%S}.xlsx"


# -- the job ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    export_dir: Path
    expire_hours: float = 24.0

    @classmethod
    def from_config(cls, config: Mapping, instance_path) -> "Settings":
        """From the app's config or the environment: EXPORT_DIR (default instance/exports), EXPORT_EXPIRE_HOURS."""
        return cls(Path(config.get("EXPORT_DIR") or Path(instance_path) / "exports"), float(config.get("EXPORT_EXPIRE_HOURS") or 24))


def set_job(engine: Engine, job_id: int, **values) -> None:
    """Progress and status on their own short transaction (visible at once; not a business write)."""
    with engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))


def run_job(engine: Engine, job_id: int, settings: Settings) -> None:
    """Run one queued job as its owner is now: active, still allowed the list, current scope."""
    with Session(engine) as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.status != ExportStatus.queued:
            return
        set_job(engine, job_id, status=ExportStatus.running)
        path = settings.export_dir / f"{job_id}_{secrets.token_hex(8)}.xlsx"
        try:
            spec = ExportSpec.from_json(job.spec)
            user = session.get(User, job.owner_id)
            written = _write_job(session, engine, job_id, spec, user, path)
            now = datetime.now()
            set_job(engine, job_id, status=ExportStatus.done, rows_written=written, rows_total=written, file_path=str(path),
                    file_name=export_filename(spec.title, now), finished_at=now, expires_at=now + timedelta(hours=settings.expire_hours))
        except ExportError as exc:  # the owner reads why in the 下载中心
            path.unlink(missing_ok=True)
            set_job(engine, job_id, status=ExportStatus.failed, error=str(exc), finished_at=datetime.now())
            log.info("export job %s refused: %s", job_id, exc)
        except Exception as exc:
            path.unlink(missing_ok=True)
            reason = f"导出时发生错误（{exc.__class__.__name__}），请缩小查询范围后重试或联系管理员"
            set_job(engine, job_id, status=ExportStatus.failed, error=reason, finished_at=datetime.now())
            log.exception("export job %s failed", job_id)
        finally:
            session.rollback()


def _write_job(session: Session, engine: Engine, job_id: int, spec: ExportSpec, user: Optional[User], path: Path) -> int:
    """Check the owner against the spec, then write the file; the number of rows written."""
    model = spec.model
    if user is None or not user.active:
        raise ExportError("导出人账号不存在或已停用")
    owner = scope.Principal.of(user)  # today's role, unit and modules, not those of the day they asked
    if not permissions.allowed(owner, spec.endpoint, "view"):
        raise ExportError("导出人已无权查看该列表")
    with audit.acting_as(audit.Actor(user_id=user.id, username=user.username)):
        if spec.rowids and not _all_visible(session, model, owner, spec.rowids):
            raise ExportError("选中的记录已不在您的数据范围内")
        ids = spec.selection.ids(session)
        set_job(engine, job_id, rows_total=len(ids))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            return write(session, owner, spec, fh, ids, progress=_progress(engine, job_id, len(ids)))


def _all_visible(session: Session, model: type, p: scope.Principal, rowids: Sequence) -> bool:
    pk = sa_inspect(model).primary_key[0]
    found = set(session.scalars(select(pk).where(pk.in_(list(rowids)), scope.predicate(p, model))))
    return found == set(rowids)


def _progress(engine: Engine, job_id: int, total: int) -> Callable[[int], None]:
    last = [0]

    def progress(done: int) -> None:
        if done - last[0] >= PROGRESS_EVERY or done == total:
            last[0] = done
            set_job(engine, job_id, rows_written=done)

    return progress


def expire_jobs(engine: Engine, now: datetime, timeout_seconds: int) -> int:
    """Delete the files of expired jobs and mark them 已过期; a job queued or running for longer
    than any job may take lost its worker (a restart): mark it failed."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(ExportJob.id, ExportJob.file_path).where(ExportJob.status == ExportStatus.done, ExportJob.expires_at <= now)
        ).all()
        for _, path in rows:
            if path:
                Path(path).unlink(missing_ok=True)
        if rows:
            conn.execute(update(ExportJob).where(ExportJob.id.in_([r[0] for r in rows])).values(status=ExportStatus.expired, file_path=None))
        conn.execute(
            update(ExportJob)
            .where(ExportJob.status.in_([ExportStatus.queued, ExportStatus.running]), ExportJob.created_at < now - timedelta(seconds=timeout_seconds))
            .values(status=ExportStatus.failed, error="导出任务已中断（服务重启或超时），请重新导出", finished_at=now)
        )
    return len(rows)
