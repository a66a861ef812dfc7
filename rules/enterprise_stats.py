"""Statistics of enterprises and annual reports (科企信息统计表, 申报事项, 全市概况图, 自定义查询).

Every figure is one SQL aggregate (GROUP BY or a filtered count) inside the user's data scope;
Python only lays the grouped results out as table rows. A table is (headers, rows, total).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, Optional

from sqlalchemy import and_, case, distinct, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from models import AnnualReport, DictItem, Enterprise, EnterpriseStatus, InnovationVoucher, Region, RegionKind, ReportStatus, StorageStatus, VoucherType

from .scope import EVERYTHING, Principal, equals, predicate

SUBMITTED = (ReportStatus.district_review, ReportStatus.city_review, ReportStatus.approved)


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    total: Optional[list] = None


def year_end(year: int) -> date:
    return date(year, 12, 31)


def districts(session: Session, p: Principal) -> list[Region]:
    """The district rows a user's tables show: all for the city, its own (and its enterprises') for a district."""
    where = true() if p.role in EVERYTHING else or_(
        Region.id.in_(select(Enterprise.region_id).where(predicate(p, Enterprise))), equals(Region.id, p.region_id)
    )
    return list(session.scalars(select(Region).where(Region.kind == RegionKind.district, where).order_by(Region.sort, Region.id)))


def zone_text(region: Region) -> str:
    names = [n for flag, n in ((region.in_liangjiang, "两江新区"), (region.in_gaoxin, "高新区"), (region.in_jingkai, "经开区")) if flag]
    return "、".join(names) or "--"


def _count_if(cond):
    return func.sum(case((cond, 1), else_=0))


def _by_district(session: Session, p: Principal, measures: list, stmt) -> tuple[dict, list]:
    """Run `measures` grouped by district in one query; the 合计 row adds up the districts' figures.

    Every enterprise belongs to exactly one district and every measure here is a count or a sum,
    so the total of the groups is the total of the rows. `region_id + 0` keeps SQLite from
    walking the region index in index order (one random row read per enterprise).
    """
    scoped = stmt.where(predicate(p, Enterprise))
    key = Enterprise.region_id + 0
    grouped = {row[0]: list(row[1:]) for row in session.execute(scoped.with_only_columns(key, *measures).group_by(key))}
    total = [sum((values[i] or 0) for values in grouped.values()) for i in range(len(measures))]
    return grouped, total


def _layout(session, p, headers, grouped, total, width, lead: Optional[Callable[[Region], str]] = None):
    rows = []
    for i, region in enumerate(districts(session, p), start=1):
        values = [v or 0 for v in grouped.get(region.id, [0] * width)]
        rows.append([i, region.name, *([lead(region)] if lead else []), *values])
    return Table(headers, rows, ["", "合计", *(["--"] if lead else []), *[v or 0 for v in total]])


# -- 区县入库企业情况统计表 (§5.2) ----------------------------------------------------------
STORAGE_TABS = {"reports": "年报数量", "scale": "企业规模", "industry": "产业类别", "field": "高新技术领域"}
_DIM = {"scale": ("enterprise_scale", "scale_id"), "industry": ("industry_category", "industry_category_id"), "field": ("hitech_field", "hitech_field_id")}


def district_storage(session: Session, p: Principal, year: int, tab: str = "reports") -> Table:
    end = year_end(year)
    stored = and_(Enterprise.storage_status == StorageStatus.stored, Enterprise.stored_on <= end)
    if tab == "reports":
        r = aliased(AnnualReport)
        stmt = select(Enterprise).outerjoin(r, and_(r.enterprise_id == Enterprise.id, r.year == year, r.status.in_(SUBMITTED)))
        measures = [
            _count_if(or_(Enterprise.registered_on.is_(None), Enterprise.registered_on <= end)),
            _count_if(stored),
            func.count(r.id),
            _count_if(and_(stored, Enterprise.above_scale.is_(True))),
        ]
        grouped, total = _by_district(session, p, measures, stmt)
        headers = ["序号", "区县", "两江新区/高新区、经开区", "注册企业数(家)", "入库科企数(家)", "年报科企数(家)", "规上工业企业(家)"]
        return _layout(session, p, headers, grouped, total, 4, lead=zone_text)
    category, column = _DIM[tab]
    items = list(session.scalars(select(DictItem).where(DictItem.category == category).order_by(DictItem.sort, DictItem.id)))
    col = getattr(Enterprise, column)
    measures = [_count_if(col == item.id) for item in items] + [_count_if(col.is_(None)), func.count()]
    grouped, total = _by_district(session, p, measures, select(Enterprise).where(stored))
    headers = ["序号", "区县", *[i.name for i in items], "未填写", "入库科企数(家)"]
    return _layout(session, p, headers, grouped, total, len(measures))


# -- 区县科技型企业年报统计表 (§5.3) --------------------------------------------------------
ANNUAL_TABS = {
    "business": ("经营概况", [("营业收入(万元)", "revenue"), ("主营业务收入(万元)", "main_revenue"), ("净利润(万元)", "net_profit"),
                           ("上缴税金(万元)", "tax_paid"), ("出口创汇(万元)", "export_income"), ("研发费用总额(万元)", "rd_expense"),
                           ("高新技术产品收入(万元)", "hitech_income")]),
    "people": ("人员和研发平台概况", [("从业人员(人)", "staff"), ("科技人员(人)", "tech_staff"), ("研发人员(人)", "rd_staff"),
                                ("博士(人)", "doctors"), ("硕士(人)", "masters"), ("国家级研发平台(个)", "platforms_national"),
                                ("市级研发平台(个)", "platforms_city")]),
    "results": ("科技成果概况", [("有效发明专利(件)", "invention_patents"), ("实用新型专利(件)", "utility_patents"),
                            ("软件著作权(件)", "software_copyrights"), ("其他知识产权(件)", "other_ip"), ("新产品(项)", "new_products"),
                            ("技术合同(项)", "tech_contracts"), ("主导制定标准(项)", "standards_led"), ("参与制定标准(项)", "standards_joined")]),
}


def annual_summary(session: Session, p: Principal, year: int, tab: str = "business") -> Table:
    _, fields = ANNUAL_TABS[tab]
    stmt = select(Enterprise).join(AnnualReport, AnnualReport.enterprise_id == Enterprise.id).where(
        AnnualReport.year == year, AnnualReport.status.in_(SUBMITTED)
    )
    measures = [func.count(AnnualReport.id)] + [func.coalesce(func.sum(getattr(AnnualReport, c)), 0) for _, c in fields]
    grouped, total = _by_district(session, p, measures, stmt)
    headers = ["序号", "区县", "年报科企数(家)", *[h for h, _ in fields]]
    return _layout(session, p, headers, grouped, total, len(measures))


# -- 培育进度统计表 (§5.1), by month ------------------------------------------------------
def month_bounds(month: str) -> tuple[date, date]:
    start = datetime.strptime(month, "%Y-%m").date().replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, end


def month_text(month: str) -> str:
    """"2022-05" → "2022年5月"."""
    start, _ = month_bounds(month)
    return f"{start.year}年{start.month}月"


def cultivation_progress(session: Session, p: Principal, month: str) -> Table:
    """Like 累计入库 (stored now, stored before the month's end), 待审核 counts the enterprises pending
    now whose basic info was submitted (or, never submitted, entered) before the month's end."""
    start, end = month_bounds(month)
    sub_start, sub_end = datetime.combine(start, datetime.min.time()), datetime.combine(end, datetime.min.time())
    stored = Enterprise.storage_status == StorageStatus.stored
    measures = [
        _count_if(or_(Enterprise.registered_on.is_(None), Enterprise.registered_on < end)),
        _count_if(and_(stored, Enterprise.stored_on >= start, Enterprise.stored_on < end)),
        _count_if(and_(stored, Enterprise.stored_on < end)),
        _count_if(and_(Enterprise.review_status == EnterpriseStatus.pending,
                       func.coalesce(Enterprise.submitted_at, Enterprise.created_at) < sub_end)),
    ]
    grouped, total = _by_district(session, p, measures, select(Enterprise))
    reports = select(AnnualReport).join(Enterprise, Enterprise.id == AnnualReport.enterprise_id).where(
        AnnualReport.submitted_at >= sub_start, AnnualReport.submitted_at < sub_end)
    submitted, submitted_total = _by_district(session, p, [func.count(AnnualReport.id)], reports)
    for region_id, values in grouped.items():
        values.insert(3, submitted.get(region_id, [0])[0])
    total.insert(3, submitted_total[0])
    headers = ["序号", "区县", "注册企业数(家)", "本月新增入库科企(家)", "累计入库科企(家)", "本月提交年报(份)", "待审核企业(家)"]
    return _layout(session, p, headers, grouped, total, len(measures) + 1)


# -- 科技创新券 (§4.2, §4.3) -------------------------------------------------------------
VOUCHER_TABS = {"type": "创新券类型", "scale": "企业规模", "industry": "产业类型", "field": "高新技术领域"}
_VOUCHER_DICT = {"scale": ("enterprise_scale", "scale_id"), "industry": ("industry", "industry_id"), "field": ("hitech_field", "hitech_field_id")}
VOUCHER_MEASURES = ["申领企业数(家)", "申领数量(张)", "申领金额(万元)", "兑付金额(万元)"]
VOUCHER_NOTE = "合计按企业去重：同一企业申领多种或多张创新券只计一家，故“申领企业数”的合计可小于各行之和。"


def _voucher_measures():
    return [func.count(distinct(InnovationVoucher.enterprise_id)), func.count(InnovationVoucher.id),
            func.coalesce(func.sum(InnovationVoucher.amount), 0), func.coalesce(func.sum(InnovationVoucher.redeemed), 0)]


def voucher_claims(session: Session, p: Principal, year: int, tab: str = "type") -> Table:
    base = (select(InnovationVoucher).join(Enterprise, Enterprise.id == InnovationVoucher.enterprise_id)
            .where(InnovationVoucher.year == year, predicate(p, Enterprise)))
    if tab == "type":
        key, names = InnovationVoucher.voucher_type, [(t, t.label) for t in VoucherType]
    else:
        category, column = _VOUCHER_DICT[tab]
        key = getattr(Enterprise, column)
        names = [(i.id, i.name) for i in session.scalars(select(DictItem).where(DictItem.category == category).order_by(DictItem.sort, DictItem.id))]
        names.append((None, "未填写"))
    grouped = {row[0]: list(row[1:]) for row in session.execute(base.with_only_columns(key, *_voucher_measures()).group_by(key))}
    total = list(session.execute(base.with_only_columns(*_voucher_measures())).one())
    rows = [[i, name, *[v or 0 for v in grouped.get(k, [0, 0, 0, 0])]] for i, (k, name) in enumerate(names, start=1)]
    return Table(["序号", VOUCHER_TABS[tab], *VOUCHER_MEASURES], rows, ["", "合计", *[v or 0 for v in total]])


def voucher_by_enterprise(session: Session, p: Principal, year: int, search: str = "", offset: int = 0, limit: Optional[int] = 20) -> tuple[Table, int]:
    where = [InnovationVoucher.year == year, predicate(p, Enterprise)]
    if search:
        where.append(or_(Enterprise.name.contains(search, autoescape=True), Enterprise.uscc.contains(search, autoescape=True)))
    base = select(InnovationVoucher).join(Enterprise, Enterprise.id == InnovationVoucher.enterprise_id).join(Region, Region.id == Enterprise.region_id).where(*where)
    grouped = base.with_only_columns(Enterprise.name, Enterprise.uscc, Region.name, *_voucher_measures()[1:]).group_by(
        Enterprise.id, Enterprise.name, Enterprise.uscc, Region.name).order_by(Enterprise.name, Enterprise.id)
    count = session.scalar(base.with_only_columns(func.count(distinct(Enterprise.id))))
    if limit:
        grouped = grouped.offset(offset).limit(limit)
    rows = [[offset + i, *row] for i, row in enumerate(session.execute(grouped), start=1)]
    total = list(session.execute(base.with_only_columns(*_voucher_measures()[1:])).one())
    headers = ["序号", "企业名称", "统一社会信用代码", "所属区县", "申领数量(张)", "申领金额(万元)", "兑付金额(万元)"]
    return Table(headers, rows, ["", "合计", "--", "--", *[v or 0 for v in total]]), count


# -- 全市概况图 (§5.4) -------------------------------------------------------------------------
ZONE_TYPES = [("两江新区", "in_liangjiang"), ("国家级高新区和经开区", None), ("市级高新区", "in_city_hitech")]
OVERVIEW_NOTE = "园区/新区按企业的“所在园区/新区”统计，区县按企业的“所属区县”统计；未填写所在园区/新区的企业只计入所属区县。"


def overview(session: Session, p: Principal) -> dict:
    stored = Enterprise.storage_status == StorageStatus.stored
    scoped = select(Enterprise).where(predicate(p, Enterprise))
    key = Enterprise.region_id + 0  # see _by_district
    counts = {row[0]: (row[1], row[2] or 0) for row in session.execute(
        scoped.with_only_columns(key, func.count(), _count_if(stored)).group_by(key))}
    names = [r for r in districts(session, p)]
    z = aliased(Region)
    d = aliased(Region)

    def flag(attr):
        """In a zone of that type: the enterprise's 所在园区/新区 is one (a district's flags only say a zone
        reaches into it), or the enterprise is registered in the zone itself."""
        return or_(getattr(z, attr).is_(True), and_(d.kind == RegionKind.zone, getattr(d, attr).is_(True)))

    zone_conditions = [flag("in_liangjiang"), or_(flag("in_gaoxin"), flag("in_jingkai")), flag("in_city_hitech")]
    zone_stmt = (scoped.join(d, d.id == Enterprise.region_id).outerjoin(z, z.id == Enterprise.zone_id)
                 .with_only_columns(*[_count_if(c) for c in zone_conditions], *[_count_if(and_(c, stored)) for c in zone_conditions]))
    zone_row = session.execute(zone_stmt).one()
    return {
        "districts": [r.name for r in names],
        "registered": [counts.get(r.id, (0, 0))[0] for r in names],
        "stored": [counts.get(r.id, (0, 0))[1] for r in names],
        "zones": [name for name, _ in ZONE_TYPES],
        "zone_registered": [v or 0 for v in zone_row[:3]],
        "zone_stored": [v or 0 for v in zone_row[3:]],
    }


# -- 自定义查询 (§5.5) -------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    key: str
    label: str
    expr: Callable[[dict], object]
    report: bool = False  # a figure of the annual report (of the chosen year, or the latest approved one)


def _aliases():
    return {"region": aliased(Region), "industry": aliased(DictItem), "category": aliased(DictItem), "scale": aliased(DictItem),
            "field": aliased(DictItem), "r": aliased(AnnualReport)}


CUSTOM_FIELDS: list[Field] = [
    Field("region", "区县", lambda a: a["region"].name),
    Field("name", "企业名称", lambda a: Enterprise.name),
    Field("industry", "产业类型", lambda a: a["industry"].name),
    Field("category", "产业类别", lambda a: a["category"].name),
    Field("uscc", "统一社会信用代码", lambda a: Enterprise.uscc),
    Field("registered_on", "注册时间", lambda a: Enterprise.registered_on),
    Field("contact_name", "科研联系人", lambda a: Enterprise.contact_name),
    Field("contact_mobile", "科研联系人手机", lambda a: Enterprise.contact_mobile),
    Field("main_revenue", "主营业务收入(千元)", lambda a: Enterprise.main_revenue),
    Field("scale", "企业规模", lambda a: a["scale"].name),
    Field("field", "高新技术领域", lambda a: a["field"].name),
    Field("legal_rep", "法定代表人", lambda a: Enterprise.legal_rep),
    Field("storage_status", "入库状态", lambda a: Enterprise.storage_status),
    Field("review_status", "审核状态", lambda a: Enterprise.review_status),
    Field("report_year", "年报年度", lambda a: a["r"].year, True),
    Field("revenue", "营业收入(万元)", lambda a: a["r"].revenue, True),
    Field("rd_expense", "研发费用总额(万元)", lambda a: a["r"].rd_expense, True),
    Field("staff", "从业人员(人)", lambda a: a["r"].staff, True),
    Field("tech_staff", "科技人员(人)", lambda a: a["r"].tech_staff, True),
    Field("invention_patents", "有效发明专利(件)", lambda a: a["r"].invention_patents, True),
    Field("report_status", "年报审核状态", lambda a: a["r"].status, True),
]
LATEST = "最近一年年报"
LATEST_NOTE = "最近一年年报：年份选“全部”时，年报字段取各企业审核已通过的年报中年度最近的一份；没有已通过年报的企业，年报字段显示“--”（导出为空）。"
CUSTOM_BY_KEY = {f.key: f for f in CUSTOM_FIELDS}
CUSTOM_DEFAULT = ["region", "name", "industry", "uscc", "registered_on", "contact_name", "contact_mobile", "main_revenue"]


def custom_query(p: Principal, keys: list[str], year: Optional[int], search: str = ""):
    """(statement, headers) for the picked fields in the picked order; unknown keys are ignored.

    A year lists the enterprises with a report of that year and its figures; 全部 (None) lists every
    enterprise once, with the figures of its latest approved report (headers say 最近一年年报)."""
    picked = [CUSTOM_BY_KEY[k] for k in dict.fromkeys(keys) if k in CUSTOM_BY_KEY] or [CUSTOM_BY_KEY[k] for k in CUSTOM_DEFAULT]
    a = _aliases()
    r = a["r"]
    stmt = (
        select(*[f.expr(a).label(f.key) for f in picked])
        .select_from(Enterprise)
        .join(a["region"], a["region"].id == Enterprise.region_id)
        .outerjoin(a["industry"], a["industry"].id == Enterprise.industry_id)
        .outerjoin(a["category"], a["category"].id == Enterprise.industry_category_id)
        .outerjoin(a["scale"], a["scale"].id == Enterprise.scale_id)
        .outerjoin(a["field"], a["field"].id == Enterprise.hitech_field_id)
        .where(predicate(p, Enterprise))
        .order_by(a["region"].sort, Enterprise.name, Enterprise.id)
    )
    if year:
        stmt = stmt.join(r, and_(r.enterprise_id == Enterprise.id, r.year == year))
    else:
        latest = (select(AnnualReport.enterprise_id, func.max(AnnualReport.year).label("year"))
                  .where(AnnualReport.status == ReportStatus.approved).group_by(AnnualReport.enterprise_id).subquery())
        stmt = (stmt.outerjoin(latest, latest.c.enterprise_id == Enterprise.id)
                .outerjoin(r, and_(r.enterprise_id == Enterprise.id, r.year == latest.c.year)))
    if search:
        stmt = stmt.where(or_(Enterprise.name.contains(search, autoescape=True), Enterprise.uscc.contains(search, autoescape=True)))
    return stmt, [f"{f.label}（{LATEST}）" if f.report and not year else f.label for f in picked]


def count_of(session: Session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def years(session: Session, p: Principal) -> list[int]:
    return list(session.scalars(select(AnnualReport.year).where(predicate(p, AnnualReport)).group_by(AnnualReport.year).order_by(AnnualReport.year.desc())))


def voucher_years(session: Session, p: Principal) -> list[int]:
    return list(session.scalars(
        select(InnovationVoucher.year).join(Enterprise, Enterprise.id == InnovationVoucher.enterprise_id)
        .where(predicate(p, Enterprise)).group_by(InnovationVoucher.year).order_by(InnovationVoucher.year.desc())
    ))
