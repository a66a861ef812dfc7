"""下载中心: a large export runs in the background as its owner is *now* (current scope, still
active, still allowed the list), writes the same file as the page would, shows progress,
downloads once done, only for its owner, expires; with Redis (TEST_REDIS_URL) it runs through RQ.
The worker replays no request: it runs the stored spec with rules and models only."""
from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, or_, select

from models import ExportJob, ExportStatus, Person, Region, Role, SecondaryUnit, Unit, User


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


def _run(job_id):
    """The RQ entry point, here inside the test's app context (as `flask --app app export-worker`)."""
    from export_worker import run_export_job

    run_export_job(job_id)


def test_a_failed_job_says_why(app, client_as, db_session):
    owner = db_session.scalar(select(User.id).where(User.username == "sysadmin"))
    gone = {"version": 1, "table": "no_such_table", "endpoint": "no_such_list", "title": "不存在的列表", "principal": None,
            "selection": {"dialect": "sqlite", "sql": "SELECT 1", "params": []}, "columns": [["name", "名称", False]], "rowids": None}
    job = ExportJob(owner_id=owner, endpoint="no_such_list", title="不存在的列表", spec=gone)
    legacy = ExportJob(owner_id=owner, endpoint="unit", title="单位信息")  # queued before jobs carried a spec
    db_session.add_all([job, legacy])
    db_session.commit()
    _run(job.id)
    _run(legacy.id)
    db_session.expire_all()
    assert db_session.get(ExportJob, job.id).status == ExportStatus.failed
    assert db_session.get(ExportJob, job.id).error == "导出的列表已不存在"
    assert "重新导出" in db_session.get(ExportJob, legacy.id).error
    page = client_as("sysadmin").get("/admin/download/").get_data(as_text=True)
    assert "导出的列表已不存在" in page and "重新导出" in page


@pytest.fixture
def held(app, monkeypatch):
    """Jobs are recorded but not started, so a test can change the world before the worker runs."""
    import admin_views.downloads as downloads

    queued: list[int] = []
    monkeypatch.setattr(downloads, "enqueue", lambda _app, job_id: queued.append(job_id))
    old = app.config["EXPORT_ASYNC_ROWS"]
    app.config["EXPORT_ASYNC_ROWS"] = -1  # every export goes to the 下载中心, even an empty one
    yield queued
    app.config["EXPORT_ASYNC_ROWS"] = old


def _sheet_rows(path):
    return list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))


def _scope_ids(db_session, model, user):
    from rules import scope

    return set(db_session.scalars(select(model.id).where(scope.predicate(scope.Principal.of(user), model))))


def test_a_job_whose_owner_lost_scope_exports_only_the_current_scope(held, client_as, db_session):
    assert client_as("unit_cqu").get("/admin/person/export/xlsx/?col=id_no").status_code == 302
    (job_id,) = held
    user = db_session.scalar(select(User).where(User.username == "unit_cqu"))
    before = _scope_ids(db_session, Person, user)
    # since asking, the unit admin became the 软件学院 secretary: their scope is now that secondary unit
    software = db_session.scalar(select(SecondaryUnit.id).where(SecondaryUnit.name == "软件学院"))
    user.role, user.secondary_unit_id = Role.dept_admin, software
    db_session.commit()
    now = _scope_ids(db_session, Person, user)
    assert now and now < before
    _run(job_id)
    job = db_session.get(ExportJob, job_id)
    db_session.refresh(job)
    assert job.status == ExportStatus.done, job.error
    rows = _sheet_rows(job.file_path)
    expected = set(db_session.scalars(select(Person.id_no).where(Person.id.in_(now))))
    assert rows[0] == ("证件号码",) and {r[0] for r in rows[1:]} == expected and len(rows) - 1 == len(now)
    assert job.rows_written == job.rows_total == len(now)


@pytest.mark.parametrize("username, endpoint, change, reason", [
    ("unit_cqu", "user", {"role": Role.applicant}, "导出人已无权查看该列表"),
    ("applicant_zhang", "declaration", {"modules": []}, "导出人已无权查看该列表"),  # 模块配置 withdrawn
    ("unit_cqu", "user", {"active": False}, "导出人账号不存在或已停用"),
])
def test_a_job_whose_owner_lost_the_list_or_the_account_fails(held, client_as, db_session, username, endpoint, change, reason):
    assert client_as(username).get(f"/admin/{endpoint}/export/xlsx/").status_code == 302
    (job_id,) = held
    user = db_session.scalar(select(User).where(User.username == username))
    for key, value in change.items():
        setattr(user, key, value)
    db_session.commit()
    _run(job_id)
    job = db_session.get(ExportJob, job_id)
    db_session.refresh(job)
    assert job.status == ExportStatus.failed and job.error == reason and job.file_path is None


