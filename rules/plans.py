"""计划表 and 计划汇总表 (seed 003 tabs): the approved projects (已立项) of a year and batch inside the
user's data scope, listed, and counted by 区县 and by 产业类别 with one GROUP BY each."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from models import Call, Declaration, DictItem, ReleaseStatus, Region, Status, Unit

from .enterprise_stats import Table
from .release import period_text
from .scope import Principal, predicate

PLAN_HEADERS = ["序号", "项目编号", "企业（申报单位）", "区县", "项目名称", "项目技术水平", "产业类别", "起止时间", "下达状态"]
SUMMARY_TABS = {"district": "按区县", "industry": "按产业类别"}
UNFILLED = "未填写"


def _approved(p: Principal, year: int, call_id: Optional[int]) -> list:
    where = [Declaration.status == Status.approved, predicate(p, Declaration), Declaration.year == year]
    if call_id is not None:
        where.append(Declaration.call_id == call_id)
    return where


def years(session: Session, p: Principal) -> list[int]:
    """The years with approved projects this user sees, latest first."""
    stmt = (select(Declaration.year).distinct().where(Declaration.status == Status.approved, predicate(p, Declaration))
            .order_by(Declaration.year.desc()))
    return list(session.scalars(stmt))


def calls(session: Session, p: Principal, year: int) -> list[Call]:
    """The calls (批次) of `year` with approved projects this user sees."""
    ids = select(Declaration.call_id).where(*_approved(p, year, None))
    return list(session.scalars(select(Call).where(Call.id.in_(ids)).order_by(Call.opens_at, Call.id)))


def title(kind: str, year: int, call: Optional[Call]) -> str:
    """The sheet's title names the period: 2026年 第一批 计划表 (all batches: 2026年 计划表)."""
    return f"{year}年 {call.batch} {kind}" if call is not None else f"{year}年 {kind}"


def plan(session: Session, p: Principal, year: int, call_id: Optional[int], offset: int = 0,
         limit: Optional[int] = None) -> tuple[Table, int]:
    """计划表: one row per approved project, by 项目编号; (table of the page, count of all rows)."""
    tech, industry = aliased(DictItem), aliased(DictItem)
    where = _approved(p, year, call_id)
    count = session.scalar(select(func.count()).select_from(Declaration).where(*where))
    stmt = (
        select(Declaration.number, Unit.name, Region.name, Declaration.name, tech.name, industry.name,
               Declaration.start_month, Declaration.end_month, Declaration.release_status)
        .select_from(Declaration).join(Unit, Unit.id == Declaration.unit_id).outerjoin(Region, Region.id == Unit.region_id)
        .outerjoin(tech, tech.id == Declaration.tech_level_id).outerjoin(industry, industry.id == Declaration.industry_category_id)
        .where(*where).order_by(Declaration.number, Declaration.id).offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = []
    for i, (number, unit, region, name, level, category, start, end, released) in enumerate(session.execute(stmt), start=offset + 1):
        rows.append([i, number or "", unit, region or "", name, level or "", category or "", period_text(start, end), released.label])
    return Table(list(PLAN_HEADERS), rows), count or 0


def summary(session: Session, p: Principal, year: int, call_id: Optional[int], tab: str = "district") -> Table:
    """计划汇总表: 项目数, 已下达, 未下达 per 区县 (or per 产业类别), and a 合计 row. Each project is in
    exactly one group (an empty district or category is 未填写), so the 合计 is the groups' sum."""
    released = func.sum(case((Declaration.release_status == ReleaseStatus.released, 1), else_=0))
    base = select(Declaration).where(*_approved(p, year, call_id))
    if tab == "industry":
        industry = aliased(DictItem)
        stmt = (base.outerjoin(industry, industry.id == Declaration.industry_category_id)
                .with_only_columns(industry.name, func.count(Declaration.id), released)
                .group_by(industry.id, industry.name, industry.sort)
                .order_by(industry.id.is_(None), industry.sort, industry.id))
        first = "产业类别"
    else:
        stmt = (base.join(Unit, Unit.id == Declaration.unit_id).outerjoin(Region, Region.id == Unit.region_id)
                .with_only_columns(Region.name, func.count(Declaration.id), released)
                .group_by(Region.id, Region.name, Region.sort)
                .order_by(Region.id.is_(None), Region.sort, Region.id))
        first = "区县"
    rows = []
    for i, (name, projects, done) in enumerate(session.execute(stmt), start=1):
        done = int(done or 0)
        rows.append([i, name or UNFILLED, projects, done, projects - done])
    total = ["", "合计", *(sum(row[k] for row in rows) for k in (2, 3, 4))]
    return Table(["序号", first, "项目数", "已下达", "未下达"], rows, total)
