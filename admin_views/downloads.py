"""下载中心: large exports run in the background (a thread pool, or RQ when REDIS_URL is set);
the owner watches their progress here and downloads the file when it is done.

The request stores the export resolved (rules.export_jobs.ExportSpec: model, who asked, the
list's ordered-id SELECT with its values, the columns); the worker is rules.export_jobs.run_job,
which needs a database engine and nothing of Flask, the views or the request.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Optional

from flask import abort, current_app, send_file
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import defer

from export_worker import QUEUE_NAME, run_export_job
from extensions import db
from models import ExportJob, ExportStatus
from rules import display, export_jobs, scope
from rules.export_jobs import ExportSpec
from rules.exporting import content_disposition

from .base import RoleGate, principal
from .export import XLSX_MIME, job_settings

MENU_ORDER = 95

_executor: Optional[ThreadPoolExecutor] = None
_futures: list[Future] = []
_lock = threading.Lock()


# -- dispatch --------------------------------------------------------------------------------
def submit_export(view, spec: ExportSpec) -> ExportJob:
    """Record the job (the current user's, with the resolved spec) and queue it."""
    cleanup_expired()
    job = ExportJob(owner_id=current_user.id, endpoint=view.endpoint, title=spec.title, spec=spec.to_json(), status=ExportStatus.queued)
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
            run_export_job, job_id, job_timeout=int(app.config.get("EXPORT_JOB_TIMEOUT", 3 * 3600))
        )
        return
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=int(app.config.get("EXPORT_WORKERS", 2)), thread_name_prefix="export")
        _futures.append(_executor.submit(export_jobs.run_job, db.engine, job_id, job_settings()))


def wait_for_jobs(timeout: float = 120) -> None:
    """Block until every job queued in this process's thread pool has finished (tests, CLI)."""
    with _lock:
        pending = list(_futures)
        _futures.clear()
    for future in pending:
        future.result(timeout=timeout)


def find_view(app, endpoint: str):
    for admin in app.extensions.get("admin", []):
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    return None


def cleanup_expired(now: Optional[datetime] = None) -> int:
    """Delete the files of expired jobs and mark them 已过期; fail jobs whose worker died."""
    timeout = int(current_app.config.get("EXPORT_JOB_TIMEOUT", 3 * 3600))
    return export_jobs.expire_jobs(db.engine, now or datetime.now(), timeout)


# -- the page --------------------------------------------------------------------------------
class DownloadCenterView(RoleGate, BaseView):
    """下载中心: my exports, newest first. Only the owner sees or downloads a job — whatever the role."""


    def my_jobs(self):
        p = principal()
        # populate_existing: progress is written by the worker on other connections
        return (select(ExportJob).options(defer(ExportJob.spec)).where(scope.predicate(p, ExportJob), scope.owner_only(p))
                .execution_options(populate_existing=True))

    @expose("/")
    def index_view(self):
        cleanup_expired()
        jobs = db.session.scalars(self.my_jobs().order_by(ExportJob.id.desc()).limit(100)).all()
        busy = any(j.status in (ExportStatus.queued, ExportStatus.running) for j in jobs)
        owners = display.actor_labels(db.session, [j.owner_id for j in jobs])  # 导出人: 姓名（单位/二级单位）
        return self.render("admin/downloads.html", jobs=jobs, busy=busy, Status=ExportStatus, owners=owners)

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
