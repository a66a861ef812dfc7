"""下载中心: large exports run in the background (a thread pool, or RQ when REDIS_URL is set);
the owner watches their progress here and downloads the file when it is done.

A worker re-creates the owner's view of the list: it loads the user, opens a request context with
the stored query string and runs the very same scoped export code as the request would.
"""
from __future__ import annotations

import os
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

from flask import abort, current_app, g, has_app_context, request, send_file
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select, update

from extensions import db
from models import ExportJob, ExportStatus, Role, User
from rules import audit, scope
from rules.exporting import content_disposition

from .base import RoleGate, principal
from .export import XLSX_MIME, chosen_columns, export_dir, export_filename, expiry, list_query, ordered_ids, write_export

MENU_ORDER = 95
QUEUE_NAME = "exports"
PROGRESS_EVERY = 5000

_executor: Optional[ThreadPoolExecutor] = None
_futures: list[Future] = []
_lock = threading.Lock()


# -- dispatch --------------------------------------------------------------------------------
def submit_export(view, columns, only) -> ExportJob:
    """Record the job (as the current user, with the list's query string) and queue it."""
    cleanup_expired()
    job = ExportJob(
        owner_id=current_user.id,
        endpoint=view.endpoint,
        title=str(view.name),
        args=[[k, v] for k, v in request.args.items(multi=True)],
        columns=[name for name, _ in columns],
        rowids=[str(i) for i in only] if only is not None else None,
        status=ExportStatus.queued,
    )
    db.session.add(job)
    db.session.commit()
    enqueue(current_app._get_current_object(), job.id)
    return job


def enqueue(app, job_id: int) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        from redis import Redis
        from rq import Queue

        Queue(QUEUE_NAME, connection=Redis.from_url(url)).enqueue(
            run_export_job_rq, job_id, job_timeout=int(app.config.get("EXPORT_JOB_TIMEOUT", 3 * 3600))
        )
        return
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=int(app.config.get("EXPORT_WORKERS", 2)), thread_name_prefix="export")
        _futures.append(_executor.submit(_run_in_app, app, job_id))


def wait_for_jobs(timeout: float = 120) -> None:
    """Block until every job queued in this process's thread pool has finished (tests, CLI)."""
    with _lock:
        pending = list(_futures)
        _futures.clear()
    for future in pending:
        future.result(timeout=timeout)


def _run_in_app(app, job_id: int) -> None:
    with app.app_context():
        try:
            run_export_job(job_id)
        finally:
            db.session.remove()


def run_export_job_rq(job_id: int) -> None:
    """The RQ entry point: the worker's app if it runs inside one, else a new app from the environment."""
    if has_app_context():
        app = current_app._get_current_object()
    else:
        from app import create_app

        app = create_app()
    _run_in_app(app, job_id)  # a fresh app context: nothing on `g` leaks into or out of the job


def _set(job_id: int, **values) -> None:
    """Progress and status on their own short transaction (visible at once; not a business write)."""
    with db.engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))


def find_view(app, endpoint: str):
    for admin in app.extensions.get("admin", []):
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    return None


