"""People, not logins (issue #13): wherever an actor is shown — 操作日志, 登录日志, 审批意见, 在线用户,
消息, 下载中心 — and in the exports of those lists, it reads 姓名（单位/二级单位）, and a list page
reads the labels of all its rows at once, not once per row.

The expected texts are built here from plain SQL over the demo tables (name + unit [/ secondary
unit], or name + district), never through rules.display.
"""
from __future__ import annotations

import html as html_lib
import io
import re
from datetime import datetime

import openpyxl
from sqlalchemy import event, insert, select

from models import AuditLog, Channel, ExportJob, ExportStatus, Message, MessageStatus, ReviewLog, Status, User
from tests.conftest import login
from tests.form_helpers import one, sql


def label_of(db_session, username: str) -> str:
    """姓名（单位/二级单位） or 姓名（区县）, by hand from the tables."""
    (name, unit, secondary, region), = sql(db_session, """
        SELECT u.name, un.name, s.name, r.name FROM app_user u
        LEFT JOIN unit un ON un.id = u.unit_id LEFT JOIN secondary_unit s ON s.id = u.secondary_unit_id
        LEFT JOIN region r ON r.id = u.region_id WHERE u.username = :u""", u=username)
    where = f"{unit}/{secondary}" if unit and secondary else unit or region
    return f"{name}（{where}）"


def user_id(db_session, username: str) -> int:
    return one(db_session, "SELECT id FROM app_user WHERE username = :u", u=username)


