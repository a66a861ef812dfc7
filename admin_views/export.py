"""导出Excel: the rows of a list as the user sees it (scope, filters, search, sort), streamed to xlsx.

This module is the view's half: it resolves the list, once, into a rules.export_jobs.ExportSpec —
the list's ordered-id SELECT (compiled, values bound beside it), the chosen columns in model terms
— and hands it to rules.export_jobs, which writes small exports here and large ones in the
下载中心 worker with the same code. Nothing after this point needs the view or the request.
"""
from __future__ import annotations

import tempfile
from typing import Callable, Iterator, Optional, Sequence

from flask import Response, current_app, flash, redirect, request, url_for
from sqlalchemy import JSON
from sqlalchemy import inspect as sa_inspect

from rules import display, export_jobs
from rules.export_jobs import CHUNK, ExportError, ExportSpec, Selection, Settings, SheetColumn, principal_facts
from rules.exporting import content_disposition, write_xlsx

from .base import principal

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
    extra = getattr(view, "extra_export_choices", None)  # e.g. the calls' own fields of 申报书
    for name, text, default in (extra() if extra else ()):
        if name not in seen:
            choices.append((name, text, default))
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


# -- values: each column in model terms (rules.export_jobs.SheetColumn) --------------------
def export_columns(view, columns: Sequence[tuple[str, str]]) -> list[SheetColumn]:
    """The chosen (name, label) pairs as the worker reads them: a column the view formats
    (`column_formatters_export`, else `column_formatters`) reads through rules.display."""
    formatted = {**(view.column_formatters or {}), **(view.column_formatters_export or {})}
    resolved = []
    for name, text in columns:
        shown = name in formatted
        if shown and display.reader(view.model, name) is None:
            current_app.logger.warning("%s.%s has a formatter but no reader in rules/display.py: exported as stored", view.endpoint, name)
            shown = False
        resolved.append(SheetColumn(name, text, shown))
    return resolved


def display_formatters(model, *names: str) -> dict:
    """`column_formatters` taken from rules.display, so that a list and its export share one reader:
    `column_formatters = display_formatters(Declaration, "status", "submitted_at")`."""

    def formatter(read):
        return lambda view, context, row, name: read(row)

    return {name: formatter(display.READERS[(model, name)]) for name in names}


# -- the rows --------------------------------------------------------------------------------
def list_query(view):
    """(count, query) of the list without pagination: same scope, filters, search and sort as the page."""
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    return view.get_list(0, sort[0] if sort else None, args.sort_desc, args.search, args.filters, execute=False, page_size=0)


def selected_ids(view, rowids: Sequence[str]) -> Optional[list]:
    """Selected rows re-selected through the scope (a foreign id answers 404), or None for all."""
    rowids = [r for r in rowids if str(r).strip()]
    return view.scoped_ids(rowids) if rowids else None


def selection(view, query, only: Optional[list] = None) -> Selection:
    """The list's primary keys in list order (the key breaks ties, so two runs agree) as SQL to run again."""
    pk = view._pk_column()
    ids = query.with_entities(pk)
    if only is not None:
        ids = ids.filter(pk.in_(only))
    return Selection.of(ids.order_by(pk).statement, view.session.get_bind().dialect)


def export_spec(view, columns: Sequence[tuple[str, str]], only: Optional[list] = None, query=None) -> ExportSpec:
    """Everything the export needs, resolved now, inside the request."""
    if query is None:
        _, query = list_query(view)
    return ExportSpec(
        table=view.model.__table__.name,
        endpoint=view.endpoint,
        title=str(view.name),
        principal=principal_facts(principal()),
        selection=selection(view, query, only),
        columns=tuple(export_columns(view, columns)),
        rowids=tuple(only) if only is not None else None,
    )


def ordered_ids(view, query, only: Optional[list] = None):
    return selection(view, query, only).ids(view.session)


def iter_rows(view, ids, columns: Sequence[tuple[str, str]], chunk: int = CHUNK,
              progress: Optional[Callable[[int], None]] = None) -> Iterator[list]:
    return export_jobs.iter_rows(view.session, view.model, principal(), ids, export_columns(view, columns), chunk, progress)


def export_filename(view) -> str:
    return export_jobs.export_filename(str(view.name))


def write_export(view, fileobj, ids, columns, progress=None) -> int:
    rows = iter_rows(view, ids, columns, progress=progress)
    return write_xlsx(fileobj, str(view.name), [text for _, text in columns], rows)


# -- the request -----------------------------------------------------------------------------
def export_response(view) -> Response:
    """Stream the file, or hand a large export to the 下载中心 and go there."""
    columns = chosen_columns(view, request.values.getlist("col"))
    only = selected_ids(view, request.values.getlist("rowid"))
    count, query = list_query(view)
    if only is None and count is None:  # a view with simple_list_pager counts nothing itself
        count = query.order_by(None).count()
    total = len(only) if only is not None else count
    try:
        spec = export_spec(view, columns, only, query)
    except ExportError as exc:
        flash(str(exc), "error")
        return redirect(view.get_url(".index_view"))
    if total > int(current_app.config.get("EXPORT_ASYNC_ROWS", 20000)):
        from .downloads import submit_export

        submit_export(view, spec)
        flash(f"共 {total} 条记录，已转入下载中心后台导出，完成后请在下载中心下载", "info")
        return redirect(url_for("download.index_view"))
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    export_jobs.write(view.session, principal(), spec, spool, spec.selection.ids(view.session))
    spool.seek(0)

    def stream():
        with spool:
            while chunk := spool.read(256 * 1024):
                yield chunk

    return Response(stream(), mimetype=XLSX_MIME, headers={"Content-Disposition": content_disposition(export_filename(view))})


def job_settings() -> Settings:
    return Settings.from_config(current_app.config, current_app.instance_path)
