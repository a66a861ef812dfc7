"""用户管理: accounts of a unit (unit admin) or of everyone (system administrator)."""
from wtforms import PasswordField
from wtforms.validators import Optional as OptionalValidator

from models import Role, User
from rules.passwords import hash_password, policy_errors

from .base import ScopedModelView
from .roles import ADMINS, EVERYTHING


MENU_ORDER = 80

class UserView(ScopedModelView):
    roles = EVERYTHING | {Role.unit_admin}
    create_roles = edit_roles = ADMINS | {Role.unit_admin}
    delete_roles = ADMINS
    column_list = ("username", "name", "mobile", "role", "unit", "secondary_unit", "region", "active", "last_login_at")
    column_searchable_list = ("username", "name", "mobile")
    column_filters = ("role", "active")
    column_exclude_list = ("password_hash",)
    column_details_exclude_list = ("password_hash",)
    column_export_exclude_list = ("password_hash",)
    form_columns = ("username", "name", "mobile", "id_no", "role", "unit", "secondary_unit", "region", "active")
    form_extra_fields = {"new_password": PasswordField("设置密码", validators=[OptionalValidator()])}

    def validate_form(self, form):
        ok = super().validate_form(form)
        if ok and hasattr(form, "new_password"):
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
        if getattr(form, "new_password", None) is not None and form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)


def register(admin, session):
    admin.add_view(UserView(User, session, name="用户管理", category="系统管理", endpoint="user"))
