"""老项目认领 (seed 003, issue 14): the bureau imports projects of earlier years; the enterprise whose
统一社会信用代码 a project carries claims it, its district confirms or rejects the claim; a confirmed
project shows in the enterprise's 项目基本信息 as 历史项目, with its history on its own page.

Oracles: the demo rows of seed/demo_legacy.py written out below, plain SQL over legacy_project,
review_log and audit_log."""
from __future__ import annotations

import io
import re
import threading

import openpyxl
import pytest
from sqlalchemy import func, select, text

from models import AuditLog, Enterprise, LegacyProject, User
from rules import legacy, scope, transitions
from tests.crawler import english_words, visible_text

YB, JB = "重庆渝北智联科技有限公司", "重庆江北数据服务有限公司"
TO_CLAIM = "201721901196"  # 人才公共服务信息平台, 渝北智联's credit code, 未认领
WAITING = "201931001087"  # 微服务开发平台, claimed by unit_ent, 待确认
CLAIMED = "201931001088"  # 融智营商综合服务平台, 已认领 by 渝北智联
JB_FREE = "201831002015"  # 工业数据治理平台, 江北数据's, 未认领
NOBODY = "201650100321"  # a company not on file
# the demo's projects by who sees them (seed/demo_legacy.py)
YB_ROWS = {"201721901196", "201721901197", "201931001087", "201931001088"}
JB_ROWS = {"201831002015", "202050001038"}
ALL_ROWS = YB_ROWS | JB_ROWS | {NOBODY}
HEADERS = ["项目编号", "年度", "批次", "企业名称", "统一社会信用代码", "项目名称", "项目技术水平", "产业类别", "状态"]


# -- helpers -------------------------------------------------------------------------------------
def row(s, key) -> dict:
    """A project by 项目编号 (text) or id, read with plain SQL."""
    where = "id = :k" if isinstance(key, int) else "number = :k"
    found = s.execute(text(f"SELECT id, claim_status, enterprise_id, claimed_by_id, review_opinion FROM legacy_project WHERE {where}"),
                      {"k": key}).mappings().one()
    return dict(found)


def user_id(s, username) -> int:
    return s.scalar(select(User.id).where(User.username == username))


def enterprise_id(s, name) -> int:
    return s.scalar(select(Enterprise.id).where(Enterprise.name == name))


def history(s, legacy_id) -> list[tuple]:
    return [tuple(r) for r in s.execute(text(
        "SELECT action, from_status, to_status, opinion FROM review_log WHERE target = 'legacy_project' AND target_id = :i ORDER BY id"),
        {"i": legacy_id})]


def audits(s, legacy_id) -> int:
    return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "legacy_project", AuditLog.row_id == str(legacy_id)))


def flashes(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S))


def listed_numbers(client, query: str = "") -> set[str]:
    page = client.get(f"/admin/legacy_project/?page_size=100{query}")
    assert page.status_code == 200
    return set(re.findall(r"\b(\d{12})\b", page.get_data(as_text=True))) & (ALL_ROWS | {"202299000001", "202299000002"})


def act(client, action, ids, **fields):
    response = client.action("legacy_project", action, ids, **fields)
    assert response.status_code in (200, 302), response.status_code
    return flashes(client.get(response.headers["Location"])) if response.status_code == 302 else response.get_data(as_text=True)


def xlsx(rows, headers=HEADERS) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client, data: bytes):
    return client.post_form("/admin/data_import/legacy_project/upload/", {"file": (io.BytesIO(data), "老项目.xlsx")},
                            content_type="multipart/form-data")


def confirm(client, page: str):
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return client.post_form("/admin/data_import/legacy_project/confirm/", {"token": token}, follow_redirects=True)


def count(s) -> int:
    return s.scalar(text("SELECT count(*) FROM legacy_project"))


