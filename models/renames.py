"""企业更名管理 (seed 003, tab 企业更名管理; issue #14): an enterprise's request to change its name,
reviewed by its district, its proof files, and the history of the names it has carried."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .enterprises import Enterprise


class RenameStatus(LabeledEnum):
    draft = ("draft", "未提交")
    pending = ("pending", "待审核")
    approved = ("approved", "审核通过")
    returned = ("returned", "已退回")
    rejected = ("rejected", "审核不通过")


class EnterpriseRename(Timestamped, Base):
    """一条更名申请: 原名称 is copied from the enterprise when it is asked (and again at 提交)."""

    __tablename__ = "enterprise_rename"
    __table_args__ = (
        # one request waiting for the district per enterprise at a time
        Index("uq_enterprise_rename_pending", "enterprise_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True, info=label("企业"))
    old_name: Mapped[str] = mapped_column(String(200), info=label("原名称"))
    new_name: Mapped[str] = mapped_column(String(200), info=label("新名称", required=True))
    valid_from: Mapped[date] = mapped_column(Date, info=label("变更日期", required=True))
    note: Mapped[Optional[str]] = mapped_column(Text, info=label("变更原因/说明"))
    status: Mapped[RenameStatus] = mapped_column(
        enum_column(RenameStatus, "rename_status"), default=RenameStatus.draft, index=True, info=label("状态")
    )
    reason: Mapped[Optional[str]] = mapped_column(Text, info=label("审核意见"))
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("申请人"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("申请时间"))
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("审核人"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("审核时间"))

    enterprise: Mapped[Enterprise] = relationship(info=label("企业"))
    requested_by = relationship("User", foreign_keys=[requested_by_id], info=label("申请人"))
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], info=label("审核人"))
    files: Mapped[list["RenameFile"]] = relationship(back_populates="rename", cascade="all, delete-orphan",
                                                     order_by="RenameFile.id", info=label("证明材料"))

    def __str__(self) -> str:
        return f"{self.old_name} → {self.new_name}"


class RenameFile(Base):
    """证明材料 of a request (营业执照、核准变更登记通知书…), stored like declaration attachments."""

    __tablename__ = "enterprise_rename_file"
    __table_args__ = (CheckConstraint("size >= 0", name="size_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rename_id: Mapped[int] = mapped_column(ForeignKey("enterprise_rename.id", ondelete="CASCADE"), index=True, info=label("更名申请"))
    filename: Mapped[str] = mapped_column(String(200), info=label("文件名"))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True, info=label("存储名"))
    size: Mapped[int] = mapped_column(Integer, info=label("大小（字节）"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("上传时间"))

    rename: Mapped[EnterpriseRename] = relationship(back_populates="files")

    def __str__(self) -> str:
        return self.filename


class EnterpriseName(Base):
    """One period of an enterprise's name: `valid_from` empty means since it was founded, `valid_to`
    empty means still in use (the current name)."""

    __tablename__ = "enterprise_name"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="period_order"),
        Index("ix_enterprise_name_enterprise_valid", "enterprise_id", "valid_from"),
        Index("ix_enterprise_name_name", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), info=label("企业"))
    name: Mapped[str] = mapped_column(String(200), info=label("企业名称"))
    valid_from: Mapped[Optional[date]] = mapped_column(Date, info=label("启用日期"))
    valid_to: Mapped[Optional[date]] = mapped_column(Date, info=label("停用日期"))

    enterprise: Mapped[Enterprise] = relationship(info=label("企业"))

    def __str__(self) -> str:
        return self.name
