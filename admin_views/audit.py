"""操作日志 and 登录日志: read-only views of the audit log for the bureau and the system administrator."""
from markupsafe import Markup, escape

from models import ACTION_LABELS, LOGIN_ACTIONS, AuditLog

from .base import ScopedModelView


MENU_ORDER = 95

def _json(view, context, model, name):
    value = getattr(model, name)
    if not value:
        return ""
    items = "".join(f"<div><b>{escape(k)}</b>: {escape(v)}</div>" for k, v in value.items())
    return Markup(f"<div class='small'>{items}</div>")


class AuditLogView(ScopedModelView):
    can_view_details = True
    column_default_sort = ("at", True)
    column_searchable_list = ("username", "table_name", "row_id", "summary")
    column_filters = ("at", "username", "action", "table_name", "ip")
    column_formatters = {
        "action": lambda v, c, m, n: ACTION_LABELS.get(m.action, m.action),
        "before": _json,
        "after": _json,
    }
    column_formatters_detail = column_formatters


class OperationLogView(AuditLogView):
    column_list = ("at", "username", "action", "table_name", "row_id", "before", "after", "ip")

    def base_filter(self):
        return AuditLog.action.notin_(LOGIN_ACTIONS)


class LoginLogView(AuditLogView):
    column_list = ("at", "username", "action", "summary", "ip")

    def base_filter(self):
        return AuditLog.action.in_(LOGIN_ACTIONS)


def register(admin, session):
    admin.add_view(OperationLogView(AuditLog, session, name="操作日志", category="系统管理", endpoint="operation_log"))
    admin.add_view(LoginLogView(AuditLog, session, name="登录日志", category="系统管理", endpoint="login_log"))
