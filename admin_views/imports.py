"""数据导入: per model a template, an upload that shows a dry-run preview (every bad cell with its
row, column and reason; the rows to create and update), and a confirmation that writes everything
in one audited transaction. The specs live in rules/importing.py.

An upload is kept on disk only while its preview waits for 确认导入; a refused file (not an xlsx,
a zip bomb, a DTD, too many cells, bad rows) is removed before the answer goes out."""
from __future__ import annotations

import dataclasses
import io
import logging
import re
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_admin import BaseView, expose
from sqlalchemy.exc import DataError, IntegrityError

from extensions import db
from rules.exporting import content_disposition, write_xlsx
from rules.importing import SPECS, ImportRefused, apply_plan, make_plan, read_sheet, shorten
from rules.xlsx_guard import Limits

from .base import RoleGate, current_role
from .export import XLSX_MIME

log = logging.getLogger("kjback.imports")

MENU_ORDER = 91
SESSION_KEY = "import_uploads"
SHOWN = 1000
KEPT = 10  # previews awaiting 确认导入 remembered per session (each costs cookie space)
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)


def limits() -> tuple[int, int, Limits]:
    """File size and rows from the config; the unpacked size and cell count follow the rows unless
    IMPORT_MAX_UNPACKED_BYTES / IMPORT_MAX_CELLS say otherwise."""
    config = current_app.config
    max_rows = int(config.get("IMPORT_MAX_ROWS", 100_000))
    guard = Limits.for_rows(max_rows)
    if config.get("IMPORT_MAX_UNPACKED_BYTES"):
        guard = dataclasses.replace(guard, unpacked_bytes=int(config["IMPORT_MAX_UNPACKED_BYTES"]))
    if config.get("IMPORT_MAX_CELLS"):
        guard = dataclasses.replace(guard, cells=int(config["IMPORT_MAX_CELLS"]))
    return int(config.get("IMPORT_MAX_BYTES", 10 * 1024 * 1024)), max_rows, guard


def upload_dir() -> Path:
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sweep(folder: Path, max_age: float = 24 * 3600) -> None:
    now = time.time()
    for old in folder.glob("*.xlsx"):
        try:
            if now - old.stat().st_mtime > max_age:
                old.unlink(missing_ok=True)
        except FileNotFoundError:  # another request removed it meanwhile
            pass


