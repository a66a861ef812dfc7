"""导出Excel: the rows of a list as the user sees it (scope, filters, search, sort), streamed to xlsx.

One code path serves the request (small exports) and the 下载中心 worker (large ones): the list's
ordered primary keys are read first (a compact array), then the rows are loaded 1,000 at a time
through the scoped query and written by rules.exporting's streaming writer. No database cursor
stays open while the file is written, so progress can be committed between chunks.
"""
from __future__ import annotations

import tempfile
from array import array
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from flask import Response, current_app, flash, redirect, request, url_for
from markupsafe import Markup
from sqlalchemy import JSON
from sqlalchemy import inspect as sa_inspect

from rules.exporting import cell_value, content_disposition, write_xlsx

CHUNK = 1000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEVER_EXPORTED = frozenset({"password_hash"})


# -- columns ---------------------------------------------------------------------------------
def column_choices(view) -> list[tuple[str, str, bool]]:
    """(name, Chinese label, checked by default): the list's export columns first, then any other
    column the details page shows. The 选择导出字段 dialog offers exactly these."""
    excluded = set(view.column_export_exclude_list or ()) | NEVER_EXPORTED
    seen: set[str] = set()
    choices = []
    for name, text in view._export_columns:
        if name not in excluded and name not in seen:
            choices.append((name, str(text), True))
            seen.add(name)
    for name, text in getattr(view, "_details_columns", None) or ():
        if name not in excluded and name not in seen and not _is_json(view.model, name):
            choices.append((name, str(text), False))
            seen.add(name)
    return choices


def _is_json(model, name: str) -> bool:
    """JSON columns (change sets, module lists) are internal structures, not offered as extras."""
    attr = sa_inspect(model).column_attrs.get(name)
    return attr is not None and isinstance(attr.columns[0].type, JSON)


def chosen_columns(view, requested: Sequence[str]) -> list[tuple[str, str]]:
    """The requested columns in the requested order, keeping only offered ones; default otherwise."""
    offered = {name: text for name, text, _ in column_choices(view)}
    picked = []
    for name in requested:
        if name in offered and name not in dict(picked):
            picked.append((name, offered[name]))
    return picked or [(name, text) for name, text, default in column_choices(view) if default]


# -- values ----------------------------------------------------------------------------------
def _resolve(obj, path: str):
    for part in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def value_getter(view, name: str) -> Callable[[Any], Any]:
    """obj → typed cell value: `column_formatters_export`, else a plain-text `column_formatters`
    result (Markup loses its tags), else the attribute; enums as labels, related rows as names."""
    formatter = (view.column_formatters_export or {}).get(name) or (view.column_formatters or {}).get(name)
    if formatter is None:
        related = _related_getter(view.model, name)
        if related is not None:
            return related
        if "." not in name:
            plain = attrgetter(name)
            return lambda obj: cell_value(plain(obj))
        return lambda obj: cell_value(_resolve(obj, name))

    def get(obj):
        try:
            value = formatter(view, None, obj, name)
        except Exception:  # a list formatter that needs the page's template context
            value = _resolve(obj, name)
        if isinstance(value, Markup):
            value = value.striptags()
        return cell_value(value)

    return get


def _related_getter(model, name: str) -> Optional[Callable[[Any], Any]]:
    """A many-to-one column (`education`, `region.name`) read through its foreign key with a
    per-export cache: one look-up per distinct related row instead of one join or query per row."""
    head, _, rest = name.partition(".")
    mapper = sa_inspect(model)
    rel = mapper.relationships.get(head)
    if rel is None or rel.uselist or len(rel.local_columns) != 1 or "." in rest:
        return None
    fk_attr = mapper.get_property_by_column(next(iter(rel.local_columns))).key
    read_fk = attrgetter(fk_attr)
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


# -- the query -------------------------------------------------------------------------------
def list_query(view):
    """(count, query) of the list without pagination: same scope, filters, search and sort as the page."""
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    return view.get_list(0, sort[0] if sort else None, args.sort_desc, args.search, args.filters, execute=False, page_size=0)


def selected_ids(view, rowids: Sequence[str]) -> Optional[list]:
    """Selected rows re-selected through the scope (a foreign id answers 404), or None for all."""
    rowids = [r for r in rowids if str(r).strip()]
    return view.scoped_ids(rowids) if rowids else None


