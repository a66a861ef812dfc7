"""RQ entry point of the 下载中心: one export job, run by rules.export_jobs on a database engine —
the one of the Flask app the worker runs in (`flask --app app export-worker`), or one made from
DATABASE_URL under a bare `rq worker exports`. No request, no view, no `app` import."""
from __future__ import annotations

import os
from pathlib import Path

from rules.export_jobs import Settings, run_job

QUEUE_NAME = "exports"
INSTANCE = Path(__file__).resolve().parent / "instance"  # as app.py: the project's instance/ folder


def run_export_job(job_id: int) -> None:
    from flask import current_app, has_app_context

    if has_app_context():
        from extensions import db

        run_job(db.engine, job_id, Settings.from_config(current_app.config, current_app.instance_path))
        return
    from sqlalchemy import create_engine

    engine = create_engine(os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'app.db'}", pool_pre_ping=True)
    try:
        run_job(engine, job_id, Settings.from_config(os.environ, INSTANCE))
    finally:
        engine.dispose()
