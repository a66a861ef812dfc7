"""The defects the one transition engine and the one permission table fixed, each as a user meets
it: 推荐排序 under two simultaneous 退回, 模块配置 deny by default, nothing edited while it waits
for review, a reviewer for every pending change, no status written beside the engine, bulk
actions that skip foreign and malformed ids, list links that filter by name."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from models import (
    Call, CallType, Declaration, Enterprise, EnterpriseStatus, Person, ReviewStatus, Role, Status, Unit, User,
)
from rules import scope, transitions, workflow
from rules.scope import Principal

NOW = datetime.now()


def user(s, username) -> User:
    return s.scalars(select(User).where(User.username == username)).one()


def page(client, url) -> str:
    return client.get(url).get_data(as_text=True)


# -- 推荐排序: two 退回 at once must leave ranks 1..n without gaps or duplicates -------------------
RANKED = ["软件定义制造系统关键技术研究", "智能网联汽车软件测试技术研究", "高性能混凝土耐久性提升技术", "隐私计算联邦学习框架研究"]
TRIALS = 20


def _reset_ranking(s, ids) -> None:
    """重庆大学's four ranked rows of the research call: ranks 1..4, the last three at 主管部门审核."""
    for rank, row_id in enumerate(ids, start=1):
        status = Status.bureau_review if rank == 1 else Status.authority_review
        s.execute(update(Declaration.__table__).where(Declaration.__table__.c.id == row_id)
                  .values(status=status, unit_rank=rank, return_reason=None))
    s.commit()


def test_two_simultaneous_returns_keep_the_ranking_whole(app, db_session):
    from extensions import db

    s = db_session
    ids = [s.scalar(select(Declaration.id).where(Declaration.name == name)) for name in RANKED]
    call_id, unit_id = s.scalar(select(Declaration.call_id).where(Declaration.id == ids[0])), user(s, "unit_cqu").unit_id
    jw = Principal.of(user(s, "authority_jw"))
    broken = []
    for trial in range(TRIALS):
        _reset_ranking(s, ids)
        barrier, errors, results = threading.Barrier(2), [], []

        def back(row_id):
            try:
                with app.app_context():
                    barrier.wait()
                    results.append(workflow.act(db.session, jw, [row_id], "return", "重复申报"))
                    db.session.commit()
                    db.session.remove()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=back, args=(ids[k],)) for k in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sum(len(r.done) for r in results) == 2
        s.expire_all()
        ranks = sorted(r for r in s.scalars(select(Declaration.unit_rank).where(
            Declaration.call_id == call_id, Declaration.unit_id == unit_id, Declaration.unit_rank.is_not(None))))
        if ranks != list(range(1, len(ranks) + 1)):
            broken.append((trial, ranks))
    assert broken == [], f"broken rankings: {broken}"
    # the two returned rows left the ranking, the others closed up: 软件定义 1, 隐私计算 2
    s.expire_all()
    assert [s.get(Declaration, i).unit_rank for i in ids] == [1, None, None, 2]


# -- 模块配置: deny by default, and 创新资助 is the call type innovation_fund -----------------------
@pytest.fixture
def innovation_call(db_session):
    db_session.execute(insert(Call), [dict(
        name=f"{NOW.year}年度创新资助（第一批）", type=CallType.innovation_fund, year=NOW.year, batch="第一批", batch_code="01",
        opens_at=NOW - timedelta(days=3), closes_at=NOW + timedelta(days=30), review_chain=["unit", "bureau"])])
    db_session.commit()


def _modules(s, username, modules) -> None:
    s.execute(update(User.__table__).where(User.__table__.c.username == username).values(modules=modules))
    s.commit()


def _offered_calls(client) -> set[str]:
    import re

    form = page(client, "/admin/declaration/new/")
    block = re.search(r'<select[^>]*id="call".*?</select>', form, re.S)
    return set(re.findall(r"<option[^>]*>([^<]+)</option>", block.group(0))) - {""} if block else set()


def test_only_innovation_fund_ticked_offers_only_innovation_fund_calls(app, db_session, innovation_call):
    from tests.conftest import login

    _modules(db_session, "applicant_zhang", ["innovation_fund"])
    offered = _offered_calls(login(app, "applicant_zhang"))
    assert offered == {f"{NOW.year}年度创新资助（第一批）"}


def test_no_module_offers_no_call_and_no_menu(app, db_session, innovation_call):
    from tests.conftest import login

    _modules(db_session, "applicant_ent", [])
    client = login(app, "applicant_ent")
    home = page(client, "/admin/")
    assert 'href="/admin/declaration/"' not in home and 'href="/admin/progress_report/"' not in home
    assert client.get("/admin/declaration/new/").status_code == 404
    assert client.get("/admin/declaration/").status_code == 404


