"""Enterprise libraries (科企梯次培育库, 科企后备库, 科企认定库) as declarative rules over approved annual reports.

Each library is a list of conditions (条件说明). A condition has a label with `{param}` slots,
parameters with defaults, and a builder that turns the facts of one enterprise-year (SQL
expressions) and the parameter values into a SQL predicate. Membership is one SQL query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Callable, Optional

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from models import AnnualReport, Enterprise, LibraryParam, ListingStatus, Region, ReportStatus, StorageStatus

from .scope import Principal, predicate
from .renames import name_on_sql

WAN_5000, WAN_20000 = 5000, 20000  # revenue bands of the 高新技术企业认定管理办法, in 万元


@dataclass(frozen=True)
class Param:
    key: str
    label: str
    default: Decimal
    integer: bool = False
    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal(10**9)


@dataclass(frozen=True)
class Facts:
    """SQL expressions of one enterprise in one report year (r) with the previous year (prev)."""

    e: type
    r: object
    prev: object
    year: int

    @staticmethod
    def ratio(part, whole):
        return part * literal(100.0) / func.nullif(whole, 0)

    @property
    def tech_ratio(self):
        return self.ratio(self.r.tech_staff, self.r.staff)

    @property
    def rd_staff_ratio(self):
        return self.ratio(self.r.rd_staff, self.r.staff)

    @property
    def rd_ratio(self):
        return self.ratio(self.r.rd_expense, self.r.revenue)

    @property
    def domestic_ratio(self):
        return self.ratio(self.r.rd_domestic, self.r.rd_expense)

    @property
    def hitech_ratio(self):
        return self.ratio(self.r.hitech_income, self.r.revenue)

    @property
    def growth(self):
        return (self.r.revenue - self.prev.revenue) * literal(100.0) / func.nullif(self.prev.revenue, 0)

    @property
    def other_ip(self):
        return (func.coalesce(self.r.utility_patents, 0) + func.coalesce(self.r.software_copyrights, 0)
                + func.coalesce(self.r.other_ip, 0))


Builder = Callable[[Facts, dict], object]


@dataclass(frozen=True)
class Condition:
    key: str
    text: str  # 条件说明, with {param} slots
    params: tuple[Param, ...]
    test: Builder
    values: tuple[tuple[str, Callable[[Facts], object]], ...] = ()  # what the details page shows

    def label(self, values: dict) -> str:
        return self.text.format(**{p.key: _fmt(values.get(p.key, p.default)) for p in self.params})


@dataclass(frozen=True)
class Library:
    key: str
    name: str
    category: str
    conditions: tuple[Condition, ...]
    filters: tuple[str, ...] = ("search", "year", "region")
    first_year: bool = False  # 高成长: show and filter by the first year the enterprise qualified
    note: str = ""

    @property
    def params(self) -> list[Param]:
        return [p for c in self.conditions for p in c.params]

    @property
    def endpoint(self) -> str:
        return f"library_{self.key}"


def _fmt(value) -> str:
    value = Decimal(str(value))
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else format(value.normalize(), "f")


def P(key, label, default, integer=False, maximum=10**9):
    return Param(key, label, Decimal(str(default)), integer, Decimal(0), Decimal(maximum))


def _n(col):
    return func.coalesce(col, 0)


# -- shared conditions ----------------------------------------------------------------------
def registered_at_least(years_default=1) -> Condition:
    return Condition(
        "age", "企业申请认定时须注册成立一年以上（注册满 {age_years} 年）",
        (P("age_years", "注册年限(年)", years_default, integer=True, maximum=100),),
        lambda f, v: f.e.registered_on <= date(f.year - int(v["age_years"]), 12, 31),
        (("注册时间", lambda f: f.e.registered_on),),
    )


def tech_staff_at_least(default=10) -> Condition:
    return Condition(
        "tech_staff", "从事研发和相关技术创新活动的科技人员占企业当年职工总数的比例不低于 {tech_pct}%",
        (P("tech_pct", "科技人员占比(%)", default, maximum=100),),
        lambda f, v: f.tech_ratio >= v["tech_pct"],
        (("科技人员(人)", lambda f: f.r.tech_staff), ("从业人员(人)", lambda f: f.r.staff), ("科技人员占比(%)", lambda f: f.tech_ratio)),
    )


def rd_ratio_at_least(default=3) -> Condition:
    return Condition(
        "rd_ratio", "研究开发费用总额占同期营业收入总额的比例不低于 {rd_pct}%",
        (P("rd_pct", "研发费用占比(%)", default, maximum=100),),
        lambda f, v: f.rd_ratio >= v["rd_pct"],
        (("研发费用总额(万元)", lambda f: f.r.rd_expense), ("营业收入(万元)", lambda f: f.r.revenue), ("研发费用占比(%)", lambda f: f.rd_ratio)),
    )


def at_most(key, text, column, label, default, unit_label) -> Condition:
    return Condition(key, text, (P(key, unit_label, default),), lambda f, v: _col(f, column) <= v[key], ((label, lambda f: _col(f, column)),))


def at_least(key, text, column, label, default, unit_label) -> Condition:
    return Condition(key, text, (P(key, unit_label, default),), lambda f, v: _col(f, column) >= v[key], ((label, lambda f: _col(f, column)),))


def _col(f: Facts, name: str):
    return getattr(f.r, name)


# -- the eight libraries --------------------------------------------------------------------
HITECH_RESERVE = Library(
    "hitech_reserve", "高企后备库", "科企梯次培育库",
    (
        registered_at_least(1),
        Condition(
            "ip", "企业通过自主研发、受让、受赠、并购等方式，获得对其主要产品（服务）在技术上发挥核心支持作用的知识产权的所有权"
                  "（有效发明专利不少于 {ip_invention} 件，或实用新型、软件著作权等其他知识产权不少于 {ip_other} 件）",
            (P("ip_invention", "发明专利(件)", 1, integer=True), P("ip_other", "其他知识产权(件)", 5, integer=True)),
            lambda f, v: or_(_n(f.r.invention_patents) >= v["ip_invention"], f.other_ip >= v["ip_other"]),
            (("有效发明专利(件)", lambda f: f.r.invention_patents), ("其他知识产权(件)", lambda f: f.other_ip)),
        ),
        tech_staff_at_least(10),
        Condition(
            "rd_band", "近一年销售收入小于5,000万元（含）的企业，研发费用占比不低于 {rd_small}%；5,000万元至2亿元（含）的企业，"
                       "不低于 {rd_medium}%；2亿元以上的企业，不低于 {rd_large}%",
            (P("rd_small", "≤5000万元(%)", 5, maximum=100), P("rd_medium", "5000万–2亿元(%)", 4, maximum=100),
             P("rd_large", ">2亿元(%)", 3, maximum=100)),
            lambda f, v: or_(
                and_(f.r.revenue <= WAN_5000, f.rd_ratio >= v["rd_small"]),
                and_(f.r.revenue > WAN_5000, f.r.revenue <= WAN_20000, f.rd_ratio >= v["rd_medium"]),
                and_(f.r.revenue > WAN_20000, f.rd_ratio >= v["rd_large"]),
            ),
            (("营业收入(万元)", lambda f: f.r.revenue), ("研发费用总额(万元)", lambda f: f.r.rd_expense), ("研发费用占比(%)", lambda f: f.rd_ratio)),
        ),
        Condition(
            "domestic", "在中国境内发生的研究开发费用总额占全部研究开发费用总额的比例不低于 {domestic_pct}%",
            (P("domestic_pct", "境内研发占比(%)", 60, maximum=100),),
            lambda f, v: f.domestic_ratio >= v["domestic_pct"],
            (("境内研发费用(万元)", lambda f: f.r.rd_domestic), ("境内研发占比(%)", lambda f: f.domestic_ratio)),
        ),
        Condition(
            "hitech_income", "近一年高新技术产品（服务）收入占企业同期总收入的比例不低于 {hitech_pct}%",
            (P("hitech_pct", "高新技术产品收入占比(%)", 60, maximum=100),),
            lambda f, v: f.hitech_ratio >= v["hitech_pct"],
            (("高新技术产品(服务)收入(万元)", lambda f: f.r.hitech_income), ("高新收入占比(%)", lambda f: f.hitech_ratio)),
        ),
        Condition(
            "score", "企业创新能力评价应达到相应要求（创新能力评分不低于 {score_min} 分）",
            (P("score_min", "创新能力评分(分)", 70, integer=True, maximum=100),),
            lambda f, v: f.r.innovation_score >= v["score_min"],
            (("创新能力自评分", lambda f: f.r.innovation_score),),
        ),
    ),
    note="依据《高新技术企业认定管理办法》第十一条的七项条件。",
)

LIBRARIES: tuple[Library, ...] = (
    Library(
        "incubation", "科企孵化库", "科企梯次培育库",
        (
            Condition("young", "成立时间不超过 {young_years} 年",
                      (P("young_years", "成立年限(年)", 3, integer=True, maximum=100),),
                      lambda f, v: f.e.registered_on >= date(f.year - int(v["young_years"]) + 1, 1, 1),
                      (("注册时间", lambda f: f.e.registered_on),)),
            at_most("small_staff", "从业人员不超过 {small_staff} 人", "staff", "从业人员(人)", 100, "从业人员(人)"),
            rd_ratio_at_least(3),
        ),
        filters=("search", "year", "region", "founded"),
    ),
    HITECH_RESERVE,
    Library(
        "star_reserve", "科创板上市企业储备库", "科企梯次培育库",
        (
            at_least("star_revenue", "最近一年营业收入不低于 {star_revenue} 万元", "revenue", "营业收入(万元)", 10000, "营业收入(万元)"),
            rd_ratio_at_least(5),
            Condition("rd_staff", "研发人员占当年员工总数的比例不低于 {rd_staff_pct}%",
                      (P("rd_staff_pct", "研发人员占比(%)", 10, maximum=100),),
                      lambda f, v: f.rd_staff_ratio >= v["rd_staff_pct"],
                      (("研发人员(人)", lambda f: f.r.rd_staff), ("研发人员占比(%)", lambda f: f.rd_staff_ratio))),
            at_least("star_patents", "形成主营业务收入的发明专利不少于 {star_patents} 项", "invention_patents", "有效发明专利(件)", 5, "发明专利(件)"),
            Condition("not_listed", "尚未上市", (), lambda f, v: f.r.listing_status != ListingStatus.listed,
                      (("挂牌上市情况", lambda f: f.r.listing_status),)),
        ),
        filters=("search", "year", "region"),
    ),
    Library(
        "leader", "领军企业培育库", "科企梯次培育库",
        (
            at_least("leader_revenue", "营业收入不低于 {leader_revenue} 万元", "revenue", "营业收入(万元)", 20000, "营业收入(万元)"),
            at_least("leader_rd", "研发费用总额不低于 {leader_rd} 万元", "rd_expense", "研发费用总额(万元)", 1000, "研发费用(万元)"),
            at_least("leader_patents", "有效发明专利不少于 {leader_patents} 件", "invention_patents", "有效发明专利(件)", 10, "发明专利(件)"),
            Condition("platform", "拥有市级及以上研发平台不少于 {platforms} 个",
                      (P("platforms", "研发平台(个)", 1, integer=True),),
                      lambda f, v: _n(f.r.platforms_national) + _n(f.r.platforms_city) >= v["platforms"],
                      (("国家级研发平台(个)", lambda f: f.r.platforms_national), ("市级研发平台(个)", lambda f: f.r.platforms_city))),
        ),
    ),
    Library(
        "high_growth", "高成长科技企业筛选库", "科企后备库",
        (
            at_least("growth_base", "当年营业收入不低于 {growth_base} 万元", "revenue", "营业收入(万元)", 500, "营业收入(万元)"),
            Condition("growth", "营业收入较上一年度增长不低于 {growth_pct}%",
                      (P("growth_pct", "营业收入增长率(%)", 20, maximum=10000),),
                      lambda f, v: f.growth >= v["growth_pct"],
                      (("上年营业收入(万元)", lambda f: f.prev.revenue), ("营业收入增长率(%)", lambda f: f.growth))),
            rd_ratio_at_least(3),
        ),
        filters=("search", "year", "region", "first_year"),
        first_year=True,
    ),
    Library(
        "sme_reserve", "国家科技型中小企业后备库", "科企后备库",
        (
            at_most("sme_staff", "职工总数不超过 {sme_staff} 人", "staff", "从业人员(人)", 500, "职工总数(人)"),
            at_most("sme_revenue", "年销售收入不超过 {sme_revenue} 万元", "revenue", "营业收入(万元)", 20000, "销售收入(万元)"),
            at_most("sme_assets", "资产总额不超过 {sme_assets} 万元", "total_assets", "资产总额(万元)", 20000, "资产总额(万元)"),
            tech_staff_at_least(10),
            rd_ratio_at_least(3),
        ),
        note="依据《科技型中小企业评价办法》：职工总数不超过500人、年销售收入不超过2亿元、资产总额不超过2亿元，并具备相应科技条件。",
    ),
    Library(
        "tech_enterprise", "科技型企业认定库", "科企认定库",
        (
            Condition("stored", "已通过区县审核入库", (), lambda f, v: f.e.storage_status == StorageStatus.stored,
                      (("入库状态", lambda f: f.e.storage_status),)),
            tech_staff_at_least(10),
            rd_ratio_at_least(3),
            Condition("has_ip", "拥有知识产权不少于 {ip_any} 件", (P("ip_any", "知识产权(件)", 1, integer=True),),
                      lambda f, v: _n(f.r.invention_patents) + f.other_ip >= v["ip_any"],
                      (("有效发明专利(件)", lambda f: f.r.invention_patents), ("其他知识产权(件)", lambda f: f.other_ip))),
        ),
    ),
    Library(
        "hitech_certified", "高新技术企业认定库", "科企认定库",
        (
            Condition("certified", "已获高新技术企业认定", (), lambda f, v: f.r.hitech_certified.is_(True),
                      (("是否高新技术企业", lambda f: f.r.hitech_certified), ("高企证书编号", lambda f: f.r.hitech_cert_no))),
            Condition("valid", "高企证书在有效期内（有效期 {valid_years} 年）",
                      (P("valid_years", "有效期(年)", 3, integer=True, maximum=10),),
                      lambda f, v: f.r.hitech_cert_year > f.year - int(v["valid_years"]),
                      (("高企认定年份", lambda f: f.r.hitech_cert_year),)),
        ),
    ),
)
BY_KEY = {lib.key: lib for lib in LIBRARIES}


# -- parameters -----------------------------------------------------------------------------
def saved_defaults(session: Session, library: Library) -> dict[str, Decimal]:
    values = {p.key: p.default for p in library.params}
    for row in session.scalars(select(LibraryParam).where(LibraryParam.library == library.key)):
        if row.param in values:
            values[row.param] = Decimal(str(row.value)).normalize()
    return values


def parse_params(library: Library, defaults: dict, given: dict) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Values from a form (strings), falling back to defaults; errors in Chinese per parameter."""
    values, errors = dict(defaults), {}
    for p in library.params:
        raw = (given.get(p.key) or "").strip()
        if raw == "":
            continue
        try:
            value = Decimal(raw)
            if not value.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors[p.key] = f"{p.label}须为数字"
            continue
        if p.integer and value != value.to_integral():
            errors[p.key] = f"{p.label}须为整数"
        elif not (p.minimum <= value <= p.maximum):
            errors[p.key] = f"{p.label}须在 {_fmt(p.minimum)} 到 {_fmt(p.maximum)} 之间"
        else:
            values[p.key] = value
    return values, errors


