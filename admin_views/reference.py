"""Reference data views: 区县/园区 and 数据字典, kept by the system administrator."""


from models import DICT_CATEGORIES, DictItem, Region

from .base import ScopedModelView


MENU_ORDER = 90

class RegionView(ScopedModelView):
    column_list = ("code", "name", "kind", "in_liangjiang", "in_gaoxin", "in_jingkai", "in_city_hitech", "sort")
    column_searchable_list = ("code", "name")
    column_filters = ("kind", "in_liangjiang", "in_gaoxin", "in_jingkai", "in_city_hitech")
    column_default_sort = ("sort", False)
    form_columns = column_list


class DictItemView(ScopedModelView):
    column_list = ("category", "code", "name", "sort", "active")
    column_searchable_list = ("code", "name")
    column_filters = ("category", "active")
    column_default_sort = [("category", False), ("sort", False)]
    column_formatters = {"category": lambda v, c, m, n: DICT_CATEGORIES.get(m.category, m.category)}
    form_columns = ("category", "code", "name", "sort", "active")
    form_choices = {"category": list(DICT_CATEGORIES.items())}


def register(admin, session):
    admin.add_view(RegionView(Region, session, name="区县/园区", category="基础数据", endpoint="region"))
    admin.add_view(DictItemView(DictItem, session, name="数据字典", category="基础数据", endpoint="dictionary"))