def test_a_job_whose_owner_lost_the_ticked_rows_fails_without_a_file(held, client_as, db_session):
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    me = db_session.scalar(select(User.id).where(User.username == "unit_cqu"))
    others = or_(Person.user_id.is_(None), Person.user_id != me)  # not the admin's own record, which stays theirs
    mine = db_session.scalars(select(Person.id).where(Person.unit_id == cqu, others).order_by(Person.id).limit(4)).all()
    response = client_as("unit_cqu").post_form("/admin/person/export/xlsx/", {"rowid": [str(i) for i in mine], "col": ["id_no"]})
    assert response.status_code == 302
    (job_id,) = held
    moved = db_session.get(Person, mine[0])  # one ticked person moves to another university
    moved.unit_id = db_session.scalar(select(Unit.id).where(Unit.name == "西南大学"))
    moved.secondary_unit_id = None
    db_session.commit()
    _run(job_id)
    job = db_session.get(ExportJob, job_id)
    db_session.refresh(job)
    assert job.status == ExportStatus.failed and job.file_path is None
    assert "数据范围" in job.error


def test_the_job_stores_the_resolved_export_with_values_bound_not_spliced(held, client_as, db_session):
    term = "张'OR'1'='1"  # one search word (the list splits the search at spaces)
    assert client_as("unit_cqu").get("/admin/person/export/xlsx/", query_string={"search": term, "col": ["name", "review_level"]}).status_code == 302
    (job_id,) = held
    spec = db_session.get(ExportJob, job_id).spec
    me = db_session.scalar(select(User).where(User.username == "unit_cqu"))
    assert spec["table"] == "person" and spec["principal"]["user_id"] == me.id and spec["principal"]["role"] == "unit_admin"
    assert spec["columns"] == [["name", "姓名", False], ["review_level", "审核单位", True]]  # the view formats 审核单位
    selection = spec["selection"]
    assert "OR '1'='1" not in selection["sql"] and "张" not in selection["sql"]
    params = selection["params"].values() if isinstance(selection["params"], dict) else selection["params"]
    assert any(isinstance(v, str) and term in v for v in params)
    _run(job_id)
    job = db_session.get(ExportJob, job_id)
    db_session.refresh(job)
    assert job.status == ExportStatus.done and _sheet_rows(job.file_path) == [("姓名", "审核单位")]  # nobody is called that


def test_a_bare_rq_worker_reads_the_database_from_the_environment(held, client_as, db_session, database, monkeypatch, tmp_path):
    """`rq worker exports` outside Flask: no app context, DATABASE_URL and EXPORT_DIR from the environment."""
    import threading

    assert client_as("bureau").get("/admin/region/export/xlsx/?col=name").status_code == 302
    (job_id,) = held
    monkeypatch.setenv("DATABASE_URL", database["url"])
    monkeypatch.setenv("EXPORT_DIR", str(tmp_path))
    worker = threading.Thread(target=_run, args=(job_id,))  # a new thread starts with no Flask context
    worker.start()
    worker.join(60)
    job = db_session.get(ExportJob, job_id)
    db_session.refresh(job)
    assert job.status == ExportStatus.done, job.error
    assert job.file_path.startswith(str(tmp_path))
    assert len(_sheet_rows(job.file_path)) - 1 == db_session.scalar(select(func.count()).select_from(Region))


