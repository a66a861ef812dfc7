"""项目下达 (issue 14, seed 003): the bureau 下达s approved projects with a 下达文号 and 下达日期 through
a small form; the lists and details say 已下达; 调度填报 opens only for 已下达 projects.

Expectations are written by hand from the demo data (seed/demo_declarations.py) and checked
against plain SQL.
"""
from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from sqlalchemy import func, select, text, update

from models import AuditLog, Declaration, ProgressReport, ProgressStatus, ReleaseStatus, ReviewLog, Role, Status, User
from rules import release, scope, transitions

# approved, not yet 下达 in the demo (the 上年度科研项目 call has no 调度填报)
PENDING = ("软件自动化测试关键技术研究", "知识图谱构建技术研究")
REPORTED = "工业互联网标识解析平台"  # approved, 下达 in the demo, with 调度填报 of 陈杰 (applicant_ent)
UNDER_REVIEW = "软件定义制造系统关键技术研究"  # 科技局审核: not approved


def _id(s, name) -> int:
    return s.scalar(select(Declaration.id).where(Declaration.name == name))


def _approve_one_more(s) -> int:
    """A third approved project waiting for 下达 (the test's world, set as data)."""
    row = s.scalar(select(Declaration.id).where(Declaration.name == "精密减速器国产化关键技术"))
    s.execute(update(Declaration).where(Declaration.id == row).values(status=Status.approved))
    s.commit()
    return row


def _released(s, ids) -> list[tuple]:
    s.expire_all()
    rows = s.execute(text("SELECT release_status, release_doc_no, released_on FROM declaration WHERE id IN (%s) ORDER BY id"
                          % ",".join(str(int(i)) for i in ids))).all()
    return [(status, doc_no, None if day is None else str(day)[:10]) for status, doc_no, day in rows]  # SQLite: text


def _row_html(page: str, name: str) -> str:
    """The list row (<tr>…</tr>) that shows `name`."""
    rows = [r for r in re.split(r"<tr\b", page) if name in r]
    assert rows, f"{name} not in the list"
    return rows[0].split("</tr>")[0]


def _act(client, action, ids, endpoint="project_release", **fields) -> str:
    return client.post_form(f"/admin/{endpoint}/action/", {"action": action, "rowid": [str(i) for i in ids], **fields},
                            follow_redirects=True).get_data(as_text=True)


def _release(client, ids, doc_no="渝科发〔2026〕8号", released_on="2026-03-15", follow=True):
    return client.post_form("/admin/project_release/action/",
                            {"action": "release", "rowid": [str(i) for i in ids], "doc_no": doc_no, "released_on": released_on,
                             "url": "/admin/project_release/"}, follow_redirects=follow)


def test_bureau_releases_three_rows_one_skipped_and_lists_and_details_say_so(client_as, db_session):
    s = db_session
    ids = [_id(s, n) for n in PENDING] + [_approve_one_more(s)]
    other = _id(s, UNDER_REVIEW)
    bureau = client_as("bureau")

    form = bureau.action("project_release", "release", ids + [other])
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="doc_no"' in page and 'name="released_on"' in page
    for name in PENDING:
        assert name in page
    assert page.count('name="rowid"') == 3  # the confirmation lists the rows in the list (the one under review is not)

    done = _release(bureau, ids + [other]).get_data(as_text=True)
    assert "已下达 3 条，跳过 1 条" in done and f"{UNDER_REVIEW}（只有已立项的项目可以下达）" in done
    assert _released(s, ids) == [("released", "渝科发〔2026〕8号", "2026-03-15")] * 3
    assert _released(s, [other]) == [("pending", None, None)]
    logs = s.scalar(select(func.count()).select_from(ReviewLog).where(ReviewLog.target == "declaration_release",
                                                                     ReviewLog.target_id.in_(ids), ReviewLog.action == "release"))
    audits = s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "declaration_release",
                                                                      AuditLog.row_id.in_([str(i) for i in ids])))
    assert (logs, audits) == (3, 3)

    listing = bureau.get("/admin/declaration/?page_size=100").get_data(as_text=True)
    for name in PENDING:
        assert "已下达" in _row_html(listing, name)
    assert "未下达" in _row_html(listing, UNDER_REVIEW)
    details = bureau.get(f"/admin/declaration/details/?id={ids[0]}").get_data(as_text=True)
    assert "已下达" in details and "渝科发〔2026〕8号" in details and "2026-03-15" in details
    # the applicant reads it on their own declaration too
    mine = client_as("applicant_zhang").get(f"/admin/declaration/details/?id={ids[0]}").get_data(as_text=True)
    assert 'id="release-info"' in mine and "渝科发〔2026〕8号" in mine
    # and the 下达 list filters by it
    released = bureau.get("/admin/project_release/?page_size=100&" + _filter_arg(bureau, "下达状态", "released")).get_data(as_text=True)
    assert all(n in released for n in PENDING) and UNDER_REVIEW not in released


