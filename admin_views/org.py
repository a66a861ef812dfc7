"""单位信息, 账号授权 and 二级单位 (seed 000 §2.1–2.3)."""
from __future__ import annotations

from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from wtforms import StringField
from wtforms.validators import ValidationError

from extensions import db
from models import Role, SecondaryUnit, Unit, User
from rules import accounts, unit_changes
from rules import notify
from rules.people import ID_CARD
from rules.refusal import Refused
from rules.validators import (
    bank_account_error,
    bank_code_error,
    capital_error,
    email_error,
    id_card_error,
    keywords_error,
    mobile_error,
    phone_error,
    postcode_error,
    uscc_error,
)

from .base import RoleGate, ScopedModelView, current_role, principal
from .checks import say_refusal
from .validation import checked, fits, keep_readonly, required, strip, strip_upper

MENU_ORDER = 10

# Filled in by the system when the unit registered: grey for the unit admin (seed 000 §2.1). The
# 统一社会信用代码 may be corrected, but like 所在区县 and 单位性质 only through 单位信息变更.
SYSTEM_FILLED = ("name", "province_city")
# Form field → unit column of the fields a unit admin's save turns into a 单位信息变更 (rules/unit_changes.py).
REVIEWED_FIELDS = {"region": "region_id", "competent_unit": "competent_unit_id", "nature": "nature_id", "uscc": "uscc"}


def _legal_rep_id(form, field):
    """法定代表人证件号码: GB 11643 only when the type is 居民身份证."""
    id_type = getattr(form, "legal_rep_id_type", None)
    if field.data and id_type is not None and id_type.data is not None and id_type.data.name == ID_CARD:
        if problem := id_card_error(field.data):
            raise ValidationError(problem)


def _paid_in(form, field):
    registered = form.registered_capital.data if "registered_capital" in form else None
    if problem := capital_error(registered, field.data):
        raise ValidationError(problem)


def _registered(form, field):
    if field.data is not None and field.data < 0:
        raise ValidationError("注册资本不能为负数")


