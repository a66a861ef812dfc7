"""老项目认领 (seed 003): projects of earlier years imported from the old system, claimed by the
enterprise whose 统一社会信用代码 they carry and confirmed by its district (rules/legacy.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .enterprises import Enterprise


class ClaimStatus(LabeledEnum):
    unclaimed = ("unclaimed", "未认领")
    pending = ("pending", "待确认")
    claimed = ("claimed", "已认领")
    rejected = ("rejected", "已驳回")


class LegacyProject(Timestamped, Base):
    """A project of the old system as imported (text as it was there), and who claimed it."""

    __tablename__ = "legacy_project"
    __table_args__ = (
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year_range"),
        Index("ix_legacy_project_uscc_status", "uscc", "claim_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True, info=label("项目编号", required=True))
    year: Mapped[int] = mapped_column(Integer, index=True, info=label("项目年度", required=True))
    batch: Mapped[Optional[str]] = mapped_column(String(20), info=label("项目批次"))
    enterprise_name: Mapped[str] = mapped_column(String(200), info=label("企业名称", required=True))
    uscc: Mapped[str] = mapped_column(String(18), info=label("统一社会信用代码", required=True))
    name: Mapped[str] = mapped_column(String(200), info=label("项目名称", required=True))
    tech_level: Mapped[Optional[str]] = mapped_column(String(50), info=label("项目技术水平"))
    industry_category: Mapped[Optional[str]] = mapped_column(String(50), info=label("产业类别"))
    original_status: Mapped[Optional[str]] = mapped_column(String(30), info=label("原系统状态"))

    claim_status: Mapped[ClaimStatus] = mapped_column(
        enum_column(ClaimStatus, "legacy_claim_status"), default=ClaimStatus.unclaimed,
        server_default=ClaimStatus.unclaimed.value, index=True, info=label("认领状态"))
    # the claiming enterprise: set by 认领, kept by 确认认领, cleared by 撤回认领 and 驳回
    enterprise_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("enterprise.id", ondelete="SET NULL"), index=True, info=label("认领企业"))
    claimed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("认领人"))
    claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("认领时间"))
    review_opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("区县意见"))
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("确认人"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("确认时间"))

    enterprise: Mapped[Optional[Enterprise]] = relationship(foreign_keys=[enterprise_id], info=label("认领企业"))
    claimed_by = relationship("User", foreign_keys=[claimed_by_id], info=label("认领人"))
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], info=label("确认人"))

    def __str__(self) -> str:
        return f"{self.number} {self.name}"
