"""Calls (申报批次), declarations (申报书) with members, budget and attachments, their review
records (审批意见), progress reports (调度填报) and the unit revenue the quota reads."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import User
from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .org import SecondaryUnit, Unit, dict_fk
from .reference import DictItem


class CallType(LabeledEnum):
    research = ("research", "科研项目")
    startup = ("startup", "创业资助")
    innovation_fund = ("innovation_fund", "创新资助")
    tech_innovation = ("tech_innovation", "技术创新项目")


class Level(LabeledEnum):
    """A level of a call's review chain."""

    dept = ("dept", "部门审核")
    unit = ("unit", "单位审核")
    authority = ("authority", "主管部门审核")
    bureau = ("bureau", "科技局审核")


class Status(LabeledEnum):
    draft = ("draft", "未提交")
    dept_review = ("dept_review", "部门审核")
    unit_review = ("unit_review", "单位审核")
    authority_review = ("authority_review", "主管部门审核")
    bureau_review = ("bureau_review", "科技局审核")
    returned = ("returned", "退回中")
    approved = ("approved", "已立项")
    rejected = ("rejected", "不予立项")


class InnovationMode(LabeledEnum):
    own = ("own", "自主研发")
    absorb = ("absorb", "引进消化吸收")
    joint = ("joint", "联合创新")


class ProgressStatus(LabeledEnum):
    draft = ("draft", "未上报")
    submitted = ("submitted", "已上报")
    approved = ("approved", "审核通过")
    returned = ("returned", "退回")


class ReleaseStatus(LabeledEnum):
    """项目下达 (seed 003): an approved project is 下达 by the bureau with a 下达文号 and date."""

    pending = ("pending", "未下达")
    released = ("released", "已下达")


class AttachmentKind(LabeledEnum):
    body = ("body", "申报书正文")
    proof = ("proof", "证明材料")
    other = ("other", "其他附件")


DEFAULT_CHAIN = ["dept", "unit", "authority", "bureau"]
# Seed 003: 上年度营业收入 (万元) from → at most this many declarations per unit per call.
DEFAULT_QUOTA = [[0, 1], [2000, 2], [40000, 5], [100000, 10]]
DEFAULT_REQUIRED = [
    "name", "leader", "leader_phone", "summary", "innovation", "tech_level_id",
    "industry_category_id", "start_month", "end_month", "innovation_mode",
]


class AuthorityRoute(LabeledEnum):
    competent = ("competent", "有主管部门的由主管部门审核，否则由所在区县审核")
    district = ("district", "由单位所在区县审核")


class Call(Timestamped, Base):
    """申报批次: when and how a kind of declaration is filed and reviewed. Data, not code."""

    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("name", name="name"),
        CheckConstraint("closes_at > opens_at", name="window_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), info=label("批次名称", required=True))
    type: Mapped[CallType] = mapped_column(enum_column(CallType, "call_type"), index=True, info=label("申报类型"))
    year: Mapped[int] = mapped_column(Integer, index=True, info=label("项目年度"))
    batch: Mapped[str] = mapped_column(String(20), info=label("项目批次"))
    batch_code: Mapped[str] = mapped_column(String(2), default="01", info=label("批次代码"))
    opens_at: Mapped[datetime] = mapped_column(DateTime, info=label("申报开始时间"))
    closes_at: Mapped[datetime] = mapped_column(DateTime, info=label("申报截止时间"))
    ranking_deadline: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("推荐排序截止时间"))
    review_chain: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_CHAIN), info=label("审核流程"))
    authority_label: Mapped[str] = mapped_column(String(20), default="主管部门审核", info=label("主管部门审核名称"))
    # One authority per unit at the authority level: its competent department if it has one, else its
    # district (competent), or always the district (district).
    authority_route: Mapped[AuthorityRoute] = mapped_column(
        enum_column(AuthorityRoute, "authority_route"), default=AuthorityRoute.competent,
        server_default=AuthorityRoute.competent.value, info=label("主管部门审核归属"),
    )
    quota_rule: Mapped[Optional[list]] = mapped_column(JSON, info=label("申报限额规则"))
    required_fields: Mapped[Optional[list]] = mapped_column(JSON, info=label("必填项"))
    report_opens_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("调度填报开始时间"))
    report_closes_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("调度填报截止时间"))
    notice: Mapped[Optional[str]] = mapped_column(Text, info=label("申报须知"))
    # 附件: the kinds (AttachmentKind codes) a declaration must carry before 提交.
    required_attachments: Mapped[Optional[list]] = mapped_column(JSON, info=label("必传附件"))
    # 申报对象: the 单位性质 (dict unit_nature codes) whose units may apply; empty or NULL: every unit.
    applicant_natures: Mapped[Optional[list]] = mapped_column(JSON, info=label("申报对象（单位性质）"))
    # 自定义字段: the call's own fields of the 申报书 form, a list of definitions (rules/form_fields.py).
    form_fields: Mapped[Optional[list]] = mapped_column(JSON, info=label("自定义字段"))

    def __str__(self) -> str:
        return self.name


