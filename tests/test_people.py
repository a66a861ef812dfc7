"""个人信息 and 个人信息审核 (seed 000 §2.4–2.5): own edits, review routing, compare-and-set review."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from models import AuditLog, DictItem, Person, ReviewStatus, SecondaryUnit, User
from rules import people
from rules.scope import Principal
from tests.form_helpers import edit, field_errors, form_data, row


def person_of(db_session, username) -> Person:
    db_session.expire_all()
    return db_session.scalar(select(Person).join(User, User.id == Person.user_id).where(User.username == username))


def dict_id(db_session, category, name):
    return db_session.scalar(select(DictItem.id).where(DictItem.category == category, DictItem.name == name))


def snapshot(db_session, pid):
    db_session.expire_all()
    return {c.key: getattr(db_session.get(Person, pid), c.key) for c in Person.__table__.columns}


def principal(db_session, username):
    return Principal.of(db_session.scalar(select(User).where(User.username == username)))


def own_edit(client, db_session, username, **changes):
    person = person_of(db_session, username)
    return edit(client, f"/admin/person/edit/?id={person.id}", **changes)


# -- 个人信息 ---------------------------------------------------------------------------------
def test_my_person_link_opens_own_record(client_as, db_session):
    response = client_as("applicant_wang").get("/admin/my_person/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/person/details/?id={person_of(db_session, 'applicant_wang').id}")


def test_my_person_is_created_for_an_account_without_one(client_as, db_session):
    assert client_as("authority_yb").get("/admin/my_person/").status_code == 404  # authorities keep no person record
    user = row(db_session, User, username="reg_yb")
    assert person_of(db_session, "reg_yb") is None
    response = client_as("reg_yb").get("/admin/my_person/")
    assert response.status_code == 302
    created = person_of(db_session, "reg_yb")
    assert created.name == user.name and created.id_no == user.id_no and created.birth_date == date(int(user.id_no[6:10]), int(user.id_no[10:12]), int(user.id_no[12:14]))


def test_plain_fields_save_at_once_reviewed_fields_wait(client_as, db_session):
    wang = person_of(db_session, "applicant_wang")
    old_title, old_position = wang.title_id, wang.position
    zheng = dict_id(db_session, "title", "正高")
    response = own_edit(client_as("applicant_wang"), db_session, "applicant_wang", qq="123456789", major="人工智能", title=str(zheng), position="教授")
    assert response.status_code == 302
    wang = person_of(db_session, "applicant_wang")
    assert (wang.qq, wang.major) == ("123456789", "人工智能")  # in force at once
    assert (wang.title_id, wang.position) == (old_title, old_position)  # approved values stay
    assert wang.review_status == ReviewStatus.pending
    assert wang.pending_changes == {"title_id": zheng, "position": "教授"}


def test_only_plain_fields_changed_needs_no_review(client_as, db_session):
    response = own_edit(client_as("applicant_wang"), db_session, "applicant_wang", wechat="wang_cq")
    assert response.status_code == 302
    wang = person_of(db_session, "applicant_wang")
    assert wang.wechat == "wang_cq" and wang.review_status == ReviewStatus.approved and wang.pending_changes is None


def test_form_shows_the_waiting_values(client_as, db_session):
    page = client_as("applicant_zhang").get(f"/admin/person/edit/?id={person_of(db_session, 'applicant_zhang').id}").get_data(as_text=True)
    data = form_data(page)
    assert data["position"] == "教授" and data["title"] == str(dict_id(db_session, "title", "正高"))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"id_no": "500103198001013517"}, "身份证号码校验位不正确"),
        ({"id_no": ""}, "请填写证件号码"),
        ({"mobile": "1390000001"}, "请输入 11 位手机号码"),
        ({"email": "wang@cqu"}, "请输入正确的电子邮箱"),
        ({"unit_name": "重庆"}, "未找到该单位"),
    ],
)
def test_bad_person_input_keeps_what_was_typed_and_changes_nothing(client_as, db_session, changes, message):
    wang = person_of(db_session, "applicant_wang")
    before = snapshot(db_session, wang.id)
    typed = {"qq": "987654321", **changes}
    response = own_edit(client_as("applicant_wang"), db_session, "applicant_wang", **typed)
    assert response.status_code == 200
    assert any(message in e for e in field_errors(response)), re.findall(r'alert-[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    kept = form_data(response.get_data(as_text=True))
    assert all(kept[k] == v for k, v in typed.items())
    assert snapshot(db_session, wang.id) == before


def test_a_person_cannot_edit_someone_else(client_as, db_session):
    zhang = person_of(db_session, "applicant_zhang")
    before = snapshot(db_session, zhang.id)
    for username in ("applicant_wang", "dept_cqu_se", "unit_cqu"):
        client = client_as(username)
        assert client.get(f"/admin/person/edit/?id={zhang.id}").status_code == 404
        assert client.post_form(f"/admin/person/edit/?id={zhang.id}", {"name": "改名"}).status_code == 404
    assert snapshot(db_session, zhang.id) == before


# -- routing ------------------------------------------------------------------------------------
def test_person_in_a_secondary_unit_goes_to_its_manager_not_the_legal_unit(client_as, db_session):
    zhang = person_of(db_session, "applicant_zhang")
    assert zhang.secondary_unit_id is not None and zhang.review_status == ReviewStatus.pending
    refused = client_as("unit_cqu").action("person", "approve", [zhang.id])
    assert refused.status_code == 302
    assert "应由二级单位管理员审核" in client_as("unit_cqu").get("/admin/person/").get_data(as_text=True)
    assert person_of(db_session, "applicant_zhang").review_status == ReviewStatus.pending
    client_as("dept_cqu_se").action("person", "approve", [zhang.id])
    zhang = person_of(db_session, "applicant_zhang")
    assert zhang.review_status == ReviewStatus.approved
    assert zhang.title_id == dict_id(db_session, "title", "正高") and zhang.position == "教授" and zhang.pending_changes is None


def test_person_without_a_secondary_unit_goes_to_the_legal_unit(client_as, db_session):
    li = person_of(db_session, "applicant_li")
    assert li.secondary_unit_id is None and li.review_status == ReviewStatus.pending
    client_as("dept_cqu_se").action("person", "approve", [li.id])
    refused = client_as("dept_cqu_se").get("/admin/person/").get_data(as_text=True)
    assert "记录不存在或不在您的数据范围内" in refused and "李娜" not in refused  # not even in its scope
    assert person_of(db_session, "applicant_li").review_status == ReviewStatus.pending
    client_as("unit_cqu").action("person", "approve", [li.id])
    li = person_of(db_session, "applicant_li")
    assert li.review_status == ReviewStatus.approved and li.position == "副教授"


def test_the_manager_own_change_goes_to_the_legal_unit(client_as, db_session):
    manager = person_of(db_session, "dept_cqu_se")
    own_edit(client_as("dept_cqu_se"), db_session, "dept_cqu_se", position="副院长")
    assert people.approve(db_session, principal(db_session, "dept_cqu_se"), manager.id) == "应由单位管理员审核"
    db_session.rollback()
    assert people.approve(db_session, principal(db_session, "unit_cqu"), manager.id) is None
    db_session.commit()
    assert person_of(db_session, "dept_cqu_se").position == "副院长"


def test_todo_counts_follow_the_routing(client_as, db_session):
    from sqlalchemy import and_, func

    for username in ("unit_cqu", "dept_cqu_se"):
        p = principal(db_session, username)
        expected = db_session.scalar(select(func.count()).select_from(Person).where(and_(Person.review_status == ReviewStatus.pending, people.reviewed_by(p))))
        page = client_as(username).get("/admin/").get_data(as_text=True)
        assert "个人信息待审核" in page
        assert re.search(rf"个人信息待审核.*?{expected}", page, re.S)


# -- 审核不通过, correction, resubmission -------------------------------------------------
def test_reject_needs_a_reason_and_the_person_sees_it_and_resubmits(client_as, db_session):
    li = person_of(db_session, "applicant_li")
    reviewer = client_as("unit_cqu")
    confirm = reviewer.action("person", "reject", [li.id])
    assert confirm.status_code == 200 and "驳回原因" in confirm.get_data(as_text=True)
    empty = reviewer.action("person", "reject", [li.id], reason="  ")
    assert empty.status_code == 400 and "请填写驳回原因" in empty.get_data(as_text=True)
    assert person_of(db_session, "applicant_li").review_status == ReviewStatus.pending
    reviewer.action("person", "reject", [li.id], reason="职称证书未上传")
    li = person_of(db_session, "applicant_li")
    assert (li.review_status, li.review_reason) == (ReviewStatus.rejected, "职称证书未上传")
    assert li.position != "副教授"  # the refused change is not in force
    page = client_as("applicant_li").get(f"/admin/person/details/?id={li.id}").get_data(as_text=True)
    assert "审核不通过" in page and "职称证书未上传" in page
    response = own_edit(client_as("applicant_li"), db_session, "applicant_li", position="讲师")
    assert response.status_code == 302
    li = person_of(db_session, "applicant_li")
    assert li.review_status == ReviewStatus.pending and li.pending_changes["position"] == "讲师" and li.review_reason is None


def test_bulk_review_reports_done_and_skipped(client_as, db_session):
    unit = person_of(db_session, "unit_cqu").unit_id
    p = principal(db_session, "unit_cqu")
    pending = db_session.scalars(select(Person.id).where(Person.review_status == ReviewStatus.pending, people.reviewed_by(p))).all()
    approved = db_session.scalars(select(Person.id).where(Person.unit_id == unit, Person.review_status == ReviewStatus.approved, Person.secondary_unit_id.is_(None))).all()
    assert pending and approved
    client = client_as("unit_cqu")
    client.action("person", "approve", [*pending, approved[0]])
    message = client.get("/admin/person/").get_data(as_text=True)
    assert f"已审核通过 {len(pending)} 条，跳过 1 条" in message and "当前状态为“审核已通过”，不能审核通过" in message
    db_session.expire_all()
    assert all(db_session.get(Person, i).review_status == ReviewStatus.approved for i in pending)


def test_review_is_compare_and_set(db_session):
    li = person_of(db_session, "applicant_li")
    first = principal(db_session, "unit_cqu")
    assert people.approve(db_session, first, li.id) is None
    assert people.reject(db_session, first, li.id, "晚到的驳回") == "当前状态为“审核已通过”，不能审核不通过"
    db_session.commit()
    assert person_of(db_session, "applicant_li").review_status == ReviewStatus.approved


def test_id_number_change_moves_the_birth_date_on_approval(client_as, db_session):
    wang = person_of(db_session, "applicant_wang")
    own_edit(client_as("applicant_wang"), db_session, "applicant_wang", id_no="11010519491231002X")
    wang = person_of(db_session, "applicant_wang")
    assert wang.id_no != "11010519491231002X" and wang.pending_changes == {"id_no": "11010519491231002X"}
    dept = db_session.get(SecondaryUnit, wang.secondary_unit_id)
    client_as("dept_cqu_cs").action("person", "approve", [wang.id])
    wang = person_of(db_session, "applicant_wang")
    assert wang.id_no == "11010519491231002X" and wang.birth_date == date(1949, 12, 31), dept.name


def test_details_show_old_and_new_side_by_side(client_as, db_session):
    zhang = person_of(db_session, "applicant_zhang")
    page = client_as("dept_cqu_se").get(f"/admin/person/details/?id={zhang.id}").get_data(as_text=True)
    table = re.search(r'id="pending-changes".*?</table>', page, re.S).group(0)
    assert "当前信息（已生效）" in table and "修改后信息" in table
    assert re.search(r"<td>职称</td><td>副高</td><td>正高</td>", table)
    assert re.search(r"<td>职务</td><td>教师</td><td>教授</td>", table)
    assert 'id="approve-person"' in page and 'id="reject-person"' in page
    assert 'id="approve-person"' not in client_as("unit_cqu").get(f"/admin/person/details/?id={zhang.id}").get_data(as_text=True)


def test_approval_is_audited_with_before_and_after(client_as, db_session):
    li = person_of(db_session, "applicant_li")
    client_as("unit_cqu").action("person", "approve", [li.id])
    log = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "person", AuditLog.row_id == str(li.id))).all()[-1]
    assert log.username == "unit_cqu" and log.before["review_status"] == "pending"
    assert log.after["review_status"] == "approved" and log.after["position"] == "副教授"


def test_own_edit_is_audited(client_as, db_session):
    wang = person_of(db_session, "applicant_wang")
    own_edit(client_as("applicant_wang"), db_session, "applicant_wang", qq="123456789")
    log = db_session.scalars(select(AuditLog).where(AuditLog.table_name == "person", AuditLog.row_id == str(wang.id))).all()[-1]
    assert log.after["qq"] == "123456789" and "qq" in log.before


def test_another_unit_cannot_see_or_review_our_people(client_as, db_session):
    zhang, li = person_of(db_session, "applicant_zhang"), person_of(db_session, "applicant_li")
    for username in ("unit_swu", "unit_ent"):
        client = client_as(username)
        assert client.get(f"/admin/person/details/?id={li.id}").status_code == 404
        client.action("person", "approve", [li.id])
        assert "记录不存在或不在您的数据范围内" in client.get("/admin/person/").get_data(as_text=True)
        client.action("person", "reject", [zhang.id], reason="越权")
        assert "记录不存在或不在您的数据范围内" in client.get("/admin/person/").get_data(as_text=True)
        listed = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', client.get("/admin/person/?page_size=100").get_data(as_text=True))
        assert listed and str(li.id) not in listed and str(zhang.id) not in listed
    assert person_of(db_session, "applicant_li").review_status == ReviewStatus.pending
    assert person_of(db_session, "applicant_zhang").review_status == ReviewStatus.pending


def test_review_list_filters(client_as, db_session):
    zhang = person_of(db_session, "applicant_zhang")
    client = client_as("dept_cqu_se")
    page = client.get("/admin/person/", query_string={"flt0_0": zhang.name, "flt1_5": "pending"}).get_data(as_text=True)
    assert zhang.id_no in page
    page = client.get("/admin/person/", query_string={"flt0_1": zhang.id_no[-6:]}).get_data(as_text=True)
    assert re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page) == [str(zhang.id)]
    page = client.get("/admin/person/", query_string={"flt0_4": "2024-02-01 00:00:00 to 2024-02-01 23:59:59"}).get_data(as_text=True)
    assert str(zhang.id) in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)


# -- in the browser (screenshots go to $SCREENSHOT_DIR when set) ---------------------------
from tests.test_org import browser_login, shot  # noqa: E402
from tests.test_browser import live_server, page  # noqa: E402,F401


@pytest.mark.browser
@pytest.mark.parametrize("username", ["dept_cqu_se", "unit_cqu"])
def test_reviewer_rejects_with_a_reason_in_the_browser(live_server, page, tmp_path, db_session, username):  # noqa: F811
    target = person_of(db_session, "applicant_zhang" if username == "dept_cqu_se" else "applicant_li")
    browser_login(page, live_server, username)
    page.goto(f"{live_server}/admin/person/?flt0_5=pending")
    assert target.name in page.content()
    shot(page, tmp_path, f"person-review-list-{username}")
    page.goto(f"{live_server}/admin/person/details/?id={target.id}")
    assert page.locator("#pending-changes").is_visible()
    shot(page, tmp_path, f"person-review-details-{username}")
    page.click("#reject-person")
    page.fill("#reason", "请上传职称证书")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{live_server}/admin/person/**")
    assert "已审核不通过 1 条" in page.content()
    assert person_of(db_session, target.user.username).review_status == ReviewStatus.rejected


def test_the_todo_link_lists_exactly_what_the_reviewer_decides(client_as, db_session):
    from sqlalchemy import and_

    for username in ("unit_cqu", "dept_cqu_se"):
        p = principal(db_session, username)
        expected = {str(i) for i in db_session.scalars(select(Person.id).where(and_(Person.review_status == ReviewStatus.pending, people.reviewed_by(p))))}
        page = client_as(username).get("/admin/person/", query_string={"flt0_5": "pending", "flt1_6": "1", "page_size": 100}).get_data(as_text=True)
        assert set(re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)) == expected
        assert "审核单位" in page


def test_an_approved_id_number_and_unit_follow_into_the_account(client_as, db_session):
    li = person_of(db_session, "applicant_li")
    own_edit(client_as("applicant_li"), db_session, "applicant_li", id_no="11010519491231002X", unit_name="西南大学")
    client_as("unit_swu").action("person", "approve", [li.id])  # a new 工作单位: the destination decides
    account = row(db_session, User, username="applicant_li")
    swu = db_session.scalar(select(Person.unit_id).join(User, User.id == Person.user_id).where(User.username == "unit_swu"))
    assert (account.id_no, account.unit_id) == ("11010519491231002X", swu)
    assert person_of(db_session, "applicant_li").unit_id == swu
