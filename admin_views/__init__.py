"""Flask-Admin set-up: the Chinese back office with one menu per role.

Every module of this package with a `register(admin, session)` function is an area of the menu;
its `MENU_ORDER` (default 100) places it.
"""
import importlib
import pkgutil

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from extensions import db

from .home import HomeView
from .ui import init_ui


def areas() -> list:
    modules = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    found = [m for m in modules if hasattr(m, "register")]
    return sorted(found, key=lambda m: (getattr(m, "MENU_ORDER", 100), m.__name__))


def init_admin(app) -> Admin:
    admin = Admin(
        app,
        name="科技项目申报与企业库管理后台",
        theme=Bootstrap4Theme(swatch="default", fluid=True, base_template="admin/master.html"),
        index_view=HomeView(name="首页", url="/admin", endpoint="admin"),
        translations_path=app.config.get("ADMIN_TRANSLATIONS"),
    )
    init_ui(app)
    for area in areas():
        area.register(admin, db.session)
    return admin