def save_defaults(session: Session, library: Library, values: dict[str, Decimal]) -> int:
    """Store new defaults (ORM writes, so the audit log records before/after)."""
    rows = {r.param: r for r in session.scalars(select(LibraryParam).where(LibraryParam.library == library.key))}
    changed = 0
    for p in library.params:
        value = values[p.key]
        row = rows.get(p.key)
        if row is None:
            session.add(LibraryParam(library=library.key, param=p.key, value=value))
            changed += 1
        elif Decimal(str(row.value)) != value:
            row.value = value
            changed += 1
    session.flush()
    return changed


# -- queries --------------------------------------------------------------------------------
def facts(year: int) -> tuple[Facts, object]:
    """The FROM clause: enterprises with their approved report of `year` and the previous year's."""
    r = aliased(AnnualReport, name="r")
    prev = aliased(AnnualReport, name="prev")
    f = Facts(Enterprise, r, prev, year)
    joined = (
        select(Enterprise)
        .join(r, and_(r.enterprise_id == Enterprise.id, r.year == year, r.status == ReportStatus.approved))
        .outerjoin(prev, and_(prev.enterprise_id == Enterprise.id, prev.year == year - 1, prev.status == ReportStatus.approved))
    )
    return f, joined


def member_clause(library: Library, f: Facts, values: dict):
    return and_(*[c.test(f, values) for c in library.conditions])


