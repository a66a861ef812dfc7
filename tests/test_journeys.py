"""Declaration journeys as each programme words them (issue #14): 技术创新项目's 未上报/退回企业/上报至县区
beside 科研项目's 未提交/退回中/提交; 区县 and 通讯地址; 补正期限 on 退回; 调整项目批次 with the target's
quota and a new 项目编号; who deletes what; 提交成功; the returnee's 创业资助/创新资助 lists; the unit
side's 本单位的项目. Oracles are hand-written words and plain SQL."""
from __future__ import annotations

import html as html_lib
import io
import re
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import event, select, text

YEAR = datetime.now().year
TECH = f"{YEAR}年技术创新项目（上半年）"
RESEARCH = f"{YEAR}年度科研项目（第一批）"
STARTUP = f"{YEAR}年度创业资助（第一批）"
ENT_DRAFT = "工业设备预测性维护平台"  # applicant_ent, 未上报 in the open 技术创新 call
ENT_REVIEW = "智能仓储机器人调度系统"  # applicant_ent, waiting for unit_ent (单位审核)
ZHANG_DRAFT = "基于大模型的软件缺陷智能检测方法研究"
ZHANG_RETURNED = "低代码平台生成代码质量评估研究"


def sql(s, query: str, **params):
    return s.execute(text(query), params).all()


def one(s, query: str, **params):
    return s.execute(text(query), params).scalar()


def did(s, name: str) -> int:
    return one(s, "SELECT id FROM declaration WHERE name = :n", n=name)


def status_of(s, name: str) -> str:
    s.expire_all()
    return one(s, "SELECT status FROM declaration WHERE name = :n", n=name)


def page(response) -> str:
    return response.get_data(as_text=True)


