"""消息: every notice the system sends (e-mail, SMS), and the outbox that keeps them when no channel is configured."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, enum_column, label


class Channel(LabeledEnum):
    email = ("email", "电子邮件")
    sms = ("sms", "短信")
    outbox = ("outbox", "站内消息")


class MessageStatus(LabeledEnum):
    kept = ("kept", "未发送（保存在消息箱）")
    sent = ("sent", "已发送")
    failed = ("failed", "发送失败")


class Message(Base):
    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True, info=label("接收人"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "message_channel"), info=label("发送方式"))
    address: Mapped[Optional[str]] = mapped_column(String(120), info=label("接收地址"))
    kind: Mapped[str] = mapped_column(String(30), index=True, info=label("消息类型"))
    subject: Mapped[str] = mapped_column(String(200), info=label("标题"))
    body: Mapped[str] = mapped_column(Text, info=label("内容"))
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus, "message_status"), index=True, info=label("发送状态"))
    error: Mapped[Optional[str]] = mapped_column(String(200), info=label("失败原因"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, index=True, info=label("创建时间"))
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("发送时间"))

    user = relationship("User", foreign_keys=[user_id], info=label("接收人"))

    def __str__(self) -> str:
        return self.subject