def _filter_arg(client, name: str, value: str) -> str:
    with client.application.test_request_context():
        view = next(v for v in client.application.extensions["admin"][0]._views if v.endpoint == "project_release")
        return view.filter_url(**{name: value}).split("?", 1)[1]


@pytest.mark.parametrize("doc_no, released_on, field, message", [
    ("", "2026-03-15", "doc_no", "请填写下达文号"),
    ("   ", "2026-03-15", "doc_no", "请填写下达文号"),
    ("渝" * 51, "2026-03-15", "doc_no", "下达文号最多 50 个字（现为 51 字）"),
    ("渝科\x00发", "2026-03-15", "doc_no", "下达文号不能包含不可见的控制字符"),
    ("渝科发〔2026〕8号", "", "released_on", "请填写下达日期"),
    ("渝科发〔2026〕8号", "2026-02-30", "released_on", "下达日期格式不正确，应为年-月-日"),
    ("渝科发〔2026〕8号", "15/03/2026", "released_on", "下达日期格式不正确，应为年-月-日"),
    ("渝科发〔2026〕8号", "99999-01-01", "released_on", "下达日期格式不正确，应为年-月-日"),
])
def test_a_bad_doc_no_or_date_is_refused_at_its_field_and_nothing_typed_is_lost(client_as, db_session, doc_no, released_on, field, message):
    s = db_session
    ids = [_id(s, n) for n in PENDING]
    response = _release(client_as("bureau"), ids, doc_no, released_on, follow=False)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'id="confirm-ask-{field}-error">[^<]*{re.escape(message)}', page), page[-3000:]
    kept = released_on if field == "doc_no" else "渝科发〔2026〕8号"
    assert f'value="{kept}"' in page
    assert page.count('name="rowid"') == 2
    assert _released(s, ids) == [("pending", None, None)] * 2


