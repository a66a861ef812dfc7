"""Demo calls in every state and declarations at every review level, so each demo account has work."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from models import (
    DEFAULT_CHAIN, DEFAULT_QUOTA, DEFAULT_REQUIRED, AuthorityRoute, BudgetItem, Call, CallType, Declaration, InnovationMode, Level, Member,
    ProgressReport, ProgressStatus, ReleaseStatus, ReviewRecord, Role, Status, Unit, UnitRevenue, User,
)
from rules import workflow
from rules.calls import ENTERPRISE_NATURES

from .demo import DemoContext, make_id_no

ORDER = 40
S = Status

EXTRA_ACCOUNTS = [
    # username, name, role, unit, mobile, id index
    ("authority_jw", "市教委科技处审核员", Role.authority, "重庆市教育委员会", "13900000017", 17),
    ("applicant_lj", "周凯", Role.applicant, "重庆两江精密制造有限公司", "13900000018", 18),
]
REVENUES = {"重庆渝北智联科技有限公司": 25000, "重庆两江精密制造有限公司": 1500, "重庆江北数据服务有限公司": 120000}

INNOVATION = (
    "本项目面向重点行业的关键共性技术需求，围绕核心算法、系统架构和工程化应用开展攻关，"
    "突破高可靠数据采集、多源异构数据融合、智能分析与决策等关键技术，形成具有自主知识产权的软硬件平台。"
    "主要技术指标：系统响应时间不超过200毫秒，识别准确率达到95%以上，支持万级设备并发接入，"
    "申请发明专利3项以上，制定企业标准1项，形成示范应用2个以上，带动相关产业新增产值5000万元以上。"
)


def _calls(now: datetime) -> list[dict]:
    y = now.year
    day = timedelta(days=1)
    return [
        dict(name=f"{y}年度科研项目（第一批）", type=CallType.research, year=y, batch="第一批", batch_code="01",
             opens_at=now - 30 * day, closes_at=now + 60 * day, ranking_deadline=now + 90 * day, review_chain=list(DEFAULT_CHAIN),
             **RESEARCH_DESIGN),
        dict(name=f"{y}年技术创新项目（上半年）", type=CallType.tech_innovation, year=y, batch="上半年", batch_code="10",
             opens_at=now - 20 * day, closes_at=now + 40 * day, ranking_deadline=now + 70 * day,
             review_chain=["unit", "authority", "bureau"], authority_label="区县审核", quota_rule=DEFAULT_QUOTA, **TECH_DESIGN),
        dict(name=f"{y}年度创业资助（第一批）", type=CallType.startup, year=y, batch="第一批", batch_code="01",
             opens_at=now - 60 * day, closes_at=now - 5 * day, ranking_deadline=now + 30 * day, review_chain=list(DEFAULT_CHAIN),
             required_fields=list(DEFAULT_REQUIRED), required_attachments=["body"], applicant_natures=[], form_fields=[]),
        dict(name=f"{y - 1}年度科研项目（第一批）", type=CallType.research, year=y - 1, batch="第一批", batch_code="01",
             opens_at=now - 400 * day, closes_at=now - 300 * day, ranking_deadline=now - 280 * day, review_chain=list(DEFAULT_CHAIN),
             **RESEARCH_DESIGN),
        dict(name=f"{y - 1}年技术创新项目（下半年）", type=CallType.tech_innovation, year=y - 1, batch="下半年", batch_code="20",
             opens_at=now - 300 * day, closes_at=now - 200 * day, ranking_deadline=now - 180 * day,
             review_chain=["unit", "authority", "bureau"], authority_label="区县审核", quota_rule=DEFAULT_QUOTA,
             report_opens_at=now - 10 * day, report_closes_at=now + 20 * day, **TECH_DESIGN),
    ]


# The call designer's settings (issue #14): research calls ask the usual fields (新技术描述 stays optional, as
# before) and no 必传附件 (the demo drafts carry no files and tests submit them);
# 技术创新项目 (seed 003: 企业申报) is for enterprises, with seed 003's revenue bands and the usual fields.
RESEARCH_DESIGN = dict(required_fields=list(DEFAULT_REQUIRED), required_attachments=[], applicant_natures=[], form_fields=[])
TECH_DESIGN = dict(required_fields=list(DEFAULT_REQUIRED), required_attachments=[], applicant_natures=list(ENTERPRISE_NATURES), form_fields=[])
DESIGN_COLUMNS = ("required_fields", "required_attachments", "applicant_natures", "form_fields")


# call index, applicant, status, project name, (unit rank, authority rank)
DECLARATIONS = [
    (0, "applicant_zhang", S.draft, "基于大模型的软件缺陷智能检测方法研究", None),
    (0, "applicant_zhang", S.dept_review, "面向微服务架构的智能运维关键技术研究", None),
    (0, "applicant_zhang", S.dept_review, "开源软件供应链安全风险评估方法研究", None),
    (0, "applicant_zhang", S.unit_review, "工业软件可信验证平台研发", None),
    (0, "applicant_zhang", S.authority_review, "智能网联汽车软件测试技术研究", (2, None)),
    (0, "applicant_zhang", S.bureau_review, "软件定义制造系统关键技术研究", (1, 1)),
    (0, "applicant_zhang", S.returned, "低代码平台生成代码质量评估研究", None),
    (0, "applicant_li", S.draft, "新型储能材料界面机理研究", None),
    (0, "applicant_li", S.unit_review, "山地城市桥梁健康监测关键技术", None),
    (0, "applicant_li", S.unit_review, "复杂地质隧道智能建造技术研究", None),
    (0, "applicant_li", S.authority_review, "高性能混凝土耐久性提升技术", (3, None)),
    (0, "applicant_wang", S.dept_review, "图神经网络在交通预测中的应用", None),
    (0, "applicant_wang", S.authority_review, "隐私计算联邦学习框架研究", (4, None)),
    (0, "applicant_swu", S.unit_review, "柑橘病虫害智能识别系统研究", None),
    (1, "applicant_ent", S.draft, "工业设备预测性维护平台", None),
    (1, "applicant_ent", S.unit_review, "智能仓储机器人调度系统", None),
    (1, "applicant_lj", S.authority_review, "高精度数控机床主轴研制", (2, None)),
    (1, "applicant_lj", S.bureau_review, "精密减速器国产化关键技术", (1, 1)),
    (1, "applicant_ent_jb", S.authority_review, "政务数据治理服务平台", (1, None)),
    (2, "applicant_li", S.authority_review, "留学人员科技成果转化项目", (2, None)),
    (2, "applicant_zhang", S.bureau_review, "智能软件工程创业项目", (1, 1)),
    (3, "applicant_zhang", S.approved, "软件自动化测试关键技术研究", (1, 1)),
    (3, "applicant_li", S.rejected, "城市内涝预警模型研究", (2, 2)),
    (3, "applicant_wang", S.approved, "知识图谱构建技术研究", (3, 3)),
    (4, "applicant_ent", S.approved, "工业互联网标识解析平台", (1, 1)),
    (4, "applicant_lj", S.approved, "航空零部件精密加工工艺", (1, 2)),
    (4, "applicant_lj", S.rejected, "五轴联动数控系统研发", (2, 3)),
]


def seed_declarations(ctx: DemoContext) -> None:
    s = ctx.session
    now = datetime.now().replace(minute=0, second=0, microsecond=0)
    _extra_accounts(ctx)
    _revenues(ctx, now.year - 1)
    calls = []
    existing_calls = {c.name: c for c in s.scalars(select(Call))}
    for spec in _calls(now):
        call = existing_calls.get(spec["name"])
        if call is None:
            call = Call(**spec)
            s.add(call)
            s.flush()
        for column in DESIGN_COLUMNS:  # a database seeded before the designer: its settings, once
            if getattr(call, column) is None:
                setattr(call, column, spec[column])
        calls.append(call)
    users = {u.username: u for u in s.scalars(select(User))}
    have = set(s.execute(select(Declaration.applicant_id, Declaration.name)).tuples())
    for k, (ci, username, status, name, ranks) in enumerate(DECLARATIONS):
        user = users[username]
        if (user.id, name) in have:
            continue
        d = _declaration(ctx, calls[ci], user, status, name, ranks, k)
        s.add(d)
        s.flush()
        _history(ctx, d, users, now - timedelta(days=20 - k % 10))
        if status == S.approved and calls[ci].report_opens_at:
            s.add(ProgressReport(declaration_id=d.id, period=f"{now.year}年第一季度", percent=30, invested=Decimal("120.50"),
                                 content="已完成总体方案设计和关键设备采购，正在开展样机试制。", problems="无",
                                 status=ProgressStatus.submitted, submitted_at=now - timedelta(days=3)))
            s.add(ProgressReport(declaration_id=d.id, period=f"{now.year}年第二季度", percent=55,
                                 content="样机完成装配调试。", status=ProgressStatus.draft))
    s.flush()


def _extra_accounts(ctx: DemoContext) -> None:
    s = ctx.session
    have = set(s.scalars(select(User.username)))
    units = {u.name: u for u in s.scalars(select(Unit))}
    for username, name, role, unit, mobile, idx in EXTRA_ACCOUNTS:
        if username not in have:
            s.add(User(username=username, name=name, role=role, mobile=mobile, id_no=make_id_no(idx),
                       password_hash=ctx.password_hash, unit_id=units[unit].id))
    s.flush()


def _revenues(ctx: DemoContext, year: int) -> None:
    s = ctx.session
    units = {u.name: u for u in s.scalars(select(Unit))}
    have = set(s.execute(select(UnitRevenue.unit_id, UnitRevenue.year)).tuples())
    for name, revenue in REVENUES.items():
        unit = units.get(name)
        if unit and (unit.id, year) not in have:
            s.add(UnitRevenue(unit_id=unit.id, year=year, revenue=Decimal(revenue)))


def _declaration(ctx, call, user, status, name, ranks, k) -> Declaration:
    rng = ctx.rng
    d = Declaration(
        call=call, call_id=call.id, year=call.year, applicant_id=user.id, unit_id=user.unit_id,
        secondary_unit_id=user.secondary_unit_id, status=status, name=name, leader=user.name,
        leader_phone=user.mobile, summary=f"{name}，面向行业重大需求开展关键技术攻关并实现示范应用。",
        innovation=INNOVATION[:170 + k % 20], tech_level_id=ctx.pick("tech_level"),
        industry_category_id=ctx.pick("industry_category"), start_month=date(call.year, 1 + k % 6, 1),
        end_month=date(call.year + 2, 12, 1), innovation_mode=rng.choice(list(InnovationMode)),
        new_tech_count=rng.randint(0, 3), new_product_count=rng.randint(0, 2), new_process_count=rng.randint(0, 2),
        new_tech_desc="形成具有自主知识产权的核心算法和软件平台。",
        unit_rank=ranks[0] if ranks else None, authority_rank=ranks[1] if ranks else None,
    )
    d.members = [Member(name=user.name, title="副教授", unit_name=user.unit.name if user.unit else "", duty="项目负责人", sort=1),
                 Member(name="刘芳", title="讲师", unit_name=user.unit.name if user.unit else "", duty="算法研究", sort=2)]
    d.budget_items = [BudgetItem(subject="设备费", amount=Decimal("50.00"), note="测试服务器"),
                      BudgetItem(subject="劳务费", amount=Decimal("20.00"))]
    if status != S.draft:
        d.number = _number(ctx, d)
        d.submitted_at = datetime.now() - timedelta(days=15)
    if status == S.returned:
        d.return_reason = "预算编制不合理，设备费占比过高，请修改后重新提交"
    if status == S.approved and call.report_opens_at:  # 调度填报 follows: 省厅下达通过的项目 (seed 003 §3)
        d.release_status = ReleaseStatus.released
        d.released_on = (call.closes_at + timedelta(days=60)).date()
        d.release_doc_no = f"渝科发〔{d.released_on.year}〕{10 + k}号"
    return d


def _number(ctx, d: Declaration) -> str:
    d.unit = ctx.session.get(Unit, d.unit_id)
    prefix = workflow.number_prefix(d)
    last = ctx.session.scalar(select(func.max(Declaration.number)).where(Declaration.number.like(prefix + "%")))
    return f"{prefix}{(int(last[len(prefix):]) if last else 0) + 1:04d}"


def _reviewer(users, d: Declaration, level: Level):
    unit = d.unit
    if level == Level.dept:
        return next((u for u in users.values() if u.role == Role.dept_admin and u.secondary_unit_id == d.secondary_unit_id), None)
    if level == Level.unit:
        return next((u for u in users.values() if u.role == Role.unit_admin and u.unit_id == d.unit_id), None)
    if level == Level.authority:
        # one authority per unit and call (rules.scope.routed_units): the competent department, else the district
        by_competent = unit.competent_unit_id and d.call.authority_route != AuthorityRoute.district
        return next((u for u in users.values() if u.role == Role.authority and (
            u.unit_id == unit.competent_unit_id if by_competent else (u.region_id and u.region_id == unit.region_id))), None)
    return users.get("bureau")


def _history(ctx, d: Declaration, users, at: datetime) -> None:
    """The review records that lead from 未提交 to the row's status, as if people had acted."""
    s = ctx.session
    final = d.status
    if final == S.draft:
        return
    probe = Declaration(call=d.call, secondary_unit_id=d.secondary_unit_id, status=S.draft)
    steps = [("submit", users[next(n for n, u in users.items() if u.id == d.applicant_id)], None, S.draft, workflow.first_state(probe), "")]
    state = steps[0][4]
    target = {S.returned: S.unit_review, S.rejected: S.bureau_review}.get(final, final)
    while state != target and state in workflow.REVIEWING:
        level = workflow.STATE_LEVEL[state]
        probe.status = state
        nxt = workflow.next_state(probe)
        steps.append(("approve", _reviewer(users, d, level), level, state, nxt, "同意推荐"))
        state = nxt
    if final == S.rejected:
        steps.append(("reject", users.get("bureau"), Level.bureau, state, S.rejected, "项目创新性不足，不予立项"))
    if final == S.returned:
        steps.append(("return", _reviewer(users, d, workflow.STATE_LEVEL[state]), workflow.STATE_LEVEL[state], state, S.returned, d.return_reason))
    for i, (action, user, level, frm, to, opinion) in enumerate(steps):
        s.add(ReviewRecord(
            declaration_id=d.id, at=at + timedelta(hours=i * 5), user_id=user.id if user else None,
            actor_name=user.username if user else "system", role=(user.role.value if user else "system"),
            level=level.value if level else None, action=action, from_status=frm, to_status=to, opinion=opinion or None,
        ))


STEPS = [seed_declarations]