def _text(cell: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def row_cells(page: str, rowid=None, containing: str = "") -> list[str]:
    """The texts of the cells of the list row whose checkbox carries `rowid` (or that shows `containing`)."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        if re.search(rf'name="rowid"[^>]*value="{rowid}"', row) if rowid is not None else containing in row:
            return [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    raise AssertionError(f"row {rowid or containing} is not on the page")


def sheet_rows(response) -> tuple[list, list]:
    assert response.status_code == 200, response.status_code
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def approve_as_unit_cqu(client_as, db_session) -> int:
    """unit_cqu takes one 单位审核 decision: an audited write whose actor is unit_cqu."""
    declaration = one(db_session, "SELECT d.id FROM declaration d JOIN unit u ON u.id = d.unit_id "
                                  "WHERE u.name = '重庆大学' AND d.status = :s ORDER BY d.id", s=Status.unit_review.name)
    response = client_as("unit_cqu").action("declaration", "approve", [declaration], reason="同意推荐")
    assert response.status_code == 302
    return declaration


# -- 操作日志 and its export --------------------------------------------------------------------
def test_operation_log_names_the_person_and_the_unit(client_as, db_session):
    approve_as_unit_cqu(client_as, db_session)
    cqu = user_id(db_session, "unit_cqu")
    audit_id = one(db_session, "SELECT max(id) FROM audit_log WHERE user_id = :u AND action NOT LIKE 'login%'", u=cqu)
    expected = label_of(db_session, "unit_cqu")
    assert expected.endswith("（重庆大学）") and len(expected) > len("（重庆大学）")

    page = client_as("sysadmin").get("/admin/operation_log/").get_data(as_text=True)
    cells = row_cells(page, audit_id)
    assert expected in cells and "unit_cqu" not in cells


def test_the_system_and_vanished_accounts_read_as_stored(client_as, db_session):
    """A change the system made reads 系统, never the login `system`; an account deleted since keeps its login."""
    db_session.execute(insert(AuditLog), [
        {"at": datetime(2030, 1, 1, 9), "user_id": None, "username": "system", "action": "update", "table_name": "dict_item", "row_id": "1"},
        {"at": datetime(2030, 1, 1, 8), "user_id": 987654, "username": "gone_user", "action": "update", "table_name": "dict_item", "row_id": "2"},
    ])
    db_session.commit()
    (system_row,), (gone_row,) = sql(db_session, "SELECT id FROM audit_log WHERE at >= '2030-01-01' ORDER BY at DESC")
    page = client_as("sysadmin").get("/admin/operation_log/").get_data(as_text=True)
    assert "系统" in row_cells(page, system_row) and "system" not in row_cells(page, system_row)
    assert "gone_user" in row_cells(page, gone_row)


def test_operation_log_export_reads_as_the_list(client_as, db_session):
    approve_as_unit_cqu(client_as, db_session)
    sysadmin = client_as("sysadmin")
    page = sysadmin.get("/admin/operation_log/").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'name="rowid"[^>]*value="(\d+)"', page)]
    assert ids
    headers, rows = sheet_rows(sysadmin.get("/admin/operation_log/export/xlsx/", query_string={"rowid": ids}))
    who = headers.index("用户")
    assert len(rows) == len(ids)  # the ticked rows, in the list's order
    for audit_id, row in zip(ids, rows):
        assert row[who] in row_cells(page, audit_id), audit_id
    cqu_rows = [r for r in rows if r[who] == label_of(db_session, "unit_cqu")]
    assert cqu_rows and not any(r[who] == "unit_cqu" for r in rows)


def test_login_log_reads_people_with_one_label_query_a_page(app, client_as, db_session):
    """Nine people signed in: the page names each of them, and asks the accounts table no more
    often than a page where one person signed in."""
    for username in ("bureau", "authority_yb", "unit_cqu", "dept_cqu_se", "applicant_zhang", "applicant_li", "unit_ent", "applicant_ent"):
        login(app, username)
    sysadmin = client_as("sysadmin")

    def user_queries(url, **query):
        seen = []

        def count(conn, cursor, statement, *args):
            if re.search(r"\bFROM app_user\b", statement):
                seen.append(statement)

        event.listen(db_session.get_bind(), "before_cursor_execute", count)
        try:
            page = sysadmin.get(url, query_string=query).get_data(as_text=True)
        finally:
            event.remove(db_session.get_bind(), "before_cursor_execute", count)
        return page, len(seen)

    many, many_queries = user_queries("/admin/login_log/")
    few, few_queries = user_queries("/admin/login_log/", search="applicant_ent")
    for username in ("dept_cqu_se", "applicant_zhang", "authority_yb", "unit_ent"):
        assert label_of(db_session, username) in many, username
    assert label_of(db_session, "applicant_ent") in few and label_of(db_session, "unit_ent") not in few
    assert many_queries == few_queries


# -- 审批意见: the list and the details timeline ---------------------------------------------------
def test_review_records_and_the_timeline_name_reviewers_with_their_units(client_as, db_session):
    declaration = approve_as_unit_cqu(client_as, db_session)
    reviewers = [u for (u,) in sql(db_session, "SELECT DISTINCT u.username FROM review_record r JOIN app_user u ON u.id = r.user_id "
                                               "WHERE r.declaration_id = :d", d=declaration)]
    assert {"unit_cqu", "applicant_zhang"} <= set(reviewers)
    expected = {u: label_of(db_session, u) for u in reviewers}
    assert expected.get("dept_cqu_se", "（重庆大学/软件学院）").endswith("（重庆大学/软件学院）")

    client = client_as("bureau")
    page = client.get("/admin/review_record/", query_string={"flt0_0": declaration}).get_data(as_text=True)
    for record_id, username in sql(db_session, "SELECT r.id, u.username FROM review_record r JOIN app_user u ON u.id = r.user_id "
                                               "WHERE r.declaration_id = :d", d=declaration):
        cells = row_cells(page, record_id)
        assert expected[username] in cells and username not in cells

    details = client.get(f"/admin/declaration/details/?id={declaration}").get_data(as_text=True)
    timeline = re.search(r'id="review-timeline">(.*?)</ul>', details, re.S).group(1)
    named = [_text(b) for b in re.findall(r"<b>(.*?)</b>", timeline, re.S)]
    assert sorted(set(named)) == sorted(expected.values())
    assert len(named) == one(db_session, "SELECT count(*) FROM review_record WHERE declaration_id = :d", d=declaration)


def test_a_decision_the_system_took_reads_as_the_system(client_as, db_session):
    found = sql(db_session, "SELECT r.id, r.declaration_id FROM review_record r JOIN declaration d ON d.id = r.declaration_id "
                            "WHERE r.user_id IS NULL AND r.actor_name = 'system' AND d.status <> 'draft' ORDER BY r.id")
    assert found, "the demo data has decisions taken by the system (seed/demo.py)"
    record_id, declaration = found[0]
    page = client_as("bureau").get("/admin/review_record/", query_string={"flt0_0": declaration}).get_data(as_text=True)
    assert "系统" in row_cells(page, record_id) and "system" not in row_cells(page, record_id)


def test_the_review_log_of_other_records_names_people(app, db_session):
    """ScopedModelView.review_log (个人信息, 单位注册, …) gives the template `actor` beside `username`."""
    from flask_login import login_user

    from admin_views.downloads import find_view
    from models import Person

    person = db_session.scalar(select(Person).join(User, User.id == Person.user_id).where(User.username == "applicant_zhang"))
    reviewer = db_session.scalar(select(User).where(User.username == "dept_cqu_se"))
    db_session.add(ReviewLog(target="person", target_id=person.id, action="approve", from_status="pending", to_status="approved",
                             user_id=reviewer.id, username=reviewer.username, role="dept_admin", at=datetime.now()))
    db_session.add(ReviewLog(target="person", target_id=person.id, action="approve", from_status="pending", to_status="approved",
                             user_id=None, username="system", role=None, at=datetime.now()))
    db_session.commit()
    expected = label_of(db_session, "dept_cqu_se")
    with app.test_request_context("/admin/person/"):
        login_user(db_session.scalar(select(User).where(User.username == "sysadmin")))
        entries = find_view(app, "person").review_log(db_session.get(Person, person.id))
    assert [(e["actor"], e["username"]) for e in entries][-2:] == [(expected, "dept_cqu_se"), ("系统", "system")]


# -- 下载中心, 在线用户, 消息 --------------------------------------------------------------------------
def test_download_center_shows_the_owner(client_as, db_session):
    owner = user_id(db_session, "dept_cqu_se")
    job = ExportJob(owner_id=owner, endpoint="person", title="个人信息", status=ExportStatus.failed, error="测试")
    db_session.add(job)
    db_session.commit()
    page = client_as("dept_cqu_se").get("/admin/download/").get_data(as_text=True)
    row = re.search(rf'<tr data-job="{job.id}">(.*?)</tr>', page, re.S).group(1)
    cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert label_of(db_session, "dept_cqu_se") in cells and "dept_cqu_se" not in cells
    assert "导出人" in page


def test_online_users_name_the_person_and_unit(app, client_as, db_session):
    login(app, "applicant_zhang")
    page = client_as("sysadmin").get("/admin/online_user/").get_data(as_text=True)
    zhang = user_id(db_session, "applicant_zhang")
    session_id = one(db_session, "SELECT max(id) FROM login_session WHERE user_id = :u AND ended_at IS NULL", u=zhang)
    cells = row_cells(page, session_id)
    assert label_of(db_session, "applicant_zhang") in cells
    assert label_of(db_session, "applicant_zhang").endswith("（重庆大学/软件学院）")


def test_messages_name_the_recipient(client_as, db_session):
    zhang = user_id(db_session, "applicant_zhang")
    message = Message(user_id=zhang, channel=Channel.outbox, address="zhang@example.cn", kind="test", subject="测试通知甲乙丙",
                      body="内容", status=MessageStatus.kept, created_at=datetime.now())
    db_session.add(message)
    db_session.commit()
    page = client_as("sysadmin").get("/admin/message/").get_data(as_text=True)
    cells = row_cells(page, containing="测试通知甲乙丙")
    assert label_of(db_session, "applicant_zhang") in cells and not any("applicant_zhang" in c for c in cells)
