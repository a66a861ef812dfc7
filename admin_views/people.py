"""个人信息 (own record) and 个人信息审核 (seed 000 §2.4–2.5), both on the `person` endpoint."""
from __future__ import annotations

from datetime import datetime

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.menu import MenuView
from flask_admin.contrib.sqla.filters import DateTimeBetweenFilter, FilterEqual, FilterLike
from flask_login import current_user
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import ValidationError

from extensions import db
from models import REVIEWED_FIELDS, DictItem, Person, ReviewStatus, Role, Unit
from rules import people
from rules.accounts import approved_unit
from rules.transitions import Refused
from rules.validators import email_error, mobile_error, phone_error

from .base import DecidedByMe, RoleGate, ScopedModelView, current_role, principal, scoped_options
from .validation import checked, fits, keep_readonly, required, strip, strip_upper

MENU_ORDER = 20

REVIEWERS = frozenset({Role.unit_admin, Role.dept_admin})  # who keep a record of their own and review others
RELATED = {"education_id": "education", "degree_id": "degree", "title_id": "title"}


def _unit_name(form, field):
    if field.data and approved_unit(db.session, field.data) is None:
        raise ValidationError("未找到该单位，请输入已注册单位的全称（维护个人信息前请确保工作单位已注册）")


def _id_no(form, field):
    id_type = form.id_type.data if "id_type" in form else None
    if problem := people.id_no_error(db.session, id_type.id if id_type else None, field.data or ""):
        raise ValidationError(problem)


def _display(field: str, value) -> str:
    if value is None or value == "":
        return "（空）"
    if field in RELATED:
        item = db.session.get(DictItem, value)
        return item.name if item else str(value)
    if field == "unit_id":
        unit = db.session.get(Unit, value)
        return unit.name if unit else str(value)
    return str(value)


def _review_level(view, context, model, name):
    if model.pending_unit_id is not None:
        return "调入单位审核"  # a change of 工作单位 is decided by the destination unit
    if model.secondary_unit_id is None or (model.user is not None and model.user.role == Role.dept_admin and model.user.secondary_unit_id == model.secondary_unit_id):
        return "单位审核"
    return "二级单位审核"