def test_the_menu_follows_the_modules(app, db_session):
    from tests.conftest import login

    _modules(db_session, "applicant_ent", ["research"])  # no 技术创新项目: no 调度填报
    home = page(login(app, "applicant_ent"), "/admin/")
    assert 'href="/admin/declaration/"' in home and 'href="/admin/progress_report/"' not in home


def test_legacy_module_code_is_migrated():
    """The migration renames the old 创新资助 code; the choices offered are the call types'."""
    from models import MODULES

    assert set(MODULES) == {t.value for t in CallType} and MODULES["innovation_fund"] == "创新资助"


# -- nothing changes while it waits for review ----------------------------------------------------
def test_enterprise_basic_info_cannot_be_edited_while_pending(client_as, db_session):
    s = db_session
    e = s.scalars(select(Enterprise).where(Enterprise.name == "重庆渝北智联科技有限公司")).one()
    s.execute(update(Enterprise.__table__).where(Enterprise.__table__.c.id == e.id).values(review_status=EnterpriseStatus.pending))
    s.commit()
    client = client_as("unit_ent")
    response = client.get(f"/admin/enterprise/edit/?id={e.id}", follow_redirects=True)
    assert "正在审核中" in response.get_data(as_text=True)
    client.post_form(f"/admin/enterprise/edit/?id={e.id}", {"contact_name": "偷偷改"})
    s.expire_all()
    assert s.get(Enterprise, e.id).contact_name != "偷偷改"
    listed = page(client, "/admin/enterprise/")
    assert f"/admin/enterprise/edit/?id={e.id}" not in listed


def test_a_rejected_enterprise_is_corrected_then_resubmitted(client_as, db_session):
    s = db_session
    e = s.scalars(select(Enterprise).where(Enterprise.name == "重庆渝北智联科技有限公司")).one()
    s.execute(update(Enterprise.__table__).where(Enterprise.__table__.c.id == e.id).values(review_status=EnterpriseStatus.rejected))
    s.commit()
    client = client_as("unit_ent")
    assert client.get(f"/admin/enterprise/edit/?id={e.id}").status_code == 200
    client.action("enterprise", "submit", [e.id])
    s.expire_all()
    assert s.get(Enterprise, e.id).review_status == EnterpriseStatus.pending


# -- a reviewer for every pending change --------------------------------------------------------------
def _own_change(s, username, position) -> int:
    person = s.scalars(select(Person).join(User, User.id == Person.user_id).where(User.username == username)).one()
    s.execute(update(Person.__table__).where(Person.__table__.c.id == person.id).values(
        review_status=ReviewStatus.pending, pending_changes={"position": position}, submitted_at=NOW))
    s.commit()
    return person.id


def _reviewers(s, person_id) -> set[str]:
    users = s.scalars(select(User).where(User.role.in_([Role.dept_admin, Role.unit_admin, Role.authority, Role.bureau]))).all()
    return {u.username for u in users if s.scalar(select(Person.id).where(Person.id == person_id, scope.person_reviewer(Principal.of(u))))}


def test_the_only_unit_admin_own_change_goes_to_the_units_authority(client_as, db_session):
    s = db_session
    person_id = _own_change(s, "unit_ent", "总经理")  # 智联 has one unit admin and no 授权人
    assert _reviewers(s, person_id) == {"authority_yb"}
    assert "个人信息待审核" in page(client_as("authority_yb"), "/admin/")
    client_as("unit_ent").action("person", "approve", [person_id])
    message = page(client_as("unit_ent"), "/admin/person/")
    assert "应由主管部门（区县科技局）审核" in message and "由二级单位审核" not in message
    client_as("authority_yb").action("person", "approve", [person_id])
    s.expire_all()
    assert s.get(Person, person_id).position == "总经理" and s.get(Person, person_id).review_status == ReviewStatus.approved


def test_a_unit_admin_own_change_goes_to_the_authorised_admin_when_there_is_one(db_session):
    s = db_session
    cqu = user(s, "unit_cqu")
    second = User(username="unit_cqu_auth", name="重庆大学授权人", role=Role.unit_admin, unit_id=cqu.unit_id,
                  password_hash=cqu.password_hash, unit_authorized=True, mobile="13900000099")
    s.add(second)
    s.commit()
    person_id = _own_change(s, "unit_cqu", "科研院院长")
    assert _reviewers(s, person_id) == {"unit_cqu_auth"}


def test_every_pending_person_of_the_demo_has_exactly_one_reviewer(db_session):
    s = db_session
    for username in ("unit_cqu", "dept_cqu_se", "unit_ent", "applicant_zhang", "applicant_li", "unit_swu"):
        person_id = _own_change(s, username, "测试职务")
        assert len(_reviewers(s, person_id)) == 1, (username, _reviewers(s, person_id))


