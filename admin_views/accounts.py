"""用户管理 (seed 004): a unit admin's users — 授权/拒绝, 启用/禁用, 模块配置, 重置密码."""
from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from wtforms import PasswordField, SelectMultipleField, widgets
from wtforms.validators import Optional as OptionalValidator

from extensions import db
from models import MODULES, AccountStatus, Role, User
from rules import accounts, authorisation
from rules import notify
from rules.passwords import hash_password, policy_errors
from rules.validators import email_error, id_card_error, mobile_error

from .base import Outcome, ScopedModelView, current_role, principal
from .validation import checked, required, strip, strip_upper

MENU_ORDER = 80
# What a unit admin may change of its users; the rest (role, unit, login names) is not theirs to set.
UNIT_ADMIN_FIELDS = ("name", "email", "active", "modules")


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _modules(view, context, model, name):
    return "、".join(MODULES.get(m, m) for m in (model.modules or [])) or "—"


def _state(view, context, model, name):
    return "已启用" if model.active else "已禁用"


class UserView(ScopedModelView):
    column_list = ("username", "name", "mobile", "email", "role", "unit", "secondary_unit", "modules", "status", "active", "last_login_at")
    column_labels = {"name": "负责人姓名", "active": "用户状态"}
    column_formatters = {"modules": _modules, "active": _state}
    column_searchable_list = ("username", "name", "mobile")
    column_filters = (
        FilterEqual(User.role, "角色", options=Role.choices()),
        FilterEqual(User.status, "授权状态", options=AccountStatus.choices()),
        FilterEqual(User.active, "用户状态", options=(("1", "已启用"), ("0", "已禁用"))),
    )
    column_details_list = ("username", "name", "mobile", "id_no", "email", "role", "unit", "secondary_unit", "region", "modules",
                           "status", "refusal_reason", "registration_note", "active", "unit_authorized", "last_login_at", "created_at")
    column_exclude_list = ("password_hash",)
    column_export_exclude_list = ("password_hash", "security_questions", "session_version")
    details_template = "admin/user_details.html"

    def match_notice(self, user) -> str | None:
        """授权时提示：证件号码与本单位人员一致（由单位管理员确认是否关联）。"""
        return authorisation.match_notice(self.session, user)
    form_columns = ("username", "name", "mobile", "id_no", "email", "role", "unit", "secondary_unit", "region", "active", "unit_authorized", "modules", "new_password")
    form_overrides = {"modules": CheckboxesField}
    form_args = {
        "modules": {"choices": list(MODULES.items()), "label": "模块配置", "validators": [OptionalValidator()]},
        "name": {"validators": [required("姓名")], "filters": [strip]},
        "mobile": {"validators": [checked(mobile_error)], "filters": [strip]},
        "id_no": {"validators": [checked(id_card_error)], "filters": [strip_upper]},
        "email": {"validators": [checked(email_error)], "filters": [strip]},
    }
    form_extra_fields = {"new_password": PasswordField("设置密码", validators=[OptionalValidator()])}

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if current_role() == Role.unit_admin:
            allowed = UNIT_ADMIN_FIELDS
            if obj is not None and accounts.manage_refusal(current_user.id, Role.unit_admin, obj):
                allowed = ("name", "email")  # oneself or another unit admin: contact data only
            for name in list(form._fields):
                if name not in allowed and name != "csrf_token":
                    delattr(form, name)
        return form

    def validate_form(self, form):
        ok = super().validate_form(form)
        if ok and "new_password" in form:
            creating = getattr(form, "_obj", None) is None
            password = form.new_password.data or ""
            if creating and not password:
                form.new_password.errors = ["请设置初始密码"]
                return False
            if password:
                problems = policy_errors(password, form.username.data or "", form.mobile.data or "")
                if problems:
                    form.new_password.errors = problems
                    return False
        return ok

    def on_model_change(self, form, model, is_created):
        if "new_password" in form and form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)

    # -- 启用 / 禁用 / 重置密码 ------------------------------------------------------------
    def _each(self, ids, verb: str, change) -> Outcome:
        outcome = Outcome()
        p = principal()
        for user in self.scoped_rows(self.scoped_ids(ids)):
            refusal = accounts.manage_refusal(p.user_id, p.role, user)
            if refusal:
                outcome.skip(user.username, refusal)
            else:
                outcome.ok(change(user) or user.username)
        db.session.commit()
        return outcome

    @action("enable", "启用", "确定启用所选账号？")
    def action_enable(self, ids):
        self._each(ids, "启用", lambda u: setattr(u, "active", True)).flash("启用")

    @action("disable", "禁用", "确定禁用所选账号？禁用后该账号不能登录。")
    def action_disable(self, ids):
        self._each(ids, "禁用", lambda u: setattr(u, "active", False)).flash("禁用")

    @action("reset_password", "重置密码", "确定重置所选账号的密码？新密码为一次性临时密码，下次登录须修改。")
    def action_reset_password(self, ids):
        sent = []

        def reset(user):
            sent.append((user.username, notify.temporary_password(db.session, user, accounts.reset_password(user))))

        self._each(ids, "重置密码", reset).flash("重置密码")
        if sent:  # delivered at the commit: say how each one went
            flash("；".join(f"{username}：临时密码{notify.outcome(message)}" for username, message in sent) + "。其首次登录须修改密码。", "info")


def register(admin, session):
    admin.add_view(UserView(User, session, name="用户管理", category="系统管理", endpoint="user"))
