"""个人信息 and 个人信息审核 views."""
from models import Person, Role, Unit

from .base import ScopedModelView, scoped_options
from .roles import ADMINS, ALL, EVERYTHING
from flask_admin.contrib.sqla.filters import FilterEqual


MENU_ORDER = 20

class PersonView(ScopedModelView):
    roles = ALL
    create_roles = ADMINS | {Role.unit_admin}
    edit_roles = ALL - {Role.bureau, Role.authority}
    delete_roles = ADMINS
    column_list = ("name", "gender", "id_no", "mobile", "education", "title", "unit", "secondary_unit", "submitted_at", "review_status")
    column_searchable_list = ("name", "id_no", "mobile")
    column_filters = (
        "review_status",
        FilterEqual(Person.unit_id, "工作单位", options=scoped_options(Unit)),
        "submitted_at",
    )
    form_excluded_columns = ("created_at", "updated_at", "pending_changes", "review_status", "review_reason", "submitted_at", "user")


def register(admin, session):
    admin.add_view(PersonView(Person, session, name="个人信息", category="用户中心", endpoint="person"))