class Declaration(Timestamped, Base):
    """申报书 (seed 003 §2 基本情况) and where it stands in its call's review chain."""

    __tablename__ = "declaration"
    __table_args__ = (
        UniqueConstraint("number", name="number"),
        CheckConstraint("start_month IS NULL OR end_month IS NULL OR start_month <= end_month", name="period_order"),
        CheckConstraint("new_tech_count >= 0 AND new_product_count >= 0 AND new_process_count >= 0", name="counts_nonneg"),
        Index("ix_declaration_status_year_id", "status", "year", "id"),
        Index("ix_declaration_unit_status_id", "unit_id", "status", "id"),
        Index("ix_declaration_unit_id_id", "unit_id", "id"),
        Index("ix_declaration_secondary_id", "secondary_unit_id", "id"),
        Index("ix_declaration_applicant_id", "applicant_id", "id"),
        Index("ix_declaration_call_status", "call_id", "status"),
        Index("ix_declaration_year_id", "year", "id"),
        # 搜索 (项目名称/项目编号/负责人, ILIKE '%词%') on PostgreSQL: one trigram index serves all three.
        Index("ix_declaration_search_trgm", "name", "number", "leader", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops", "number": "gin_trgm_ops", "leader": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Optional[str]] = mapped_column(String(20), info=label("项目编号"))
    call_id: Mapped[int] = mapped_column(ForeignKey("call.id", ondelete="RESTRICT"), info=label("项目批次"))
    year: Mapped[int] = mapped_column(Integer, info=label("项目年度"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"), info=label("申报人"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), info=label("申报单位"))
    secondary_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("secondary_unit.id", ondelete="RESTRICT"), info=label("二级单位")
    )
    status: Mapped[Status] = mapped_column(enum_column(Status, "declaration_status"), default=Status.draft, info=label("项目状态"))

    name: Mapped[str] = mapped_column(String(200), index=True, info=label("项目名称", required=True))
    leader: Mapped[Optional[str]] = mapped_column(String(50), info=label("项目负责人"))
    leader_phone: Mapped[Optional[str]] = mapped_column(String(20), info=label("负责人电话"))
    summary: Mapped[Optional[str]] = mapped_column(Text, info=label("项目简介（100字以内）"))
    innovation: Mapped[Optional[str]] = mapped_column(Text, info=label("项目创新内容及技术指标（150-200字）"))
    tech_level_id: Mapped[Optional[int]] = dict_fk("tech_level", "项目技术水平")
    industry_category_id: Mapped[Optional[int]] = dict_fk("industry_category", "产业类别")
    start_month: Mapped[Optional[date]] = mapped_column(Date, info=label("项目起始时间"))
    end_month: Mapped[Optional[date]] = mapped_column(Date, info=label("项目截止时间"))
    innovation_mode: Mapped[Optional[InnovationMode]] = mapped_column(
        enum_column(InnovationMode, "innovation_mode"), info=label("项目创新方式")
    )
    new_tech_count: Mapped[int] = mapped_column(Integer, default=0, info=label("新技术（个）"))
    new_product_count: Mapped[int] = mapped_column(Integer, default=0, info=label("新产品（个）"))
    new_process_count: Mapped[int] = mapped_column(Integer, default=0, info=label("新工艺（个）"))
    new_tech_desc: Mapped[Optional[str]] = mapped_column(Text, info=label("新技术描述（100字以内）"))

    return_reason: Mapped[Optional[str]] = mapped_column(Text, info=label("退回原因"))
    submitted_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("提交时间"))
    unit_rank: Mapped[Optional[int]] = mapped_column(Integer, info=label("单位推荐排序"))
    authority_rank: Mapped[Optional[int]] = mapped_column(Integer, info=label("主管部门推荐排序"))
    # 补正期限: set by the reviewer on 退回; until then a returned row may be resubmitted after its call closed.
    correction_deadline: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("补正期限"))
    # 自定义字段: values of the call's own fields (key → str / number / ISO date / bool / dict item id),
    # and the definitions as they were at the last 提交, so that later changes of the call keep them readable.
    extra: Mapped[Optional[dict]] = mapped_column(JSON, info=label("自定义字段"))
    extra_fields: Mapped[Optional[list]] = mapped_column(JSON, info=label("提交时的自定义字段"))
    # 项目下达 (seed 003): its own small state machine (rules/release.py), beside the review status.
    release_status: Mapped[ReleaseStatus] = mapped_column(
        enum_column(ReleaseStatus, "release_status"), default=ReleaseStatus.pending,
        server_default=ReleaseStatus.pending.value, index=True, info=label("下达状态"))
    release_doc_no: Mapped[Optional[str]] = mapped_column(String(50), info=label("下达文号"))
    released_on: Mapped[Optional[date]] = mapped_column(Date, info=label("下达日期"))

    call: Mapped[Call] = relationship(info=label("项目批次"))
    applicant: Mapped[User] = relationship(info=label("申报人"))
    unit: Mapped[Unit] = relationship(info=label("申报单位"))
    secondary_unit: Mapped[Optional[SecondaryUnit]] = relationship(info=label("二级单位"))
    tech_level: Mapped[Optional[DictItem]] = relationship(foreign_keys=[tech_level_id], info=label("项目技术水平"))
    industry_category: Mapped[Optional[DictItem]] = relationship(foreign_keys=[industry_category_id], info=label("产业类别"))
    members: Mapped[list["Member"]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="Member.sort", info=label("项目成员")
    )
    budget_items: Mapped[list["BudgetItem"]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="BudgetItem.id", info=label("经费预算")
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="Attachment.id", info=label("附件")
    )
    reviews: Mapped[list["ReviewRecord"]] = relationship(
        back_populates="declaration", order_by="ReviewRecord.id", info=label("审批意见")
    )

    def __str__(self) -> str:
        return f"{self.number or '（未编号）'} {self.name}"


class Member(Base):
    __tablename__ = "declaration_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50), info=label("姓名"))
    title: Mapped[Optional[str]] = mapped_column(String(50), info=label("职称"))
    unit_name: Mapped[Optional[str]] = mapped_column(String(200), info=label("工作单位"))
    duty: Mapped[Optional[str]] = mapped_column(String(100), info=label("项目分工"))
    sort: Mapped[int] = mapped_column(Integer, default=0, info=label("排序"))

    declaration: Mapped[Declaration] = relationship(back_populates="members")

    def __str__(self) -> str:
        return self.name


class BudgetItem(Base):
    __tablename__ = "declaration_budget"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(100), info=label("预算科目"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), info=label("金额（万元）"))
    note: Mapped[Optional[str]] = mapped_column(String(200), info=label("说明"))

    declaration: Mapped[Declaration] = relationship(back_populates="budget_items")

    def __str__(self) -> str:
        return f"{self.subject} {self.amount}万元"


