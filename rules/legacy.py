"""老项目认领 (seed 003): an enterprise claims a project of the old system that carries its
统一社会信用代码; its district (the authority of the enterprise's region, as 企业基本信息审核)
confirms or rejects the claim. The claim is a transition table of the one engine; a confirmed
project shows in the enterprise's 项目基本信息 beside its declarations (`enterprise_projects`).
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ClaimStatus, Declaration, Enterprise, LegacyProject, Role

from . import display, scope
from .transitions import Context, Effect, Machine, Reason, Transition, Who, review_log, where_check

FILLERS = scope.FILLERS
HISTORY = "历史项目"


def normal(code: Optional[str]) -> str:
    return (code or "").strip().upper()


def enterprise_of(session: Session, p: scope.Principal) -> Optional[Enterprise]:
    """The enterprise linked to the user's unit, if any."""
    if p is None or p.unit_id is None:
        return None
    return session.scalar(select(Enterprise).where(Enterprise.unit_id == p.unit_id))


# -- who ------------------------------------------------------------------------------------------
def _uscc_matches(c: Context) -> Optional[str]:
    enterprise = enterprise_of(c.session, c.principal)
    if enterprise is None:
        return "您的单位未关联企业，不能认领老项目"
    if normal(enterprise.uscc) != normal(c.row.uscc):
        return "该项目的统一社会信用代码与本企业不一致，不能认领"
    return None


def _own_claim(c: Context) -> Optional[str]:
    enterprise = enterprise_of(c.session, c.principal)
    if enterprise is None or c.row.enterprise_id != enterprise.id:
        return "只能撤回本企业的认领"
    return None


def _not_my_district(c: Context) -> str:
    return "应由认领企业所属区县确认"


CLAIMANT = Who(FILLERS, _uscc_matches, "统一社会信用代码与项目一致的企业（单位管理员、填报用户）")
OWN_CLAIM = Who(FILLERS, _own_claim, "认领的企业（单位管理员、填报用户）")
DISTRICT = Who(frozenset({Role.authority}), where_check(scope.legacy_reviewer, _not_my_district),
               "认领企业所属区县科技局", where=scope.legacy_reviewer)


# -- what else happens ------------------------------------------------------------------------------
def _claim(c: Context) -> dict:
    enterprise = enterprise_of(c.session, c.principal)
    return {"enterprise_id": enterprise.id, "claimed_by_id": c.principal.user_id, "claimed_at": c.now,
            "review_opinion": None, "reviewed_by_id": None, "reviewed_at": None}


def _decided(c: Context) -> dict:
    return {"review_opinion": c.reason or None, "reviewed_by_id": c.principal.user_id, "reviewed_at": c.now}


def _released(c: Context) -> dict:
    return {"enterprise_id": None}


S = ClaimStatus
CLAIMED_BY = Effect("记认领企业、认领人和认领时间", set=_claim)
DECIDED = Effect("记区县意见、确认人和确认时间", set=_decided)
RELEASED = Effect("项目不再属于任何企业，可重新认领", set=_released)

# fmt: off
LEGACY = Machine("legacy_project", LegacyProject, "claim_status", (
    #          action      label       from                                who        → to         guards  effects
    Transition("claim",    "认领",     frozenset({S.unclaimed, S.rejected}), CLAIMANT,  S.pending,  (), (CLAIMED_BY,),
               None, confirm="确定认领所选项目？认领后由本企业所属区县确认。", verb="认领"),
    Transition("withdraw", "撤回认领", frozenset({S.pending}),              OWN_CLAIM, S.unclaimed, (),
               (RELEASED, Effect("清除认领人和认领时间", set=lambda c: {"claimed_by_id": None, "claimed_at": None})),
               None, confirm="确定撤回所选项目的认领？", verb="撤回认领"),
    Transition("approve",  "确认认领", frozenset({S.pending}),              DISTRICT,  S.claimed,  (), (DECIDED,),
               Reason("区县意见"), confirm="确定所选项目归属认领企业？", verb="确认认领"),
    Transition("reject",   "驳回",     frozenset({S.pending}),              DISTRICT,  S.rejected, (), (DECIDED, RELEASED),
               Reason("驳回原因", True), verb="驳回"),
), record=review_log("legacy_project"), row_label=lambda r: f"{r.number} {r.name}",
   audit_before=lambda c: {"enterprise_id": c.row.enterprise_id})
# fmt: on


@display.reads(LegacyProject, "claimed_by")
def _claimed_by(r: LegacyProject) -> str:
    return display.actor_label(r.claimed_by)  # 姓名（单位/二级单位）, not the login


@display.reads(LegacyProject, "reviewed_by")
def _reviewed_by(r: LegacyProject) -> str:
    return display.actor_label(r.reviewed_by)


# -- 项目基本信息: the enterprise's declarations and its claimed projects of earlier years ------------
def enterprise_projects(session: Session, p: scope.Principal, enterprise: Enterprise) -> list[dict]:
    """What the enterprise's 项目基本信息 lists, inside `p`'s scope: its declarations (申报书 of its
    unit) and the 老项目 confirmed as its own (marked 历史项目), newest year first."""
    rows = []
    if enterprise.unit_id is not None:
        declarations = session.scalars(
            select(Declaration).where(Declaration.unit_id == enterprise.unit_id, scope.predicate(p, Declaration))
            .order_by(Declaration.year.desc(), Declaration.id.desc()).limit(500))
        reader = display.reader(Declaration, "status")
        for d in declarations:
            rows.append({"kind": "declaration", "id": d.id, "number": d.number or "", "year": d.year,
                         "batch": d.call.batch if d.call else "", "name": d.name,
                         "tech_level": d.tech_level.name if d.tech_level else "",
                         "industry_category": d.industry_category.name if d.industry_category else "",
                         "status": reader(d) if reader else d.status.label, "history": False})
    legacy = session.scalars(
        select(LegacyProject).where(LegacyProject.enterprise_id == enterprise.id, LegacyProject.claim_status == S.claimed,
                                    scope.predicate(p, LegacyProject))
        .order_by(LegacyProject.year.desc(), LegacyProject.number).limit(500))
    for r in legacy:
        rows.append({"kind": "legacy", "id": r.id, "number": r.number, "year": r.year, "batch": r.batch or "",
                     "name": r.name, "tech_level": r.tech_level or "", "industry_category": r.industry_category or "",
                     "status": r.original_status or "", "history": True})
    rows.sort(key=lambda row: (-row["year"], row["history"]))
    return rows
