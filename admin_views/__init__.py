"""Flask-Admin set-up: the Chinese back office with one menu per role."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from extensions import db

from . import accounts, audit, org, people, reference
from .home import HomeView

AREAS = (org, people, accounts, reference, audit)


def init_admin(app) -> Admin:
    admin = Admin(
        app,
        name="科技项目申报与企业库管理后台",
        theme=Bootstrap4Theme(swatch="default", fluid=True, base_template="admin/master.html"),
        index_view=HomeView(name="首页", url="/admin", endpoint="admin"),
    )
    for area in AREAS:
        area.register(admin, db.session)
    return admin
