"""Demo data of the 用户中心: registrations waiting in every routing branch, the 主管部门 account of
重庆市教育委员会, and person changes waiting for each kind of reviewer."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from models import (
    Person,
    RegistrationRoute,
    ReviewStatus,
    Role,
    Unit,
    UnitRegistration,
    UnitStatus,
    User,
)

from .demo import DemoContext, chinese_name, make_id_no, make_mobile, make_uscc

ORDER = 10

# unit, nature, district, route, registrant user name, status
REGISTRATIONS = [
    ("重庆市教育科学研究院", "事业单位", "渝中区", RegistrationRoute.competent, "reg_edu", ReviewStatus.pending),
    ("重庆渝北云帆科技有限公司", "非公有制经济", "渝北区", RegistrationRoute.district, "reg_yb", ReviewStatus.pending),
    ("重庆留学人员创业园", "留创园", "渝北区", RegistrationRoute.city, "reg_lcy", ReviewStatus.pending),
    ("重庆江北青年创新协会", "社会组织", "江北区", RegistrationRoute.district, "reg_jb", ReviewStatus.pending),
    ("重庆渝北星河电子有限公司", "非公有制经济", "渝北区", RegistrationRoute.district, "reg_yb2", ReviewStatus.rejected),
]


def seed_authority_accounts(ctx: DemoContext) -> None:
    """`authority_jw`: the competent department 重庆市教育委员会 reviews its units' registrations."""
    s = ctx.session
    if s.scalar(select(User.id).where(User.username == "authority_jw")):
        return
    edu = s.scalar(select(Unit).where(Unit.name == "重庆市教育委员会"))
    s.add(
        User(
            username="authority_jw", name="市教委科技处审核员", role=Role.authority, unit_id=edu.id,
            mobile="13900000021", id_no=make_id_no(21), password_hash=ctx.password_hash,
        )
    )


def seed_registrations(ctx: DemoContext) -> None:
    s = ctx.session
    edu = s.scalar(select(Unit).where(Unit.name == "重庆市教育委员会"))
    for i, (name, nature, district, route, username, status) in enumerate(REGISTRATIONS, start=1):
        if s.scalar(select(Unit.id).where(Unit.name == name)):
            continue
        region = ctx.regions[district]
        unit = Unit(
            name=name, region_id=region.id, uscc=make_uscc(500 + i, "52" if nature == "社会组织" else ("12" if route == RegistrationRoute.competent else "91"), region.code),
            nature_id=ctx.d("unit_nature", nature), legal_rep=chinese_name(ctx.rng), contact_name=chinese_name(ctx.rng),
            contact_mobile=make_mobile(8000 + i, "136"), email=f"reg{i}@example.cn", address=f"重庆市{district}注册路{i}号",
            status=UnitStatus.rejected if status == ReviewStatus.rejected else UnitStatus.pending,
            competent_unit_id=edu.id if route == RegistrationRoute.competent else None,
        )
        s.add(unit)
        s.flush()
        user = User(
            username=username, name=chinese_name(ctx.rng), role=Role.applicant, unit_id=unit.id,
            mobile=make_mobile(8100 + i, "135"), id_no=make_id_no(8100 + i), password_hash=ctx.password_hash,
        )
        s.add(user)
        s.flush()
        s.add(
            UnitRegistration(
                unit_id=unit.id, registrant_id=user.id, route=route, status=status,
                reviewer_unit_id=edu.id if route == RegistrationRoute.competent else None,
                reviewer_region_id=region.id if route == RegistrationRoute.district else None,
                reason="营业执照扫描件不清晰，请重新上传" if status == ReviewStatus.rejected else None,
                submitted_at=datetime(2024, 3, 1, 9, 0) .replace(minute=i),
            )
        )


def seed_person_changes(ctx: DemoContext) -> None:
    """applicant_zhang (软件学院 → its manager) and applicant_li (no secondary unit → 重庆大学) wait for review."""
    s = ctx.session
    for username, changes in (
        ("applicant_zhang", {"title_id": ctx.d("title", "正高"), "position": "教授"}),
        ("applicant_li", {"title_id": ctx.d("title", "正高"), "position": "副教授"}),
    ):
        person = s.scalar(select(Person).join(User, User.id == Person.user_id).where(User.username == username))
        if person is not None and person.pending_changes is None:
            # the demo world's starting state, written as data (not a transition anyone took)
            s.execute(update(Person).where(Person.id == person.id).values(
                pending_changes=changes, review_status=ReviewStatus.pending, submitted_at=datetime(2024, 2, 1, 9, 30)))
            s.expire(person)


STEPS = [seed_authority_accounts, seed_registrations, seed_person_changes]
