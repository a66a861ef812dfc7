"""The audit log: one row per write or login event, with before/after values."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, label


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_table_row", "table_name", "row_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, index=True, info=label("时间"))
    # No foreign key: the log must outlive the accounts it names.
    user_id: Mapped[Optional[int]] = mapped_column(Integer, index=True, info=label("用户ID"))
    username: Mapped[Optional[str]] = mapped_column(String(50), info=label("用户"))
    action: Mapped[str] = mapped_column(String(40), index=True, info=label("操作"))
    table_name: Mapped[Optional[str]] = mapped_column(String(60), info=label("数据表"))
    row_id: Mapped[Optional[str]] = mapped_column(String(60), info=label("记录ID"))
    before: Mapped[Optional[dict]] = mapped_column(JSON, info=label("修改前"))
    after: Mapped[Optional[dict]] = mapped_column(JSON, info=label("修改后"))
    ip: Mapped[Optional[str]] = mapped_column(String(45), info=label("IP地址"))
    summary: Mapped[Optional[str]] = mapped_column(Text, info=label("说明"))


LOGIN_ACTIONS = ("login_success", "login_failure", "login_locked", "logout", "force_logout", "unlock")
ACTION_LABELS = {
    "create": "新增",
    "update": "修改",
    "delete": "删除",
    "login_success": "登录成功",
    "login_failure": "登录失败",
    "login_locked": "账号锁定",
    "logout": "退出登录",
    "force_logout": "强制退出",
    "unlock": "解锁",
    "import": "导入",
    "password_reset": "重置密码",
    "password_reset_failure": "找回密码失败",
}
