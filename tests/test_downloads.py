"""下载中心: a large export runs in the background as its owner, shows progress, downloads once
done, only for its owner, expires; with Redis (TEST_REDIS_URL) the same job runs through RQ."""
from __future__ import annotations

import io
import os
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import func, or_, select

from models import ExportJob, ExportStatus, Person, Unit, User


@pytest.fixture
def small_async(app):
    old = app.config["EXPORT_ASYNC_ROWS"]
    app.config["EXPORT_ASYNC_ROWS"] = 3
    yield app
    app.config["EXPORT_ASYNC_ROWS"] = old


def _job(db_session, username):
    db_session.expire_all()
    owner = db_session.scalar(select(User.id).where(User.username == username))
    return db_session.scalar(select(ExportJob).where(ExportJob.owner_id == owner).order_by(ExportJob.id.desc()))


def _rows(data: bytes):
    return list(openpyxl.load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))


def test_large_export_runs_in_background_and_downloads(small_async, client_as, db_session):
    from admin_views.downloads import wait_for_jobs

    client = client_as("unit_cqu")
    response = client.get("/admin/person/export/xlsx/?col=id_no&col=name")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/download/")
    wait_for_jobs()
    page = client.get("/admin/download/").get_data(as_text=True)
    assert "后台导出" in page and "已完成" in page and "个人信息" in page
    job = _job(db_session, "unit_cqu")
    assert job.status == ExportStatus.done and job.rows_written == job.rows_total
    download = client.get(f"/admin/download/file/{job.id}/")
    assert download.status_code == 200 and "filename*=UTF-8''" in download.headers["Content-Disposition"]
    rows = _rows(download.data)
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    me = db_session.scalar(select(User.id).where(User.username == "unit_cqu"))
    expected = set(db_session.scalars(select(Person.id_no).where(or_(Person.unit_id == cqu, Person.user_id == me))))
    assert rows[0] == ("证件号码", "姓名")
    assert {r[0] for r in rows[1:]} == expected  # the worker re-created the owner's scope


def test_only_the_owner_sees_and_downloads_the_file(small_async, client_as, db_session):
    from admin_views.downloads import wait_for_jobs

    client_as("unit_cqu").get("/admin/person/export/xlsx/")
    wait_for_jobs()
    job = _job(db_session, "unit_cqu")
    assert job.status == ExportStatus.done
    for other in ("bureau", "sysadmin", "unit_swu"):
        assert client_as(other).get(f"/admin/download/file/{job.id}/").status_code == 404
        assert f"/admin/download/file/{job.id}/" not in client_as(other).get("/admin/download/").get_data(as_text=True)
    assert client_as("unit_cqu").get("/admin/download/file/999999/").status_code == 404
    assert client_as("unit_cqu").get(f"/admin/download/file/{job.id}/").status_code == 200


def test_anonymous_users_go_to_login(anon):
    response = anon.get("/admin/download/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_expired_files_are_removed(small_async, client_as, db_session):
    from admin_views.downloads import wait_for_jobs

    client = client_as("bureau")
    client.get("/admin/unit/export/xlsx/")
    wait_for_jobs()
    job = _job(db_session, "bureau")
    assert job.status == ExportStatus.done and os.path.exists(job.file_path)
    path = job.file_path
    job.expires_at = datetime.now() - timedelta(minutes=1)
    db_session.commit()
    assert client.get(f"/admin/download/file/{job.id}/").status_code == 404
    assert not os.path.exists(path)
    assert "已过期" in client.get("/admin/download/").get_data(as_text=True)
    assert _job(db_session, "bureau").status == ExportStatus.expired


def test_a_failed_job_says_why(app, client_as, db_session):
    from admin_views.downloads import run_export_job_rq

    owner = db_session.scalar(select(User.id).where(User.username == "sysadmin"))
    job = ExportJob(owner_id=owner, endpoint="no_such_list", title="不存在的列表", args=[])
    db_session.add(job)
    db_session.commit()
    run_export_job_rq(job.id)
    job = _job(db_session, "sysadmin")
    assert job.status == ExportStatus.failed and job.error == "导出的列表已不存在"
    assert "导出的列表已不存在" in client_as("sysadmin").get("/admin/download/").get_data(as_text=True)


def test_a_job_whose_owner_lost_the_rows_fails_without_a_file(app, client_as, db_session):
    from admin_views.downloads import run_export_job_rq

    owner = db_session.scalar(select(User.id).where(User.username == "unit_swu"))
    foreign = db_session.scalar(select(Person.id).join(Unit, Person.unit_id == Unit.id).where(Unit.name == "重庆大学"))
    job = ExportJob(owner_id=owner, endpoint="person", title="个人信息", args=[], rowids=[str(foreign)])
    db_session.add(job)
    db_session.commit()
    run_export_job_rq(job.id)
    job = _job(db_session, "unit_swu")
    assert job.status == ExportStatus.failed and job.file_path is None
    assert "数据范围" in job.error


def _redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL not set")
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except RedisError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {url} is unreachable in CI: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return url


def test_background_export_through_rq_on_redis(small_async, client_as, db_session):
    url = _redis_url()
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(url)
    queue = Queue("exports", connection=connection)
    queue.empty()
    small_async.config["REDIS_URL"] = url
    try:
        response = client_as("bureau").get("/admin/unit/export/xlsx/?col=name")
        assert response.status_code == 302
        job = _job(db_session, "bureau")
        assert job.status == ExportStatus.queued and queue.count == 1
        SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        small_async.config["REDIS_URL"] = None
    job = _job(db_session, "bureau")
    assert job.status == ExportStatus.done, job.error
    rows = _rows(client_as("bureau").get(f"/admin/download/file/{job.id}/").data)
    assert len(rows) - 1 == db_session.scalar(select(func.count()).select_from(Unit))


def test_a_job_left_running_by_a_dead_worker_is_marked_failed(app, client_as, db_session):
    owner = db_session.scalar(select(User.id).where(User.username == "bureau"))
    job = ExportJob(owner_id=owner, endpoint="unit", title="单位信息", args=[], status=ExportStatus.running,
                    created_at=datetime.now() - timedelta(days=1))
    db_session.add(job)
    db_session.commit()
    page = client_as("bureau").get("/admin/download/").get_data(as_text=True)
    assert "导出任务已中断" in page


def test_export_worker_command_runs_queued_jobs(small_async, client_as, db_session):
    url = _redis_url()
    from redis import Redis
    from rq import Queue

    Queue("exports", connection=Redis.from_url(url)).empty()
    small_async.config["REDIS_URL"] = url
    try:
        assert client_as("bureau").get("/admin/region/export/xlsx/").status_code == 302
        result = small_async.test_cli_runner().invoke(args=["export-worker", "--burst"])
        assert result.exit_code == 0, result.output
    finally:
        small_async.config["REDIS_URL"] = None
    job = _job(db_session, "bureau")
    assert job.status == ExportStatus.done, job.error
    assert small_async.test_cli_runner().invoke(args=["export-worker"]).exit_code != 0  # no REDIS_URL: says so
