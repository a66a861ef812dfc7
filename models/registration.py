"""单位注册 (seed 002 §4.1, seed 004): a person asks for a unit to be registered with them as its admin."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .org import Unit
from .people import ReviewStatus
from .reference import Region


class RegistrationRoute(LabeledEnum):
    """Who reviews a registration (seed 002 §6 1.5), chosen from the unit's 单位性质."""

    competent = ("competent", "上级主管部门审核")
    district = ("district", "参保地区县审核")
    city = ("city", "市局审核")


class UnitRegistration(Timestamped, Base):
    __tablename__ = "unit_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), unique=True, info=label("注册单位")
    )
    registrant_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="RESTRICT"), index=True, info=label("注册人")
    )
    route: Mapped[RegistrationRoute] = mapped_column(
        enum_column(RegistrationRoute, "registration_route"), index=True, info=label("审核流程")
    )
    reviewer_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True, info=label("上级主管部门")
    )
    reviewer_region_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("参保地所在区县")
    )
    status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus, "registration_status"), default=ReviewStatus.pending, index=True, info=label("审核状态")
    )
    reason: Mapped[Optional[str]] = mapped_column(Text, info=label("审核意见"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("提交时间"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("审核时间"))
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), info=label("审核人")
    )

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], info=label("注册单位"))
    registrant = relationship("User", foreign_keys=[registrant_id], info=label("注册人"))
    reviewer_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[reviewer_unit_id], info=label("上级主管部门"))
    reviewer_region: Mapped[Optional[Region]] = relationship(foreign_keys=[reviewer_region_id], info=label("参保地所在区县"))
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], info=label("审核人"))

    def __str__(self) -> str:
        return self.unit.name if self.unit else f"注册申请 {self.id}"


class ChangeStatus(LabeledEnum):
    pending = ("pending", "待审核")
    approved = ("approved", "审核已通过")
    rejected = ("rejected", "审核不通过")
    withdrawn = ("withdrawn", "已撤回")


class UnitChange(Timestamped, Base):
    """单位信息变更: a unit admin's change of 所在区县, 主管部门, 单位性质 or 统一社会信用代码, reviewed by
    the authority that receives the unit; the old values stay in force until it is approved."""

    __tablename__ = "unit_change"
    __table_args__ = (
        # one change waiting per unit at a time
        Index("uq_unit_change_pending", "unit_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True, info=label("单位"))
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("申请人"))
    changes: Mapped[dict] = mapped_column(JSON, info=label("变更内容"))
    old_values: Mapped[dict] = mapped_column(JSON, info=label("变更前"))
    reviewer_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True, info=label("审核主管部门")
    )
    reviewer_region_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("审核区县")
    )
    status: Mapped[ChangeStatus] = mapped_column(
        enum_column(ChangeStatus, "unit_change_status"), default=ChangeStatus.pending, index=True, info=label("审核状态")
    )
    reason: Mapped[Optional[str]] = mapped_column(Text, info=label("审核意见"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("提交时间"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("审核时间"))
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("审核人"))

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], info=label("单位"))
    requested_by = relationship("User", foreign_keys=[requested_by_id], info=label("申请人"))
    reviewer_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[reviewer_unit_id], info=label("审核主管部门"))
    reviewer_region: Mapped[Optional[Region]] = relationship(foreign_keys=[reviewer_region_id], info=label("审核区县"))
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], info=label("审核人"))

    def __str__(self) -> str:
        return f"{self.unit.name if self.unit else ''}单位信息变更"