# -- import --------------------------------------------------------------------------------------
def test_the_template_downloads_for_the_bureau_only_and_its_examples_import(client_as, db_session):
    client = client_as("bureau")
    response = client.get("/admin/data_import/legacy_project/template/")
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS and len(rows) == 3
    page = upload(client, response.data).get_data(as_text=True)
    assert "新增 2 条，更新 0 条，未变化 0 条" in page
    for username in ("authority_yb", "unit_ent", "applicant_ent"):
        assert client_as(username).get("/admin/data_import/legacy_project/template/").status_code == 404


def test_a_good_file_imports_unclaimed_rows_with_the_code_upper_case(client_as, db_session):
    s = db_session
    uscc = s.scalar(select(Enterprise.uscc).where(Enterprise.name == YB))
    client = client_as("bureau")
    data = xlsx([
        ["202299000001", 2022, "上半年", YB, uscc.lower(), "智能仓储调度系统", "国内先进", "新一代信息技术", "已批准"],
        ["202299000002", "2022", "下半年", YB, uscc, "边缘计算网关", None, None, "已上报省"],
    ])
    before = count(s)
    page = upload(client, data).get_data(as_text=True)
    assert "新增 2 条" in page and "确认导入" in page
    assert count(s) == before  # a dry run writes nothing
    done = confirm(client, page).get_data(as_text=True)
    assert "老项目导入完成：新增 2 条" in done
    assert count(s) == before + 2
    got = s.execute(text("SELECT number, year, batch, uscc, name, tech_level, original_status, claim_status, enterprise_id "
                         "FROM legacy_project WHERE number LIKE '202299%' ORDER BY number")).all()
    assert [tuple(r) for r in got] == [
        ("202299000001", 2022, "上半年", uscc, "智能仓储调度系统", "国内先进", "已批准", "unclaimed", None),
        ("202299000002", 2022, "下半年", uscc, "边缘计算网关", None, "已上报省", "unclaimed", None),
    ]
    assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == "legacy_project", AuditLog.action == "import")) == 1
    # the enterprise of the code may claim them at once
    assert {"202299000001", "202299000002"} <= listed_numbers(client_as("unit_ent"))


def test_bad_rows_are_listed_in_chinese_and_nothing_is_written(client_as, db_session):
    s = db_session
    uscc = s.scalar(select(Enterprise.uscc).where(Enterprise.name == YB))
    rows = [
        ["202299000001", 2022, "上半年", YB, uscc, "好的一行", None, None, "已批准"],  # row 2: fine, yet not imported
        ["202299000002", 2022, "上半年", YB, "91500112MA61C7LQ3A", "坏代码", None, None, None],  # bad check character
        ["202299000003", "二〇二二", "上半年", YB, uscc, "", None, None, None],
        ["202299000004", 1800, None, "", uscc, "年度太早", None, None, None],
        ["202299000001", 2022, "上半年", YB, uscc, "编号重复", None, None, None],
        [TO_CLAIM, 2017, "第二批", YB, uscc, "已有的编号", None, None, None],
        ["202299000007", 2022, None, YB, None, "缺代码", None, None, None],
    ]
    before = count(s)
    response = upload(client_as("bureau"), xlsx(rows))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "未导入任何记录" in page and "确认导入" not in page
    errors = set(re.findall(r"<td>第 (\d+) 行</td><td>([^<]+)</td><td class=\"text-danger\">([^<]+)</td>", page))
    expected = {
        ("3", "统一社会信用代码", "统一社会信用代码校验位不正确"),
        ("4", "年度", "应为整数"),
        ("4", "项目名称", "不能为空"),
        ("5", "年度", "应为 1990 到 2100 之间的年份，如 2019"),
        ("5", "企业名称", "不能为空"),
        ("6", "项目编号", "与第 2 行重复"),
        ("7", "项目编号", f"项目编号“{TO_CLAIM}”已存在，不能重复导入"),
        ("8", "统一社会信用代码", "不能为空"),
    }
    assert errors == expected, (errors - expected, expected - errors)
    assert count(s) == before
    assert row(s, TO_CLAIM)["claim_status"] == "unclaimed"


