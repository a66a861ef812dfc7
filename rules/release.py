"""项目下达 (seed 003: 项目申报管理 rows end with 未下达; 调度填报 is for "省厅下达通过的项目"): the
bureau 下达s approved projects with a 下达文号 and 下达日期, and may 撤销下达 one not yet reported on.

A second machine on Declaration, over its own column `release_status`, beside the review status.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Optional

from sqlalchemy import exists, select

from models import Declaration, ProgressReport, ReleaseStatus, Role, Status

from . import display
from .constraints import CONTROL_CHARS
from .transitions import Context, Effect, Machine, Reason, Transition, Who, review_log
from .validators import has_control_chars
from .workflow import status_label

DOC_NO_MAX = Declaration.__table__.c.release_doc_no.type.length
FIELDS = {"doc_no": "下达文号", "released_on": "下达日期"}
YEARS = (1900, 2100)


def clean_release(data: dict) -> tuple[dict, dict]:
    """(values, errors) of what a 下达 asks: 下达文号 (required, at most 50 characters, no control
    characters) and 下达日期 (required, a real date YYYY-MM-DD). Errors are keyed by field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    doc_no = str(data.get("doc_no") or "").strip()
    if not doc_no:
        errors["doc_no"] = "请填写下达文号"
    elif has_control_chars(doc_no):
        errors["doc_no"] = f"下达文号{CONTROL_CHARS}"
    elif len(doc_no) > DOC_NO_MAX:
        errors["doc_no"] = f"下达文号最多 {DOC_NO_MAX} 个字（现为 {len(doc_no)} 字）"
    else:
        values["doc_no"] = doc_no
    raw = data.get("released_on")
    if isinstance(raw, date):
        values["released_on"] = raw
    elif not str(raw or "").strip():
        errors["released_on"] = "请填写下达日期"
    else:
        try:
            day = date.fromisoformat(str(raw).strip()[:10]) if len(str(raw).strip()) == 10 else None
        except ValueError:
            day = None
        if day is None or not YEARS[0] <= day.year <= YEARS[1]:
            errors["released_on"] = "下达日期应为有效日期，格式如 2026-03-15"
        else:
            values["released_on"] = day
    return values, errors


# -- guards ----------------------------------------------------------------------------------
def approved(c: Context) -> Optional[str]:
    """已立项 (技术创新项目: 已批准, the call's own word) projects only."""
    return None if c.row.status == Status.approved else f"只有{status_label(Status.approved, c.row.call)}的项目可以下达"


def release_data(c: Context) -> Optional[str]:
    _, errors = clean_release(c.data)
    return "；".join(errors.values()) if errors else None


def no_progress_reports(c: Context) -> Optional[str]:
    """A project already reported on (调度填报) keeps its 下达: the reports would lose their ground."""
    filed = c.session.scalar(select(exists().where(ProgressReport.declaration_id == c.row.id)))
    return "该项目已有调度填报，不能撤销下达" if filed else None


# -- effects ---------------------------------------------------------------------------------
def _release_values(c: Context) -> dict:
    values, _ = clean_release(c.data)  # the guard has refused anything else
    return {"release_doc_no": values["doc_no"], "released_on": values["released_on"]}


RELEASED = Effect("记下达文号与下达日期", set=_release_values)
REVOKED = Effect("清除下达文号与下达日期", set=lambda c: {"release_doc_no": None, "released_on": None})

# -- the table -------------------------------------------------------------------------------
BUREAU = Who(frozenset({Role.bureau}), None, "市科技局（省工信厅）")
P = ReleaseStatus

# fmt: off
DECLARATION_RELEASE = Machine("declaration_release", Declaration, "release_status", (
    #          action     label       from                   who      → to         guards                    effects      reason
    Transition("release", "下达",     frozenset({P.pending}), BUREAU, P.released, (approved, release_data), (RELEASED,), None,
               verb="下达"),
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