# -- the same file whichever way it is made --------------------------------------------------
def _sheet_xml(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


def _filter_arg(app, endpoint, name):
    from admin_views.downloads import find_view

    view = find_view(app, endpoint)
    index, flt = next((i, f) for i, f in enumerate(view._filters) if str(f.name) == name)
    return view.get_filter_arg(index, flt)


def _person_list_url(app, kind):
    from admin_views.downloads import find_view

    if kind == "person-dates":  # a datetime range: values the driver gets as dates, stored tagged
        return (f"/admin/person/export/xlsx/?flt0_{_filter_arg(app, 'person', '更新时间')}=2000-01-01+00:00:00+to+2099-12-31+23:59:59"
                "&col=name&col=submitted_at&col=review_status")
    sort = [n for n, _ in find_view(app, "person")._list_columns].index("name")
    return (f"/admin/person/export/xlsx/?flt1_{_filter_arg(app, 'person', '状态')}=pending&sort={sort}&desc=1"
            "&search=500&col=name&col=review_status&col=unit&col=review_level&col=submitted_at")


SAME_FILE = [
    ("unit_cqu", "person-filtered"),
    ("unit_cqu", "person-dates"),
    ("unit_cqu", "/admin/person/export/xlsx/"),
    ("bureau", "/admin/declaration/export/xlsx/"),
    ("bureau", "/admin/call/export/xlsx/"),
    ("bureau", "/admin/review_record/export/xlsx/"),
    ("sysadmin", "/admin/user/export/xlsx/?col=username&col=modules&col=active&col=role&col=unit"),
    ("sysadmin", "/admin/dictionary/export/xlsx/?search=学&sort=1"),
    ("sysadmin", "/admin/operation_log/export/xlsx/"),
    ("authority_yb", "/admin/annual_report/export/xlsx/"),
    ("authority_yb", "/admin/enterprise/export/xlsx/?search=重庆"),
]


@pytest.mark.parametrize("username, url", SAME_FILE)
def test_a_background_file_equals_the_in_request_file(app, client_as, db_session, monkeypatch, username, url):
    """The job is queued first (the 操作日志 records it), then the page's own file is made, then the
    job runs in the thread pool: both must hold the same sheet, cell for cell."""
    import admin_views.downloads as downloads

    if url.startswith("person-"):
        url = _person_list_url(app, url)
    client = client_as(username)
    queued: list[int] = []
    start = downloads.enqueue
    monkeypatch.setattr(downloads, "enqueue", lambda _app, job_id: queued.append(job_id))
    app.config["EXPORT_ASYNC_ROWS"], old = -1, app.config["EXPORT_ASYNC_ROWS"]
    try:
        assert client.get(url).status_code == 302
    finally:
        app.config["EXPORT_ASYNC_ROWS"] = old
    direct = client.get(url)
    assert direct.status_code == 200, direct.get_data(as_text=True)[:300]
    start(app, queued[0])
    downloads.wait_for_jobs()
    job = _job(db_session, username)
    assert job.status == ExportStatus.done, job.error
    background = client.get(f"/admin/download/file/{job.id}/")
    assert _sheet_xml(background.data) == _sheet_xml(direct.data)
    assert 0 < job.rows_written == len(_rows(direct.data)) - 1


def test_selected_rows_make_the_same_file_both_ways(app, client_as, db_session):
    from admin_views.downloads import wait_for_jobs

    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    mine = db_session.scalars(select(Person.id).where(Person.unit_id == cqu).order_by(Person.id.desc()).limit(5)).all()
    form = {"rowid": [str(i) for i in mine], "col": ["review_level", "id_no", "education"]}
    client = client_as("unit_cqu")
    direct = client.post_form("/admin/person/export/xlsx/", form)
    assert direct.status_code == 200 and len(_rows(direct.data)) == 6
    old = app.config["EXPORT_ASYNC_ROWS"]
    app.config["EXPORT_ASYNC_ROWS"] = 3
    try:
        assert client.post_form("/admin/person/export/xlsx/", form).status_code == 302
        wait_for_jobs()
    finally:
        app.config["EXPORT_ASYNC_ROWS"] = old
    job = _job(db_session, "unit_cqu")
    assert _sheet_xml(client.get(f"/admin/download/file/{job.id}/").data) == _sheet_xml(direct.data)


# -- admin_views/ never builds an app or fakes a request ------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
IMPORTS_APP = re.compile(r"^\s*(from\s+app(\s|\.)|import\s+app\b)", re.M)


@pytest.mark.parametrize("path", sorted((ROOT / "admin_views").glob("*.py")), ids=lambda p: p.name)
def test_admin_views_never_import_app_or_fake_a_request(path):
    source = path.read_text(encoding="utf-8")
    assert not IMPORTS_APP.search(source), f"{path.name} imports app"
    assert "test_request_context" not in source and "_login_user" not in source, f"{path.name} fakes a request"


@pytest.mark.parametrize("name", ["rules/export_jobs.py", "rules/display.py", "rules/exporting.py", "export_worker.py"])
def test_the_worker_needs_rules_and_models_only(name):
    source = (ROOT / name).read_text(encoding="utf-8")
    assert not IMPORTS_APP.search(source)
    assert not re.search(r"^\s*(from|import)\s+admin_views", source, re.M)
    if name.startswith("rules/"):
        assert not re.search(r"^\s*(from|import)\s+flask", source, re.M)


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
    job = ExportJob(owner_id=owner, endpoint="unit", title="单位信息", status=ExportStatus.running,
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