# -- claim → confirm -------------------------------------------------------------------------------
def test_claim_then_confirm_puts_the_project_in_the_enterprises_project_list(client_as, db_session):
    s = db_session
    rid, yb = row(s, TO_CLAIM)["id"], enterprise_id(s, YB)
    ent = client_as("unit_ent")
    page = ent.get(f"/admin/legacy_project/details/?id={rid}").get_data(as_text=True)
    assert 'data-action="claim"' in page and "人才公共服务信息平台" in page
    assert "已认领 1 条" in act(ent, "claim", [rid])
    got = row(s, rid)
    assert (got["claim_status"], got["enterprise_id"], got["claimed_by_id"]) == ("pending", yb, user_id(s, "unit_ent"))
    # not yet the enterprise's: 项目基本信息 lists the claimed one of the demo only
    details = ent.get(f"/admin/enterprise/details/?id={yb}").get_data(as_text=True)
    assert "人才公共服务信息平台" not in details and "融智营商综合服务平台" in details
    # its district confirms, from its 待办
    district = client_as("authority_yb")
    assert "待确认的老项目认领" in district.get("/admin/").get_data(as_text=True)
    assert listed_numbers(district, "&flt0_2=pending") == {TO_CLAIM, WAITING}  # 认领状态 = 待确认
    assert "已确认认领 1 条" in act(district, "approve", [rid], reason="与原系统核对一致")
    got = row(s, rid)
    assert (got["claim_status"], got["enterprise_id"], got["review_opinion"]) == ("claimed", yb, "与原系统核对一致")
    assert history(s, rid) == [("claim", "unclaimed", "pending", None), ("approve", "pending", "claimed", "与原系统核对一致")]
    assert audits(s, rid) == 2
    # 项目基本信息 of the enterprise, for its own accounts and for its district
    for username in ("unit_ent", "applicant_ent", "authority_yb"):
        details = client_as(username).get(f"/admin/enterprise/details/?id={yb}").get_data(as_text=True)
        table = re.search(r'<table[^>]*id="enterprise-projects".*?</table>', details, re.S).group(0)
        cells = [re.sub(r"<[^>]+>", " ", r) for r in re.findall(r'<tr data-kind="legacy">(.*?)</tr>', table, re.S)]
        claimed = next(c for c in cells if TO_CLAIM in c)
        assert all(w in claimed for w in ("2017", "第二批", "人才公共服务信息平台", "国内先进", "新一代信息技术", "已批准", "历史项目")), username
    # the project's page shows its history
    page = ent.get(f"/admin/legacy_project/details/?id={rid}").get_data(as_text=True)
    log = re.search(r'id="review-log".*?</table>', page, re.S).group(0)
    assert "认领" in log and "确认认领" in log and "未认领 → 待确认" in log and "待确认 → 已认领" in log and "与原系统核对一致" in log


def test_a_project_of_another_credit_code_cannot_be_claimed(client_as, db_session):
    s = db_session
    rid = row(s, TO_CLAIM)["id"]
    other = client_as("unit_ent_jb")  # 江北数据: another enterprise, another code
    assert TO_CLAIM not in listed_numbers(other)
    assert other.get(f"/admin/legacy_project/details/?id={rid}").status_code == 404
    said = act(other, "claim", [rid])
    assert "跳过 1 条" in said and "不在您的数据范围内" in said
    assert row(s, rid)["claim_status"] == "unclaimed" and history(s, rid) == []
    # asked of the engine directly, the reason is the code
    p = scope.Principal.of(s.scalars(select(User).where(User.username == "unit_ent_jb")).one())
    project = s.get(LegacyProject, rid)
    assert transitions.refusal(s, p, legacy.LEGACY, "claim", project) == "该项目的统一社会信用代码与本企业不一致，不能认领"
    # a unit that is no enterprise has no entry and no rows
    cqu = client_as("unit_cqu")
    assert "老项目认领" not in cqu.get("/admin/").get_data(as_text=True) and listed_numbers(cqu) == set()
    assert "跳过 1 条" in act(cqu, "claim", [rid]) and row(s, rid)["claim_status"] == "unclaimed"