def run_export_job(job_id: int) -> None:
    """Run one export as its owner: same scope, filters, search, sort and columns as the page."""
    app = current_app._get_current_object()
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status != ExportStatus.queued:
        return
    _set(job_id, status=ExportStatus.running)
    path: Optional[Path] = None
    try:
        user = db.session.get(User, job.owner_id)
        view = find_view(app, job.endpoint)
        if user is None or not user.active:
            raise ExportError("导出人账号不存在或已停用")
        if view is None:
            raise ExportError("导出的列表已不存在")
        with app.test_request_context(f"/admin/{job.endpoint}/export/xlsx/", query_string=[tuple(p) for p in job.args or []]):
            g._login_user = user  # current_user for Flask-Login, hence the owner's scope
            with audit.acting_as(audit.Actor(user_id=user.id, username=user.username)):
                if not view.is_accessible():
                    raise ExportError("导出人已无权查看该列表")
                columns = chosen_columns(view, job.columns or [])
                only = view.scoped_ids(job.rowids) if job.rowids else None
                _, query = list_query(view)
                ids = ordered_ids(view, query, only)
                _set(job_id, rows_total=len(ids))
                path = export_dir() / f"{job.id}_{secrets.token_hex(8)}.xlsx"
                name = export_filename(view)
                last = [0]

                def progress(done: int) -> None:
                    if done - last[0] >= PROGRESS_EVERY or done == len(ids):
                        last[0] = done
                        _set(job_id, rows_written=done)

                with open(path, "wb") as fh:
                    written = write_export(view, fh, ids, columns, progress=progress)
        _set(job_id, status=ExportStatus.done, rows_written=written, file_path=str(path), file_name=name,
             finished_at=datetime.now(), expires_at=expiry())
    except Exception as exc:  # the job says why; the page shows it
        if path is not None and path.exists():
            path.unlink()
        reason = str(exc) if isinstance(exc, ExportError) else f"导出时发生错误（{exc.__class__.__name__}），请缩小查询范围后重试或联系管理员"
        if getattr(exc, "code", None) == 404:
            reason = "选中的记录已不在您的数据范围内"
        _set(job_id, status=ExportStatus.failed, error=reason, finished_at=datetime.now())
        current_app.logger.exception("export job %s failed", job_id)
    finally:
        db.session.rollback()


class ExportError(Exception):
    """A failure whose Chinese message the owner should read as is."""


def cleanup_expired(now: Optional[datetime] = None) -> int:
    """Delete the files of expired jobs and mark them 已过期."""
    now = now or datetime.now()
    rows = db.session.execute(
        select(ExportJob.id, ExportJob.file_path).where(ExportJob.status == ExportStatus.done, ExportJob.expires_at <= now)
    ).all()
    for job_id, path in rows:
        if path and os.path.exists(path):
            os.remove(path)
        _set(job_id, status=ExportStatus.expired, file_path=None)
    # a job still queued or running long after any job could take: its worker died (restart)
    stale = now - timedelta(seconds=int(current_app.config.get("EXPORT_JOB_TIMEOUT", 3 * 3600)))
    with db.engine.begin() as conn:
        conn.execute(
            update(ExportJob)
            .where(ExportJob.status.in_([ExportStatus.queued, ExportStatus.running]), ExportJob.created_at < stale)
            .values(status=ExportStatus.failed, error="导出任务已中断（服务重启或超时），请重新导出", finished_at=now)
        )
    return len(rows)


# -- the page --------------------------------------------------------------------------------
class DownloadCenterView(RoleGate, BaseView):
    """下载中心: my exports, newest first. Only the owner sees or downloads a job — whatever the role."""

    roles = frozenset(Role)  # every signed-in user has their own 下载中心

    def my_jobs(self):
        p = principal()
        # populate_existing: progress is written by the worker on other connections
        return select(ExportJob).where(scope.predicate(p, ExportJob), scope.owner_only(p)).execution_options(populate_existing=True)

    @expose("/")
    def index_view(self):
        cleanup_expired()
        jobs = db.session.scalars(self.my_jobs().order_by(ExportJob.id.desc()).limit(100)).all()
        busy = any(j.status in (ExportStatus.queued, ExportStatus.running) for j in jobs)
        return self.render("admin/downloads.html", jobs=jobs, busy=busy, Status=ExportStatus)

    @expose("/file/<int:job_id>/")
    def file_view(self, job_id: int):
        job = db.session.scalar(self.my_jobs().where(ExportJob.id == job_id))
        if job is None or job.status != ExportStatus.done or not job.file_path:
            abort(404)
        if job.expires_at and job.expires_at <= datetime.now():
            cleanup_expired()
            abort(404)
        if not os.path.exists(job.file_path):
            abort(404)
        response = send_file(job.file_path, mimetype=XLSX_MIME, as_attachment=True, download_name=job.file_name or "export.xlsx")
        response.headers["Content-Disposition"] = content_disposition(job.file_name or "export.xlsx")
        return response


def register(admin, session):
    admin.add_view(DownloadCenterView(name="下载中心", endpoint="download"))
