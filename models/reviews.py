"""审批意见 of the records that have no review table of their own: 个人信息, 单位注册, 调度填报."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, label


class ReviewLog(Base):
    """One transition of a person, a unit registration or a progress report (who, as what, from, to, opinion, when)."""

    __tablename__ = "review_log"
    __table_args__ = (Index("ix_review_log_target", "target", "target_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(30), info=label("对象"))  # person | unit_registration | progress_report
    target_id: Mapped[int] = mapped_column(Integer, info=label("对象编号"))
    action: Mapped[str] = mapped_column(String(20), info=label("操作"))
    from_status: Mapped[str] = mapped_column(String(20), info=label("原状态"))
    to_status: Mapped[str] = mapped_column(String(20), info=label("新状态"))
    opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("意见"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("操作人"))
    username: Mapped[Optional[str]] = mapped_column(String(50), info=label("操作人"))
    role: Mapped[Optional[str]] = mapped_column(String(20), info=label("角色"))
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("时间"))