def visible(fragment: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def row_of(html: str, rowid: int) -> str:
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        if re.search(rf'name="rowid"[^>]*value="{rowid}"', row):
            return row
    raise AssertionError(f"row {rowid} is not on the page")


def act(client, action: str, ids, url: str = "/admin/declaration/", **fields):
    return client.post_form("/admin/declaration/action/", {"action": action, "rowid": [str(i) for i in ids], "url": url, **fields})


def flashed(client, url: str = "/admin/declaration/") -> str:
    return visible(page(client.get(url)))


def sheet(response) -> tuple[list, list]:
    assert response.status_code == 200, response.status_code
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    return list(rows[0]), [list(r) for r in rows[1:]]


def minute(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")  # as typed (the parser takes the browser's 2025-06-30T17:00 too)


# -- 1. the words of each programme, from one table ----------------------------------------------
def test_tech_innovation_rows_read_as_seed_003_and_research_rows_as_seed_000(client_as, db_session):
    s = db_session
    ent = client_as("applicant_ent")
    listing = page(ent.get("/admin/declaration/"))
    draft = did(s, ENT_DRAFT)
    assert "未上报" in visible(row_of(listing, draft)) and "未提交" not in visible(row_of(listing, draft))
    assert re.search(r'data-action="submit"[^>]*>上报至县区</button>', listing)  # the toolbar, seed 003
    assert ">未上报<" in listing and ">退回企业<" in listing  # the 项目状态 filter: the only type it declares in
    details = page(ent.get(f"/admin/declaration/details/?id={draft}"))
    assert re.search(r'data-action="submit"[^>]*>\s*上报至县区\s*</button>', details)
    assert "未上报" in visible(re.search(r'id="status">(.*?)</span></p>', details, re.S).group(1))

    zhang = client_as("applicant_zhang")
    listing = page(zhang.get("/admin/declaration/"))
    mine = did(s, ZHANG_DRAFT)
    assert "未提交" in visible(row_of(listing, mine))
    assert re.search(r'data-action="submit"[^>]*>批量提交</button>', listing)
    details = page(zhang.get(f"/admin/declaration/details/?id={mine}"))
    assert re.search(r'data-action="submit"[^>]*>\s*提交\s*</button>', details)

    unit = client_as("unit_ent")  # the 技术创新 row under review: 上报至县区 onwards, 退回企业
    details = page(unit.get(f"/admin/declaration/details/?id={did(s, ENT_REVIEW)}"))
    assert [visible(b) for b in re.findall(r'<button type="submit" name="action" value="\w+" data-action="\w+"[^>]*>(.*?)</button>', details, re.S)] \
        == ["上报至县区", "退回企业"]
    research = page(client_as("unit_cqu").get(f"/admin/declaration/details/?id={did(s, '山地城市桥梁健康监测关键技术')}"))
    assert [visible(b) for b in re.findall(r'<button type="submit" name="action" value="\w+" data-action="\w+"[^>]*>(.*?)</button>', research, re.S)] \
        == ["提交至主管部门", "退回"]


def test_export_and_review_records_use_the_same_words(client_as, db_session):
    s = db_session
    unit = client_as("unit_ent")
    row = did(s, ENT_REVIEW)
    assert act(unit, "return", [row], reason="项目批次填报错误").status_code == 302
    assert status_of(s, ENT_REVIEW) == "returned"
    details = visible(page(client_as("applicant_ent").get(f"/admin/declaration/details/?id={row}")))
    assert "退回企业：企业审核 → 退回企业" in details.replace("： ", "：")  # 审批意见 in the call type's words
    headers, rows = sheet(client_as("applicant_ent").get("/admin/declaration/export/xlsx/"))
    for label in ("项目编号", "区县", "申报单位", "通讯地址", "项目状态"):
        assert label in headers
    by_name = {r[headers.index("项目名称")]: r for r in rows}
    assert by_name[ENT_DRAFT][headers.index("项目状态")] == "未上报"
    assert by_name[ENT_REVIEW][headers.index("项目状态")] == "退回企业"
    assert by_name["工业互联网标识解析平台"][headers.index("项目状态")] == "已批准"
    expected_region, expected_address = sql(s, "SELECT r.name, u.address FROM unit u JOIN region r ON r.id = u.region_id "
                                               "WHERE u.name = '重庆渝北智联科技有限公司'")[0]
    assert by_name[ENT_DRAFT][headers.index("区县")] == expected_region == "渝北区"
    assert by_name[ENT_DRAFT][headers.index("通讯地址")] == expected_address
    headers, rows = sheet(client_as("applicant_zhang").get("/admin/declaration/export/xlsx/"))
    statuses = {r[headers.index("项目名称")]: r[headers.index("项目状态")] for r in rows}
    assert statuses[ZHANG_DRAFT] == "未提交" and statuses[ZHANG_RETURNED] == "退回中"


def test_district_and_address_columns_and_no_query_per_row(app, client_as, db_session):
    s = db_session
    bureau = client_as("bureau")
    listing = page(bureau.get("/admin/declaration/", query_string={"page_size": 100}))
    assert re.search(r">\s*区县\s*<", listing) and re.search(r">\s*通讯地址\s*<", listing)
    row = did(s, ENT_REVIEW)
    cells = visible(row_of(listing, row))
    address = one(s, "SELECT u.address FROM unit u JOIN declaration d ON d.unit_id = u.id WHERE d.id = :i", i=row)
    assert "渝北区" in cells and address in cells

    from extensions import db

    def queries(size: int) -> int:
        seen = []
        listen = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert bureau.get("/admin/declaration/", query_string={"page_size": size}).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(seen)

    shown = one(s, "SELECT count(*) FROM declaration WHERE status <> 'draft'")
    assert shown > 10
    assert queries(100) <= queries(10) + 3, "the page's queries do not grow with its rows"


# -- 3. 补正期限 on 退回 -------------------------------------------------------------------------
def test_return_with_a_deadline_allows_resubmission_after_the_call_closed_until_then(client_as, db_session):
    s = db_session
    row = did(s, ENT_REVIEW)
    deadline = (datetime.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    unit = client_as("unit_ent")
    assert act(unit, "return", [row], reason="请补充证明材料", correction_deadline=minute(deadline)).status_code == 302
    stored = one(s, "SELECT correction_deadline FROM declaration WHERE id = :i", i=row)
    stored = stored if isinstance(stored, datetime) else datetime.fromisoformat(str(stored))
    assert stored == deadline and status_of(s, ENT_REVIEW) == "returned"
    note = f"请于 {deadline:%Y-%m-%d %H:%M} 前补正"
    ent = client_as("applicant_ent")
    assert note in visible(page(ent.get(f"/admin/declaration/details/?id={row}")))
    assert note in visible(row_of(page(ent.get("/admin/declaration/")), row))
    audit = one(s, "SELECT count(*) FROM audit_log WHERE table_name = 'declaration' AND row_id = :r AND summary LIKE '退回%'", r=str(row))
    assert audit == 1

    # the call closes: the returned row may still be 上报 before its deadline
    now = datetime.now()
    s.execute(text("UPDATE call SET opens_at = :o, closes_at = :c WHERE name = :n"),
              {"o": now - timedelta(days=40), "c": now - timedelta(hours=1), "n": TECH})
    s.commit()
    assert act(ent, "submit", [row], reason="").status_code == 302
    assert status_of(s, ENT_REVIEW) == "unit_review"
    assert one(s, "SELECT correction_deadline FROM declaration WHERE id = :i", i=row) is None  # it served its turn

    # returned again, the deadline passed (moved in the database): refused with the deadline named
    assert act(unit, "return", [row], reason="仍需补充", correction_deadline=minute(deadline)).status_code == 302
    past = now - timedelta(minutes=30)
    s.execute(text("UPDATE declaration SET correction_deadline = :d WHERE id = :i"), {"d": past, "i": row})
    s.commit()
    act(ent, "submit", [row], reason="")
    assert status_of(s, ENT_REVIEW) == "returned"
    assert f"已超过补正期限（{past:%Y-%m-%d %H:%M}），不能再提交" in flashed(ent)

    # a returned row without a deadline: the closed call refuses as before
    s.execute(text("UPDATE declaration SET correction_deadline = NULL WHERE id = :i"), {"i": row})
    s.commit()
    act(ent, "submit", [row], reason="")
    assert status_of(s, ENT_REVIEW) == "returned" and "不在申报期内" in flashed(ent)


@pytest.mark.parametrize("value,message", [
    ("2001-01-01T08:00", "补正期限应晚于当前时间"),
    ("明天下午", "补正期限格式不正确"),
    ("2030-13-45T25:61", "补正期限格式不正确"),
    ("2030-01-01T08:00\x00", "不能包含不可见的控制字符"),
    ("9" * 500, "补正期限最多 200 个字"),
    ("99999-01-01T08:00", "补正期限格式不正确"),
])
def test_a_bad_deadline_is_refused_at_its_field_and_nothing_changes(client_as, db_session, value, message):
    s = db_session
    row = did(s, ENT_REVIEW)
    response = act(client_as("unit_ent"), "return", [row], reason="请补充材料", correction_deadline=value)
    assert response.status_code == 400
    body = page(response)
    field = re.search(r'<input[^>]*name="correction_deadline"[^>]*>\s*<div class="invalid-feedback[^"]*"[^>]*>([^<]+)</div>', body)
    assert field and message in field.group(1), body[-3000:]
    assert "请补充材料" in body  # the reason typed is kept
    assert status_of(s, ENT_REVIEW) == "unit_review"
    assert one(s, "SELECT count(*) FROM review_record WHERE declaration_id = :i AND action = 'return'", i=row) == 0


def test_the_return_dialogs_ask_the_deadline(client_as, db_session):
    unit = client_as("unit_ent")
    listing = page(unit.get("/admin/declaration/"))
    dialog = re.search(r'id="review-dialog".*?</form>', listing, re.S).group(0)
    assert 'name="correction_deadline"' in dialog and 'placeholder="年-月-日 时:分' in dialog and "补正期限" in dialog
    details = page(unit.get(f"/admin/declaration/details/?id={did(db_session, ENT_REVIEW)}"))
    dialog = re.search(r'id="review-dialog".*?</form>', details, re.S).group(0)
    assert re.search(r'data-for-action="return"[^>]*>\s*<label[^>]*>补正期限', dialog)


# -- 4. 调整项目批次 -------------------------------------------------------------------------------
def second_tech_call(s, quota="[[0, 1]]") -> int:
    now = datetime.now()
    s.execute(text("INSERT INTO call (name, type, year, batch, batch_code, opens_at, closes_at, review_chain, authority_label, "
                   "authority_route, quota_rule, created_at, updated_at) VALUES (:n, 'tech_innovation', :y, '下半年', '20', :o, :c, "
                   "'[\"unit\", \"authority\", \"bureau\"]', '区县审核', 'competent', :q, :o, :o)"),
              {"n": f"{YEAR}年技术创新项目（下半年）", "y": YEAR, "o": now - timedelta(days=1), "c": now + timedelta(days=30), "q": quota})
    s.commit()
    return one(s, "SELECT id FROM call WHERE name = :n", n=f"{YEAR}年技术创新项目（下半年）")


def test_move_checks_the_target_quota_and_draws_a_number_of_the_new_batch(client_as, db_session):
    s = db_session
    target = second_tech_call(s)
    unit = client_as("unit_ent")
    row = did(s, ENT_REVIEW)
    assert act(unit, "return", [row], reason="项目批次填报错误").status_code == 302
    old_number = one(s, "SELECT number FROM declaration WHERE id = :i", i=row)
    assert old_number
    ent = client_as("applicant_ent")

    # the target's quota (上年度营业收入 of any size: 1 a batch) already taken by the unit's other row
    draft = did(s, ENT_DRAFT)
    s.execute(text("UPDATE declaration SET call_id = :c WHERE id = :i"), {"c": target, "i": row})  # the returned row counts
    s.commit()
    refused = ent.post_form(f"/admin/declaration/move/{draft}/", {"call_id": str(target)})
    assert refused.status_code == 400
    assert "超出本批次申报限额" in visible(page(refused)) and "每批最多申报 1 项" in visible(page(refused))
    assert one(s, "SELECT call_id FROM declaration WHERE id = :i", i=draft) != target
    original = one(s, "SELECT id FROM call WHERE name = :n", n=TECH)
    s.execute(text("UPDATE declaration SET call_id = :c WHERE id = :i"), {"c": original, "i": row})
    s.commit()

    # the numbered row moves: its number is redrawn in the new batch (年度 + 批次代码 20 + 区县代码 + 0001)
    region = one(s, "SELECT r.code FROM region r JOIN unit u ON u.region_id = r.id WHERE u.name = '重庆渝北智联科技有限公司'")
    moved = ent.post_form(f"/admin/declaration/move/{row}/", {"call_id": str(target)})
    assert moved.status_code == 302, page(moved)[-2000:]
    number, call_id, year = sql(s, "SELECT number, call_id, year FROM declaration WHERE id = :i", i=row)[0]
    assert call_id == target and year == YEAR
    assert number == f"{YEAR}20{region}0001" != old_number
    summary = one(s, "SELECT summary FROM audit_log WHERE table_name = 'declaration' AND row_id = :r AND summary LIKE '调整项目批次%'",
                  r=str(row))
    assert f"项目编号改为 {number}" in summary
    # the draft without a number moves without one
    s.execute(text("UPDATE call SET quota_rule = '[[0, 5]]' WHERE id = :c"), {"c": target})
    s.commit()
    assert ent.post_form(f"/admin/declaration/move/{draft}/", {"call_id": str(target)}).status_code == 302
    assert sql(s, "SELECT number, call_id FROM declaration WHERE id = :i", i=draft)[0] == (None, target)


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999", "1\x00", "-1", "我"])
def test_move_refuses_odd_targets_in_chinese(client_as, db_session, value):
    s = db_session
    draft = did(s, ENT_DRAFT)
    response = client_as("applicant_ent").post_form(f"/admin/declaration/move/{draft}/", {"call_id": value})
    assert response.status_code == 400 and "请选择一个正在申报期内的同类批次" in page(response)


def test_move_of_a_row_under_review_or_of_someone_else_is_refused(client_as, db_session):
    s = db_session
    target = second_tech_call(s, quota="[[0, 5]]")
    ent = client_as("applicant_ent")
    response = ent.post_form(f"/admin/declaration/move/{did(s, ENT_REVIEW)}/", {"call_id": str(target)}, follow_redirects=True)
    assert "只有未提交或退回中的申报书可以调整项目批次" in visible(page(response))
    assert ent.post_form(f"/admin/declaration/move/{did(s, ZHANG_DRAFT)}/", {"call_id": str(target)}).status_code == 404


# -- 5. who deletes -------------------------------------------------------------------------------
def delete(client, row: int):
    return client.post_form("/admin/declaration/delete/", {"id": str(row), "url": "/admin/declaration/"})


def test_tech_innovation_applicant_deletes_withdrawn_and_returned_rows(client_as, db_session):
    s = db_session
    ent = client_as("applicant_ent")
    row = did(s, ENT_REVIEW)
    delete(ent, row)
    assert did(s, ENT_REVIEW) == row, "under review: not deleted"
    assert act(ent, "withdraw", [row]).status_code == 302
    assert status_of(s, ENT_REVIEW) == "draft" and one(s, "SELECT number FROM declaration WHERE id = :i", i=row)
    listing = page(ent.get("/admin/declaration/"))
    assert "op-delete" in row_of(listing, row) and "确定删除" in row_of(listing, row)  # with its confirmation
    records = one(s, "SELECT count(*) FROM review_record WHERE declaration_id = :i", i=row)
    assert records >= 2
    assert delete(ent, row).status_code == 302
    s.expire_all()
    assert one(s, "SELECT count(*) FROM declaration WHERE id = :i", i=row) == 0
    assert one(s, "SELECT count(*) FROM review_record WHERE declaration_id = :i", i=row) == 0  # cascaded with it
    assert one(s, "SELECT count(*) FROM audit_log WHERE table_name = 'declaration' AND row_id = :r AND action = 'delete'", r=str(row)) == 1

    # a returned (退回企业) row goes too
    second = did(s, "工业设备预测性维护平台")
    assert act(ent, "submit", [second], reason="").status_code == 302
    assert act(client_as("unit_ent"), "return", [second], reason="重新填报").status_code == 302
    assert status_of(s, "工业设备预测性维护平台") == "returned"
    assert delete(ent, second).status_code == 302
    assert one(s, "SELECT count(*) FROM declaration WHERE id = :i", i=second) == 0


def test_research_applicant_deletes_only_what_was_never_submitted(client_as, db_session):
    s = db_session
    zhang = client_as("applicant_zhang")
    returned = did(s, ZHANG_RETURNED)
    listing = page(zhang.get("/admin/declaration/", query_string={"page_size": 100}))
    assert "op-delete" not in row_of(listing, returned)
    delete(zhang, returned)
    assert one(s, "SELECT count(*) FROM declaration WHERE id = :i", i=returned) == 1
    assert "只能删除从未提交过的申报书" in flashed(zhang)
    draft = did(s, ZHANG_DRAFT)
    assert delete(zhang, draft).status_code == 302
    assert one(s, "SELECT count(*) FROM declaration WHERE id = :i", i=draft) == 0
    # nobody else deletes: another applicant's row is not found, a reviewer has no 删除
    ent_row = did(s, ENT_DRAFT)
    assert delete(zhang, ent_row).status_code == 404
    delete(client_as("unit_ent"), did(s, ENT_REVIEW))
    assert one(s, "SELECT count(*) FROM declaration WHERE id = :i", i=did(s, ENT_REVIEW)) == 1


# -- 6. 提交成功 ---------------------------------------------------------------------------------------
def test_submitting_one_from_its_page_says_submitted_and_returns_to_the_list(client_as, db_session):
    s = db_session
    ent = client_as("applicant_ent")
    row = did(s, ENT_DRAFT)
    details = f"/admin/declaration/details/?id={row}&url=/admin/declaration/?page_size=50"
    response = act(ent, "submit", [row], url=details, reason="")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/declaration/?page_size=50")
    assert "提交成功" in flashed(ent)
    assert status_of(s, ENT_DRAFT) == "unit_review"


def test_bulk_submission_keeps_its_summary(client_as, db_session):
    s = db_session
    zhang = client_as("applicant_zhang")
    rows = [did(s, ZHANG_DRAFT), did(s, ZHANG_RETURNED)]
    response = act(zhang, "submit", rows, reason="")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/declaration/")
    message = flashed(zhang)
    assert "已提交" in message and "提交成功" not in message


# -- 7. 创业资助 / 创新资助, and 本单位的项目 ---------------------------------------------------------------
def menu(client) -> str:
    return page(client.get("/admin/"))


def test_returnee_lists_of_one_call_type_each(client_as, db_session):
    s = db_session
    zhang = client_as("applicant_zhang")
    home = menu(zhang)
    assert 'href="/admin/startup_declaration/"' in home and ">创业资助<" in home
    assert 'href="/admin/innovation_declaration/"' in home and ">创新资助<" in home
    assert 'href="/admin/declaration/"' in home  # 申报书 stays
    expected = one(s, "SELECT count(*) FROM declaration d JOIN call c ON c.id = d.call_id JOIN app_user u ON u.id = d.applicant_id "
                      "WHERE c.type = 'startup' AND u.username = 'applicant_zhang'")
    assert expected >= 1
    listing = page(zhang.get("/admin/startup_declaration/"))
    assert len(re.findall(r'name="rowid" class="action-checkbox"', listing)) == expected
    assert f"共 {expected} 条" in listing and ZHANG_DRAFT not in listing
    innovation = page(zhang.get("/admin/innovation_declaration/"))
    assert len(re.findall(r'name="rowid" class="action-checkbox"', innovation)) == 0
    # a row of another type is not there (404), nor through its actions
    assert zhang.get(f"/admin/startup_declaration/details/?id={did(s, ZHANG_DRAFT)}").status_code == 404
    startup_row = one(s, "SELECT d.id FROM declaration d JOIN call c ON c.id = d.call_id WHERE c.type = 'startup' "
                         "AND d.applicant_id = (SELECT id FROM app_user WHERE username = 'applicant_zhang')")
    assert zhang.get(f"/admin/startup_declaration/details/?id={startup_row}").status_code == 200
    assert zhang.get(f"/admin/innovation_declaration/details/?id={startup_row}").status_code == 404


def test_returnee_create_offers_only_calls_of_its_type(client_as, db_session):
    s = db_session
    now = datetime.now()
    s.execute(text("UPDATE call SET closes_at = :c WHERE name = :n"), {"c": now + timedelta(days=5), "n": STARTUP})
    s.commit()
    zhang = client_as("applicant_zhang")
    form = page(zhang.get("/admin/startup_declaration/new/"))
    assert STARTUP in form and RESEARCH not in form and TECH not in form
    startup = one(s, "SELECT id FROM call WHERE name = :n", n=STARTUP)
    research = one(s, "SELECT id FROM call WHERE name = :n", n=RESEARCH)
    refused = zhang.post_form("/admin/startup_declaration/new/", {"call": str(research), "name": "不该进创业资助的科研申报"})
    assert refused.status_code == 200 and one(s, "SELECT count(*) FROM declaration WHERE name = '不该进创业资助的科研申报'") == 0
    saved = zhang.post_form("/admin/startup_declaration/new/", {"call": str(startup), "name": "留学人员创业资助申报"})
    assert saved.status_code == 302
    assert one(s, "SELECT c.type FROM declaration d JOIN call c ON c.id = d.call_id WHERE d.name = '留学人员创业资助申报'") == "startup"
    innovation_form = page(zhang.get("/admin/innovation_declaration/new/"))
    assert STARTUP not in innovation_form and RESEARCH not in innovation_form


@pytest.mark.parametrize("account", ["applicant_ent", "unit_cqu", "bureau", "authority_yb"])
def test_returnee_lists_are_only_for_applicants_with_the_module(client_as, account):
    client = client_as(account)
    assert 'href="/admin/startup_declaration/"' not in menu(client)
    assert client.get("/admin/startup_declaration/").status_code == 404
    assert client.get("/admin/innovation_declaration/").status_code == 404


def test_unit_side_calls_the_list_its_units_projects(client_as):
    for account in ("unit_cqu", "dept_cqu_se"):
        client = client_as(account)
        home = menu(client)
        assert re.search(r'href="/admin/declaration/"[^>]*>\s*本单位的项目\s*</a>', home), account
        listing = page(client.get("/admin/declaration/"))
        assert re.search(r'<h1 class="page-title">本单位的项目</h1>', listing), account
    bureau = menu(client_as("bureau"))
    assert re.search(r'href="/admin/declaration/"[^>]*>\s*申报书\s*</a>', bureau)


@pytest.mark.parametrize("query", [
    {"flt0_0": "returned\x00"}, {"flt0_0": "no_such_state"}, {"page": "9" * 30}, {"search": "\x00"},
])
def test_hostile_list_input_on_the_new_lists_is_no_500(client_as, query):
    zhang = client_as("applicant_zhang")
    for endpoint in ("startup_declaration", "innovation_declaration", "declaration"):
        assert zhang.get(f"/admin/{endpoint}/", query_string=query).status_code == 200


def test_hostile_ids_on_the_new_lists_are_404(client_as):
    zhang = client_as("applicant_zhang")
    for value in ("99999999999999999999", "abc", "1\x00", "-5"):
        assert zhang.get("/admin/startup_declaration/details/", query_string={"id": value}).status_code == 404


def test_the_engine_checks_what_a_transition_asks_without_a_form(db_session):
    """A caller without the dialog (an import, a script) cannot skip the 补正期限 rule."""
    from models import User
    from rules import scope, transitions, workflow

    s = db_session
    unit = s.scalars(select(User).where(User.username == "unit_ent")).one()
    p = scope.Principal.of(unit)
    row = did(s, ENT_REVIEW)
    outcome = transitions.apply(s, p, workflow.DECLARATION, [row], "return", "请补充",
                                data={"correction_deadline": datetime.now() - timedelta(days=1)})
    s.rollback()
    assert outcome.skipped == [(ENT_REVIEW, "补正期限应晚于当前时间")] and status_of(s, ENT_REVIEW) == "unit_review"
    values, errors = transitions.read_asks(workflow.BY_ACTION["return"], {"correction_deadline": "2030-06-30T17:00"})
    assert values == {"correction_deadline": datetime(2030, 6, 30, 17, 0)} and errors == {}
    assert transitions.read_asks(workflow.BY_ACTION["return"], {}) == ({"correction_deadline": None}, {})  # optional
