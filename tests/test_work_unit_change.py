"""工作单位 changes (issue #12 A): decided by the DESTINATION unit's admin, who sees only the
person's 个人信息 row meanwhile; the old unit is told by 消息. Black-box through the admin, with
plain SQL as the oracle."""
from __future__ import annotations

import re

from tests.form_helpers import edit, one, sql

NEW_POSITION = "研究员"


def person_id(db_session, username: str) -> int:
    return one(db_session, "SELECT p.id FROM person p JOIN app_user u ON u.id = p.user_id WHERE u.username = :u", u=username)


def unit_id(db_session, name: str) -> int:
    return one(db_session, "SELECT id FROM unit WHERE name = :n", n=name)


def person_row(db_session, pid: int):
    return sql(db_session, "SELECT unit_id, pending_unit_id, review_status, secondary_unit_id, position FROM person WHERE id = :i", i=pid)[0]


def messages(db_session, username: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in sql(db_session, "SELECT m.subject, m.body FROM message m JOIN app_user u ON u.id = m.user_id "
                                              "WHERE u.username = :u AND m.kind = 'person_unit_change' ORDER BY m.id", u=username)]


def body(response) -> str:
    return response.get_data(as_text=True)


def acted(client, action: str, ids, **fields) -> str:
    """Post a row action on the person list; the flashed outcome, as the next page shows it."""
    response = client.action("person", action, ids, **fields)
    assert response.status_code in (200, 302), response.status_code
    return re.sub(r"\s+", " ", body(client.get("/admin/person/")))


def move(client_as, db_session, username: str, unit_name: str, **more):
    pid = person_id(db_session, username)
    response = edit(client_as(username), f"/admin/person/edit/?id={pid}", unit_name=unit_name, **more)
    assert response.status_code in (200, 302), response.status_code
    return pid


def test_the_destination_admin_sees_and_approves_a_move(client_as, db_session):
    cqu, swu = unit_id(db_session, "重庆大学"), unit_id(db_session, "西南大学")
    li = move(client_as, db_session, "applicant_li", "西南大学", position=NEW_POSITION)
    assert tuple(person_row(db_session, li))[:3] == (cqu, swu, "pending")  # approved values in force, destination noted

    swu_admin = client_as("unit_swu")
    assert "李娜" in body(swu_admin.get("/admin/person/"))
    details = swu_admin.get(f"/admin/person/details/?id={li}")
    assert details.status_code == 200 and "西南大学" in body(details) and NEW_POSITION in body(details)

    assert "已审核通过 1 条" in acted(swu_admin, "approve", [li])
    unit_now, pending_now, status_now, secondary_now, position_now = person_row(db_session, li)
    assert (unit_now, pending_now, status_now, secondary_now, position_now) == (swu, None, "approved", None, NEW_POSITION)
    assert one(db_session, "SELECT unit_id FROM app_user WHERE username = 'applicant_li'") == swu  # the account follows

    told = messages(db_session, "unit_cqu")
    assert len(told) == 2 and "申请" in told[0][0] and "审核通过" in told[1][0] and "西南大学" in told[1][1]
    assert [s for s, _ in messages(db_session, "applicant_li")] == ["工作单位变更审核通过：李娜"]
    assert messages(db_session, "unit_swu") == []  # the destination decides; it is not "told"


def test_the_old_unit_cannot_decide_a_move_and_is_told(client_as, db_session):
    cqu, swu = unit_id(db_session, "重庆大学"), unit_id(db_session, "西南大学")
    li = move(client_as, db_session, "applicant_li", "西南大学")
    before = tuple(person_row(db_session, li))
    old = client_as("unit_cqu")
    assert "李娜" in body(old.get("/admin/person/"))  # still its person until the move is approved
    for action, fields in (("approve", {}), ("reject", {"reason": "不同意调出"})):
        assert "应由调入单位（西南大学）的单位管理员审核" in acted(old, action, [li], **fields)
        assert tuple(person_row(db_session, li)) == before
    assert before[:3] == (cqu, swu, "pending")
    told = messages(db_session, "unit_cqu")
    assert len(told) == 1 and told[0][0] == "工作单位变更申请：李娜" and "重庆大学" in told[0][1] and "西南大学" in told[0][1]