def test_another_districts_authority_gets_404_and_cannot_decide(client_as, db_session):
    s = db_session
    rid = row(s, WAITING)["id"]
    jb = client_as("authority_jb")
    assert jb.get(f"/admin/legacy_project/details/?id={rid}").status_code == 404
    assert listed_numbers(jb) == JB_ROWS
    said = act(jb, "approve", [rid], reason="同意")
    assert "跳过 1 条" in said and row(s, rid)["claim_status"] == "pending"
    assert "跳过 1 条" in act(jb, "reject", [rid], reason="不同意") and row(s, rid)["claim_status"] == "pending"


@pytest.mark.parametrize("username, expected", [
    ("bureau", ALL_ROWS), ("sysadmin", ALL_ROWS), ("authority_yb", YB_ROWS), ("authority_jb", JB_ROWS),
    ("unit_ent", YB_ROWS), ("applicant_ent", YB_ROWS), ("unit_ent_jb", JB_ROWS),
])
def test_each_role_lists_what_its_scope_says(client_as, username, expected):
    assert listed_numbers(client_as(username)) == expected


@pytest.mark.parametrize("username", ["unit_cqu", "dept_cqu_se", "applicant_zhang", "applicant_li"])
def test_who_is_no_enterprise_nor_reviewer_sees_nothing(client_as, db_session, username):
    client = client_as(username)
    response = client.get("/admin/legacy_project/")
    assert response.status_code == 404 or listed_numbers(client) == set()
    assert client.get(f"/admin/legacy_project/details/?id={row(db_session, TO_CLAIM)['id']}").status_code == 404


def test_reject_needs_a_reason_and_the_enterprise_may_claim_again(client_as, db_session):
    s = db_session
    rid = row(s, WAITING)["id"]
    district = client_as("authority_yb")
    asked = district.action("legacy_project", "reject", [rid])
    assert asked.status_code == 200 and "驳回原因" in asked.get_data(as_text=True)
    refused = district.action("legacy_project", "reject", [rid], reason="   ")
    assert refused.status_code == 400 and "请填写驳回原因" in refused.get_data(as_text=True)
    assert row(s, rid)["claim_status"] == "pending"
    assert "已驳回 1 条" in act(district, "reject", [rid], reason="原系统中该项目属于其他企业")
    got = row(s, rid)
    assert (got["claim_status"], got["enterprise_id"], got["review_opinion"]) == ("rejected", None, "原系统中该项目属于其他企业")
    ent = client_as("applicant_ent")
    page = ent.get(f"/admin/legacy_project/details/?id={rid}").get_data(as_text=True)
    assert "原系统中该项目属于其他企业" in page and "已驳回" in page and 'data-action="claim"' in page
    assert "已认领 1 条" in act(ent, "claim", [rid])
    got = row(s, rid)
    assert (got["claim_status"], got["enterprise_id"], got["claimed_by_id"]) == ("pending", enterprise_id(s, YB), user_id(s, "applicant_ent"))
    assert [h[:3] for h in history(s, rid)] == [("claim", "unclaimed", "pending"), ("reject", "pending", "rejected"),
                                                 ("claim", "rejected", "pending")]


def test_the_claimant_withdraws_while_it_waits(client_as, db_session):
    s = db_session
    rid = row(s, WAITING)["id"]
    assert "已撤回认领 1 条" in act(client_as("applicant_ent"), "withdraw", [rid])  # a colleague of the claimant
    got = row(s, rid)
    assert (got["claim_status"], got["enterprise_id"], got["claimed_by_id"]) == ("unclaimed", None, None)
    assert "跳过 1 条" in act(client_as("unit_ent"), "withdraw", [rid])  # nothing waits any more
    assert "跳过 1 条" in act(client_as("authority_yb"), "approve", [rid], reason="同意")
    assert row(s, rid)["claim_status"] == "unclaimed"


