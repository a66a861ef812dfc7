"""Every transition of every table, generated from the tables themselves: the right account (role and
level) succeeds once, every other demo account is refused in Chinese and nothing changes, one
review record and one audit row are written, and the same request again is refused.

The expectations — which demo row, who may act, where it goes — are written by hand from the
manuals (seed 000–004) below; the parametrisation comes from the engine's tables, so a transition
added without an expectation fails here.
"""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from models import (
    AccountStatus, AnnualReport, ChangeStatus, AuditLog, Declaration, Enterprise, EnterpriseRename, EnterpriseReview, LegacyProject, Person, ProgressReport, Region,
    RegistrationRoute,
    ReviewLog, ReviewRecord, Role, Unit, UnitChange, UnitRegistration, User,
)
from rules import permissions, transitions
from rules.scope import Principal

CJK = re.compile(r"[\u4e00-\u9fff]")
YEAR = datetime.now().year

# machine → (how to find its demo row, extra values the row needs for the transition's guards)
DRAFT_ZHANG = "基于大模型的软件缺陷智能检测方法研究"  # 张伟, 软件学院 of 重庆大学 (chain 部门→单位→主管部门→科技局)
ROWS = {
    "declaration": lambda s: s.scalar(select(Declaration.id).where(Declaration.name == DRAFT_ZHANG)),
    "progress_report": lambda s: s.scalar(select(ProgressReport.id).join(Declaration).where(
        Declaration.name == "工业互联网标识解析平台", ProgressReport.period == f"{YEAR}年第二季度")),
    # 项目下达 (issue 14): an approved project of last year's 科研项目, not yet 下达 and without 调度填报
    "declaration_release": lambda s: s.scalar(select(Declaration.id).where(Declaration.name == "软件自动化测试关键技术研究")),
    "enterprise": lambda s: s.scalar(select(Enterprise.id).where(Enterprise.name == "重庆渝北智联科技有限公司")),
    "annual_report": lambda s: s.scalar(select(AnnualReport.id).join(Enterprise).where(
        Enterprise.name == "重庆渝北智联科技有限公司").order_by(AnnualReport.year.desc()).limit(1)),
    "person": lambda s: s.scalar(select(Person.id).join(User, User.id == Person.user_id).where(User.username == "applicant_li")),
    "unit_registration": lambda s: s.scalar(select(UnitRegistration.id).join(Unit, Unit.id == UnitRegistration.unit_id).where(
        Unit.name == "重庆渝北星河电子有限公司")),
}


def _unit_change(s) -> int:
    """智联科技 (渝北区, 非公有制经济) asks to move to 江北区: the receiving district decides."""
    unit = s.scalars(select(Unit).where(Unit.name == "重庆渝北智联科技有限公司")).one()
    jb = s.scalar(select(Region.id).where(Region.name == "江北区"))
    row = UnitChange(unit_id=unit.id, requested_by_id=s.scalar(select(User.id).where(User.username == "unit_ent")),
                     changes={"region_id": jb}, old_values={"region_id": unit.region_id}, reviewer_region_id=jb,
                     status=ChangeStatus.pending)
    s.add(row)
    s.commit()
    return row.id


ROWS["unit_change"] = _unit_change
# 老项目认领 (issue 14): 微服务开发平台 carries 渝北智联's credit code; unit_ent's claim waits for 渝北区
ROWS["legacy_project"] = lambda s: s.scalar(select(LegacyProject.id).where(LegacyProject.number == "201931001087"))
# 企业更名 (issue 14): 渝北智联's request with its proof, waiting for 渝北区
ROWS["enterprise_rename"] = lambda s: s.scalar(select(EnterpriseRename.id).where(EnterpriseRename.new_name == "重庆渝北智联数字科技股份有限公司"))


def _pending_account(s, id_no=None) -> int:
    """A 填报用户 who registered under 重庆大学 and waits for its admin (seed 004 授权)."""
    unit = s.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    user = User(username="liuyang_wait", name="刘洋", password_hash="x", role=Role.applicant, unit_id=unit,
                status=AccountStatus.pending, modules=[], id_no=id_no)
    s.add(user)
    s.commit()
    return user.id