def _own_move(s, username, unit_name) -> int:
    """A waiting change of 工作单位 (as the 提交审核 transition leaves it: pending_unit_id set)."""
    person = s.scalars(select(Person).join(User, User.id == Person.user_id).where(User.username == username)).one()
    destination = s.scalar(select(Unit.id).where(Unit.name == unit_name))
    s.execute(update(Person.__table__).where(Person.__table__.c.id == person.id).values(
        review_status=ReviewStatus.pending, pending_changes={"unit_id": destination}, pending_unit_id=destination, submitted_at=NOW))
    s.commit()
    return person.id


@pytest.mark.parametrize("username, destination, reviewer", [
    ("unit_cqu", "西南大学", "unit_swu"), ("dept_cqu_se", "西南大学", "unit_swu"), ("applicant_zhang", "西南大学", "unit_swu"),
    ("applicant_li", "西南大学", "unit_swu"), ("unit_swu", "重庆大学", "unit_cqu"), ("unit_ent", "重庆两江精密制造有限公司", "authority_yb"),
    ("applicant_ent", "重庆江北数据服务有限公司", "unit_ent_jb"),
])
def test_every_demo_persons_move_has_exactly_one_reviewer_the_destination(db_session, username, destination, reviewer):
    """两江精密 has no unit admin of its own: its one authority (渝北区) decides a move into it."""
    person_id = _own_move(db_session, username, destination)
    assert _reviewers(db_session, person_id) == {reviewer}


def test_a_move_into_a_unit_with_a_plain_admin_and_an_authorised_one_goes_to_the_plain_admin(db_session):
    """The 法人单位 account (单位管理员) decides who joins the unit; its 授权人 only when it is the only admin."""
    s = db_session
    swu = user(s, "unit_swu")
    s.add(User(username="unit_swu_auth", name="西南大学授权人", role=Role.unit_admin, unit_id=swu.unit_id,
               password_hash=swu.password_hash, unit_authorized=True, mobile="13900000098"))
    s.commit()
    person_id = _own_move(s, "applicant_li", "西南大学")
    assert _reviewers(s, person_id) == {"unit_swu"}
    s.execute(update(User.__table__).where(User.__table__.c.username == "unit_swu").values(role=Role.applicant))
    s.commit()
    assert _reviewers(s, person_id) == {"unit_swu_auth"}


def test_the_destinations_admin_does_not_review_their_own_move(db_session):
    s = db_session
    cqu = user(s, "unit_cqu")
    s.execute(update(User.__table__).where(User.__table__.c.id == cqu.id).values(unit_id=user(s, "unit_swu").unit_id))
    s.commit()  # unit_cqu's account already belongs to 西南大学; the person record moves after it
    person_id = _own_move(s, "unit_cqu", "西南大学")
    assert _reviewers(s, person_id) == {"unit_swu"}


# -- nothing else writes a status column ---------------------------------------------------------------
@pytest.mark.parametrize("model, column, value", [
    (Declaration, "status", Status.approved), (Enterprise, "review_status", EnterpriseStatus.approved),
    (Person, "review_status", ReviewStatus.rejected),
])
def test_a_direct_status_write_is_loudly_wrong(db_session, model, column, value):
    row = db_session.scalars(select(model).where(getattr(model, column) != value)).first()
    with pytest.raises(transitions.DirectStatusWrite):
        setattr(row, column, value)
    db_session.rollback()


def test_a_direct_write_of_an_expired_row_is_caught_too(db_session):
    row = db_session.scalars(select(Declaration).where(Declaration.status == Status.draft)).first()
    db_session.expire(row)  # the old value is not in memory: it is loaded, not guessed
    with pytest.raises(transitions.DirectStatusWrite):
        row.status = Status.approved
    db_session.rollback()


def test_a_new_row_starts_in_its_initial_state(db_session):
    d = Declaration(status=Status.draft)  # a row not stored yet takes its initial state
    assert d.status == Status.draft


# -- one bulk semantics ---------------------------------------------------------------------------------
def test_bulk_skips_foreign_and_malformed_ids_and_names_each(client_as, db_session):
    s = db_session
    ok = [s.scalar(select(Declaration.id).where(Declaration.name == n)) for n in ("山地城市桥梁健康监测关键技术", "复杂地质隧道智能建造技术研究")]
    foreign = s.scalar(select(Declaration.id).where(Declaration.name == "政务数据治理服务平台"))  # 江北's
    client = client_as("unit_cqu")
    client.action("declaration", "approve", [*ok, foreign, "abc", "9" * 30], reason="同意")
    message = page(client, "/admin/declaration/")
    assert "已审核通过 2 条，跳过 3 条" in message
    assert f"#{foreign}（记录不存在或不在您的数据范围内）" in message and "政务数据治理服务平台" not in message
    assert "#abc（记录编号无效）" in message
    s.expire_all()
    assert [s.get(Declaration, i).status for i in ok] == [Status.authority_review] * 2


