"""申报限额 (seed 003): how many declarations a unit may have in one call, by last year's revenue.

Last year's revenue is the 营业收入 of the unit's enterprise in its approved (审核已通过)
科技信息年报; a unit without one falls back to the figure kept by hand in 单位营业收入.

A rule is a list of `[revenue_from_万元, max_items]` steps, e.g. the default
`[[0, 1], [2000, 2], [40000, 5], [100000, 10]]`: below 2000万 1 item, 2000万–4亿 2, 4亿–10亿 5,
10亿 and above 10. A call without a rule has no limit.
"""
from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AnnualReport, Enterprise, ReportStatus, UnitRevenue


class Revenue(NamedTuple):
    amount: Optional[Decimal]  # 万元; None when nothing is on record
    source: str  # where it was read, shown in a refusal


def last_year_revenue(session: Session, unit_id: int, year: int) -> Revenue:
    """The unit's 营业收入 in `year`: its approved annual report, else 单位营业收入, else unknown."""
    reported = session.scalar(
        select(AnnualReport.revenue)
        .join(Enterprise, Enterprise.id == AnnualReport.enterprise_id)
        .where(Enterprise.unit_id == unit_id, AnnualReport.year == year, AnnualReport.status == ReportStatus.approved)
    )
    if reported is not None:
        return Revenue(reported, f"{year}年度科技信息年报")
    kept = session.scalar(select(UnitRevenue.revenue).where(UnitRevenue.unit_id == unit_id, UnitRevenue.year == year))
    return Revenue(kept, "单位营业收入") if kept is not None else Revenue(None, "")


def _money(wan: float | Decimal) -> str:
    wan = Decimal(str(wan))
    if wan >= 10000 and wan % 10000 == 0:
        return f"{int(wan // 10000)}亿"
    return f"{wan.normalize():f}万"


def normalize(rule: Optional[Sequence]) -> list[tuple[Decimal, int]]:
    """The steps sorted by threshold; raises ValueError on a malformed rule."""
    if not rule:
        return []
    steps = []
    for step in rule:
        if not isinstance(step, (list, tuple)) or len(step) != 2:
            raise ValueError("每一档应为 [营业收入下限(万元), 限额项数]")
        threshold, limit = Decimal(str(step[0])), int(step[1])
        if threshold < 0 or limit < 0:
            raise ValueError("营业收入下限和限额项数不能为负数")
        steps.append((threshold, limit))
    steps.sort()
    if steps[0][0] != 0:
        raise ValueError("第一档的营业收入下限应为 0")
    return steps


def limit_for(rule: Optional[Sequence], revenue: Optional[Decimal]) -> Optional[int]:
    """Items allowed for a unit with `revenue` (万元; unknown counts as 0); None means no limit."""
    steps = normalize(rule)
    if not steps:
        return None
    revenue = Decimal(str(revenue or 0))
    allowed = steps[0][1]
    for threshold, limit in steps:
        if revenue >= threshold:
            allowed = limit
    return allowed


def describe(rule: Optional[Sequence]) -> str:
    """e.g. 上年度营业收入2000万以下1项，2000万-4亿2项，4亿-10亿5项，10亿及以上10项"""
    steps = normalize(rule)
    if not steps:
        return "不限项数"
    parts = []
    for i, (threshold, limit) in enumerate(steps):
        upper = steps[i + 1][0] if i + 1 < len(steps) else None
        if threshold == 0 and upper is not None:
            parts.append(f"{_money(upper)}以下{limit}项")
        elif upper is None:
            parts.append(f"{_money(threshold)}及以上{limit}项")
        else:
            parts.append(f"{_money(threshold)}-{_money(upper)}{limit}项")
    return "上年度营业收入" + "，".join(parts)


def refusal(rule: Optional[Sequence], revenue: Optional[Decimal], year: int, already: int, source: str = "") -> Optional[str]:
    """The Chinese refusal when one more declaration would exceed the quota, else None."""
    allowed = limit_for(rule, revenue)
    if allowed is None or already < allowed:
        return None
    shown = "未填报（按 0 计）" if revenue is None else f"{_money(revenue)}元" + (f"（{source}）" if source else "")
    return (
        f"超出本批次申报限额：本单位{year}年度营业收入{shown}，每批最多申报 {allowed} 项，"
        f"已申报 {already} 项（限额规则：{describe(rule)}）"
    )