def _pending_account_matching_a_person(s) -> int:
    person = s.scalars(select(Person).join(Unit, Unit.id == Person.unit_id).where(
        Unit.name == "重庆大学", Person.user_id.is_(None), Person.id_no.is_not(None)).order_by(Person.id).limit(1)).one()
    return _pending_account(s, person.id_no)


ROWS["app_user"] = _pending_account
PERSON_ZHANG = lambda s: s.scalar(select(Person.id).join(User, User.id == Person.user_id).where(User.username == "applicant_zhang"))  # noqa: E731

# (machine, action, from state) → (who may take it, where it goes[, another row than ROWS'])
FIRST = {"applicant_zhang"}
EXPECTED = {
    ("declaration", "submit", "draft"): (FIRST, "dept_review"),
    ("declaration", "submit", "returned"): (FIRST, "dept_review"),
    ("declaration", "withdraw", "dept_review"): (FIRST, "draft"),  # nobody has acted yet
    ("declaration", "withdraw", "unit_review"): (set(), None),  # the department already approved
    ("declaration", "withdraw", "authority_review"): (set(), None),
    ("declaration", "withdraw", "bureau_review"): (set(), None),
    ("declaration", "approve", "dept_review"): ({"dept_cqu_se"}, "unit_review"),
    ("declaration", "approve", "unit_review"): ({"unit_cqu"}, "authority_review"),
    ("declaration", "approve", "authority_review"): ({"authority_jw"}, "bureau_review"),  # 市教委, 重庆大学's competent department
    ("declaration", "approve", "bureau_review"): ({"bureau"}, "approved"),
    ("declaration", "return", "dept_review"): ({"dept_cqu_se"}, "returned"),
    ("declaration", "return", "unit_review"): ({"unit_cqu"}, "returned"),
    ("declaration", "return", "authority_review"): ({"authority_jw"}, "returned"),
    ("declaration", "return", "bureau_review"): ({"bureau"}, "returned"),
    ("declaration", "reject", "bureau_review"): ({"bureau"}, "rejected"),
    ("declaration_release", "release", "pending"): ({"bureau"}, "released"),  # the city 下达s (seed 003)
    ("declaration_release", "revoke", "released"): ({"bureau"}, "pending"),
    ("progress_report", "submit", "draft"): ({"applicant_ent"}, "submitted"),
    ("progress_report", "submit", "returned"): ({"applicant_ent"}, "submitted"),
    ("progress_report", "approve", "submitted"): ({"authority_yb", "bureau"}, "approved"),
    ("progress_report", "return", "submitted"): ({"authority_yb", "bureau"}, "returned"),
    ("enterprise", "approve", "pending"): ({"authority_yb"}, "approved"),
    ("enterprise", "reject", "pending"): ({"authority_yb"}, "rejected"),
    ("enterprise", "submit", "rejected"): ({"unit_ent", "applicant_ent"}, "pending"),
    ("annual_report", "submit", "draft"): ({"unit_ent", "applicant_ent"}, "district_review"),
    ("annual_report", "submit", "district_rejected"): ({"unit_ent", "applicant_ent"}, "district_review"),
    ("annual_report", "submit", "city_rejected"): ({"unit_ent", "applicant_ent"}, "district_review"),
    ("annual_report", "approve", "district_review"): ({"authority_yb"}, "city_review"),
    ("annual_report", "approve", "city_review"): ({"bureau"}, "approved"),
    ("annual_report", "reject", "district_review"): ({"authority_yb"}, "district_rejected"),
    ("annual_report", "reject", "city_review"): ({"bureau"}, "city_rejected"),
    ("person", "submit", "approved"): ({"applicant_li", "sysadmin"}, "pending"),
    ("person", "submit", "pending"): ({"applicant_li", "sysadmin"}, "pending"),
    ("person", "submit", "rejected"): ({"applicant_li", "sysadmin"}, "pending"),
    ("person", "withdraw", "pending"): ({"applicant_li", "sysadmin"}, "approved"),
    ("person", "withdraw", "rejected"): ({"applicant_li", "sysadmin"}, "approved"),
    ("person", "approve", "pending"): ({"unit_cqu"}, "approved"),  # 李娜 has no secondary unit
    ("person", "reject", "pending"): ({"unit_cqu"}, "rejected"),
    ("unit_registration", "submit", "rejected"): ({"reg_yb2"}, "pending"),
    ("unit_registration", "approve", "pending"): ({"authority_yb"}, "approved"),  # 非公有制经济 → 参保地区县
    ("unit_registration", "reject", "pending"): ({"authority_yb"}, "rejected"),
    ("unit_change", "approve", "pending"): ({"authority_jb"}, "approved"),  # the receiving district, not 渝北区
    ("unit_change", "reject", "pending"): ({"authority_jb"}, "rejected"),
    ("unit_change", "withdraw", "pending"): ({"unit_ent"}, "withdrawn"),
    ("legacy_project", "claim", "unclaimed"): ({"unit_ent", "applicant_ent"}, "pending"),  # the enterprise of the credit code
    ("legacy_project", "claim", "rejected"): ({"unit_ent", "applicant_ent"}, "pending"),
    ("legacy_project", "withdraw", "pending"): ({"unit_ent", "applicant_ent"}, "unclaimed"),
    ("legacy_project", "approve", "pending"): ({"authority_yb"}, "claimed"),  # the claiming enterprise's district
    ("legacy_project", "reject", "pending"): ({"authority_yb"}, "rejected"),
    ("enterprise_rename", "submit", "draft"): ({"unit_ent", "applicant_ent"}, "pending"),  # the enterprise itself
    ("enterprise_rename", "submit", "returned"): ({"unit_ent", "applicant_ent"}, "pending"),
    ("enterprise_rename", "approve", "pending"): ({"authority_yb"}, "approved"),  # the enterprise's district
    ("enterprise_rename", "return", "pending"): ({"authority_yb"}, "returned"),
    ("enterprise_rename", "reject", "pending"): ({"authority_yb"}, "rejected"),
    ("app_user", "authorize", "pending"): ({"unit_cqu", "sysadmin"}, "active"),  # the unit's admin (seed 004)
    ("app_user", "authorize", "refused"): ({"unit_cqu", "sysadmin"}, "active"),
    ("app_user", "refuse", "pending"): ({"unit_cqu", "sysadmin"}, "refused"),
    ("app_user", "authorize_link", "pending"): (set(), None),  # no person record matches this one's 证件号码
}
# a second table row for a routing the first cannot show: 张伟 is in 软件学院, so its manager decides
EXTRA = {
    ("person", "approve", "pending", "zhang"): ({"dept_cqu_se"}, "approved", PERSON_ZHANG),
    # a 证件号码 that matches a person of 重庆大学 without an account: linked when the unit admin confirms
    ("app_user", "authorize_link", "pending", "match"): ({"unit_cqu", "sysadmin"}, "active", _pending_account_matching_a_person),
}