class ImportView(RoleGate, BaseView):
    """数据导入 for the reference data (sysadmin), units and enterprises (sysadmin, bureau)."""

    def specs(self):
        role = current_role()
        return [spec for spec in SPECS.values() if role in spec.roles]

    def spec(self, name: str):
        spec = SPECS.get(name)
        if spec is None or current_role() not in spec.roles:
            abort(404)
        return spec

    def is_accessible(self) -> bool:
        return bool(self.specs())

    @expose("/")
    def index_view(self):
        max_bytes, max_rows, guard = limits()
        return self.render("admin/import_index.html", specs=self.specs(), max_mb=max_bytes / 1048576, max_rows=max_rows,
                           max_unpacked_mb=guard.unpacked_bytes / 1048576, max_cells=guard.cells)

    @expose("/<model>/template/")
    def template_view(self, model: str):
        spec = self.spec(model)
        buf = io.BytesIO()
        write_xlsx(buf, spec.title, spec.headers, [list(r) for r in spec.examples])
        filename = f"{spec.title}导入模板.xlsx"
        return current_app.response_class(buf.getvalue(), mimetype=XLSX_MIME, headers={"Content-Disposition": content_disposition(filename, "template.xlsx")})

    @expose("/<model>/upload/", methods=("POST",))
    def upload_view(self, model: str):
        spec = self.spec(model)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("请选择要导入的 Excel 文件", "error")
            return redirect(url_for(".index_view"))
        filename = shorten(upload.filename, 60)
        if not upload.filename.lower().endswith(".xlsx"):
            flash(f"{filename}：只能导入 .xlsx 格式的 Excel 文件", "error")
            return redirect(url_for(".index_view"))
        folder = upload_dir()
        _sweep(folder)
        token = secrets.token_urlsafe(16)
        path = folder / f"{token}.xlsx"
        kept = False
        try:  # whatever happens below, only a preview with something to confirm keeps the file
            upload.save(path)
            plan = self._plan(spec, path)
            if plan is None:
                return redirect(url_for(".index_view"))
            kept = plan.ok and bool(plan.creates or plan.updates)
            if kept:
                _remember(token, spec.name, filename, folder)
            return self.render("admin/import_preview.html", spec=spec, plan=plan, token=token, filename=filename, shown=SHOWN)
        finally:
            if not kept:
                path.unlink(missing_ok=True)

    def _plan(self, spec, path: Path):
        """The dry run of one stored upload, or None with the refusal flashed."""
        max_bytes, max_rows, guard = limits()
        try:
            with open(path, "rb") as fh:
                plan = make_plan(db.session, spec, read_sheet(fh, spec, max_bytes, max_rows, guard))
        except ImportRefused as exc:
            flash(f"导入失败：{exc}", "error")
            return None
        except DataError:  # a value the checks let through that the database still cannot compare
            log.exception("import %s: the database refused a value while comparing", spec.name)
            flash("导入失败：文件中有数据库无法接受的值，请检查后重新上传", "error")
            return None
        finally:
            db.session.rollback()
        return plan

    @expose("/<model>/confirm/", methods=("POST",))
    def confirm_view(self, model: str):
        spec = self.spec(model)
        token = request.form.get("token", "")
        entry = (session.get(SESSION_KEY) or {}).get(token) if TOKEN.fullmatch(token) else None
        if not entry or entry.get("spec") != spec.name:  # foreign, forged or another model's token
            flash("导入文件已失效，请重新上传", "error")
            return redirect(url_for(".index_view"))
        path = upload_dir() / f"{token}.xlsx"
        try:  # a confirmation uses the upload up, whatever its outcome
            return self._confirm(spec, path, entry)
        finally:
            _forget(token)
            path.unlink(missing_ok=True)

    def _confirm(self, spec, path: Path, entry: dict):
        if not path.exists():  # swept after a day, or already confirmed in another tab
            flash("导入文件已失效，请重新上传", "error")
            return redirect(url_for(".index_view"))
        plan = self._plan(spec, path)  # again: the database may have changed since the preview
        if plan is None:
            return redirect(url_for(".index_view"))
        if not plan.ok:
            return self.render("admin/import_preview.html", spec=spec, plan=plan, token="", filename=entry.get("file"), shown=SHOWN)
        try:
            apply_plan(db.session, plan)
            db.session.commit()
        except (IntegrityError, DataError, ImportRefused) as exc:
            db.session.rollback()
            flash(f"导入失败，未写入任何数据：数据与现有记录冲突（{exc.__class__.__name__}），请重新上传预览", "error")
            return redirect(url_for(".index_view"))
        flash(f"{spec.title}导入完成：{plan.summary()}", "success")
        return redirect(url_for(".index_view"))


def _remember(token: str, spec_name: str, filename: str, folder: Path) -> None:
    """Note a preview awaiting confirmation; forget those whose files are gone, and the oldest."""
    uploads = {t: e for t, e in (session.get(SESSION_KEY) or {}).items() if (folder / f"{t}.xlsx").exists()}
    uploads[token] = {"spec": spec_name, "file": filename}
    session[SESSION_KEY] = dict(list(uploads.items())[-KEPT:])


def _forget(token: str) -> None:
    uploads = dict(session.get(SESSION_KEY) or {})
    if uploads.pop(token, None) is not None:
        session[SESSION_KEY] = uploads


def register(admin, session):
    admin.add_view(ImportView(name="数据导入", category="基础数据", endpoint="data_import"))