def test_one_failing_row_rolls_back_alone(app, db_session):
    """An effect that fails half-way on one row leaves that row untouched and the others done."""
    s = db_session
    ids = [s.scalar(select(Declaration.id).where(Declaration.name == n)) for n in ("山地城市桥梁健康监测关键技术", "复杂地质隧道智能建造技术研究")]
    unit = Principal.of(user(s, "unit_cqu"))
    boom = transitions.Effect("fails on the second row", after=lambda c: (_ for _ in ()).throw(transitions.Refused("模拟失败")) if c.row.id == ids[1] else None)
    t = workflow.DECLARATION.by_action["approve"]
    object.__setattr__(t, "effects", (boom,))  # Transition is frozen: swap the effects for this test only
    try:
        outcome = transitions.apply(s, unit, workflow.DECLARATION, ids, "approve", "同意")
        s.commit()
    finally:
        object.__setattr__(t, "effects", ())
    assert [i for i, _ in outcome.done] == [ids[0]] and outcome.skipped == [("复杂地质隧道智能建造技术研究", "模拟失败")]
    s.expire_all()
    assert s.get(Declaration, ids[0]).status == Status.authority_review and s.get(Declaration, ids[1]).status == Status.unit_review


# -- list links filter by name -----------------------------------------------------------------------------
def test_todo_links_survive_reordered_filters(app, client_as, db_session):
    from urllib.parse import parse_qsl, urlsplit

    from admin_views.home import view_of

    def named(view, url):
        (key, value), = parse_qsl(urlsplit(url).query)
        return str(view._filters[int(key.split("_", 1)[1])].name), value

    with app.test_request_context():
        view = view_of("declaration")
        link = view.filter_url(项目状态="returned")
        original = view._filters
        view._filters = list(reversed(original))  # a newcomer reorders column_filters
        try:
            moved = view.filter_url(项目状态="returned")
            assert named(view, moved) == ("项目状态", "returned") and moved != link
        finally:
            view._filters = original
        assert named(view, link) == ("项目状态", "returned")
    listed = page(client_as("applicant_zhang"), link)
    assert "低代码平台生成代码质量评估研究" in listed and "基于大模型的软件缺陷智能检测方法研究" not in listed


def test_todo_counts_match_the_lists_they_link_to(client_as, db_session):
    import re

    for username in ("dept_cqu_se", "unit_cqu", "authority_yb", "authority_jw", "bureau", "applicant_zhang", "unit_ent"):
        client = client_as(username)
        home = page(client, "/admin/")
        cards = re.findall(r'href="([^"]+)">\s*<div class="card-body">\s*<div class="text-muted">([^<]+)</div>\s*<div class="count" data-todo="[^"]+">(\d+)', home)
        assert cards, username
        for url, label, count in cards:
            listed = page(client, url.replace("&amp;", "&"))
            shown = re.search(r"共 (\d+) 条", listed)
            assert shown and int(shown.group(1)) == int(count), (username, label, url)


# -- 审批意见 of people and registrations: the review record is shown on the details page ------------
def test_person_and_registration_details_show_their_review_records(client_as, db_session):
    s = db_session
    li = s.scalar(select(Person.id).join(User, User.id == Person.user_id).where(User.username == "applicant_li"))
    client_as("unit_cqu").action("person", "reject", [li], reason="职称证书未上传")
    own = page(client_as("applicant_li"), f"/admin/person/details/?id={li}")
    log = own[own.index('id="review-log"'):]
    assert "审核不通过" in log and "待审核 → 审核不通过" in log and "职称证书未上传" in log and "重庆大学科研院（重庆大学）" in log  # 姓名（单位）, not the login
    assert 'id="review-log"' not in page(client_as("applicant_zhang"), "/admin/")  # nobody else's page shows it
    from models import Unit, UnitRegistration

    reg = s.scalar(select(UnitRegistration.id).join(Unit, Unit.id == UnitRegistration.unit_id).where(Unit.name == "重庆渝北云帆科技有限公司"))
    client_as("authority_yb").action("registration", "approve", [reg])
    details = page(client_as("authority_yb"), f"/admin/registration/details/?id={reg}")
    assert "待审核 → 审核已通过" in details[details.index('id="review-log"'):]