def latest_year(session: Session, p: Principal) -> Optional[int]:
    return session.scalar(
        select(func.max(AnnualReport.year)).where(AnnualReport.status == ReportStatus.approved, predicate(p, AnnualReport))
    )


def report_years(session: Session, p: Principal) -> list[int]:
    return list(session.scalars(
        select(AnnualReport.year).where(predicate(p, AnnualReport)).group_by(AnnualReport.year).order_by(AnnualReport.year.desc())
    ))


def _qualified_years(session: Session, library: Library, p: Principal, values: dict, year: int, ids=None):
    """UNION over report years up to `year` of (enterprise_id, y) where the enterprise qualified in y."""
    years = [y for y in report_years(session, p) if y <= year] or [year]
    branches = []
    for y in years:
        f, joined = facts(y)
        branch = joined.with_only_columns(Enterprise.id.label("enterprise_id"), literal(y).label("y")).where(
            member_clause(library, f, values), predicate(p, Enterprise))
        if ids is not None:
            branch = branch.where(Enterprise.id.in_(ids))
        branches.append(branch)
    return union_all(*branches).subquery("qualified")


def first_years(session: Session, library: Library, p: Principal, values: dict, year: int):
    """Subquery (enterprise_id, first_year): the earliest report year up to `year` the enterprise qualified."""
    u = _qualified_years(session, library, p, values, year)
    return select(u.c.enterprise_id, func.min(u.c.y).label("first_year")).group_by(u.c.enterprise_id).subquery("first")