def _cases():
    for m in permissions.machines():
        for t in m.transitions:
            for state in sorted(t.sources, key=lambda s: s.value):
                yield pytest.param(m.name, t.action, state.value, None, id=f"{m.name}-{t.action}-{state.value}")
    for key in EXTRA:
        yield pytest.param(*key, id="-".join(key))


def test_every_transition_has_a_hand_written_expectation():
    generated = {(m.name, t.action, s.value) for m in permissions.machines() for t in m.transitions for s in t.sources}
    assert generated == set(EXPECTED), (generated - set(EXPECTED), set(EXPECTED) - generated)


def _data(s, machine: str, action: str) -> dict:
    if machine == "declaration_release" and action == "release":
        return {"doc_no": "渝科发〔2026〕1号", "released_on": "2026-03-15"}
    if machine == "person" and action == "submit":
        return {"changes": {"position": "研究员"}}
    if machine == "unit_registration" and action == "submit":
        yb = s.scalar(select(Region.id).where(Region.name == "渝北区"))
        return {"route": {"route": RegistrationRoute.district, "reviewer_unit_id": None, "reviewer_region_id": yb}}
    return {}


def _put(s, m, row_id, state) -> None:
    """Set up the row's state as data (a direct UPDATE: the test's world, not a transition)."""
    table = m.model.__table__
    values = {m.column: m.status_column.type.enum_class(state)}
    if m.name == "annual_report":  # the guard wants 营业收入, 从业人员, 科技人员, 研发费用
        values.update(revenue=1000, staff=50, tech_staff=10, rd_expense=80)
    if m.name == "legacy_project" and state == "pending":  # a waiting claim names the claiming enterprise
        values.update(enterprise_id=s.scalar(select(Enterprise.id).where(Enterprise.name == "重庆渝北智联科技有限公司")))
    if m.name == "person" and state != "approved":
        values.update(pending_changes={"position": "副教授"}, submitted_at=datetime(2024, 2, 1, 9, 30))
    s.execute(update(table).where(table.c.id == row_id).values(values))
    if m.name == "app_user":  # an account back to waiting: no person record linked yet
        s.execute(update(Person).where(Person.user_id == row_id).values(user_id=None))
    s.commit()