class Attachment(Base):
    __tablename__ = "declaration_attachment"
    __table_args__ = (CheckConstraint("size >= 0", name="size_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AttachmentKind] = mapped_column(enum_column(AttachmentKind, "attachment_kind"), info=label("附件类型"))
    field_key: Mapped[Optional[str]] = mapped_column(String(40), info=label("自定义字段"))  # an attachment-type custom field
    filename: Mapped[str] = mapped_column(String(200), info=label("文件名"))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True, info=label("存储名"))
    size: Mapped[int] = mapped_column(Integer, info=label("大小（字节）"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("上传时间"))

    declaration: Mapped[Declaration] = relationship(back_populates="attachments")

    def __str__(self) -> str:
        return self.filename


class ReviewRecord(Base):
    """审批意见: one row per transition of a declaration (who, as what, from, to, opinion, when)."""

    __tablename__ = "review_record"
    __table_args__ = (Index("ix_review_record_declaration_id_id", "declaration_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id", ondelete="CASCADE"), info=label("申报书"))
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("时间"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("操作人"))
    actor_name: Mapped[Optional[str]] = mapped_column(String(50), info=label("操作人"))
    role: Mapped[str] = mapped_column(String(20), info=label("角色"))
    level: Mapped[Optional[str]] = mapped_column(String(20), info=label("审核环节"))
    action: Mapped[str] = mapped_column(String(20), info=label("操作"))
    from_status: Mapped[Status] = mapped_column(enum_column(Status, "review_from_status"), info=label("原状态"))
    to_status: Mapped[Status] = mapped_column(enum_column(Status, "review_to_status"), info=label("新状态"))
    opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("意见"))

    declaration: Mapped[Declaration] = relationship(back_populates="reviews", info=label("申报书"))

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"


class ProgressReport(Timestamped, Base):
    """调度填报 (seed 003 §3): a periodic report on an approved project, reviewed by its district."""

    __tablename__ = "progress_report"
    __table_args__ = (
        UniqueConstraint("declaration_id", "period", name="declaration_period"),
        CheckConstraint("percent IS NULL OR (percent >= 0 AND percent <= 100)", name="percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declaration.id", ondelete="CASCADE"), index=True, info=label("项目"))
    period: Mapped[str] = mapped_column(String(30), info=label("调度期次"))
    percent: Mapped[Optional[int]] = mapped_column(Integer, info=label("完成进度（%）"))
    invested: Mapped[Optional[Decimal]] = mapped_column(Numeric(14, 2), info=label("累计投资（万元）"))
    content: Mapped[Optional[str]] = mapped_column(Text, info=label("进展情况"))
    problems: Mapped[Optional[str]] = mapped_column(Text, info=label("存在问题"))
    status: Mapped[ProgressStatus] = mapped_column(
        enum_column(ProgressStatus, "report_status"), default=ProgressStatus.draft, index=True, info=label("状态")
    )
    return_reason: Mapped[Optional[str]] = mapped_column(Text, info=label("退回原因"))
    submitted_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("上报时间"))

    declaration: Mapped[Declaration] = relationship(info=label("项目"))

    def __str__(self) -> str:
        return f"{self.declaration.name if self.declaration else ''} {self.period}"


class UnitRevenue(Base):
    """上年度营业收入 of a unit, the quota's input (to be fed from the enterprise annual reports)."""

    __tablename__ = "unit_revenue"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", name="unit_year"),
        CheckConstraint("revenue >= 0", name="revenue_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), info=label("单位"))
    year: Mapped[int] = mapped_column(Integer, info=label("年度"))
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), info=label("营业收入（万元）"))

    unit: Mapped[Unit] = relationship(info=label("单位"))

    def __str__(self) -> str:
        return f"{self.year} {self.revenue}万元"
