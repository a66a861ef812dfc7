"""Deterministic demo data: units with secondary units, people, and every demo account.

`seed_demo(session, scale)` is idempotent: rows are keyed by natural keys (unit name, user name,
证件号码) and only the missing ones are inserted. Large scales use bulk INSERTs in batches.
Other areas append their own step to STEPS (e.g. calls and declarations, enterprises).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import (
    CityScope,
    DictItem,
    Gender,
    Person,
    Region,
    ReviewStatus,
    Role,
    SecondaryUnit,
    Unit,
    UnitStatus,
    User,
)
from rules.passwords import hash_password
from rules.validators import id_check_digit, uscc_check_char

from .reference import load_reference

DEMO_PASSWORD = "Demo@12345"
BATCH = 5000
SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁龙林欣悦博文"


@dataclass
class DemoContext:
    session: Session
    scale: int
    rng: random.Random
    password_hash: str
    progress: Callable[[int], None] = lambda n: None
    regions: dict[str, Region] = field(default_factory=dict)
    dicts: dict[tuple[str, str], DictItem] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def d(self, category: str, name: str) -> Optional[int]:
        item = self.dicts.get((category, name))
        return item.id if item else None

    def pick(self, category: str) -> Optional[int]:
        items = [v for (c, _), v in self.dicts.items() if c == category]
        return self.rng.choice(items).id if items else None


def make_id_no(index: int, region_code: str = "500112") -> str:
    birth = date(1965, 1, 1) + timedelta(days=index % 14000)
    seq = 100 + (index // 14000) % 900
    first17 = f"{region_code}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


def make_uscc(index: int, kind: str = "91", region_code: str = "500000") -> str:
    first17 = f"{kind}{region_code}{index:09d}"
    return first17 + uscc_check_char(first17)


def make_mobile(index: int, prefix: str = "139") -> str:
    return f"{prefix}{index % 100_000_000:08d}"


def chinese_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


# -- the fixed demo world --------------------------------------------------------------------
UNITS = [
    # name, nature, registration type, region, uscc kind, secondary units
    ("重庆市教育委员会", "机关", "机关", "渝中区", "11", []),
    ("重庆大学", "高等院校", "事业单位", "沙坪坝区", "12", ["软件学院", "计算机学院", "机械与运载工程学院"]),
    ("西南大学", "高等院校", "事业单位", "北碚区", "12", ["计算机与信息科学学院", "生命科学学院"]),
    ("重庆渝北智联科技有限公司", "非公有制经济", "有限责任公司", "渝北区", "91", []),
    ("重庆两江精密制造有限公司", "非公有制经济", "有限责任公司", "渝北区", "91", []),
    ("重庆江北数据服务有限公司", "非公有制经济", "有限责任公司", "江北区", "91", []),
]

ACCOUNTS = [
    # username, name, role, unit, secondary unit, region, mobile, id index
    ("sysadmin", "系统管理员", Role.sysadmin, None, None, None, "13900000001", 1),
    ("bureau", "市科技局审核员", Role.bureau, None, None, None, "13900000002", 2),
    ("authority_yb", "渝北区科技局审核员", Role.authority, None, None, "渝北区", "13900000003", 3),
    ("authority_jb", "江北区科技局审核员", Role.authority, None, None, "江北区", "13900000004", 4),
    ("unit_cqu", "重庆大学科研院", Role.unit_admin, "重庆大学", None, None, "13900000005", 5),
    ("dept_cqu_se", "软件学院科研秘书", Role.dept_admin, "重庆大学", "软件学院", None, "13900000006", 6),
    ("dept_cqu_cs", "计算机学院科研秘书", Role.dept_admin, "重庆大学", "计算机学院", None, "13900000007", 7),
    ("applicant_zhang", "张伟", Role.applicant, "重庆大学", "软件学院", None, "13900000008", 8),
    ("applicant_li", "李娜", Role.applicant, "重庆大学", None, None, "13900000009", 9),
    ("applicant_wang", "王强", Role.applicant, "重庆大学", "计算机学院", None, "13900000010", 10),
    ("unit_swu", "西南大学科技处", Role.unit_admin, "西南大学", None, None, "13900000011", 11),
    ("applicant_swu", "赵敏", Role.applicant, "西南大学", "计算机与信息科学学院", None, "13900000012", 12),
    ("unit_ent", "智联科技管理员", Role.unit_admin, "重庆渝北智联科技有限公司", None, None, "13900000013", 13),
    ("applicant_ent", "陈杰", Role.applicant, "重庆渝北智联科技有限公司", None, None, "13900000014", 14),
    ("unit_ent_jb", "江北数据管理员", Role.unit_admin, "重庆江北数据服务有限公司", None, None, "13900000015", 15),
    ("applicant_ent_jb", "刘洋", Role.applicant, "重庆江北数据服务有限公司", None, None, "13900000016", 16),
]


def _load_lookups(ctx: DemoContext) -> None:
    s = ctx.session
    ctx.regions = {r.name: r for r in s.scalars(select(Region))}
    ctx.dicts = {(d.category, d.name): d for d in s.scalars(select(DictItem))}


def seed_units(ctx: DemoContext) -> None:
    s = ctx.session
    existing = {u.name: u for u in s.scalars(select(Unit))}
    edu = existing.get("重庆市教育委员会")
    for i, (name, nature, reg_type, region, kind, departments) in enumerate(UNITS, start=1):
        unit = existing.get(name)
        if unit is None:
            region_row = ctx.regions[region]
            unit = Unit(
                name=name,
                region_id=region_row.id,
                uscc=make_uscc(i, kind, region_row.code),
                nature_id=ctx.d("unit_nature", nature),
                registration_type_id=ctx.d("registration_type", reg_type),
                industry_id=ctx.d("industry", "第三产业"),
                legal_rep=chinese_name(ctx.rng),
                legal_rep_id_type_id=ctx.d("id_type", "中华人民共和国居民身份证"),
                legal_rep_id_no=make_id_no(900 + i, region_row.code),
                address=f"重庆市{region}示例路{i}号",
                postcode="400044",
                registered_on=date(2000 + i, 3, 1),
                registered_capital=1000 * i,
                paid_in_capital=800 * i,
                contact_name=chinese_name(ctx.rng),
                contact_mobile=make_mobile(7000 + i, "138"),
                contact_phone="023-6510200" + str(i % 10),
                email=f"contact{i}@example.cn",
                keywords="人工智能、大数据、智能制造",
                bank_account_name=name,
                bank_name="中国工商银行重庆分行",
                bank_account=f"31000{i:014d}",
                bank_code=f"1026530{i:05d}",
                status=UnitStatus.approved,
            )
            s.add(unit)
            s.flush()
            existing[name] = unit
        if name in ("重庆大学", "西南大学") and edu is not None and unit.competent_unit_id is None:
            unit.competent_unit_id = edu.id
        if name == "重庆市教育委员会":
            edu = unit
        known = {d.name for d in unit.secondary_units}
        for dept in departments:
            if dept not in known:
                s.add(SecondaryUnit(unit_id=unit.id, name=dept))
    s.flush()
    ctx.units = {u.name: u for u in s.scalars(select(Unit))}


# 模块配置 of the demo 填报用户 (seed 004): researchers declare in the research and returnee calls,
# enterprise users in 技术创新项目.
RESEARCH_MODULES = ["research", "startup", "innovation_fund"]
ENTERPRISE_MODULES = ["tech_innovation"]


def demo_modules(role: Role, unit: Optional[str]) -> Optional[list]:
    if role != Role.applicant:
        return None
    return ENTERPRISE_MODULES if unit and "公司" in unit else RESEARCH_MODULES


def seed_accounts(ctx: DemoContext) -> None:
    s = ctx.session
    existing = {u.username: u for u in s.scalars(select(User))}
    depts = {(d.unit.name, d.name): d for d in s.scalars(select(SecondaryUnit))}
    for username, name, role, unit, dept, region, mobile, idx in ACCOUNTS:
        if username in existing:
            continue
        secondary = depts.get((unit, dept)) if dept else None
        user = User(
            username=username,
            name=name,
            role=role,
            mobile=mobile,
            id_no=make_id_no(idx),
            password_hash=ctx.password_hash,
            unit_id=ctx.units[unit].id if unit else None,
            secondary_unit_id=secondary.id if secondary else None,
            region_id=ctx.regions[region].id if region else None,
            modules=demo_modules(role, unit),
        )
        s.add(user)
        s.flush()
        existing[username] = user
        if secondary and role == Role.dept_admin:
            secondary.manager_name, secondary.manager_mobile, secondary.manager_id_no = name, mobile, user.id_no
        if unit and role in (Role.applicant, Role.dept_admin, Role.unit_admin):
            s.add(_person_for(ctx, user, secondary))
    s.flush()
    ctx.users = existing


def _person_for(ctx: DemoContext, user: User, secondary: Optional[SecondaryUnit]) -> Person:
    return Person(
        user_id=user.id,
        name=user.name,
        gender=Gender.male if ctx.rng.random() < 0.6 else Gender.female,
        ethnicity_id=ctx.d("ethnicity", "汉族"),
        political_status_id=ctx.d("political_status", "群众"),
        id_type_id=ctx.d("id_type", "中华人民共和国居民身份证"),
        id_no=user.id_no,
        birth_date=date(int(user.id_no[6:10]), int(user.id_no[10:12]), int(user.id_no[12:14])),
        unit_id=user.unit_id,
        secondary_unit_id=secondary.id if secondary else None,
        work_region_id=next((u.region_id for u in ctx.units.values() if u.id == user.unit_id), None),
        education_id=ctx.d("education", "博士研究生"),
        degree_id=ctx.d("degree", "博士"),
        title_id=ctx.d("title", "副高"),
        position="教师",
        major="计算机科学与技术",
        mobile=user.mobile,
        email=f"{user.username}@example.cn",
        review_status=ReviewStatus.approved,
        submitted_at=datetime(2024, 1, 30, 10, 13),
    )


def seed_people(ctx: DemoContext) -> None:
    """A few dozen people per demo unit in every review state, so that 个人信息审核 has work."""
    s = ctx.session
    known = set(s.scalars(select(Person.id_no)))
    statuses = [ReviewStatus.pending, ReviewStatus.approved, ReviewStatus.rejected, ReviewStatus.approved]
    rows = []
    index = 10_000
    for name, *_ in UNITS:
        unit = ctx.units[name]
        departments = [None] + list(unit.secondary_units)
        for k in range(12):
            index += 1
            id_no = make_id_no(index, unit.region.code if unit.region else "500112")
            if id_no in known:
                continue
            dept = departments[k % len(departments)]
            status = statuses[k % len(statuses)]
            rows.append(_person_row(ctx, index, id_no, unit, dept, status))
    if rows:
        s.execute(insert(Person), rows)


def _person_row(ctx, index, id_no, unit, dept, status) -> dict:
    rng = ctx.rng
    title = ctx.pick("title")
    row = {
        "name": chinese_name(rng),
        "gender": Gender.male if rng.random() < 0.55 else Gender.female,
        "nationality": "中国",
        "ethnicity_id": ctx.d("ethnicity", "汉族"),
        "political_status_id": ctx.pick("political_status"),
        "id_type_id": ctx.d("id_type", "中华人民共和国居民身份证"),
        "id_no": id_no,
        "birth_date": date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14])),
        "work_province": "重庆市",
        "work_city_scope": CityScope.inside,
        "work_region_id": unit.region_id,
        "unit_id": unit.id,
        "secondary_unit_id": dept.id if dept else None,
        "education_id": ctx.pick("education"),
        "degree_id": ctx.pick("degree"),
        "title_id": title,
        "position": rng.choice(["教师", "研究员", "工程师", "技术总监", "项目经理"]),
        "major": rng.choice(["计算机科学与技术", "机械工程", "材料科学", "生物医学工程", "软件工程"]),
        "mobile": make_mobile(index),
        "email": f"p{index}@example.cn",
        "review_status": status,
        "pending_changes": None,
        "review_reason": "职称证明材料不全，请补充" if status == ReviewStatus.rejected else None,
        "submitted_at": datetime(2024, 1, 30, 10, 13) + timedelta(minutes=index % 5000),
    }
    if status == ReviewStatus.pending:
        row["pending_changes"] = {"title_id": ctx.pick("title"), "position": "副教授"}
    return row


def seed_scale(ctx: DemoContext) -> None:
    """`--scale N`: N more people over N/50 generated units (two secondary units each), in bulk."""
    if ctx.scale <= 0:
        return
    s = ctx.session
    unit_count = max(1, ctx.scale // 50)
    districts = [r for r in ctx.regions.values() if r.kind.value == "district"]
    have = set(s.scalars(select(Unit.name).where(Unit.name.like("演示单位%"))))
    unit_rows = []
    for i in range(1, unit_count + 1):
        name = f"演示单位{i:06d}"
        if name in have:
            continue
        region = districts[i % len(districts)]
        unit_rows.append(
            {
                "name": name,
                "region_id": region.id,
                "uscc": make_uscc(100_000 + i, "91", region.code),
                "nature_id": ctx.d("unit_nature", "非公有制经济"),
                "registration_type_id": ctx.d("registration_type", "有限责任公司"),
                "province_city": "重庆市",
                "city_scope": CityScope.inside,
                "status": UnitStatus.approved,
                "contact_mobile": make_mobile(i, "137"),
                "email": f"u{i}@example.cn",
            }
        )
    for start in range(0, len(unit_rows), BATCH):
        s.execute(insert(Unit), unit_rows[start : start + BATCH])
    units = s.execute(select(Unit.id, Unit.name, Unit.region_id).where(Unit.name.like("演示单位%")).order_by(Unit.name)).all()
    have_depts = set(s.scalars(select(SecondaryUnit.unit_id).where(SecondaryUnit.unit_id.in_(select(Unit.id).where(Unit.name.like("演示单位%"))))))
    dept_rows = [{"unit_id": u.id, "name": n} for u in units if u.id not in have_depts for n in ("研发中心", "技术部")]
    for start in range(0, len(dept_rows), BATCH):
        s.execute(insert(SecondaryUnit), dept_rows[start : start + BATCH])
    depts: dict[int, list[int]] = {}
    generated = select(Unit.id).where(Unit.name.like("演示单位%"))
    for unit_id, dept_id in s.execute(select(SecondaryUnit.unit_id, SecondaryUnit.id).where(SecondaryUnit.unit_id.in_(generated))):
        depts.setdefault(unit_id, []).append(dept_id)
    known = set(s.scalars(select(Person.id_no).where(Person.id_no.like("5001%"))))
    statuses = [ReviewStatus.approved, ReviewStatus.approved, ReviewStatus.pending, ReviewStatus.rejected]
    batch = []
    for i in range(ctx.scale):
        index = 1_000_000 + i
        id_no = make_id_no(index, "500100")
        if id_no in known:
            ctx.progress(1)
            continue
        unit = units[i % len(units)]
        choices = depts.get(unit.id, [])
        dept_id = choices[i % (len(choices) + 1)] if choices and i % (len(choices) + 1) < len(choices) else None
        row = _person_row(ctx, index, id_no, _UnitStub(unit.id, unit.region_id), _DeptStub(dept_id) if dept_id else None, statuses[i % 4])
        batch.append(row)
        if len(batch) >= BATCH:
            s.execute(insert(Person), batch)
            ctx.progress(len(batch))
            batch = []
    if batch:
        s.execute(insert(Person), batch)
        ctx.progress(len(batch))


@dataclass
class _UnitStub:
    id: int
    region_id: Optional[int]


@dataclass
class _DeptStub:
    id: int


STEPS: list[Callable[[DemoContext], None]] = [seed_units, seed_accounts, seed_people, seed_scale]


def all_steps() -> list[Callable[[DemoContext], None]]:
    """The core steps, then every `seed/demo_*.py` module's STEPS in the order of its ORDER."""
    import importlib
    import pkgutil
    from pathlib import Path

    modules = [
        importlib.import_module(f"seed.{m.name}")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("demo_")
    ]
    steps = list(STEPS)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        steps.extend(module.STEPS)
    return steps


def seed_demo(session: Session, scale: int = 0, progress: Callable[[int], None] = lambda n: None, password_hash: Optional[str] = None) -> None:
    """Reference data, then every demo step; safe to run again (only missing rows are added)."""
    session.info["audit_disabled"] = True  # seeding is not a user's action; keep the log for people
    try:
        load_reference(session)
        ctx = DemoContext(session, scale, random.Random(20261121), password_hash or hash_password(DEMO_PASSWORD), progress)
        _load_lookups(ctx)
        for step in all_steps():
            step(ctx)
            session.flush()
    finally:
        session.info.pop("audit_disabled", None)
