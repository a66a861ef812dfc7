"""推荐排序 in the 申报书 list (issue #13, seed 002 §4.4): the blue number of a row the user may rank
now, its JSON endpoint /admin/declaration/rank-one/ (the ranking page's rule: scope, deadline,
1..n, audit), hostile input, the authority's ranking page beside the units' order, and the whole
journey in Chromium. Plain SQL is the oracle; the expected orders are written out by hand."""
from __future__ import annotations

import os
import re
import threading
from datetime import datetime

import pytest

from tests.form_helpers import one, sql
from tests.test_browser import _login, live_server, page  # noqa: F401  (fixtures)

POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
YEAR = datetime.now().year
RESEARCH = f"{YEAR}年度科研项目（第一批）"  # ranking open; 重庆大学 has ranked four rows at unit level
LAST_TECH = f"{YEAR - 1}年技术创新项目（下半年）"  # ranking closed; 渝北区 ranked three rows
URL = "/admin/declaration/rank-one/"
CQU_ORDER = ["软件定义制造系统关键技术研究", "智能网联汽车软件测试技术研究", "高性能混凝土耐久性提升技术", "隐私计算联邦学习框架研究"]


def did(db_session, name: str) -> int:
    return one(db_session, "SELECT id FROM declaration WHERE name = :n", n=name)


def unit_order(db_session, call: str = RESEARCH) -> list[tuple[str, int]]:
    """重庆大学's unit ranking of a call, as stored."""
    return [tuple(r) for r in sql(
        db_session,
        "SELECT d.name, d.unit_rank FROM declaration d JOIN unit u ON u.id = d.unit_id JOIN call c ON c.id = d.call_id "
        "WHERE u.name = '重庆大学' AND c.name = :c AND d.unit_rank IS NOT NULL ORDER BY d.unit_rank", c=call)]


def rank_audits(db_session) -> int:
    return one(db_session, "SELECT count(*) FROM audit_log WHERE table_name = 'declaration' AND summary LIKE '推荐排序%'")


def all_ranks(db_session) -> list[tuple]:
    return [tuple(r) for r in sql(db_session, "SELECT id, unit_rank, authority_rank FROM declaration ORDER BY id")]


def post_rank(client, row_id, position, **extra):
    return client.post_form(URL, {"id": str(row_id), "position": str(position), **extra})


def answer(response) -> dict:
    assert response.mimetype == "application/json", (response.status_code, response.get_data(as_text=True)[:200])
    return response.get_json()


def rank_buttons(html: str) -> dict[int, str]:
    """id → shown text of every 推荐排序 button of a list page."""
    return {int(i): t for i, t in re.findall(r'<button[^>]*class="[^"]*rank-edit[^"]*"[^>]*data-rank-id="(\d+)"[^>]*>([^<]*)</button>', html)}


def set_deadline(db_session, call: str, when: str) -> None:
    from sqlalchemy import text

    moment = datetime.now().replace(microsecond=0)
    delta = {"past": -1, "future": 1}[when]
    db_session.execute(text("UPDATE call SET ranking_deadline = :t WHERE name = :n"),
                       {"t": moment.replace(year=moment.year + delta), "n": call})
    db_session.commit()


# -- the list ------------------------------------------------------------------------------------
def test_the_list_shows_blue_numbers_only_where_the_user_may_rank_now(client_as, db_session):
    html = client_as("unit_cqu").get("/admin/declaration/?page_size=100").get_data(as_text=True)
    buttons = rank_buttons(html)
    # the four ranked rows of the open research call, the two of the startup call (ranking still
    # open), nothing of the closed call nor of rows still waiting at 单位审核
    expected = {did(db_session, n): str(r) for n, r in zip(CQU_ORDER, [1, 2, 3, 4])}
    expected |= {did(db_session, "智能软件工程创业项目"): "1", did(db_session, "留学人员科技成果转化项目"): "2"}
    assert buttons == expected
    assert "static/ranking.js" in html and 'data-rank-url="/admin/declaration/rank-one/"' in html
    assert did(db_session, "软件自动化测试关键技术研究") not in buttons  # ranked, but its call's ranking is over
    assert did(db_session, "山地城市桥梁健康监测关键技术") not in buttons  # still at 单位审核

    for user in ("applicant_zhang", "dept_cqu_se", "bureau"):
        html = client_as(user).get("/admin/declaration/").get_data(as_text=True)
        assert rank_buttons(html) == {} and "ranking.js" not in html, user


