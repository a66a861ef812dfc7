"""单位注册 (注册管理员) and 单位注册审核 (seed 002 §4.1, §5.1, §6 1.5; seed 004)."""
from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectField, StringField

from extensions import db
from models import DictItem, Region, RegionKind, RegistrationRoute, ReviewStatus, Unit, UnitRegistration
from rules import registration as rules
from rules.transitions import Refused

from .base import DecidedByMe, ScopedModelView
from .checks import say_refusal
from .validation import fits, strip, strip_upper

MENU_ORDER = 15


class RegistrationForm(FlaskForm):
    """The unit's data a registrant fills in; routing fields are checked against the 单位性质."""

    name = StringField("单位名称", validators=fits(Unit.name), filters=[strip])
    uscc = StringField("统一社会信用代码", validators=fits(Unit.uscc), filters=[strip_upper])
    nature_id = SelectField("单位性质", choices=[])
    region_id = SelectField("单位所在区县", choices=[])
    address = StringField("通信地址", validators=fits(Unit.address), filters=[strip])
    legal_rep = StringField("法定代表人", validators=fits(Unit.legal_rep), filters=[strip])
    contact_name = StringField("联系人姓名", validators=fits(Unit.contact_name), filters=[strip])
    contact_mobile = StringField("联系人手机", validators=fits(Unit.contact_mobile), filters=[strip])
    email = StringField("电子邮箱", validators=fits(Unit.email), filters=[strip])
    reviewer_unit_id = SelectField("上级主管部门（事业单位、机关、国有企业必选）", choices=[])
    reviewer_region_id = SelectField("参保地所在区县（非公有制经济、社会组织必选）", choices=[])

    REQUIRED = tuple(rules.REQUIRED)

    def fill_choices(self) -> None:
        blank = [("", "---请选择---")]
        natures = db.session.execute(
            select(DictItem.id, DictItem.name).where(DictItem.category == "unit_nature", DictItem.name.in_(rules.ROUTES), DictItem.active.is_(True)).order_by(DictItem.sort)
        ).all()
        districts = db.session.execute(select(Region.id, Region.name).where(Region.kind == RegionKind.district).order_by(Region.sort, Region.code)).all()
        self.nature_id.choices = blank + [(str(i), n) for i, n in natures]
        self.region_id.choices = blank + [(str(i), n) for i, n in districts]
        self.reviewer_region_id.choices = blank + [(str(i), n) for i, n in districts]
        self.reviewer_unit_id.choices = blank + [(str(u.id), u.name) for u in rules.competent_units(db.session)]


def _unit_field(name):
    return lambda view, context, model, _: getattr(model.unit, name) or ""


class RegistrationView(ScopedModelView):
    handle_label = "审核"  # the 操作 link where the user may decide now
    column_list = ("unit", "unit.uscc", "unit.nature", "route", "reviewer_unit", "reviewer_region", "registrant", "submitted_at", "status", "reason")
    column_labels = {"unit": "单位名称", "unit.uscc": "统一社会信用代码", "unit.nature": "单位性质"}
    column_searchable_list = ("unit.name", "unit.uscc")
    column_default_sort = ("submitted_at", True)
    column_filters = (
        FilterEqual(UnitRegistration.status, "审核状态", options=ReviewStatus.choices()),
        FilterEqual(UnitRegistration.route, "审核流程", options=RegistrationRoute.choices()),
        DecidedByMe(UnitRegistration.id, "审核归属", rules.REVIEWER),
    )
    column_details_list = ("unit", "unit.uscc", "unit.nature", "unit.region", "unit.legal_rep", "unit.contact_name", "unit.contact_mobile", "unit.email", "route", "reviewer_unit", "reviewer_region", "registrant", "submitted_at", "status", "reason", "reviewed_by", "reviewed_at")
    column_labels.update({"unit.region": "单位所在区县", "unit.legal_rep": "法定代表人", "unit.contact_name": "联系人姓名", "unit.contact_mobile": "联系人手机", "unit.email": "电子邮箱"})

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """注册管理员: the signed-in person fills in the unit's data and submits it for review."""
        if not self.can_create:
            abort(404)
        from flask_login import current_user

        form = RegistrationForm()
        form.fill_choices()
        if request.method == "POST" and form.validate():
            data = {f.name: f.data for f in form if f.name != "csrf_token"}
            try:
                reg = rules.register(db.session, current_user, data)
                db.session.commit()
            except Refused as error:
                db.session.rollback()
                for name, message in error.errors.items():
                    form[name].errors = [*form[name].errors, message]
            except SQLAlchemyError as error:  # the same unit registered at the same moment
                db.session.rollback()
                say_refusal(form, error, Unit)
            else:
                flash(f"单位注册已提交，等待{reg.route.label.removesuffix('审核')}审核；审核通过后您将成为 {reg.unit.name} 的单位管理员", "success")
                return redirect(self.get_url(".index_view"))
        return self.render("admin/registration_form.html", form=form, required=rules.REQUIRED)


def register(admin, session):
    admin.add_view(RegistrationView(UnitRegistration, session, name="单位注册", category="用户中心", endpoint="registration"))
