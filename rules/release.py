"""项目下达 (seed 003: 项目申报管理 rows end with 未下达; 调度填报 is for "省厅下达通过的项目"): the
bureau 下达s approved projects with a 下达文号 and 下达日期, and may 撤销下达 one not yet reported on.

A second machine on Declaration, over its own column `release_status`, beside the review status.
"""
from __future__ import annotations

from datetime import date
from typing import Optional

from sqlalchemy import exists, select

from models import Declaration, ProgressReport, ReleaseStatus, Role, Status

from . import display
from .transitions import Ask, Context, Effect, Machine, Reason, Transition, Who, review_log
from .workflow import status_label

DOC_NO_MAX = Declaration.__table__.c.release_doc_no.type.length


# -- guards ----------------------------------------------------------------------------------
def approved(c: Context) -> Optional[str]:
    """已立项 (技术创新项目: 已批准, the call's own word) projects only."""
    return None if c.row.status == Status.approved else f"只有{status_label(Status.approved, c.row.call)}的项目可以下达"


def no_progress_reports(c: Context) -> Optional[str]:
    """A project already reported on (调度填报) keeps its 下达: the reports would lose their ground."""
    filed = c.session.scalar(select(exists().where(ProgressReport.declaration_id == c.row.id)))
    return "该项目已有调度填报，不能撤销下达" if filed else None


# -- effects ---------------------------------------------------------------------------------
# What 下达 asks besides a reason: the engine reads and checks them (transitions.Ask) on the 下达 page,
# in the list's dialog and when acting without a form.
DOC_NO = Ask("doc_no", "下达文号", required=True, max_length=DOC_NO_MAX, help="如 渝科发〔2026〕8号")
RELEASED_ON = Ask("released_on", "下达日期", kind="date", required=True)
RELEASED = Effect("记下达文号与下达日期", set=lambda c: {"release_doc_no": c.data["doc_no"], "released_on": c.data["released_on"]})
REVOKED = Effect("清除下达文号与下达日期", set=lambda c: {"release_doc_no": None, "released_on": None})

# -- the table -------------------------------------------------------------------------------
BUREAU = Who(frozenset({Role.bureau}), None, "市科技局（省工信厅）")
P = ReleaseStatus

# fmt: off
DECLARATION_RELEASE = Machine("declaration_release", Declaration, "release_status", (
    #          action     label       from                   who      → to         guards                    effects      reason
    Transition("release", "下达",     frozenset({P.pending}), BUREAU, P.released, (approved,),              (RELEASED,), None,
               verb="下达", asks=(DOC_NO, RELEASED_ON)),
    Transition("revoke",  "撤销下达", frozenset({P.released}), BUREAU, P.pending, (no_progress_reports,),   (REVOKED,),  Reason("撤销原因", True),
               verb="撤销下达"),
), record=review_log("declaration_release"), row_label=lambda d: d.name,
   audit_before=lambda c: {"release_doc_no": c.row.release_doc_no, "released_on": c.row.released_on.isoformat() if c.row.released_on else None})
# fmt: on


# -- how it reads ----------------------------------------------------------------------------
@display.reads(Declaration, "batch")
def _batch(d: Declaration) -> str:
    """项目批次 as the seed's lists write it (第一批, 下半年); the year is its own column."""
    return d.call.batch if d.call is not None else ""


@display.reads(Declaration, "region")
def _region(d: Declaration) -> str:
    """区县: the declaring unit's district."""
    unit = d.unit
    return unit.region.name if unit is not None and unit.region is not None else ""


def period_text(start: Optional[date], end: Optional[date]) -> str:
    """起止时间 as the 计划表 writes it: 2025年3月～2026年12月."""
    if not start and not end:
        return ""
    return "～".join(f"{d.year}年{d.month}月" if d else "" for d in (start, end))