def test_the_authority_list_edits_its_own_column_only(client_as, db_session):
    """authority_yb ranks at its level: the button sits in 主管部门推荐排序, 单位推荐排序 stays plain."""
    html = client_as("authority_yb").get("/admin/declaration/?page_size=100").get_data(as_text=True)
    reducer = did(db_session, "精密减速器国产化关键技术")  # 区县审核 passed in the open tech call
    assert rank_buttons(html) == {reducer: "1"}
    cells = re.findall(r'<td class="col-(unit_rank|authority_rank)\b[^"]*">\s*(.*?)\s*</td>', html, re.S)
    assert any(col == "authority_rank" and f'data-rank-id="{reducer}"' in cell for col, cell in cells)
    assert not any(col == "unit_rank" and "rank-edit" in cell for col, cell in cells)


# -- the endpoint --------------------------------------------------------------------------------
def test_unit_admin_ranks_one_row_from_the_list(client_as, db_session):
    unit = client_as("unit_cqu")
    assert unit_order(db_session) == list(zip(CQU_ORDER, [1, 2, 3, 4]))
    audits = rank_audits(db_session)
    last = did(db_session, CQU_ORDER[3])
    response = post_rank(unit, last, 1)
    assert response.status_code == 200
    got = answer(response)
    assert got["ok"] is True and got["rank"] == 1
    assert got["message"] == "已将“隐私计算联邦学习框架研究”排在第 1 位（共 4 项）"
    new_order = [CQU_ORDER[3]] + CQU_ORDER[:3]
    assert unit_order(db_session) == list(zip(new_order, [1, 2, 3, 4]))
    assert got["ranks"] == {str(did(db_session, n)): i for i, n in enumerate(new_order, start=1)}
    assert rank_audits(db_session) == audits + 4  # every row that moved, one audit row each
    summary, before, after, username = sql(
        db_session, "SELECT summary, before, after, username FROM audit_log WHERE row_id = :r AND summary LIKE '推荐排序%' "
                    "ORDER BY id DESC", r=str(last))[0]
    assert summary == "推荐排序：隐私计算联邦学习框架研究 → 第 1 位" and username == "unit_cqu"
    assert (before if isinstance(before, dict) else __import__("json").loads(before)) == {"unit_rank": 4}
    assert (after if isinstance(after, dict) else __import__("json").loads(after)) == {"unit_rank": 1}
    # the list now shows the saved values
    buttons = rank_buttons(unit.get("/admin/declaration/?page_size=100").get_data(as_text=True))
    assert [buttons[did(db_session, n)] for n in new_order] == ["1", "2", "3", "4"]


def test_the_token_may_travel_in_the_header(client_as, db_session):
    unit = client_as("unit_cqu")
    second = did(db_session, CQU_ORDER[1])
    response = unit.post(URL, data={"id": str(second), "position": "1"}, headers={"X-CSRFToken": unit.csrf_token})
    assert answer(response)["ok"] is True
    assert unit_order(db_session) == list(zip([CQU_ORDER[1], CQU_ORDER[0]] + CQU_ORDER[2:], [1, 2, 3, 4]))


@pytest.mark.parametrize("user, message", [
    ("applicant_zhang", "您无权执行此操作"),
    ("dept_cqu_se", "您无权执行此操作"),
    ("bureau", "您无权执行此操作"),
])
def test_who_may_not_rank_is_refused_in_chinese(client_as, db_session, user, message):
    before, audits = all_ranks(db_session), rank_audits(db_session)
    own = did(db_session, "软件定义制造系统关键技术研究")  # applicant_zhang's, in 软件学院: each of them sees it
    response = post_rank(client_as(user), own, 2)
    assert response.status_code == 403
    assert answer(response) == {"ok": False, "message": message}
    assert all_ranks(db_session) == before and rank_audits(db_session) == audits


def test_after_the_deadline_and_before_the_level_is_passed(client_as, db_session):
    unit = client_as("unit_cqu")
    before, audits = all_ranks(db_session), rank_audits(db_session)
    waiting = post_rank(unit, did(db_session, "山地城市桥梁健康监测关键技术"), 1)  # still at 单位审核
    assert waiting.status_code == 403
    assert answer(waiting)["message"] == "只能对本级审核通过的申报书排序（山地城市桥梁健康监测关键技术）"
    closed = answer(post_rank(unit, did(db_session, "软件自动化测试关键技术研究"), 2))
    assert closed["ok"] is False and re.fullmatch(r"推荐排序已于 \d{4}-\d\d-\d\d \d\d:\d\d 截止", closed["message"])

    set_deadline(db_session, RESEARCH, "past")
    late = answer(post_rank(unit, did(db_session, CQU_ORDER[3]), 1))
    assert late["ok"] is False and late["message"].startswith("推荐排序已于") and late["message"].endswith("截止")
    assert rank_buttons(unit.get("/admin/declaration/?page_size=100").get_data(as_text=True)).keys() == {
        did(db_session, "智能软件工程创业项目"), did(db_session, "留学人员科技成果转化项目")}  # only the startup call is still open
    assert all_ranks(db_session) == before and rank_audits(db_session) == audits


