"""The declaration workflow (申报书审核流程) and 调度填报 as transition tables of the one engine.

Read DECLARATION: (from states, action, who) → guards → to state, effects, reason. The review
chain is data on the call (`Call.review_chain`, e.g. ["dept", "unit", "authority", "bureau"]); the
dept level applies only when the applicant belongs to a secondary unit, and a level missing from
the chain is skipped. rules/transitions.py applies a transition (compare-and-set, review record,
audit row, in the caller's transaction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Attachment, AttachmentKind, AuthorityRoute, Call, CallType, Declaration, Level, ProgressReport, ProgressStatus, ReleaseStatus, ReviewRecord, Role, Status, Unit

from . import audit, form_fields, quotas, scope
from .audit import current_actor
from .transitions import Ask, Context, Effect, Machine, Outcome, Reason, Refused, Transition, Who, apply, begin_write, lock, review_log

S = Status
REVIEWING = frozenset({S.dept_review, S.unit_review, S.authority_review, S.bureau_review})
EDITABLE = frozenset({S.draft, S.returned})
LEVEL_STATE = {Level.dept: S.dept_review, Level.unit: S.unit_review, Level.authority: S.authority_review, Level.bureau: S.bureau_review}
STATE_LEVEL = {state: level for level, state in LEVEL_STATE.items()}
LEVEL_ROLE = {Level.dept: Role.dept_admin, Level.unit: Role.unit_admin, Level.authority: Role.authority, Level.bureau: Role.bureau}


# -- 各类项目的叫法: one table of how each call type names its states and actions ----------------
@dataclass(frozen=True)
class Wording:
    """How a call type's manual names the declaration's states and buttons; what it leaves out
    keeps the common words (Status labels, the DECLARATION table's labels).

    `states`: state → label; `actions`: action → button label (提交, 退回…); `bulk`: action → the
    list toolbar's label; `onward`: 审核通过's label by the state it leads to (提交至科技局)."""

    states: dict = field(default_factory=dict)
    actions: dict = field(default_factory=dict)
    bulk: dict = field(default_factory=dict)
    onward: dict = field(default_factory=dict)


COMMON = Wording(onward={S.unit_review: "项目申报审核（单位）", S.bureau_review: "提交至科技局"})  # seed 000 §3
# fmt: off
WORDING: dict[CallType, Wording] = {
    CallType.research: COMMON,
    # seed 002 §4: reviewers 审核通过 (with 推荐意见) or 审核不通过 (退回给申报人, with 修改意见)
    CallType.startup: Wording(actions={"return": "审核不通过"}),
    CallType.innovation_fund: Wording(actions={"return": "审核不通过"}),
    # seed 003: 未上报 → 上报至县区 → (企业审核) → 区县审核 → 已上报省 → 已批准; 退回企业 with the reason
    CallType.tech_innovation: Wording(
        # 主管部门审核 reads as the call names its authority level (the demo's 区县审核): Call.authority_label
        states={S.draft: "未上报", S.unit_review: "企业审核", S.bureau_review: "已上报省",
                S.returned: "退回企业", S.approved: "已批准", S.rejected: "未批准"},
        actions={"submit": "上报至县区", "return": "退回企业", "reject": "不予批准"},
        bulk={"submit": "上报至县区"},
        onward={S.authority_review: "上报至县区", S.bureau_review: "上报至省", S.approved: "批准"}),
}
# fmt: on


def wording(call: Optional[Call]) -> Wording:
    kind = getattr(call, "type", None)  # the home page passes a call's facts, not always its type
    return WORDING.get(kind, COMMON) if kind is not None else COMMON


def status_label(status: Status, call: Optional[Call] = None) -> str:
    """A state as the call's manual names it; 主管部门审核 as the call names its authority level
    when its type's wording does not name it."""
    named = wording(call).states.get(status)
    if named:
        return named
    if status == S.authority_review and call is not None and call.authority_label:
        return call.authority_label
    return status.label


def action_label(action: str, call: Optional[Call] = None, default: str = "") -> str:
    """A button (and 审批意见 entry) as the call's manual names it."""
    named = wording(call).actions.get(action)
    return named or default or (BY_ACTION[action].label if action in BY_ACTION else action)


def bulk_label(action: str, call: Optional[Call] = None) -> str:
    """The list toolbar's button for rows of `call` (批量提交 / 上报至县区)."""
    named = wording(call).bulk.get(action)
    if named:
        return named
    t = BY_ACTION.get(action)
    return (t.bulk_label or action_label(action, call)) if t else action


def state_choices(call_type: Optional[CallType] = None) -> list[tuple[str, str]]:
    """项目状态 filter options: the type's own words when the list shows one type."""
    states = WORDING.get(call_type, COMMON).states if call_type is not None else {}
    return [(s.value, states.get(s, s.label)) for s in Status]


# -- who -------------------------------------------------------------------------------------
def _own_declaration(c: Context) -> Optional[str]:
    return None if c.row.applicant_id == c.principal.user_id else f"只有申报人本人可以{c.transition.label}"


def _at_the_rows_level(c: Context) -> Optional[str]:
    level = STATE_LEVEL.get(c.row.status)
    if level is None or LEVEL_ROLE[level] != c.principal.role:
        return f"当前为{status_label(c.row.status, c.row.call)}环节，不在您的审核环节"
    if level == Level.authority and not c.session.scalar(
            select(Declaration.id).where(Declaration.id == c.row.id, scope.declaration_authority(c.principal))):
        return f"应由{deciding_authority(c.row)}审核"
    return None


def deciding_authority(d: Declaration) -> str:
    """Who decides `d` at the authority level, in words: one authority per unit and call."""
    unit = d.unit
    if d.call.authority_route == AuthorityRoute.competent and unit.competent_unit_id:
        return f"主管部门（{unit.competent_unit.name}）"
    return f"所在区县（{unit.region.name}）科技局" if unit.region else "所在区县科技局"


APPLICANT = Who(frozenset({Role.applicant}), _own_declaration, "申报人本人")
AT_LEVEL = Who(frozenset(LEVEL_ROLE.values()), _at_the_rows_level, "当前环节的审核人（部门/单位/主管部门/科技局）",
               by_state={LEVEL_STATE[level]: role for level, role in LEVEL_ROLE.items()})


# -- guards ----------------------------------------------------------------------------------
def call_open(c: Context) -> Optional[str]:
    """In the call's window; a returned row also until its 补正期限, after the call closed."""
    call, d = c.row.call, c.row
    if call.opens_at <= c.now <= call.closes_at:
        return None
    if d.status == S.returned and d.correction_deadline is not None and call.opens_at <= c.now <= d.correction_deadline:
        return None
    if d.status == S.returned and d.correction_deadline is not None:
        return f"已超过补正期限（{d.correction_deadline:%Y-%m-%d %H:%M}），不能再提交"
    return f"不在申报期内（本批次申报时间 {call.opens_at:%Y-%m-%d %H:%M} 至 {call.closes_at:%Y-%m-%d %H:%M}）"


def correction_note(d: Declaration) -> str:
    """What a returned row tells its applicant about the 补正期限 ("" when none was set)."""
    if d.status != S.returned or d.correction_deadline is None:
        return ""
    return f"请于 {d.correction_deadline:%Y-%m-%d %H:%M} 前补正"


def deadline_in_future(value, now: datetime) -> Optional[str]:
    """补正期限 must lie ahead (Ask check: the value as parsed, the time of acting)."""
    return None if value is None or value > now else "补正期限应晚于当前时间"


def complete(c: Context) -> Optional[str]:
    errors = [p.message for p in submission_problems(c.session, c.row)]
    return "申报书未填写完整：" + "；".join(errors) if errors else None


def may_apply(c: Context) -> Optional[str]:
    """申报对象: the call's 单位性质 (the call designer); a university is not offered an enterprise call."""
    from .calls import applicant_refusal

    return applicant_refusal(c.row.call, c.row.unit)


def within_quota(c: Context) -> Optional[str]:
    return quota_refusal(c.session, c.row, c.row.call)


def quota_refusal(session: Session, d: Declaration, call: Call) -> Optional[str]:
    """Whether `d`'s unit has a place left in `call` (its other submitted rows against the quota
    by last year's revenue); 提交 and 调整项目批次 ask the same."""
    if not call.quota_rule:
        return None
    lock(session, Unit, d.unit_id)  # two submissions of one unit cannot both take the last place
    already = session.scalar(
        select(func.count()).select_from(Declaration).where(
            Declaration.call_id == call.id, Declaration.unit_id == d.unit_id,
            Declaration.status != S.draft, Declaration.id != d.id,
        )
    )
    revenue = quotas.last_year_revenue(session, d.unit_id, call.year - 1)
    return quotas.refusal(call.quota_rule, revenue.amount, call.year - 1, already, revenue.source)


def first_reviewer_not_acted(c: Context) -> Optional[str]:
    return None if c.row.status == first_state(c.row) else "上级单位已审核，不能撤回"


# -- targets ---------------------------------------------------------------------------------
def levels_of(d: Declaration) -> list[Level]:
    """The call's chain as it applies to this row: dept only for applicants in a secondary unit."""
    chain = [Level(code) for code in (d.call.review_chain or [])]
    return [lv for lv in chain if lv != Level.dept or d.secondary_unit_id is not None]


def first_state(d: Declaration) -> Status:
    levels = levels_of(d)
    return LEVEL_STATE[levels[0]] if levels else S.approved


def next_state(d: Declaration) -> Status:
    levels = levels_of(d)
    current = STATE_LEVEL[d.status]
    later = levels[levels.index(current) + 1 :] if current in levels else []
    return LEVEL_STATE[later[0]] if later else S.approved


def approve_label(p, d: Optional[Declaration]) -> str:
    """审核通过 as the call's manual words it, by where the row goes next (WORDING.onward): seed
    000's 项目申报审核（单位） and 提交至科技局, seed 003's 上报至省 and 批准; towards the authority
    level of a 科研项目 call 提交至 its name of that level (提交至主管部门)."""
    if d is None or d.status not in STATE_LEVEL:
        return "审核通过"
    following = next_state(d)
    words = wording(d.call)
    if following in words.onward:
        return words.onward[following]
    if following == S.authority_review and words is COMMON:
        return "提交至" + (status_label(following, d.call).removesuffix("审核") or "主管部门")
    return "审核通过"


def _worded(p, d: Optional[Declaration], action: str) -> str:
    return action_label(action, d.call if d is not None else None)


def _bulk_worded(d: Declaration, action: str) -> str:
    return bulk_label(action, d.call)


# -- effects ---------------------------------------------------------------------------------
def _draw_number(c: Context) -> None:
    """项目编号 on first submission; another submitter may take the same number first: draw again."""
    d = c.row
    if d.number:
        return
    for _attempt in range(50):
        number = next_number(c.session, d)
        try:
            with c.session.begin_nested():
                c.session.execute(update(Declaration).where(Declaration.id == d.id, Declaration.number.is_(None))
                                  .values(number=number).execution_options(synchronize_session=False))
        except IntegrityError:
            continue
        c.changes["number"] = number
        return
    raise Refused("无法分配项目编号，请稍后重试")


def _lock_ranking(c: Context) -> None:
    """Ranks are read only once the call's ranking is locked: two 退回 at once cannot both close
    the gap from a rank read before the other moved it."""
    lock(c.session, Call, c.row.call_id)
    c.data["ranks"] = c.session.execute(
        select(Declaration.unit_rank, Declaration.authority_rank).where(Declaration.id == c.row.id)
    ).one()


def _close_rank_gaps(c: Context) -> None:
    """A returned row leaves the ranking: the rows ranked after it move up one place."""
    d = c.row
    unit_rank, authority_rank = c.data["ranks"]
    if unit_rank is not None:
        c.session.execute(
            update(Declaration)
            .where(Declaration.call_id == d.call_id, Declaration.unit_id == d.unit_id, Declaration.unit_rank > unit_rank)
            .values(unit_rank=Declaration.unit_rank - 1).execution_options(synchronize_session=False)
        )
    if authority_rank is not None:
        c.session.execute(
            update(Declaration)
            .where(Declaration.call_id == d.call_id, Declaration.authority_rank > authority_rank,
                   Declaration.unit_id.in_(ranking_group(d.unit, d.call)))
            .values(authority_rank=Declaration.authority_rank - 1).execution_options(synchronize_session=False)
        )


SUBMITTED = Effect("记提交时间，清除退回原因，记下提交时的自定义字段", set=lambda c: {
    "submitted_at": c.now, "return_reason": None, "extra_fields": list(c.row.call.form_fields or [])})
NUMBER = Effect("首次提交时分配项目编号（年度+批次代码+区县代码+4位顺序号）", after=_draw_number)
RETURNED = Effect("记退回原因，退出推荐排序，其后的排序依次前移", before=_lock_ranking,
                  set=lambda c: {"return_reason": c.reason, "unit_rank": None, "authority_rank": None}, after=_close_rank_gaps)
# 补正期限 (issue #14): asked on 退回, optional; until then a returned row may be 提交 after its call closed (call_open).
CORRECTION_DEADLINE = Ask("correction_deadline", "补正期限", kind="datetime", check=deadline_in_future,
                          help="可不填；填写后，申报人可在截止后、补正期限前重新提交")
CORRECTION = Effect("记补正期限（未填则无）", set=lambda c: {"correction_deadline": c.data.get("correction_deadline")})
CORRECTED = Effect("清除补正期限", set=lambda c: {"correction_deadline": None})


def _record(c: Context):
    actor = current_actor()
    level = STATE_LEVEL.get(c.before) if c.transition.who is AT_LEVEL else None
    return ReviewRecord, {
        "declaration_id": c.row.id, "at": c.now, "user_id": c.principal.user_id, "actor_name": actor.username,
        "role": c.principal.role.value, "level": level.value if level else None, "action": c.transition.action,
        "from_status": c.before, "to_status": c.after, "opinion": c.reason or None,
    }


# fmt: off
DECLARATION = Machine("declaration", Declaration, "status", (
    #          action      label       from                          who        → to                          guards                               effects              reason
    Transition("submit",   "提交",     EDITABLE,                     APPLICANT, lambda c: first_state(c.row), (call_open, may_apply, complete, within_quota), (SUBMITTED, NUMBER, CORRECTED), Reason("提交说明"),
               confirm="确定提交选中的申报书吗？提交后不能修改。", bulk_label="批量提交",
               label_for=lambda p, d: _worded(p, d, "submit"), bulk_label_for=lambda d: _bulk_worded(d, "submit")),
    Transition("withdraw", "撤回",     REVIEWING,                    APPLICANT, S.draft,                      (first_reviewer_not_acted,),         (),                  None,
               confirm="确定撤回选中的申报书吗？", label_for=lambda p, d: _worded(p, d, "withdraw")),
    Transition("approve",  "审核通过", REVIEWING,                    AT_LEVEL,  lambda c: next_state(c.row),  (),                                  (),                  Reason("推荐意见"),
               label_for=approve_label),
    Transition("return",   "退回",     REVIEWING,                    AT_LEVEL,  S.returned,                   (),                                  (RETURNED, CORRECTION), Reason("退回原因", True),
               label_for=lambda p, d: _worded(p, d, "return"), asks=(CORRECTION_DEADLINE,)),
    Transition("reject",   "不予立项", frozenset({S.bureau_review}), AT_LEVEL,  S.rejected,                   (),                                  (),                  Reason("不予立项原因", True),
               verb="设为不予立项", label_for=lambda p, d: _worded(p, d, "reject")),
), editable={frozenset({Role.applicant}): EDITABLE}, owner=lambda p, d: d.applicant_id == p.user_id, record=_record,
   state_label=lambda state, row: status_label(state, row.call), row_label=lambda d: d.name)
# fmt: on
BY_ACTION = DECLARATION.by_action
TRANSITIONS = DECLARATION.transitions


def act(session: Session, p: scope.Principal, ids: Sequence[int], action: str, reason: str = "", now: Optional[datetime] = None) -> Outcome:
    """Take a declaration transition on each row of `ids` (see transitions.apply)."""
    return apply(session, p, DECLARATION, ids, action, reason, now)


def can_edit(p: Optional[scope.Principal], d: Declaration) -> bool:
    return DECLARATION.can_edit(p, d)


def number_prefix(d: Declaration, call: Optional[Call] = None) -> str:
    call = call or d.call
    region = d.unit.region.code if d.unit and d.unit.region else "500000"
    return f"{call.year}{call.batch_code}{region}"


def next_number(session: Session, d: Declaration, call: Optional[Call] = None) -> str:
    """项目编号 = 年度 + 批次代码 + 区县代码 + 4位顺序号 (of `call`, by default the row's own)."""
    prefix = number_prefix(d, call)
    last = session.scalar(select(func.max(Declaration.number)).where(Declaration.number.like(prefix + "%")))
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


def ranking_group(unit: Unit, call: Call):
    """The units ranked together at authority level in `call`: those its one authority decides
    (`scope.routed_units`) — one competent department's, else one district's units without one
    (all of the district's under authority_route = district)."""
    if call.authority_route == AuthorityRoute.competent and unit.competent_unit_id:
        return select(Unit.id).where(Unit.competent_unit_id == unit.competent_unit_id)
    if unit.region_id is None:
        return select(Unit.id).where(Unit.id == unit.id)
    district = Unit.region_id == unit.region_id
    if call.authority_route == AuthorityRoute.district:
        return select(Unit.id).where(district)
    return select(Unit.id).where(district, Unit.competent_unit_id.is_(None))


# -- 推荐排序 (seed 002 §4.4, §5.4) ---------------------------------------------------------
RANK_LEVEL = {Role.unit_admin: Level.unit, Role.authority: Level.authority}
RANK_COLUMN = {Level.unit: Declaration.unit_rank, Level.authority: Declaration.authority_rank}


def ranked_states(call: Call, level: Level) -> frozenset:
    """States of rows that have passed `level` of the call's chain (approved there)."""
    chain = [Level(c) for c in call.review_chain or []]
    later = chain[chain.index(level) + 1 :] if level in chain else []
    return frozenset({LEVEL_STATE[lv] for lv in later} | {S.approved, S.rejected}) if level in chain else frozenset()


def rankable(session: Session, p: scope.Principal, call: Call, for_update: bool = False) -> list[Declaration]:
    """The rows this reviewer ranks in a call, in their current order (unranked last)."""
    level = RANK_LEVEL.get(p.role)
    if level is None:
        return []
    column = RANK_COLUMN[level]
    stmt = (
        select(Declaration)
        .where(Declaration.call_id == call.id, Declaration.status.in_(ranked_states(call, level)), scope.predicate(p, Declaration))
        .order_by(column.is_(None), column, Declaration.id)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def ranking_closed(call: Call, now: Optional[datetime] = None) -> bool:
    """Past the call's 推荐排序截止时间 (no deadline: never closed)."""
    return call.ranking_deadline is not None and (now or datetime.now()) > call.ranking_deadline


def rank_refusal(p: Optional[scope.Principal], d: Declaration, now: Optional[datetime] = None) -> Optional[str]:
    """Why `p` may not rank `d` now (a Chinese sentence), or None. The one rule behind `rank`, the
    ranking page and the list's 推荐排序 cells; `d` was read through the scope. `rank` checks the
    state again once the call is locked (a 退回 may have taken the row out meanwhile)."""
    level = RANK_LEVEL.get(p.role) if p is not None else None
    if level is None:
        return "只有单位管理员和主管部门可以推荐排序"
    call = d.call
    if ranking_closed(call, now):
        return f"推荐排序已于 {call.ranking_deadline:%Y-%m-%d %H:%M} 截止"
    if d.status not in ranked_states(call, level):
        return f"只能对本级审核通过的申报书排序（{d.name}）"
    return None


def rank(session: Session, p: scope.Principal, declaration_id: int, position: int, now: Optional[datetime] = None) -> tuple[bool, str]:
    """Put one row at `position` among its call's ranked rows; the others shift, ranks stay 1..n."""
    now = now or datetime.now()
    level = RANK_LEVEL.get(p.role)
    if level is None:
        return False, "只有单位管理员和主管部门可以推荐排序"
    d = session.scalar(select(Declaration).where(Declaration.id == declaration_id, scope.predicate(p, Declaration)))
    if d is None:
        return False, "记录不存在或无权访问"
    call = d.call
    problem = rank_refusal(p, d, now)
    if problem:
        return False, problem
    begin_write(session, DECLARATION)
    lock(session, Call, call.id)  # one ranking change (or 退回 of a ranked row) of a call at a time
    rows = rankable(session, p, call, for_update=True)
    if level == Level.authority:  # an authority that is both 主管部门 and 区县 ranks each group 1..n
        group = set(session.scalars(ranking_group(d.unit, call)))
        rows = [row for row in rows if row.unit_id in group]
    if d not in rows:
        return False, f"只能对本级审核通过的申报书排序（{d.name}）"
    if not 1 <= position <= len(rows):
        return False, f"序号应为 1 到 {len(rows)} 之间的整数"
    rows.remove(d)
    rows.insert(position - 1, d)
    column = RANK_COLUMN[level]
    changed = 0
    for number, row in enumerate(rows, start=1):
        old = getattr(row, column.key)
        if old != number:
            session.execute(update(Declaration).where(Declaration.id == row.id).values({column.key: number}).execution_options(synchronize_session=False))
            _audit_rank(session, row, column.key, old, number, now)
            changed += 1
    session.expire_all()
    return True, f"已将“{d.name}”排在第 {position} 位（共 {len(rows)} 项）"


def _audit_rank(session, row, key, old, new, now) -> None:
    audit.record_all(session, [audit.entry("update", "declaration", row.id, {key: old}, {key: new}, f"推荐排序：{row.name} → 第 {new} 位", at=now)])


# -- 申报书 content checks at submission (保存 does not check them) ----------------------------
FIELD_LABELS = {
    "name": "项目名称", "leader": "项目负责人", "leader_phone": "负责人电话", "summary": "项目简介",
    "innovation": "项目创新内容及技术指标", "tech_level_id": "项目技术水平", "industry_category_id": "产业类别",
    "start_month": "项目起始时间", "end_month": "项目截止时间", "innovation_mode": "项目创新方式",
    "new_tech_desc": "新技术描述",
}
LENGTHS = {"summary": (0, 100), "innovation": (150, 200), "new_tech_desc": (0, 100)}


def required_of(call: Optional[Call]) -> list[str]:
    """The call's 必填项; a call that names none (NULL, `{}`, `[]`: the old JSON box) requires the
    default set — never "nothing required"."""
    from models import DEFAULT_REQUIRED

    chosen = call.required_fields if call is not None else None
    if isinstance(chosen, list):
        chosen = [name for name in chosen if name in FIELD_LABELS]
    return list(chosen) if chosen else list(DEFAULT_REQUIRED)


def content_problems(d: Declaration, required: Optional[Sequence[str]] = None) -> list[form_fields.Problem]:
    """What is missing or outside its limits among the fixed fields, each with its field."""
    found = []
    for name in required if required else required_of(d.call):
        value = getattr(d, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            found.append(form_fields.Problem(name, FIELD_LABELS.get(name, name), f"{FIELD_LABELS.get(name, name)}未填写"))
    for name, (low, high) in LENGTHS.items():
        text = (getattr(d, name) or "").strip()
        if text and not low <= len(text) <= high:
            found.append(form_fields.Problem(
                name, FIELD_LABELS[name], f"{FIELD_LABELS[name]}应为{f'{low}-' if low else ''}{high}字以内（现为{len(text)}字）"))
    if d.start_month and d.end_month and d.start_month > d.end_month:
        found.append(form_fields.Problem("end_month", FIELD_LABELS["end_month"], "项目起始时间不能晚于截止时间"))
    return found


def content_errors(d: Declaration, required: Optional[Sequence[str]] = None) -> list[str]:
    return [p.message for p in content_problems(d, required)]


def required_attachments_of(call: Optional[Call]) -> list[AttachmentKind]:
    codes = {k.value for k in AttachmentKind}
    return [AttachmentKind(code) for code in (call.required_attachments or []) if code in codes] if call is not None else []


def submission_problems(session: Session, d: Declaration) -> list[form_fields.Problem]:
    """Everything 提交 refuses about the content, each with its field (预览 marks them): the fixed
    fields, the call's own fields (rules/form_fields.py) and the 必传附件."""
    attachments = session.execute(
        select(Attachment.kind, Attachment.field_key).where(Attachment.declaration_id == d.id)).all() if d.id else []
    kinds = {kind for kind, key in attachments if key is None}
    found = content_problems(d)
    found += form_fields.problems(d.call.form_fields or [], d.extra, {key for _, key in attachments if key})  # the call's form as it is now
    for kind in required_attachments_of(d.call):
        if kind not in kinds:
            found.append(form_fields.Problem(f"attachment:{kind.value}", kind.label, f"未上传{kind.label}"))
    return found




# -- 调度填报 (seed 003 §3): the progress report's own small table --------------------------
R = ProgressStatus
REVIEWERS_OF_REPORTS = Who(frozenset({Role.authority, Role.bureau}), None, "区县科技局、市科技局")


def _own_report(c: Context) -> Optional[str]:
    return None if c.row.declaration.applicant_id == c.principal.user_id else f"只有申报人本人可以{c.transition.label}"


def report_window_refusal(call: Call, now: datetime) -> Optional[str]:
    if not call.report_opens_at or not call.report_closes_at:
        return "本批次未开放调度填报"
    if not call.report_opens_at <= now <= call.report_closes_at:
        return f"不在调度填报期内（{call.report_opens_at:%Y-%m-%d} 至 {call.report_closes_at:%Y-%m-%d}）"
    return None


def report_window_open(c: Context) -> Optional[str]:
    return report_window_refusal(c.row.declaration.call, c.now)


def project_released(c: Context) -> Optional[str]:
    """Seed 003 §3: 省厅下达通过的项目 report their progress (rules/release.py's 下达)."""
    d = c.row.declaration
    return None if d.status == S.approved and d.release_status == ReleaseStatus.released else "只有已下达的项目可以调度填报"


REPORT_SUBMITTED = Effect("记上报时间，清除退回原因", set=lambda c: {"submitted_at": c.now, "return_reason": None})
REPORT_RETURNED = Effect("记退回原因", set=lambda c: {"return_reason": c.reason})

# fmt: off
PROGRESS_REPORT = Machine("progress_report", ProgressReport, "status", (
    #          action     label         from                              who                                   → to          guards                                   effects               reason
    Transition("submit",  "上报至县区", frozenset({R.draft, R.returned}), Who(frozenset({Role.applicant}), _own_report, "申报人本人"), R.submitted,
               (report_window_open, project_released), (REPORT_SUBMITTED,), None, confirm="确定上报选中的调度填报吗？"),
    Transition("approve", "审核通过",   frozenset({R.submitted}),         REVIEWERS_OF_REPORTS,                 R.approved,   (),                                      (),                   Reason("审核意见")),
    Transition("return",  "退回",       frozenset({R.submitted}),         REVIEWERS_OF_REPORTS,                 R.returned,   (),                                      (REPORT_RETURNED,),   Reason("退回原因", True)),
), editable={frozenset({Role.applicant}): frozenset({R.draft, R.returned})}, owner=lambda p, r: r.declaration.applicant_id == p.user_id,
   record=review_log("progress_report"))
# fmt: on


# -- 调整项目批次 (seed 003 §2) and who deletes a declaration (issue #14) ----------------------
def move(session: Session, p: scope.Principal, declaration_id: int, target: Call, now: Optional[datetime] = None) -> str:
    """Move an editable declaration to another open call of its type: the target's quota for the
    unit (as 提交 checks it, the unit locked), a 项目编号 already drawn redrawn in the new batch
    (another drawer may take it first: draw again), one audit row. Raises `Refused` (Chinese);
    the caller commits."""
    now = now or datetime.now()
    begin_write(session, DECLARATION)
    d = session.scalar(select(Declaration).where(Declaration.id == declaration_id, scope.predicate(p, Declaration))
                       .execution_options(populate_existing=True))
    if d is None:
        raise Refused("记录不存在或不在您的数据范围内")
    if not DECLARATION.can_edit(p, d):
        raise Refused("只有未提交或退回中的申报书可以调整项目批次")
    old = d.call
    if target.id == old.id or target.type != old.type or not target.opens_at <= now <= target.closes_at:
        raise Refused("请选择一个正在申报期内的同类批次")
    problem = quota_refusal(session, d, target)
    if problem:
        raise Refused(f"不能调整到“{target.name}”：{problem}")
    before = {"call_id": d.call_id, "year": d.year, "number": d.number}
    after = {"call_id": target.id, "year": target.year, "number": d.number}
    where = (Declaration.id == d.id, Declaration.call_id == old.id, Declaration.status == d.status)
    for _attempt in range(50):
        if d.number:
            after["number"] = next_number(session, d, target)
        try:
            with session.begin_nested():
                done = session.execute(update(Declaration).where(*where).values(**after, updated_at=now)
                                       .execution_options(synchronize_session=False)).rowcount
        except IntegrityError:
            continue  # the number was taken meanwhile
        if done != 1:
            raise Refused("已被他人处理，请刷新后查看")
        break
    else:
        raise Refused("无法分配项目编号，请稍后重试")
    renumbered = f"，项目编号改为 {after['number']}" if d.number else ""
    audit.record_all(session, [audit.entry("update", "declaration", d.id, before, after,
                                           f"调整项目批次：{d.name}（{old.name} → {target.name}{renumbered}）", at=now)])
    session.expire_all()
    return f"已调整到“{target.name}”{renumbered}"


# Who may delete: the applicant, while the row is theirs to edit. Seed 003's 项目申报管理 offers
# 删除 on 未上报 and 退回企业 rows, numbered or not; the other manuals never show a 删除 of a row
# once submitted, so there only a row never submitted (no 项目编号) goes.
DELETE_AFTER_SUBMISSION = frozenset({CallType.tech_innovation})


def delete_refusal(p: Optional[scope.Principal], d: Declaration) -> Optional[str]:
    if not DECLARATION.can_edit(p, d):
        return f"当前状态为“{status_label(d.status, d.call)}”，不能删除"
    if d.number and d.call.type not in DELETE_AFTER_SUBMISSION:
        return "只能删除从未提交过的申报书"
    return None
