"""单位信息 and 二级单位 views."""
from models import Role, SecondaryUnit, Unit

from .base import ScopedModelView
from .roles import ADMINS, EVERYTHING

MENU_ORDER = 10

UNIT_VIEWERS = EVERYTHING | {Role.unit_admin, Role.authority}


class UnitView(ScopedModelView):
    roles = UNIT_VIEWERS
    create_roles = EVERYTHING
    edit_roles = ADMINS | {Role.unit_admin}
    delete_roles = ADMINS
    column_list = ("name", "uscc", "region", "nature", "registration_type", "legal_rep", "contact_name", "contact_mobile", "status")
    column_searchable_list = ("name", "uscc", "legal_rep")
    column_filters = ("status", "region.name", "nature.name")
    column_labels = {"region.name": "单位所在区县", "nature.name": "单位性质"}
    form_excluded_columns = ("created_at", "updated_at", "secondary_units")


class SecondaryUnitView(ScopedModelView):
    roles = UNIT_VIEWERS
    create_roles = edit_roles = delete_roles = ADMINS | {Role.unit_admin}
    column_list = ("unit", "name", "manager_name", "manager_mobile", "manager_id_no")
    column_searchable_list = ("name", "manager_name")
    form_columns = ("unit", "name", "manager_name", "manager_mobile", "manager_id_no")


def register(admin, session):
    admin.add_view(UnitView(Unit, session, name="单位信息", category="用户中心", endpoint="unit"))
    admin.add_view(SecondaryUnitView(SecondaryUnit, session, name="二级单位", category="用户中心", endpoint="secondary_unit"))