def first_years_of(session: Session, library: Library, p: Principal, values: dict, year: int, ids: list[int]) -> dict[int, int]:
    """首次符合条件年份 of a few enterprises (one page), without computing it for everyone."""
    if not ids:
        return {}
    u = _qualified_years(session, library, p, values, year, ids)
    return dict(session.execute(select(u.c.enterprise_id, func.min(u.c.y)).group_by(u.c.enterprise_id)).all())


@dataclass
class Query:
    """What the user asked of a library page."""

    year: int
    values: dict
    search: str = ""
    region_id: Optional[int] = None
    founded_from: Optional[date] = None
    founded_to: Optional[date] = None
    first_year: Optional[int] = None


LIST_COLUMNS = (
    ("企业名称", lambda f: name_on_sql(f.e.id, f.e.name, date(f.year, 12, 31))),  # the name of the report year (rules/renames.py)
    ("统一社会信用代码", lambda f: f.e.uscc),
    ("所属区县", lambda f: Region.name),
    ("注册时间", lambda f: f.e.registered_on),
    ("营业收入(万元)", lambda f: f.r.revenue),
    ("研发费用总额(万元)", lambda f: f.r.rd_expense),
    ("从业人员(人)", lambda f: f.r.staff),
    ("科技人员(人)", lambda f: f.r.tech_staff),
)