def ordered_ids(view, query, only: Optional[list] = None):
    """The primary keys in list order: an int array (8 bytes a row) when the key is an integer."""
    pk = view._pk_column()
    if only is not None:
        query = query.filter(pk.in_(only))
    ids = query.with_entities(pk)
    try:
        integer = pk.type.python_type is int
    except NotImplementedError:
        integer = False
    out = array("q") if integer else []
    for (value,) in ids.yield_per(10_000):
        out.append(value)
    return out


def tuple_reader(view, columns: Sequence[tuple[str, str]]):
    """(entities, getters) reading plain tuples instead of ORM objects — several times faster —
    when every column is a plain column or a many-to-one relationship with no formatter; else None."""
    formatters = {**(view.column_formatters or {}), **(view.column_formatters_export or {})}
    mapper = sa_inspect(view.model)
    plain = set(mapper.column_attrs.keys())
    entities: list = []
    getters: list = []
    for name, _ in columns:
        if name in formatters:
            return None
        head, _, rest = name.partition(".")
        position = len(entities) + 1  # 0 is the primary key
        if not rest and head in plain:
            entities.append(getattr(view.model, head))
            getters.append(lambda row, p=position: cell_value(row[p]))
            continue
        rel = mapper.relationships.get(head)
        if rel is None or rel.uselist or len(rel.local_columns) != 1 or "." in rest:
            return None
        target = rel.mapper
        if len(target.primary_key) != 1 or target.primary_key[0] not in rel.remote_side:
            return None
        entities.append(getattr(view.model, mapper.get_property_by_column(next(iter(rel.local_columns))).key))
        getters.append(_cached_target(view.session, target.class_, rest, position))
    return entities, getters


def _cached_target(session, model, attr: str, position: int) -> Callable[[Any], Any]:
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


def iter_rows(view, ids, columns: Sequence[tuple[str, str]], chunk: int = CHUNK,
              progress: Optional[Callable[[int], None]] = None) -> Iterator[list]:
    """Rows of typed values for `ids`, in that order, loaded `chunk` at a time through the scope."""
    pk = view._pk_column()
    reader = tuple_reader(view, columns)
    if reader is not None:
        entities, getters = reader
        load = lambda part: {row[0]: row for row in view.get_query().with_entities(pk, *entities).filter(pk.in_(part))}  # noqa: E731
    else:
        getters = [value_getter(view, name) for name, _ in columns]
        key = sa_inspect(view.model).primary_key[0].key
        load = lambda part: {getattr(o, key): o for o in view.get_query().filter(pk.in_(part))}  # noqa: E731
    done = 0
    for start in range(0, len(ids), chunk):
        part = list(ids[start:start + chunk])
        by_id = load(part)
        for value in part:
            item = by_id.get(value)
            if item is not None:  # deleted (or left the scope) since the ids were read
                yield [get(item) for get in getters]
        done += len(part)
        del by_id
        if progress:
            progress(done)


def export_filename(view) -> str:
    return f"{view.name}_{datetime.now():%Y%m%d%H%M%S}.xlsx"


def write_export(view, fileobj, ids, columns, progress=None) -> int:
    return write_xlsx(fileobj, str(view.name), [text for _, text in columns], iter_rows(view, ids, columns, progress=progress))


# -- the request -----------------------------------------------------------------------------
def export_response(view) -> Response:
    """Stream the file, or hand a large export to the 下载中心 and go there."""
    requested = request.values.getlist("col")
    columns = chosen_columns(view, requested)
    only = selected_ids(view, request.values.getlist("rowid"))
    count, query = list_query(view)
    if only is None and count is None:  # a view with simple_list_pager counts nothing itself
        count = query.order_by(None).count()
    total = len(only) if only is not None else count
    if total > int(current_app.config.get("EXPORT_ASYNC_ROWS", 20000)):
        from .downloads import submit_export

        submit_export(view, columns, only)
        flash(f"共 {total} 条记录，已转入下载中心后台导出，完成后请在下载中心下载", "info")
        return redirect(url_for("download.index_view"))
    ids = ordered_ids(view, query, only)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_export(view, spool, ids, columns)
    spool.seek(0)

    def stream():
        with spool:
            while chunk := spool.read(256 * 1024):
                yield chunk

    return Response(stream(), mimetype=XLSX_MIME, headers={"Content-Disposition": content_disposition(export_filename(view))})


def export_dir() -> Path:
    path = Path(current_app.config.get("EXPORT_DIR") or Path(current_app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def expiry(now: Optional[datetime] = None) -> datetime:
    return (now or datetime.now()) + timedelta(hours=float(current_app.config.get("EXPORT_EXPIRE_HOURS", 24)))
