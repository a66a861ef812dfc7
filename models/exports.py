"""下载中心: one background export per row — who asked, what exactly to export, progress, file."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, enum_column, label


class ExportStatus(LabeledEnum):
    queued = ("queued", "排队中")
    running = ("running", "导出中")
    done = ("done", "已完成")
    failed = ("failed", "失败")
    expired = ("expired", "已过期")


class ExportJob(Base):
    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True, info=label("导出人"))
    endpoint: Mapped[str] = mapped_column(String(80), info=label("列表"))
    title: Mapped[str] = mapped_column(String(200), info=label("导出内容"))
    # What to export, resolved in the request (rules.export_jobs.ExportSpec as JSON): the model,
    # who asked, the list's ordered-id SELECT with its bound values, the columns, the ticked rows.
    # The worker needs nothing else — no view, no request. None for jobs older than this format.
    spec: Mapped[Optional[dict]] = mapped_column(JSON, info=label("导出条件"))
    status: Mapped[ExportStatus] = mapped_column(
        enum_column(ExportStatus, "export_status"), default=ExportStatus.queued, index=True, info=label("状态")
    )
    rows_written: Mapped[int] = mapped_column(Integer, default=0, info=label("已写入行数"))
    rows_total: Mapped[Optional[int]] = mapped_column(Integer, info=label("总行数"))
    file_path: Mapped[Optional[str]] = mapped_column(String(500), info=label("文件路径"))
    file_name: Mapped[Optional[str]] = mapped_column(String(200), info=label("文件名"))
    error: Mapped[Optional[str]] = mapped_column(Text, info=label("失败原因"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, index=True, info=label("创建时间"))
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("完成时间"))
    expires_at: Mapped[Optional[datetime]] = mapped_column(DateTime, index=True, info=label("过期时间"))

    owner = relationship("User", foreign_keys=[owner_id], info=label("导出人"))

    def __str__(self) -> str:
        return f"{self.title}（{self.created_at:%Y-%m-%d %H:%M}）"