def members(session: Session, library: Library, p: Principal, q: Query, first_year_for_all: bool = False):
    """(statement, headers): the library's members as rows, id first; the caller pages it.

    The 首次符合条件年份 column is computed for every member only when filtered by it or asked
    (export); a page adds it for its own rows with `first_years_of`.
    """
    f, joined = facts(q.year)
    columns = [Enterprise.id] + [build(f).label(f"c{i}") for i, (_, build) in enumerate(LIST_COLUMNS)]
    headers = [h for h, _ in LIST_COLUMNS]
    stmt = joined.join(Region, Region.id == Enterprise.region_id).where(member_clause(library, f, q.values), predicate(p, Enterprise))
    if library.first_year and (q.first_year or first_year_for_all):
        first = first_years(session, library, p, q.values, q.year)
        stmt = stmt.join(first, first.c.enterprise_id == Enterprise.id)
        columns.append(first.c.first_year)
        headers.append("首次符合条件年份")
        if q.first_year:
            stmt = stmt.where(first.c.first_year == q.first_year)
    if q.search:
        stmt = stmt.where(or_(Enterprise.name.contains(q.search, autoescape=True), Enterprise.uscc.contains(q.search, autoescape=True)))
    if q.region_id:
        stmt = stmt.where(Enterprise.region_id == q.region_id)
    if q.founded_from:
        stmt = stmt.where(Enterprise.registered_on >= q.founded_from)
    if q.founded_to:
        stmt = stmt.where(Enterprise.registered_on <= q.founded_to)
    return stmt.with_only_columns(*columns).order_by(Enterprise.name, Enterprise.id), headers


def count(session: Session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def member_ids(session: Session, library: Library, p: Principal, q: Query) -> set[int]:
    stmt, _ = members(session, library, p, q)
    return {row[0] for row in session.execute(stmt)}


def explain(session: Session, library: Library, p: Principal, enterprise_id: int, year: int, values: dict) -> Optional[list[dict]]:
    """Per condition: its label, pass/fail and the enterprise's values; None when out of scope or no approved report."""
    f, joined = facts(year)
    columns = []
    for c in library.conditions:
        columns.append(case((c.test(f, values), 1), else_=0))
        columns.extend(build(f) for _, build in c.values)
    row = session.execute(
        joined.with_only_columns(*columns).where(Enterprise.id == enterprise_id, predicate(p, Enterprise))
    ).first()
    if row is None:
        return None
    result, i = [], 0
    for c in library.conditions:
        passed = bool(row[i])
        i += 1
        shown = []
        for label_text, _ in c.values:
            shown.append((label_text, row[i]))
            i += 1
        result.append({"key": c.key, "label": c.label(values), "passed": passed, "values": shown})
    return result