class UnitView(ScopedModelView):
    column_list = ("name", "uscc", "region", "nature", "registration_type", "legal_rep", "contact_name", "contact_mobile", "status")
    column_searchable_list = ("name", "uscc", "legal_rep")
    column_filters = ("status", "region.name", "nature.name")
    column_labels = {"region.name": "单位所在区县", "nature.name": "单位性质"}
    column_details_list = (
        "name", "province_city", "city_scope", "region", "address", "postcode", "registered_on", "registered_capital",
        "paid_in_capital", "uscc", "registration_type", "nature", "legal_rep", "legal_rep_id_type", "legal_rep_id_no",
        "zone", "industry", "contact_name", "contact_mobile", "contact_phone", "email", "keywords",
        "bank_account_name", "bank_name", "bank_account", "bank_code", "competent_unit", "status",
    )
    form_columns = column_details_list
    form_args = {
        "name": {"validators": [required("单位名称")], "filters": [strip]},
        "uscc": {"validators": [checked(uscc_error)], "filters": [strip_upper]},
        "postcode": {"validators": [checked(postcode_error)], "filters": [strip]},
        "registered_capital": {"validators": [_registered]},
        "paid_in_capital": {"validators": [_paid_in]},
        "legal_rep_id_no": {"validators": [_legal_rep_id], "filters": [strip_upper]},
        "contact_mobile": {"validators": [required("单位联系人手机"), checked(mobile_error)], "filters": [strip]},
        "contact_phone": {"validators": [required("单位联系人办公电话"), checked(phone_error)], "filters": [strip]},
        "email": {"validators": [required("电子邮箱"), checked(email_error)], "filters": [strip]},
        "keywords": {"validators": [checked(keywords_error)], "filters": [strip], "description": "3–5 个，用 、 , 或 ， 分隔"},
        "bank_name": {"validators": [required("开户银行")], "filters": [strip]},
        "bank_account": {"validators": [required("银行账号"), checked(bank_account_error)], "filters": [strip]},
        "bank_code": {"validators": [required("银行行号"), checked(bank_code_error)], "filters": [strip]},
    }
    details_template = "admin/unit_details.html"

    @expose("/")
    def index_view(self):
        # 单位信息 of a unit admin is its one unit: straight to it.
        p = principal()
        if p is not None and p.role == Role.unit_admin and not request.args:
            return redirect(self.get_url(".details_view", id=p.unit_id))
        return super().index_view()

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if current_role() == Role.unit_admin:
            for name in ("status", "competent_unit"):
                if name in form:
                    delattr(form, name)
            keep_readonly(form, obj, SYSTEM_FILLED)
        return form

    def update_model(self, form, model):
        """A unit admin's 所在区县, 主管部门, 单位性质 and 统一社会信用代码 wait for the receiving
        authority (a pending 单位信息变更); the other fields save at once. Others write directly."""
        if current_role() != Role.unit_admin or self.refusal("edit", model):
            return super().update_model(form, model)
        values = {column: _posted(form[name].data) for name, column in REVIEWED_FIELDS.items() if name in form}
        try:
            change = unit_changes.request_change(self.session, principal(), model, values)
        except Refused as refused:
            self.session.rollback()
            name = next((n for n, c in REVIEWED_FIELDS.items() if c == refused.field and n in form), None)
            if name:
                form[name].errors = [*form[name].errors, str(refused)]
            flash(str(refused), "error")
            return False
        for name in REVIEWED_FIELDS:  # the unit keeps its values until the change is approved
            if name in form:
                form[name].data = getattr(model, name)
        saved = super().update_model(form, model)
        if saved and change is not None:
            flash(f"所在区县等变更已提交，待{unit_changes.reviewer_name(self.session, change)}审核；审核通过前仍按原信息管理", "success")
        return saved

    def change_notice(self, model):
        """有待审核的单位信息变更 … (待…审核), and the change's id, when one waits inside the user's scope."""
        change = unit_changes.pending_of(self.session, model.id, principal())
        return (unit_changes.notice(self.session, change), change.id) if change is not None else (None, None)


def _posted(value):
    """A select's row (区县, 单位性质, 主管部门) as its id; text as typed."""
    return getattr(value, "id", value)


class AuthorizeForm(FlaskForm):
    name = StringField("姓名", validators=[required("姓名"), *fits(User.name)], filters=[strip])
    mobile = StringField("手机号码", validators=[required("手机号码"), checked(mobile_error)], filters=[strip])
    id_no = StringField("证件号码", validators=[required("证件号码"), checked(id_card_error)], filters=[strip_upper])


class AuthorizationView(RoleGate, BaseView):
    """账号授权 (seed 000 §2.2): the legal unit itself names its one 法人单位授权人."""


    def is_accessible(self) -> bool:
        # The 授权人 has every unit function except this one.
        return super().is_accessible() and not current_user.unit_authorized

    @expose("/", methods=("GET", "POST"))
    def index(self):
        unit = db.session.get(Unit, current_user.unit_id)
        form = AuthorizeForm()
        current = accounts.authorized_user(db.session, unit.id)
        if form.validate_on_submit():
            try:
                granted = accounts.authorize(db.session, unit, form.name.data, form.mobile.data, form.id_no.data)
                sent = notify.temporary_password(db.session, granted.user, granted.temporary_password) if granted.temporary_password else None
                db.session.commit()
            except accounts.AccountError as error:
                db.session.rollback()
                getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
            except SQLAlchemyError as error:  # e.g. a second 授权人 saved at the same moment
                db.session.rollback()
                say_refusal(form, error, User)
            else:
                message = f"已授权 {granted.user.name} 为法人单位授权人"
                if current is not None:
                    message += f"，原授权人 {current.name} 的单位权限已取消"
                if sent is not None:
                    message += f"。已创建账号：用户名 {granted.user.username}，临时密码{notify.outcome(sent)}（首次登录须修改）"
                flash(message, "success")
                return redirect(self.get_url(".index"))
        return self.render("admin/authorization.html", form=form, unit=unit, current=current, show_form=bool(form.errors) or request.args.get("edit"))