def test_a_confirmed_project_cannot_be_claimed_or_withdrawn(client_as, db_session):
    s = db_session
    rid = row(s, CLAIMED)["id"]
    for username, action in (("unit_ent", "claim"), ("unit_ent", "withdraw"), ("authority_yb", "reject")):
        said = act(client_as(username), action, [rid], reason="x")
        assert "跳过 1 条" in said and "已认领" in said, said
    assert row(s, rid)["claim_status"] == "claimed"


def test_two_claims_at_once_one_wins(app, db_session):
    """unit_ent and applicant_ent claim the same project at the same moment: one claim, one skip."""
    from extensions import db

    s = db_session
    rid = row(s, TO_CLAIM)["id"]
    people = {u.username: scope.Principal.of(u) for u in s.scalars(select(User).where(User.username.in_(["unit_ent", "applicant_ent"])))}
    s.commit()
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def work(username):
        try:
            with app.app_context():
                barrier.wait()
                results[username] = transitions.apply(db.session, people[username], legacy.LEGACY, [rid], "claim")
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    done = [u for u, o in results.items() if o.done]
    skipped = [o.skipped[0][1] for o in results.values() if o.skipped]
    assert len(done) == 1 and len(skipped) == 1, results
    assert skipped[0] in ("已被他人处理，请刷新后查看", "当前状态为“待确认”，不能认领")
    s.expire_all()
    got = row(s, rid)
    assert got["claim_status"] == "pending" and got["claimed_by_id"] == user_id(s, done[0])
    assert history(s, rid) == [("claim", "unclaimed", "pending", None)] and audits(s, rid) == 1


# -- odd input is never a 500; the pages speak Chinese -----------------------------------------------
@pytest.mark.parametrize("username", ["unit_ent", "authority_yb", "authority_jb", "bureau"])
def test_hostile_ids_filters_and_searches_are_harmless(client_as, db_session, username):
    s = db_session
    client = client_as(username)
    for odd in ("abc", "-1", "0", "99999999999999999999999", "1 OR 1=1", "%00", "１"):
        assert client.get(f"/admin/legacy_project/details/?id={odd}").status_code in (302, 404), odd
        for action in ("claim", "withdraw", "approve", "reject"):
            assert client.action("legacy_project", action, [odd], reason="x").status_code in (302, 404), (odd, action)
    for query in ("flt0_0=abc", "flt0_0=99999999999999999999", "flt0_2=nonsense", "flt0_1=%00", "search=%00",
                  "search=" + "长" * 5000, "sort=999", "page=99999999", "page_size=-5", "flt9_99=1"):
        assert client.get(f"/admin/legacy_project/?{query}").status_code == 200, query
    assert client.get("/admin/legacy_project/export/xlsx/?flt0_0=abc&search=%00").status_code in (200, 302)
    assert {r["claim_status"] for r in map(lambda n: row(s, n), ALL_ROWS)} == {"unclaimed", "pending", "claimed"}


@pytest.mark.parametrize("username", ["unit_ent", "authority_yb", "bureau"])
def test_the_list_details_and_export_are_chinese(client_as, db_session, username):
    client = client_as(username)
    data_words = {part for name in db_session.scalars(select(User.username)) for part in re.findall(r"[a-z]+", name.lower())} | {"xlsx"}
    rid = row(db_session, CLAIMED)["id"]
    for url in ("/admin/legacy_project/", f"/admin/legacy_project/details/?id={rid}"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert not english_words(visible_text(html), data_words), url
        assert "unclaimed" not in visible_text(html) and "已认领" in html
    response = client.get("/admin/legacy_project/export/xlsx/")
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:4] == ("项目编号", "项目年度", "项目批次", "企业名称")
    statuses = {r[rows[0].index("认领状态")] for r in rows[1:]}
    assert statuses <= {"未认领", "待确认", "已认领", "已驳回"} and statuses
