"""操作日志 and 登录日志: read-only views of the audit log for the bureau and the system administrator."""
from markupsafe import Markup, escape

from models import ACTION_LABELS, LOGIN_ACTIONS, AuditLog
from rules import display

from .base import ScopedModelView
from .sessions import UnlockActions


MENU_ORDER = 95

def _changes(view, context, model, name):
    """修改前/修改后 as 字段：值, with the fields' Chinese labels and the states' labels."""
    items = "".join(f"<div><b>{escape(k)}</b>：{escape(v)}</div>" for k, v in display.audit_changes(model, name))
    return Markup(f"<div class='small'>{items}</div>") if items else ""


class AuditLogView(ScopedModelView):
    can_view_details = True
    column_default_sort = ("at", True)
    column_searchable_list = ("username", "table_name", "row_id", "summary")
    column_filters = ("at", "username", "action", "table_name", "ip")
    column_formatters = {
        "action": lambda v, c, m, n: ACTION_LABELS.get(m.action, m.action),
        "before": _changes,
        "after": _changes,
        "table_name": lambda v, c, m, n: display.reader(AuditLog, "table_name")(m),
        "username": lambda v, c, m, n: display.reader(AuditLog, "username")(m),
    }
    column_formatters_detail = column_formatters


class OperationLogView(AuditLogView):
    column_list = ("at", "username", "action", "table_name", "row_id", "before", "after", "ip")

    def base_filter(self):
        return AuditLog.action.notin_(LOGIN_ACTIONS)


class LoginLogView(UnlockActions, AuditLogView):
    column_list = ("at", "username", "action", "summary", "ip")

    def base_filter(self):
        return AuditLog.action.in_(LOGIN_ACTIONS)


def register(admin, session):
    admin.add_view(OperationLogView(AuditLog, session, name="操作日志", category="系统管理", endpoint="operation_log"))
    admin.add_view(LoginLogView(AuditLog, session, name="登录日志", category="系统管理", endpoint="login_log"))