def test_rows_outside_the_scope_are_404(client_as, db_session):
    before = all_ranks(db_session)
    swu = did(db_session, "柑橘病虫害智能识别系统研究")  # 西南大学's
    ent = did(db_session, "精密减速器国产化关键技术")  # 渝北区's, rankable by authority_yb, not by 重庆大学
    for user, row in (("unit_cqu", swu), ("unit_cqu", ent), ("authority_yb", did(db_session, CQU_ORDER[0])),
                      ("applicant_zhang", did(db_session, "新型储能材料界面机理研究"))):
        response = post_rank(client_as(user), row, 1)
        assert response.status_code == 404, (user, row)
        assert answer(response) == {"ok": False, "message": "记录不存在或不在您的数据权限范围内"}
    assert all_ranks(db_session) == before


HOSTILE_IDS = ["", "abc", "\x00", "1\x00", "-1", "0", str(2**31), str(2**63), str(2**63 - 1), "9" * 40, "1 OR 1=1", "１", "1.0"]


@pytest.mark.parametrize("row_id", HOSTILE_IDS)
def test_hostile_ids_are_404(client_as, db_session, row_id):
    before = all_ranks(db_session)
    response = client_as("unit_cqu").post_form(URL, {"id": row_id, "position": "1"})
    assert response.status_code == 404
    assert answer(response)["message"] == "记录不存在或不在您的数据权限范围内"
    assert all_ranks(db_session) == before


@pytest.mark.parametrize("position, message", [
    ("", "请输入一个正整数序号"),
    ("abc", "请输入一个正整数序号"),
    ("1.5", "请输入一个正整数序号"),
    ("１", "请输入一个正整数序号"),  # full-width digit
    ("\x00", "请输入一个正整数序号"),
    ("1\x00", "请输入一个正整数序号"),
    ("<script>", "请输入一个正整数序号"),
    (str(2**63), "请输入一个正整数序号"),
    ("9" * 400, "请输入一个正整数序号"),
    ("0", "序号应为 1 到 4 之间的整数"),
    ("-1", "序号应为 1 到 4 之间的整数"),
    ("5", "序号应为 1 到 4 之间的整数"),
    (str(2**63 - 1), "序号应为 1 到 4 之间的整数"),
])
def test_hostile_positions_are_refused_in_chinese(client_as, db_session, position, message):
    before, audits = all_ranks(db_session), rank_audits(db_session)
    response = client_as("unit_cqu").post_form(URL, {"id": str(did(db_session, CQU_ORDER[0])), "position": position})
    assert response.status_code == 400
    assert answer(response) == {"ok": False, "message": message}
    assert all_ranks(db_session) == before and rank_audits(db_session) == audits


def test_missing_or_stale_csrf_is_a_chinese_answer(client_as, db_session):
    unit = client_as("unit_cqu")
    before = all_ranks(db_session)
    row = str(did(db_session, CQU_ORDER[3]))
    for data in ({"id": row, "position": "1"}, {"id": row, "position": "1", "csrf_token": "stale-token"},
                 {"id": row, "position": "1", "csrf_token": unit.csrf_token[:-4] + "AAAA"}):
        response = unit.post(URL, data=data)
        assert response.status_code == 400
        assert answer(response) == {"ok": False, "message": "页面已过期，请刷新页面后重试"}
    assert unit.get(URL).status_code == 405  # POST only
    assert all_ranks(db_session) == before