def test_the_destination_sees_nothing_else_of_the_person_before_approval(client_as, db_session):
    li = move(client_as, db_session, "applicant_li", "西南大学")
    li_user = one(db_session, "SELECT id FROM app_user WHERE username = 'applicant_li'")
    declarations = sql(db_session, "SELECT id, name FROM declaration WHERE applicant_id = :u AND status <> 'draft'", u=li_user)
    assert declarations
    swu_admin = client_as("unit_swu")
    listing = body(swu_admin.get("/admin/declaration/"))
    for did, name in declarations:  # nor their members, budgets, attachments (shown with the declaration)
        assert name not in listing
        assert swu_admin.get(f"/admin/declaration/details/?id={did}").status_code == 404
    assert "applicant_li" not in body(swu_admin.get("/admin/user/"))
    # the one row it sees: the person, with the approved values and the change side by side
    assert swu_admin.get(f"/admin/person/details/?id={li}").status_code == 200
    seen = sql(db_session, "SELECT COUNT(*) FROM person WHERE pending_unit_id = :s", s=unit_id(db_session, "西南大学"))[0][0]
    assert seen == 1


def test_the_destination_rejects_and_the_move_is_forgotten(client_as, db_session):
    cqu = unit_id(db_session, "重庆大学")
    li = move(client_as, db_session, "applicant_li", "西南大学")
    swu_admin = client_as("unit_swu")
    assert "已审核不通过 1 条" in acted(swu_admin, "reject", [li], reason="本单位无此岗位")
    unit_now, pending_now, status_now, *_ = person_row(db_session, li)
    assert (unit_now, pending_now, status_now) == (cqu, None, "rejected")
    assert swu_admin.get(f"/admin/person/details/?id={li}").status_code == 404  # no longer the destination's
    told = messages(db_session, "applicant_li")
    assert len(told) == 1 and "审核不通过" in told[0][0] and "本单位无此岗位" in told[0][1]
    assert len(messages(db_session, "unit_cqu")) == 2


def test_going_back_to_the_old_unit_withdraws_the_move(client_as, db_session):
    cqu = unit_id(db_session, "重庆大学")
    wang = move(client_as, db_session, "applicant_wang", "西南大学")  # 计算机学院, nothing else waiting
    assert client_as("unit_swu").get(f"/admin/person/details/?id={wang}").status_code == 200
    move(client_as, db_session, "applicant_wang", "重庆大学")
    unit_now, pending_now, status_now, *_ = person_row(db_session, wang)
    assert (unit_now, pending_now, status_now) == (cqu, None, "approved")
    assert client_as("unit_swu").get(f"/admin/person/details/?id={wang}").status_code == 404


def test_a_change_without_a_new_unit_stays_with_the_old_reviewers(client_as, db_session):
    li = move(client_as, db_session, "applicant_li", "重庆大学", position=NEW_POSITION)
    assert person_row(db_session, li)[1] is None
    assert client_as("unit_swu").get(f"/admin/person/details/?id={li}").status_code == 404
    assert "已审核通过 1 条" in acted(client_as("unit_cqu"), "approve", [li])
    assert messages(db_session, "unit_cqu") == []


def test_a_person_in_a_secondary_unit_moves_by_the_destination_not_the_dept(client_as, db_session):
    swu = unit_id(db_session, "西南大学")
    zhang = move(client_as, db_session, "applicant_zhang", "西南大学")
    assert "应由调入单位（西南大学）的单位管理员审核" in acted(client_as("dept_cqu_se"), "approve", [zhang])
    assert person_row(db_session, zhang)[2] == "pending"
    client_as("unit_swu").action("person", "approve", [zhang])
    unit_now, pending_now, status_now, secondary_now, _ = person_row(db_session, zhang)
    assert (unit_now, pending_now, status_now, secondary_now) == (swu, None, "approved", None)