class SecondaryUnitView(ScopedModelView):
    column_list = ("unit", "name", "manager_name", "manager_mobile", "manager_id_no")
    column_searchable_list = ("name", "manager_name", "manager_mobile")
    form_columns = ("unit", "name", "manager_name", "manager_mobile", "manager_id_no")
    form_args = {
        "name": {"validators": [required("二级单位（部门）名称")], "filters": [strip]},
        "manager_name": {"validators": [required("管理人员姓名")], "filters": [strip]},
        "manager_mobile": {"validators": [required("管理人员手机"), checked(mobile_error)], "filters": [strip]},
        "manager_id_no": {"validators": [required("管理人员身份证号码"), checked(id_card_error)], "filters": [strip_upper]},
    }
    column_descriptions = {"manager_name": "一个二级单位仅可设置 1 名管理人员；不可与法人单位授权人是同一个人"}

    def _without_unit(self, form):
        if current_role() == Role.unit_admin and "unit" in form:
            delattr(form, "unit")
        return form

    def create_form(self, obj=None):
        return self._without_unit(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._without_unit(super().edit_form(obj))

    def create_model(self, form):
        model = SecondaryUnit()
        return model if self._save(form, model, True) else False

    def update_model(self, form, model):
        return self._save(form, model, False)

    def _save(self, form, model: SecondaryUnit, is_created: bool) -> bool:
        session = self.session
        try:
            with session.no_autoflush:
                form.populate_obj(model)
                if current_role() == Role.unit_admin:
                    model.unit_id = principal().unit_id
                if model.unit_id is None and model.unit is not None:
                    model.unit_id = model.unit.id
            clash = session.scalar(
                select(SecondaryUnit.id).where(SecondaryUnit.unit_id == model.unit_id, SecondaryUnit.name == model.name, SecondaryUnit.id != (model.id or 0))
            )
            if clash:
                raise accounts.AccountError("name", "本单位已有同名的二级单位")
            if is_created:
                session.add(model)
            session.flush()
            granted = accounts.set_manager(session, model, form.manager_name.data, form.manager_mobile.data, form.manager_id_no.data)
            sent = notify.temporary_password(session, granted.user, granted.temporary_password) if granted.temporary_password else None
            session.commit()
        except accounts.AccountError as error:
            session.rollback()
            field = form[error.field]
            field.errors = [*field.errors, error.message]
            return False
        except SQLAlchemyError as error:
            session.rollback()
            say_refusal(form, error, SecondaryUnit)
            return False
        if sent is not None:
            flash(
                f"已为管理人员 {granted.user.name} 创建二级单位管理账号：用户名 {granted.user.username}，"
                f"临时密码{notify.outcome(sent)}（首次登录须修改）",
                "success",
            )
        else:
            flash(f"已保存，{granted.user.name} 为该二级单位管理人员", "success")
        return model

    def delete_model(self, model: SecondaryUnit) -> bool:
        blocker = accounts.delete_blocker(self.session, model.id)
        if blocker:
            flash(f"{model.name}：{blocker}", "error")
            return False
        try:
            retired = accounts.retire_managers(self.session, model.id)
            self.session.delete(model)
            self.session.commit()
        except SQLAlchemyError as error:
            self.session.rollback()
            say_refusal(None, error, SecondaryUnit, deleting=True)
            return False
        if retired:
            flash(f"已删除二级单位 {model.name}，管理人员账号已停用", "success")
        return True


def register(admin, session):
    admin.add_view(UnitView(Unit, session, name="单位信息", category="用户中心", endpoint="unit"))
    admin.add_view(AuthorizationView(name="账号授权", category="用户中心", endpoint="unit_authorization"))
    admin.add_view(SecondaryUnitView(SecondaryUnit, session, name="二级单位", category="用户中心", endpoint="secondary_unit"))