def test_anonymous_goes_to_the_login_page(anon, db_session):
    response = anon.post(URL, data={"id": str(did(db_session, CQU_ORDER[3])), "position": "1"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_two_sessions_ranking_at_once_keep_1_to_n(app, db_session):
    """Two browsers of 重庆大学 move rows at once: each move waits for the other (the call is
    locked), none is lost, and the ranks stay 1..4 without gaps or duplicates."""
    from tests.conftest import login

    ids = [did(db_session, n) for n in CQU_ORDER]
    first, second = login(app, "unit_cqu"), login(app, "unit_cqu")
    moves = {first: [(ids[3], 1), (ids[2], 2)] * 4, second: [(ids[0], 4), (ids[1], 1)] * 4}
    errors: list = []

    def run(client, todo):
        for row, position in todo:
            response = post_rank(client, row, position)
            if response.status_code != 200 or not response.get_json()["ok"]:
                errors.append((row, position, response.status_code, response.get_data(as_text=True)[:200]))

    if POSTGRES:  # really at once
        threads = [threading.Thread(target=run, args=item) for item in moves.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    else:  # SQLite serialises writers: interleave the two sequences instead
        for a, b in zip(moves[first], moves[second]):
            run(first, [a])
            run(second, [b])
    assert errors == []
    order = unit_order(db_session)
    assert [r for _, r in order] == [1, 2, 3, 4]
    if not POSTGRES:  # d3→1, d0→4, d2→2, d1→1, four times over; by hand, each round ends [d1, d3, d2, d0]
        assert [n for n, _ in order] == [CQU_ORDER[1], CQU_ORDER[3], CQU_ORDER[2], CQU_ORDER[0]]


# -- the authority's ranking page ----------------------------------------------------------------
def test_authority_ranking_page_shows_the_units_order_beside_its_own(client_as, db_session):
    """渝北区 ranks the enterprises' rows of last year's tech call (reopened here): 区县推荐排序 is
    its own, 单位推荐排序 each unit's; a move changes its own column only."""
    set_deadline(db_session, LAST_TECH, "future")
    call_id = one(db_session, "SELECT id FROM call WHERE name = :n", n=LAST_TECH)
    yb = client_as("authority_yb")

    def table():
        html = yb.get(f"/admin/declaration/ranking/{call_id}/").get_data(as_text=True)
        head = re.search(r"<thead.*?</thead>", html, re.S).group(0)
        rows = re.findall(r'<tr>\s*<td>.*?name="position" value="(\d*)".*?<td class="unit-rank">(\d*)</td>.*?'
                          r'<a href="[^"]*details[^"]*">([^<]+)</a>', html, re.S)
        return [h.strip() for h in re.findall(r"<th[^>]*>([^<]+)</th>", head)], [(n, int(a), int(u)) for a, u, n in rows]

    head, rows = table()
    assert head[:2] == ["区县推荐排序", "单位推荐排序"]
    assert rows == [("工业互联网标识解析平台", 1, 1), ("航空零部件精密加工工艺", 2, 1), ("五轴联动数控系统研发", 3, 2)]
    got = answer(post_rank(yb, did(db_session, "五轴联动数控系统研发"), 1))
    assert got["ok"] is True and got["rank"] == 1
    _, rows = table()
    assert rows == [("五轴联动数控系统研发", 1, 2), ("工业互联网标识解析平台", 2, 1), ("航空零部件精密加工工艺", 3, 1)]
    assert client_as("unit_cqu").get(f"/admin/declaration/ranking/{call_id}/").get_data(as_text=True).count("单位推荐排序") == 0


# -- in Chromium ---------------------------------------------------------------------------------
@pytest.mark.browser
def test_click_the_number_type_and_press_enter(live_server, page, db_session, tmp_path):  # noqa: F811
    from tests.test_browser import _shot

    last = did(db_session, CQU_ORDER[3])
    first = did(db_session, CQU_ORDER[0])
    _login(page, live_server, "unit_cqu", "/admin/declaration/?page_size=100")
    page.wait_for_url(f"{live_server}/admin/declaration/*")
    button = page.locator(f'button.rank-edit[data-rank-id="{last}"]')
    assert button.inner_text() == "4"
    button.click()
    box = page.locator("input.rank-input")
    box.fill("1")
    _shot(page, tmp_path, "ranking-inline-typing.png")
    box.press("Enter")
    page.wait_for_selector(".rank-message")
    assert page.locator(".rank-message").inner_text() == "已保存"
    assert button.inner_text() == "1"
    assert page.locator(f'button.rank-edit[data-rank-id="{first}"]').inner_text() == "2"  # moved down on the page too
    _shot(page, tmp_path, "ranking-inline-saved.png")

    # Esc cancels: nothing is sent, the number comes back
    button.click()
    page.locator("input.rank-input").fill("3")
    page.locator("input.rank-input").press("Escape")
    assert page.locator("input.rank-input").count() == 0 and button.inner_text() == "1"

    # a refusal shows in the cell and changes nothing
    button.click()
    page.locator("input.rank-input").fill("9")
    page.locator("input.rank-input").press("Enter")
    page.wait_for_selector(".rank-message.text-danger")
    assert page.locator(".rank-message.text-danger").inner_text() == "序号应为 1 到 4 之间的整数"
    assert button.inner_text() == "1"
    _shot(page, tmp_path, "ranking-inline-refused.png")

    page.reload()
    assert page.locator(f'button.rank-edit[data-rank-id="{last}"]').inner_text() == "1"
    assert page.locator(f'button.rank-edit[data-rank-id="{first}"]').inner_text() == "2"
    assert unit_order(db_session) == list(zip([CQU_ORDER[3]] + CQU_ORDER[:3], [1, 2, 3, 4]))
