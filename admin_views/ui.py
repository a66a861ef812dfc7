"""What every back-office page shares besides its view: the sidebar's groups in the manuals' order,
the breadcrumbs and the state badges. Registered as Jinja globals by `init_admin`."""
from __future__ import annotations

from typing import Optional

from markupsafe import Markup, escape

from rules.display import state_kind

# The sidebar groups as the manuals group them (seeds 000–004); a group not named here follows them.
MENU_GROUPS = (
    "用户中心", "项目管理", "企业信息", "科技信息年报", "申报事项", "科企信息统计表",
    "科企梯次培育库", "科企后备库", "科企认定库", "系统管理", "基础数据",
)

GROUP_ICONS = {
    "用户中心": "fa-id-card-o", "项目管理": "fa-folder-open-o", "企业信息": "fa-building-o",
    "科技信息年报": "fa-file-text-o", "申报事项": "fa-check-square-o", "科企信息统计表": "fa-bar-chart",
    "科企梯次培育库": "fa-database", "科企后备库": "fa-database", "科企认定库": "fa-database",
    "系统管理": "fa-cog", "基础数据": "fa-book",
}


def status_badge(value, text: Optional[str] = None) -> Markup:
    """A workflow state as a coloured badge of its kind (草稿, 审核中, 退回, 通过, 不通过); any
    other value as plain text. `text` overrides the label (a call's own name of a level)."""
    if value is None:
        return Markup("")
    shown = text if text is not None else getattr(value, "label", str(value))
    kind = state_kind(value)
    if kind is None:
        return escape(shown)
    return Markup('<span class="badge state state-{}" data-state="{}">{}</span>').format(kind, value.value, shown)


def sidebar(menu, view) -> list[dict]:
    """Flask-Admin's menu as the sidebar shows it: 首页 and lone entries first, then the groups in
    the manuals' order; only what the user may open, the current entry marked active."""
    loose, groups = [], {}
    for item in menu:
        if not item.is_accessible() or not item.is_visible():
            continue
        if item.is_category():
            children = [c for c in item.get_children() if c.is_accessible() and c.is_visible()]
            if children:
                groups[item.name] = {"name": item.name, "icon": GROUP_ICONS.get(item.name, "fa-folder-o"),
                                     "children": children, "active": any(c.is_active(view) for c in children)}
        else:
            loose.append(item)
    order = {name: i for i, name in enumerate(MENU_GROUPS)}
    ordered = sorted(groups.values(), key=lambda grp: order.get(grp["name"], len(order)))
    return [{"name": None, "children": loose, "active": True}, *ordered] if loose else ordered


# The last crumb of a page that is not the view's own list (the endpoint's suffix → its name).
PAGE_NAMES = {"details_view": "详情", "create_view": "新增", "edit_view": "修改", "ranking_view": "推荐排序",
              "preview_view": "预览", "move_view": "调整项目批次", "action_view": "确认操作"}


def breadcrumb_page(endpoint: Optional[str]) -> Optional[str]:
    return PAGE_NAMES.get((endpoint or "").rsplit(".", 1)[-1])


def init_ui(app) -> None:
    app.jinja_env.globals.update(status_badge=status_badge, sidebar_groups=sidebar, menu_groups=MENU_GROUPS,
                                 breadcrumb_page=breadcrumb_page)
