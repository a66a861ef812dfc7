"""数据导入: per model a template, an upload that shows a dry-run preview (every bad cell with its
row, column and reason; the rows to create and update), and a confirmation that writes everything
in one audited transaction. The specs live in rules/importing.py."""
from __future__ import annotations

import io
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_admin import BaseView, expose
from sqlalchemy.exc import IntegrityError

from extensions import db
from rules.exporting import content_disposition, write_xlsx
from rules.importing import SPECS, ImportRefused, apply_plan, make_plan, read_sheet

from .base import RoleGate, current_role
from .export import XLSX_MIME

MENU_ORDER = 91
SESSION_KEY = "import_uploads"
SHOWN = 1000


def limits() -> tuple[int, int]:
    return (int(current_app.config.get("IMPORT_MAX_BYTES", 10 * 1024 * 1024)),
            int(current_app.config.get("IMPORT_MAX_ROWS", 100_000)))


def upload_dir() -> Path:
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sweep(folder: Path, max_age: float = 24 * 3600) -> None:
    now = time.time()
    for old in folder.glob("*.xlsx"):
        if now - old.stat().st_mtime > max_age:
            old.unlink(missing_ok=True)


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
        max_bytes, max_rows = limits()
        return self.render("admin/import_index.html", specs=self.specs(), max_mb=max_bytes / 1048576, max_rows=max_rows)

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
        if not upload.filename.lower().endswith(".xlsx"):
            flash(f"{upload.filename}：只能导入 .xlsx 格式的 Excel 文件", "error")
            return redirect(url_for(".index_view"))
        folder = upload_dir()
        _sweep(folder)
        token = secrets.token_urlsafe(16)
        path = folder / f"{token}.xlsx"
        upload.save(path)
        plan = self._plan(spec, path)
        if plan is None:
            path.unlink(missing_ok=True)
            return redirect(url_for(".index_view"))
        if plan.ok and (plan.creates or plan.updates):
            uploads = dict(session.get(SESSION_KEY) or {})
            uploads[token] = {"spec": spec.name, "file": upload.filename}
            session[SESSION_KEY] = uploads
        else:
            path.unlink(missing_ok=True)
        return self.render("admin/import_preview.html", spec=spec, plan=plan, token=token, filename=upload.filename, shown=SHOWN)

    def _plan(self, spec, path: Path):
        max_bytes, max_rows = limits()
        try:
            with open(path, "rb") as fh:
                plan = make_plan(db.session, spec, read_sheet(fh, spec, max_bytes, max_rows))
        except ImportRefused as exc:
            flash(f"导入失败：{exc}", "error")
            return None
        finally:
            db.session.rollback()
        return plan

    @expose("/<model>/confirm/", methods=("POST",))
    def confirm_view(self, model: str):
        spec = self.spec(model)
        token = request.form.get("token", "")
        uploads = dict(session.get(SESSION_KEY) or {})
        entry = uploads.get(token)
        path = upload_dir() / f"{token}.xlsx"
        if not entry or entry.get("spec") != spec.name or not path.exists():
            flash("导入文件已失效，请重新上传", "error")
            return redirect(url_for(".index_view"))
        plan = self._plan(spec, path)  # again: the database may have changed since the preview
        if plan is None:
            return redirect(url_for(".index_view"))
        if not plan.ok:
            return self.render("admin/import_preview.html", spec=spec, plan=plan, token=token, filename=entry.get("file"), shown=SHOWN)
        try:
            apply_plan(db.session, plan)
            db.session.commit()
        except (IntegrityError, ImportRefused) as exc:
            db.session.rollback()
            flash(f"导入失败，未写入任何数据：数据与现有记录冲突（{exc.__class__.__name__}），请重新上传预览", "error")
            return redirect(url_for(".index_view"))
        uploads.pop(token, None)
        session[SESSION_KEY] = uploads
        path.unlink(missing_ok=True)
        flash(f"{spec.title}导入完成：{plan.summary()}", "success")
        return redirect(url_for(".index_view"))


def register(admin, session):
    admin.add_view(ImportView(name="数据导入", category="基础数据", endpoint="data_import"))
