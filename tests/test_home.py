"""首页 per role, as each user sees it, against SQL written here independently of the app's scope
rules: applicants' open calls (exactly the create form's) and their declarations by state;
reviewers' 最近处理 within their scope; the city's 申报批次 calendar and its year switch."""
from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, insert, text, update

from models import Call, CallType, ReviewRecord, User
from tests.conftest import DEMO_ACCOUNTS

APPLICANTS = ("applicant_zhang", "applicant_li", "applicant_ent")
REVIEWERS = ("dept_cqu_se", "unit_cqu", "authority_yb", "bureau", "unit_ent")
TECH_LABELS = {"draft": "未上报", "unit_review": "企业审核", "authority_review": "区县审核", "bureau_review": "已上报省",
               "returned": "退回企业", "approved": "已批准", "rejected": "未批准"}
STATE_LABELS = {"draft": "未提交", "dept_review": "部门审核", "unit_review": "单位审核", "authority_review": "主管部门审核",
                "bureau_review": "科技局审核", "returned": "退回中", "approved": "已立项", "rejected": "不予立项"}


def page(client, url: str = "/admin/") -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def section(html: str, section_id: str) -> str | None:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    return match.group(0) if match else None


def visible(fragment: str) -> str:
    fragment = re.sub(r"<(style|script)\b.*?</\1>", " ", fragment, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def sql(s, statement: str, **params) -> list:
    return s.execute(text(statement), params).all()


def account(s, username: str):
    return sql(s, "SELECT id, unit_id, secondary_unit_id, region_id, modules FROM app_user WHERE username = :u", u=username)[0]


def add_call(s, name: str, opens_at: datetime, closes_at: datetime, ranking_deadline=None, type_=CallType.research) -> int:
    s.execute(insert(Call), [dict(name=name, type=type_, year=opens_at.year, batch="测试批", batch_code="09", opens_at=opens_at,
                                  closes_at=closes_at, ranking_deadline=ranking_deadline, review_chain=["unit", "bureau"])])
    s.commit()
    return sql(s, "SELECT id FROM call WHERE name = :n", n=name)[0][0]


def list_count(client, url: str) -> int:
    """The rows the list behind a link shows: its ticked-box column counts them (fewer than a page)."""
    listed = page(client, html_lib.unescape(url))
    return len(re.findall(r'name="rowid"', listed))


# -- applicants: their declarations by state ---------------------------------------------------
def state_counts(html: str) -> dict[str, tuple[str, int, str]]:
    """state code → (label shown, count, link) of 我的申报书."""
    block = section(html, "my-declarations")
    assert block, "我的申报书 is shown"
    cards = re.findall(r'<a class="state-count" href="([^"]+)" data-state-count="(\w+)">(.*?)<div class="n">(\d+)</div>', block, re.S)
    return {code: (visible(badge), int(n), url) for url, code, badge, n in cards}


@pytest.mark.parametrize("username", APPLICANTS)
def test_applicant_counts_per_state_equal_sql_and_link_to_the_filtered_list(client_as, db_session, username):
    s = db_session
    # move one row so the counts are not the demo's alone
    s.execute(text("UPDATE declaration SET status = 'returned' WHERE id = (SELECT min(d.id) FROM declaration d "
                   "JOIN app_user u ON u.id = d.applicant_id WHERE u.username = :u AND d.status <> 'draft')"), {"u": username})
    s.commit()
    expected = dict(sql(s, "SELECT d.status, count(*) FROM declaration d JOIN app_user u ON u.id = d.applicant_id "
                           "WHERE u.username = :u GROUP BY d.status", u=username))
    client = client_as(username)
    html = page(client)
    shown = state_counts(html)
    assert {code: n for code, (_, n, _) in shown.items() if n} == expected
    assert all(n == 0 for code, (_, n, _) in shown.items() if code not in expected)
    total = sum(expected.values())
    assert f"全部 {total} 项" in visible(section(html, "my-declarations"))
    for code, (label, n, url) in shown.items():
        words = TECH_LABELS if username == "applicant_ent" else STATE_LABELS  # its calls are 技术创新项目 (seed 003, issue #14)
        assert label in (words[code], "区县审核"), (code, label)
        assert "flt0_" in url and f"={code}" in url
        assert list_count(client, url) == n, (username, code)


def test_dept_level_is_offered_only_to_applicants_in_a_secondary_unit(client_as):
    assert "dept_review" in state_counts(page(client_as("applicant_zhang")))  # 软件学院
    assert "dept_review" not in state_counts(page(client_as("applicant_li")))  # 重庆大学 itself: never 部门审核


def test_authority_level_reads_as_the_calls_name_it(client_as, db_session):
    s = db_session
    # applicant_ent's calls (技术创新项目) call the authority level 区县审核
    s.execute(text("UPDATE declaration SET status = 'authority_review' WHERE name = '智能仓储机器人调度系统'"))
    s.commit()
    ent = state_counts(page(client_as("applicant_ent")))
    assert ent["authority_review"][:2] == ("区县审核", 1)
    li = state_counts(page(client_as("applicant_li")))  # 科研项目 and 创业资助: the default name
    assert li["authority_review"][:2] == ("主管部门审核", 2)


# -- applicants: the calls open to them, exactly the create form's ------------------------------
def offered_on_home(html: str) -> dict[int, tuple[str, str]]:
    """call id → (申报时间 shown, 新增申报 link)."""
    block = section(html, "open-calls")
    if block is None:
        return {}
    cards = re.findall(r'data-call="(\d+)">.*?<span class="call-window">([^<]+)</span>.*?<a class="btn[^"]*new-declaration" href="([^"]+)"',
                       block, re.S)
    return {int(i): (window, html_lib.unescape(url)) for i, window, url in cards}


def form_calls(html: str) -> tuple[set[int], set[int]]:
    """(ids offered, ids selected) in the create form's 项目批次 select."""
    block = re.search(r'<select[^>]*id="call".*?</select>', html, re.S)
    assert block, "the form has a 项目批次 select"
    options = re.findall(r"<option([^>]*)>", block.group(0))
    values = [(re.search(r'value="([^"]*)"', o).group(1), "selected" in o) for o in options]
    return {int(v) for v, _ in values if v.isdigit()}, {int(v) for v, sel in values if sel and v.isdigit()}


@pytest.mark.parametrize("username", APPLICANTS)
def test_open_calls_are_the_forms_and_each_opens_the_form_with_it_chosen(client_as, db_session, username):
    s = db_session
    now = datetime.now()
    day = timedelta(days=1)
    for kind in CallType:
        add_call(s, f"首页测试{kind.value}（申报中）", now - day, now + 3 * day, type_=kind)
        add_call(s, f"首页测试{kind.value}（未开始）", now + day, now + 3 * day, type_=kind)
        add_call(s, f"首页测试{kind.value}（已截止）", now - 3 * day, now - day, type_=kind)
    me = account(s, username)
    modules = me.modules if isinstance(me.modules, list) else __import__("json").loads(me.modules or "[]")
    rows = sql(s, "SELECT id, type, opens_at, closes_at FROM call")
    calls = {row.id: row for row in rows}
    parse = lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(str(v))  # noqa: E731  SQLite gives text
    expected = {i for i, c in calls.items() if c.type in modules and parse(c.opens_at) <= now <= parse(c.closes_at)}
    assert expected, "each demo applicant has an open call of its modules"

    client = client_as(username)
    offered = offered_on_home(page(client))
    assert set(offered) == expected
    form_offers, _ = form_calls(page(client, "/admin/declaration/new/"))
    assert set(offered) == form_offers
    for call_id, (window, url) in offered.items():
        c = calls[call_id]
        assert window == f"{parse(c.opens_at):%Y-%m-%d %H:%M} 至 {parse(c.closes_at):%Y-%m-%d %H:%M}"
        assert url.startswith("/admin/declaration/new/")
        _, chosen = form_calls(page(client, url))
        assert chosen == {call_id}, (username, call_id)


def test_an_applicant_without_modules_is_offered_nothing(app, db_session):
    from tests.conftest import login

    db_session.execute(update(User.__table__).where(User.__table__.c.username == "applicant_ent").values(modules=[]))
    db_session.commit()
    html = page(login(app, "applicant_ent"))
    assert section(html, "open-calls") is None and section(html, "my-declarations") is None
    assert "/admin/declaration/new/" not in html and 'href="/admin/declaration/"' not in html


@pytest.mark.parametrize("username", [u for u in DEMO_ACCOUNTS if u not in APPLICANTS])
def test_who_does_not_declare_sees_no_calls_to_declare_in(client_as, username):
    html = page(client_as(username))
    assert section(html, "open-calls") is None and section(html, "my-declarations") is None


# -- reviewers: 最近处理 within their scope ------------------------------------------------------
def scope_sql(s, username: str) -> tuple[str, dict]:
    """The declarations a reviewer sees, as the design says it, in plain SQL (alias d, c, un)."""
    me = account(s, username)
    params = {"me": me.id, "unit": me.unit_id, "dept": me.secondary_unit_id, "region": me.region_id}
    mine = "(d.status <> 'draft' OR d.applicant_id = :me)"
    area = {
        "dept_cqu_se": "d.secondary_unit_id = :dept",
        "unit_cqu": "d.unit_id = :unit",
        "unit_ent": "d.unit_id = :unit",
        "authority_yb": "((c.authority_route = 'competent' AND (un.competent_unit_id = :unit "
                        "OR (un.competent_unit_id IS NULL AND un.region_id = :region))) "
                        "OR (c.authority_route = 'district' AND un.region_id = :region))",
        "bureau": "1 = 1",
    }[username]
    return f"{area} AND {mine}", params


def recent_sql(s, username: str) -> list[int]:
    where, params = scope_sql(s, username)
    rows = sql(s, f"SELECT r.id FROM review_record r JOIN declaration d ON d.id = r.declaration_id JOIN call c ON c.id = d.call_id "
                  f"JOIN unit un ON un.id = d.unit_id WHERE r.action IN ('approve', 'return') AND {where} "
                  f"ORDER BY r.at DESC, r.id DESC LIMIT 10", **params)
    return [r[0] for r in rows]


def recent_rows(html: str) -> list[tuple[int, list[str], str]]:
    """(review id, cells as text, the 项目名称 link) of 最近处理, in order."""
    block = section(html, "recent-reviews")
    assert block, "最近处理 is shown"
    out = []
    for rid, body in re.findall(r'<tr data-review="(\d+)">(.*?)</tr>', block, re.S):
        cells = [visible(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        link = re.search(r'<a href="([^"]+)"', body).group(1)
        out.append((int(rid), cells, html_lib.unescape(link)))
    return out


def add_record(s, declaration: str, action: str, actor: str, at: datetime, from_status="unit_review", to_status="returned") -> int:
    d_id = sql(s, "SELECT id FROM declaration WHERE name = :n", n=declaration)[0][0]
    u_id = account(s, actor).id
    s.execute(insert(ReviewRecord), [dict(declaration_id=d_id, at=at, user_id=u_id, actor_name=actor, role="unit_admin",
                                          level="unit", action=action, from_status=from_status, to_status=to_status, opinion="测试")])
    s.commit()
    return sql(s, "SELECT max(id) FROM review_record")[0][0]


@pytest.mark.parametrize("username", REVIEWERS)
def test_recent_reviews_are_the_latest_ten_in_scope(client_as, db_session, username):
    s = db_session
    soon = datetime.now() + timedelta(minutes=5)
    # the newest records of all: one in 西南大学 (no demo reviewer here but the city sees it), one
    # of 重庆大学 itself (not 软件学院), and a 提交 that 最近处理 never lists
    elsewhere = add_record(s, "柑橘病虫害智能识别系统研究", "return", "bureau", soon + timedelta(minutes=3))
    cqu = add_record(s, "山地城市桥梁健康监测关键技术", "approve", "unit_cqu", soon + timedelta(minutes=2), to_status="authority_review")
    submitted = add_record(s, "工业软件可信验证平台研发", "submit", "applicant_zhang", soon + timedelta(minutes=4), "draft", "dept_review")
    for k in range(8):  # the enterprise's own flow (渝北区), older than the three above
        add_record(s, "智能仓储机器人调度系统", ("approve", "return")[k % 2], "unit_ent", soon - timedelta(minutes=k))
    expected = recent_sql(s, username)
    assert len(expected) == 10, "every reviewer has more than ten records: the list stops at ten"
    rows = recent_rows(page(client_as(username)))
    assert [r[0] for r in rows] == expected
    shown = {r[0] for r in rows}
    assert submitted not in shown
    assert (elsewhere in shown) == (username == "bureau")
    assert (cqu in shown) == (username in ("unit_cqu", "bureau"))  # not 软件学院's, not 渝北区's
    me = account(s, username)
    for rid in shown:  # a unit's reviewers never see another unit's records, a department another's
        unit_id, dept_id = sql(s, "SELECT d.unit_id, d.secondary_unit_id FROM review_record r "
                                  "JOIN declaration d ON d.id = r.declaration_id WHERE r.id = :r", r=rid)[0]
        if username in ("unit_cqu", "unit_ent"):
            assert unit_id == me.unit_id
        if username == "dept_cqu_se":
            assert dept_id == me.secondary_unit_id
    for rid, cells, link in rows:
        name, d_id, action = sql(s, "SELECT d.name, d.id, r.action FROM review_record r JOIN declaration d ON d.id = r.declaration_id "
                                    "WHERE r.id = :r", r=rid)[0]
        assert cells[1] == name and link == f"/admin/declaration/details/?id={d_id}"
        tech = sql(s, "SELECT c.type FROM call c JOIN declaration d ON d.call_id = c.id WHERE d.id = :d", d=d_id)[0][0] == "tech_innovation"
        assert cells[3] == {"approve": "审核通过", "return": "退回企业" if tech else "退回"}[action]  # seed 003's 退回企业 (issue #14)
        assert not re.search(r"[A-Za-z]{2,}", " ".join(cells)), cells
        assert client_as(username).get(link).status_code == 200


def test_recent_reviews_name_the_actor_and_open_the_declaration(client_as, db_session):
    s = db_session
    d_id = sql(s, "SELECT id FROM declaration WHERE name = '工业软件可信验证平台研发'")[0][0]  # 单位审核, 软件学院
    unit = client_as("unit_cqu")
    assert unit.action("declaration", "return", [d_id], reason="预算说明不完整").status_code == 302
    assert sql(s, "SELECT status FROM declaration WHERE id = :i", i=d_id)[0][0] == "returned"
    top = recent_rows(page(unit))[0]
    assert top[1][1] == "工业软件可信验证平台研发" and top[1][2] == "单位审核" and top[1][3] == "退回"
    assert top[1][4] == "退回中" and top[1][5] == "重庆大学科研院（重庆大学）"
    assert datetime.strptime(top[1][0], "%Y-%m-%d %H:%M") >= datetime.now().replace(second=0, microsecond=0) - timedelta(minutes=2)
    # the department sees what the unit did to its declaration, with who did it
    dept_top = recent_rows(page(client_as("dept_cqu_se")))[0]
    assert dept_top[0] == top[0] and dept_top[1][5] == "重庆大学科研院（重庆大学）"
    dept_approval = next(r for r in recent_rows(page(client_as("unit_cqu"))) if r[1][2] == "部门审核")
    assert dept_approval[1][5] == "软件学院科研秘书（重庆大学/软件学院）"


def test_an_actor_without_an_account_reads_as_the_system(client_as, db_session):
    s = db_session
    rid = add_record(s, "工业软件可信验证平台研发", "approve", "unit_cqu", datetime.now() + timedelta(minutes=9), to_status="authority_review")
    s.execute(update(ReviewRecord.__table__).where(ReviewRecord.__table__.c.id == rid).values(user_id=None, actor_name="system"))
    s.commit()
    top = recent_rows(page(client_as("unit_cqu")))[0]
    assert top[0] == rid and top[1][5] == "系统"


@pytest.mark.parametrize("username", ("sysadmin", *APPLICANTS))
def test_who_reviews_nothing_has_no_recent_reviews(client_as, username):
    assert section(page(client_as(username)), "recent-reviews") is None


# -- the city: the 申报批次 calendar ------------------------------------------------------------
def calendar_rows(html: str) -> dict[int, tuple[str, list[str]]]:
    """call id → (phase shown, cells as text)."""
    block = section(html, "call-calendar")
    assert block, "the calendar is shown"
    rows = re.findall(r'<tr data-call="(\d+)" data-phase="\w+">(.*?)</tr>', block, re.S)
    out = {}
    for cid, body in rows:
        cells = [visible(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        out[int(cid)] = (cells[3], cells)
    return out


def calendar_year(html: str) -> int:
    return int(re.search(r"申报批次日历（(\d+)年）", html).group(1))


@pytest.mark.parametrize("username", ("bureau", "sysadmin"))
def test_calendar_states_from_today(client_as, db_session, username):
    s = db_session
    now = datetime.now().replace(microsecond=0)
    minute, day = timedelta(minutes=1), timedelta(days=1)
    cases = {
        "未开始": add_call(s, "日历测试（明天开始）", now + day, now + 5 * day, now + 9 * day),
        "申报中": add_call(s, "日历测试（刚开始）", now - minute, now + 5 * day),
        "已截止": add_call(s, "日历测试（刚截止）", now - 5 * day, now - minute, now + day),
    }
    client = client_as(username)
    for expected, call_id in cases.items():
        opens, closes, ranking = sql(s, "SELECT opens_at, closes_at, ranking_deadline FROM call WHERE id = :i", i=call_id)[0]
        opens = opens if isinstance(opens, datetime) else datetime.fromisoformat(opens)
        html = page(client, f"/admin/?year={opens.year}")
        rows = calendar_rows(html)
        assert rows[call_id][0] == expected
        cells = rows[call_id][1]
        closes = closes if isinstance(closes, datetime) else datetime.fromisoformat(closes)
        assert cells[1] == f"{opens:%Y-%m-%d %H:%M} 至 {closes:%Y-%m-%d %H:%M}"
        ranking = ranking if ranking is None or isinstance(ranking, datetime) else datetime.fromisoformat(ranking)
        assert cells[2] == (f"{ranking:%Y-%m-%d %H:%M}" if ranking else "未设置")


def test_calendar_shows_the_calls_of_the_year_asked(client_as, db_session):
    s = db_session
    old = add_call(s, "日历测试（2019年）", datetime(2019, 3, 1, 9), datetime(2019, 4, 30, 17), datetime(2019, 5, 20, 17))
    across = add_call(s, "日历测试（跨年）", datetime(2019, 12, 1, 9), datetime(2020, 1, 15, 17))
    ranking_later = add_call(s, "日历测试（次年排序）", datetime(2020, 11, 1, 9), datetime(2020, 12, 1, 17), datetime(2021, 1, 10, 17))
    client = client_as("bureau")
    assert set(calendar_rows(page(client, "/admin/?year=2019"))) == {old, across}
    assert set(calendar_rows(page(client, "/admin/?year=2020"))) == {across, ranking_later}
    assert set(calendar_rows(page(client, "/admin/?year=2021"))) == {ranking_later}
    assert all(phase == "已截止" for phase, _ in calendar_rows(page(client, "/admin/?year=2019")).values())
    this_year = datetime.now().year
    current = calendar_rows(page(client))
    expected = {row[0] for row in sql(s, "SELECT id, opens_at, closes_at, ranking_deadline FROM call")
                if _touches(row, this_year)}
    assert set(current) == expected and not {old, across, ranking_later} & set(current)
    html = page(client, "/admin/?year=2019")
    assert "上一年" in html and 'href="/admin/?year=2018"' in html and 'href="/admin/?year=2020"' in html


def _touches(row, year: int) -> bool:
    """Hand-written: the call's 申报 window or its 推荐排序截止 falls in `year`."""
    dates = [v if v is None or isinstance(v, datetime) else datetime.fromisoformat(v) for v in row[1:]]
    opens, closes, ranking = dates
    return opens.year <= year and (closes.year >= year or (ranking is not None and ranking.year >= year))


def test_calendar_year_bounds(client_as):
    client = client_as("bureau")
    first = page(client, "/admin/?year=1900")
    assert calendar_year(first) == 1900 and "year=1899" not in first and "下一年" in first
    last = page(client, "/admin/?year=2100")
    assert calendar_year(last) == 2100 and "year=2101" not in last and "上一年" in last
    assert "1900年没有申报批次" in visible(first)


HOSTILE_YEARS = ("abc", "", "-1", "0", "1899", "2101", "99999999999999999999999", "2026\x00", "%00", "２０２６", "1e3",
                 "2026.0", "0x7e8", "null", "<script>alert(1)</script>", "2026' OR '1'='1", "9" * 5000, "-", "+2026")


@pytest.mark.parametrize("raw", HOSTILE_YEARS)
def test_hostile_year_shows_this_year(client_as, raw):
    from urllib.parse import quote

    response = client_as("bureau").get("/admin/?year=" + quote(raw, safe="%"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert calendar_year(html) == datetime.now().year
    assert "<script>alert(1)</script>" not in html
    if raw:
        assert "年度应为 1900 至 2100 之间的整数" in html


def test_a_good_year_among_others(client_as):
    client = client_as("bureau")
    assert calendar_year(page(client, "/admin/?year=2020&year=abc")) == 2020
    html = page(client, "/admin/?year=%202021%20")
    assert calendar_year(html) == 2021 and "年度应为" not in html


@pytest.mark.parametrize("username", [u for u in DEMO_ACCOUNTS if u not in ("bureau", "sysadmin")])
def test_calendar_is_the_citys_and_odd_years_never_fail_others(client_as, username):
    html = page(client_as(username), "/admin/?year=" + "9" * 300)
    assert section(html, "call-calendar") is None


# -- the whole page -----------------------------------------------------------------------------
@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_no_english_in_the_home_sections(client_as, username):
    html = page(client_as(username))
    for section_id in ("open-calls", "my-declarations", "recent-reviews", "call-calendar"):
        block = section(html, section_id)
        if block:
            assert not re.findall(r"[A-Za-z]{2,}", visible(block)), (username, section_id)


def count_queries(app, client, url: str = "/admin/") -> int:
    from extensions import db

    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


@pytest.mark.parametrize("username", ("applicant_zhang", "unit_cqu", "bureau"))
def test_more_rows_cost_no_more_queries(app, client_as, db_session, username):
    s = db_session
    client = client_as(username)
    page(client)  # warm up: the session's own checks
    before = count_queries(app, client)
    now = datetime.now()
    for k in range(6):
        add_call(s, f"查询数测试{k}", now - timedelta(days=1), now + timedelta(days=k + 2))
        add_record(s, "工业软件可信验证平台研发", "approve", ("unit_cqu", "bureau", "dept_cqu_se")[k % 3],
                   now + timedelta(minutes=k + 1), to_status="authority_review")
    s.execute(text("UPDATE declaration SET status = 'approved' WHERE name = '开源软件供应链安全风险评估方法研究'"))
    s.commit()
    after = count_queries(app, client)
    assert after == before, (username, before, after)
    assert before <= 30, before

