"""消息: the outbox of every notice (e-mail, SMS, 站内消息), read-only, for the system administrator."""
from flask import has_request_context
from flask_admin.contrib.sqla.filters import FilterEqual
from sqlalchemy import select

from extensions import db
from models import Channel, Message, MessageStatus
from rules import display
from rules.notify import KINDS

from .base import ScopedModelView

MENU_ORDER = 96


def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind)


def _kind_options() -> list[tuple[str, str]]:
    """The known kinds, and any other kind already in the table (other areas add their own)."""
    stored = db.session.scalars(select(Message.kind).distinct().limit(100)).all() if has_request_context() else []
    kinds = dict.fromkeys([*KINDS, *sorted(stored)])
    return [(k, kind_label(k)) for k in kinds]


class MessageView(ScopedModelView):
    can_view_details = True
    can_export = False  # bodies not yet delivered carry temporary passwords
    column_default_sort = ("created_at", True)
    column_list = ("created_at", "kind", "user", "channel", "address", "subject", "status", "sent_at", "error")
    column_details_list = ("created_at", "kind", "user", "channel", "address", "subject", "body", "status", "sent_at", "error")
    column_searchable_list = ("address", "subject")
    column_filters = (
        FilterEqual(Message.status, "发送状态", options=MessageStatus.choices()),
        FilterEqual(Message.kind, "消息类型", options=_kind_options),
        FilterEqual(Message.channel, "发送方式", options=Channel.choices()),
    )
    column_formatters = {
        "kind": lambda v, c, m, n: kind_label(m.kind),
        "user": lambda v, c, m, n: display.reader(Message, "user")(m),  # 姓名（单位/二级单位）, one query a page
    }
    column_formatters_detail = column_formatters


def register(admin, session):
    admin.add_view(MessageView(Message, session, name="消息", category="系统管理", endpoint="message"))