class PersonView(ScopedModelView):
    """People come with their accounts (registration, 授权, 二级单位); others' records are edited by
    the system administrator only (rules/permissions.py), everyone edits their own (`refusal`)."""

    handle_label = "审核"  # the 操作 link where the user may decide now

    details_template = "admin/person_details.html"
    column_list = ("name", "gender", "id_no", "mobile", "education", "title", "unit", "secondary_unit", "submitted_at", "review_status", "review_level")
    column_labels = {"mobile": "手机号码", "unit": "工作单位", "submitted_at": "最近更新时间", "review_level": "审核单位"}
    column_formatters = {"review_level": _review_level}
    column_searchable_list = ("name", "id_no", "mobile")
    column_default_sort = ("submitted_at", True)
    column_filters = (
        FilterLike(Person.name, "姓名"),
        FilterLike(Person.id_no, "证件号码"),
        FilterLike(Person.mobile, "手机号码"),
        FilterEqual(Person.unit_id, "工作单位", options=scoped_options(Unit)),
        DateTimeBetweenFilter(Person.submitted_at, "更新时间"),
        FilterEqual(Person.review_status, "状态", options=ReviewStatus.choices()),
        DecidedByMe(Person.id, "审核归属", people.PERSON_REVIEWER),
    )
    column_details_list = (
        "name", "gender", "nationality", "ethnicity", "political_status", "id_type", "id_no", "birth_date",
        "work_province", "work_region", "work_city_scope", "unit_nature", "unit", "secondary_unit", "unit_address",
        "education", "degree", "title", "position", "major", "mobile", "office_phone", "email", "qq", "wechat",
        "submitted_at", "review_status", "review_reason",
    )
    form_columns = (
        "name", "gender", "nationality", "ethnicity", "political_status", "id_type", "id_no", "birth_date",
        "work_province", "work_region", "work_city_scope", "unit_nature", "unit_name", "unit_address",
        "education", "degree", "title", "position", "major", "mobile", "office_phone", "email", "qq", "wechat",
    )
    form_extra_fields = {"unit_name": StringField("工作单位名称", validators=[required("工作单位名称"), *fits(Unit.name), _unit_name], filters=[strip])}
    form_args = {
        "name": {"validators": [required("姓名")], "filters": [strip]},
        "id_no": {"validators": [required("证件号码"), _id_no], "filters": [strip_upper]},
        "mobile": {"validators": [required("手机"), checked(mobile_error)], "filters": [strip]},
        "office_phone": {"validators": [checked(phone_error)], "filters": [strip]},
        "email": {"validators": [checked(email_error)], "filters": [strip]},
    }
    form_widget_args = {"birth_date": {"readonly": True}}
    column_descriptions = {"birth_date": "由证件号码自动带出"}

    # -- who sees what -------------------------------------------------------------------
    def menu_name(self) -> str:
        role = current_role()
        if self.may("approve"):
            return "个人信息审核"
        return "个人信息" if role == Role.applicant else "人员信息"


    def refusal(self, action, row=None):
        if action == "edit" and row is not None and row.user_id is not None and row.user_id == current_user.id:
            return None  # one's own 个人信息: saving is the 提交审核 transition
        return super().refusal(action, row)

    def may_edit(self, person: Person) -> bool:
        return self.may("edit", person)

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self.may("edit") or bool(g.get("own_person_edit"))

    def may_review(self, person: Person) -> bool:
        return self.may("approve", person)

    def change_rows(self, person: Person) -> list[tuple[str, str, str, bool]]:
        """Old (in force) and new (waiting) values side by side for the details page."""
        pending = person.pending_changes or {}
        rows = []
        for field in REVIEWED_FIELDS:
            old = getattr(person, field)
            new = pending.get(field, old)
            rows.append((people.FIELD_LABELS[field], _display(field, old), _display(field, new), field in pending and new != old))
        return rows

    # -- 个人信息: the person's own edit -----------------------------------------------
    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        person = self.get_one(request.args.get("id"))
        if not self.may_edit(person):
            abort(404)
        g.own_person_edit = person.user_id == current_user.id
        return super().edit_view()

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        keep_readonly(form, obj, ("birth_date",))
        return form

    def on_form_prefill(self, form, id):
        """The form shows what the person last submitted: approved values with waiting changes on top."""
        if request.method == "POST":
            return  # a refused post shows what was typed
        person = self.get_one(id)
        shown = people.shown_values(person)
        form.id_no.data = shown["id_no"]
        form.position.data = shown["position"]
        for field, rel in RELATED.items():
            form[rel].data = db.session.get(DictItem, shown[field]) if shown[field] else None
        unit = db.session.get(Unit, shown["unit_id"]) if shown["unit_id"] else None
        form.unit_name.data = unit.name if unit else ""

    def on_model_change(self, form, model, is_created):
        if is_created:
            unit = approved_unit(self.session, form.unit_name.data)
            model.unit_id = unit.id if unit else None
            model.birth_date = people.birth_from(self.session, model.id_type.id if model.id_type else None, model.id_no)

    def update_model(self, form, model: Person):
        session = self.session
        problem = self.refusal("edit", model)
        if problem:
            flash(problem, "error")
            return False
        try:
            with session.no_autoflush:
                approved = people.approved_values(model)
                for name, field in form._fields.items():
                    if name not in ("unit_name", "csrf_token", "birth_date"):
                        field.populate_obj(model, name)
                new = {
                    "id_no": model.id_no,
                    "position": model.position,
                    "unit_id": approved_unit(session, form.unit_name.data).id,
                    **{f: (getattr(model, rel).id if getattr(model, rel) else None) for f, rel in RELATED.items()},
                }
                # The approved values stay in force while the change waits for review.
                model.id_no, model.position = approved["id_no"], approved["position"]
                for f, rel in RELATED.items():
                    setattr(model, rel, session.get(DictItem, approved[f]) if approved[f] else None)
                model.id_type_id = model.id_type.id if model.id_type else None
            waiting = people.save(session, principal(), model, new)  # plain fields are already on the model
            session.commit()
        except Refused as refused:
            session.rollback()
            flash(f"保存失败：{refused}", "error")
            return False
        except Exception as ex:  # noqa: BLE001 — Flask-Admin's own contract: flash, roll back, keep the form
            g.saving = (form, False)
            self.handle_view_exception(ex)  # the database's refusal in Chinese at its field (admin_views/checks.py)
            session.rollback()
            return False
        if waiting:
            flash("已保存。证件号码、工作单位、最高学历、最高学位、职称、职务的修改已提交单位审核（待审核），审核通过前仍以原信息为准", "info")
        return True


class RoleNamedMenu(MenuView):
    """A menu entry whose text follows the role (the view's `menu_name()`)."""

    @property
    def name(self):  # type: ignore[override]
        return self._view.menu_name()

    @name.setter
    def name(self, value):
        pass


class MyPersonView(RoleGate, BaseView):
    """个人信息: everyone with a unit keeps their own record; it is created from the account on first visit."""

    def is_visible(self) -> bool:
        return current_role() in REVIEWERS  # applicants reach it from the person entry itself

    @expose("/")
    def index(self):
        person = db.session.scalar(select(Person).where(Person.user_id == current_user.id))
        if person is None:
            person = _person_of(current_user)
            db.session.add(person)
            db.session.commit()
        return redirect(url_for("person.details_view", id=person.id))


def _person_of(user) -> Person:
    id_type = db.session.scalar(select(DictItem.id).where(DictItem.category == "id_type", DictItem.name == people.ID_CARD))
    clash = user.id_no and db.session.scalar(select(Person.id).where(Person.id_type_id == id_type, Person.id_no == user.id_no))
    return Person(
        user_id=user.id,
        name=user.name,
        id_type_id=id_type,
        id_no=None if clash else user.id_no,
        birth_date=people.birth_from(db.session, id_type, user.id_no),
        mobile=user.mobile,
        unit_id=user.unit_id,
        secondary_unit_id=user.secondary_unit_id if user.role == Role.applicant else None,
        review_status=ReviewStatus.approved,
        submitted_at=datetime.now(),
    )


def register(admin, session):
    admin.add_view(MyPersonView(name="个人信息", category="用户中心", endpoint="my_person"))
    person_view = PersonView(Person, session, name="个人信息审核", category="用户中心", endpoint="person")
    admin.add_view(person_view)
    person_view.menu.__class__ = RoleNamedMenu