def test_an_expired_page_shows_the_form_again_with_what_was_typed(client_as, db_session):
    s = db_session
    ids = [_id(s, n) for n in PENDING]
    bureau = client_as("bureau")
    response = bureau.post("/admin/project_release/action/", data={"action": "release", "rowid": [str(i) for i in ids],
                                                                   "doc_no": "渝科发〔2026〕9号", "released_on": "2026-04-01", "csrf_token": "stale"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期" in page and 'value="渝科发〔2026〕9号"' in page and 'value="2026-04-01"' in page
    assert _released(s, ids) == [("pending", None, None)] * 2


@pytest.mark.parametrize("account", ["applicant_zhang", "unit_cqu", "authority_yb", "dept_cqu_se"])
def test_no_one_but_the_city_opens_or_acts_on_project_release(client_as, db_session, account):
    s = db_session
    ids = [_id(s, n) for n in PENDING]
    client = client_as(account)
    assert client.get("/admin/project_release/").status_code == 404
    assert client.action("project_release", "release", ids).status_code == 404
    assert _release(client, ids, follow=False).status_code == 404
    assert client.action("declaration", "release", ids).status_code == 404  # not an action of the declaration list
    assert _released(s, ids) == [("pending", None, None)] * 2


def test_the_sysadmin_sees_the_list_but_only_the_bureau_releases(client_as, db_session):
    s = db_session
    ids = [_id(s, n) for n in PENDING]
    admin = client_as("sysadmin")
    page = admin.get("/admin/project_release/").get_data(as_text=True)
    assert all(n in page for n in PENDING) and UNDER_REVIEW not in page  # approved rows only
    assert admin.action("project_release", "release", ids).status_code == 404
    assert _released(s, ids) == [("pending", None, None)] * 2


def test_revoke_asks_a_reason_and_a_project_reported_on_keeps_its_release(client_as, db_session):
    s = db_session
    bureau = client_as("bureau")
    row = _id(s, PENDING[0])
    _release(bureau, [row])
    asked = bureau.action("project_release", "revoke", [row])
    assert asked.status_code == 200 and "撤销原因" in asked.get_data(as_text=True)
    done = _act(bureau, "revoke", [row], reason="文号填写错误")
    assert "已撤销下达 1 条" in done
    assert _released(s, [row]) == [("pending", None, None)]
    reported = _id(s, REPORTED)
    refused = _act(bureau, "revoke", [reported], reason="测试")
    assert "该项目已有调度填报，不能撤销下达" in refused
    assert _released(s, [reported])[0][0] == "released"


# -- 调度填报 opens only for 已下达 projects (seed 003 §3) ------------------------------------------
def _draft_report(s) -> int:
    return s.scalar(select(ProgressReport.id).join(Declaration).where(Declaration.name == REPORTED,
                                                                       ProgressReport.status == ProgressStatus.draft))


def test_progress_report_is_refused_until_the_project_is_released(client_as, db_session):
    s = db_session
    project = _id(s, REPORTED)
    s.execute(update(Declaration).where(Declaration.id == project).values(
        release_status=ReleaseStatus.pending, release_doc_no=None, released_on=None))  # approved, not yet 下达
    s.commit()
    report = _draft_report(s)
    ent = client_as("applicant_ent")

    form = ent.get("/admin/progress_report/new/").get_data(as_text=True)
    assert REPORTED not in form  # only 已下达 projects are offered
    refused = _act(ent, "submit", [report], "progress_report")
    assert "只有已下达的项目可以调度填报" in refused
    s.expire_all()
    assert s.get(ProgressReport, report).status == ProgressStatus.draft

    _release(client_as("bureau"), [project])
    assert REPORTED in ent.get("/admin/progress_report/new/").get_data(as_text=True)
    done = _act(ent, "submit", [report], "progress_report")
    assert "已上报至县区 1 条" in done
    s.expire_all()
    assert s.get(ProgressReport, report).status == ProgressStatus.submitted


# -- two bureaus at once: one wins, one review record ----------------------------------------------
def test_two_bureaus_release_the_same_row_at_once(app, db_session):
    from extensions import db
    from rules.passwords import hash_password

    s = db_session
    first = s.scalars(select(User).where(User.username == "bureau")).one()
    second = User(username="bureau_two", name="赵敏", role=Role.bureau, password_hash=hash_password("Demo@12345"),
                  region_id=first.region_id, mobile="13900000099")
    s.add(second)
    s.commit()
    row = _id(s, PENDING[0])
    principals = [scope.Principal.of(first), scope.Principal.of(second)]
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def work(k):
        try:
            with app.app_context():
                barrier.wait()
                results[k] = transitions.apply(db.session, principals[k], release.DECLARATION_RELEASE, [row], "release",
                                               data={"doc_no": f"渝科发〔2026〕{k + 1}号", "released_on": "2026-05-0%d" % (k + 1)})
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(len(r.done) for r in results) == [0, 1]
    winner = next(k for k, r in enumerate(results) if r.done)
    loser = results[1 - winner]
    assert "已被他人处理" in loser.skipped[0][1] or "当前状态为“已下达”" in loser.skipped[0][1]
    assert _released(s, [row]) == [("released", f"渝科发〔2026〕{winner + 1}号", f"2026-05-0{winner + 1}")]
    assert s.scalar(select(func.count()).select_from(ReviewLog).where(
        ReviewLog.target == "declaration_release", ReviewLog.target_id == row)) == 1


def test_release_asks_its_doc_no_and_date_through_the_engine():
    t = release.DECLARATION_RELEASE.by_action["release"]
    values, errors = transitions.read_asks(t, {"doc_no": " 渝科发〔2026〕8号 ", "released_on": "2026-03-15"})
    assert values == {"doc_no": "渝科发〔2026〕8号", "released_on": date(2026, 3, 15)} and not errors
    assert transitions.read_asks(t, {})[1] == {"doc_no": "请填写下达文号", "released_on": "请填写下达日期"}
    assert release.period_text(date(2025, 3, 1), date(2026, 12, 31)) == "2025年3月～2026年12月"


def test_the_release_list_exports_what_it_shows(client_as, db_session):
    import io

    import openpyxl

    response = client_as("bureau").get("/admin/project_release/export/xlsx/")
    assert response.status_code == 200
    rows = [list(r) for r in openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert rows[0] == ["项目编号", "项目年度", "项目批次", "申报单位", "区县", "项目名称", "下达状态", "下达文号", "下达日期"]
    by_name = {r[5]: r for r in rows[1:]}
    assert set(by_name) == set(PENDING) | {REPORTED, "航空零部件精密加工工艺"}  # the approved projects, as plain SQL says
    assert len(rows) - 1 == db_session.scalar(text("SELECT COUNT(*) FROM declaration WHERE status = 'approved'"))
    assert by_name[REPORTED][2:5] == ["下半年", "重庆渝北智联科技有限公司", "渝北区"] and by_name[REPORTED][6] == "已下达"
    assert by_name[PENDING[0]][6] == "未下达" and by_name[PENDING[0]][7] is None