def _records(s, m, row_id) -> int:
    if m.name == "declaration":
        return s.scalar(select(func.count()).select_from(ReviewRecord).where(ReviewRecord.declaration_id == row_id))
    if m.name in ("enterprise", "annual_report", "enterprise_rename"):
        return s.scalar(select(func.count()).select_from(EnterpriseReview).where(
            EnterpriseReview.target == m.name, EnterpriseReview.target_id == row_id))
    return s.scalar(select(func.count()).select_from(ReviewLog).where(ReviewLog.target == m.name, ReviewLog.target_id == row_id))


def _audits(s, m, row_id) -> int:
    return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.table_name == m.name, AuditLog.row_id == str(row_id)))


def _state(s, m, row_id) -> str:
    s.expire_all()
    return s.scalar(select(m.status_column).where(m.model.id == row_id)).value


@pytest.mark.parametrize("machine, action, state, extra", list(_cases()))
def test_transition_table(db_session, machine, action, state, extra):
    s = db_session
    m = next(x for x in permissions.machines() if x.name == machine)
    if extra:
        allowed, target, find = EXTRA[(machine, action, state, extra)]
    else:
        (allowed, target), find = EXPECTED[(machine, action, state)], ROWS[machine]
    row_id = find(s)
    assert row_id, "demo row missing"
    users = {u.username: Principal.of(u) for u in s.scalars(select(User).where(User.active.is_(True)))}
    assert allowed <= set(users)
    data = _data(s, machine, action)

    _put(s, m, row_id, state)
    records, audits = _records(s, m, row_id), _audits(s, m, row_id)
    for username in sorted(set(users) - allowed):
        outcome = transitions.apply(s, users[username], m, [row_id], action, "测试意见", data=data)
        s.rollback()
        assert not outcome.done, f"{username} may not {action} from {state}"
        assert len(outcome.skipped) == 1 and CJK.search(outcome.skipped[0][1]), outcome.skipped
        assert _state(s, m, row_id) == state
    assert (_records(s, m, row_id), _audits(s, m, row_id)) == (records, audits)

    for username in sorted(allowed):
        _put(s, m, row_id, state)
        records, audits = _records(s, m, row_id), _audits(s, m, row_id)
        outcome = transitions.apply(s, users[username], m, [row_id], action, "测试意见", data=data)
        s.commit()
        assert [i for i, _ in outcome.done] == [row_id] and not outcome.skipped, (username, outcome.skipped)
        assert _state(s, m, row_id) == target
        assert _records(s, m, row_id) == records + 1, "one review record"
        assert _audits(s, m, row_id) == audits + 1, "one audit row"
        last = s.scalars(select(AuditLog).where(AuditLog.table_name == m.name, AuditLog.row_id == str(row_id)).order_by(AuditLog.id.desc())).first()
        assert last.before[m.column] == state and last.after[m.column] == target
        if target not in {x.value for x in m.by_action[action].sources}:  # 提交审核 again is a new submission
            again = transitions.apply(s, users[username], m, [row_id], action, "测试意见", data=data)
            s.rollback()
            assert not again.done and CJK.search(again.skipped[0][1])
            assert _records(s, m, row_id) == records + 1
