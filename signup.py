"""用户注册 (seed 004, seed 002 §2.2 and §4.1): 选择用户类型 → 用户协议 → 单位管理用户注册 or 填报用户注册,
and what a pending account may see: where its registration stands.

Nothing here grants access. A 填报用户 waits for its unit admin's 授权 (rules/authorisation.py), a
单位管理用户 for its unit's review (rules/registration.py); until then `gate` keeps the account on
its status page and rules.scope shows it no rows.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, Length, ValidationError

from admin_views.checks import say_refusal
from admin_views.validation import checked, fits, required, strip, strip_upper
from extensions import db
from models import AccountStatus, DictItem, Region, RegionKind, ReviewStatus, Unit, UnitRegistration, User
from rules import accounts, recovery, registration as unit_registration
from rules.params import clean_text
from rules.passwords import MAX_LENGTH as PASSWORD_MAX, policy_errors
from rules.refusal import Refused
from rules.validators import email_error, mobile_error, uscc_error

bp = Blueprint("signup", __name__)

KINDS = {"unit": "单位管理用户注册", "user": "填报用户注册"}
PASSWORD_RULE = "密码至少 8 位，须包含大写字母、小写字母、数字、符号中的至少三种，不能包含用户名或手机号码，也不能是常见密码"
# A registration POST counts against its address: at most a few per quarter hour (rules/throttle.py).
THROTTLED = "注册过于频繁，请稍后再试"
# What a pending account may open besides its status page.
PENDING_ENDPOINTS = ("auth.logout", "auth.change_password", "static", "admin.static")


def _throttle_key() -> str:
    return f"register:ip:{request.remote_addr or '-'}"


def _throttled() -> bool:
    return current_app.extensions["throttle"].locked_until(_throttle_key()) is not None


def _count_attempt() -> None:
    current_app.extensions["throttle"].fail(_throttle_key())


# -- forms ------------------------------------------------------------------------------------------
class AccountFields(FlaskForm):
    username = StringField("用户名", validators=[required("用户名"), *fits(User.username)], filters=[strip])
    password = PasswordField("密码", validators=[required("密码"), Length(max=PASSWORD_MAX, message=f"最多 {PASSWORD_MAX} 个字符")])
    confirm = PasswordField("确认密码", validators=[required("确认密码"), EqualTo("password", "两次输入的密码不一致")])


class UserSignupForm(AccountFields):
    name = StringField("姓名", validators=[required("姓名"), *fits(User.name)], filters=[strip])
    mobile = StringField("手机号码", validators=[required("手机号码"), *fits(User.mobile)], filters=[strip])
    id_no = StringField("身份证号码", validators=[required("身份证号码"), *fits(User.id_no)], filters=[strip_upper])
    email = StringField("电子邮箱", validators=[required("电子邮箱"), *fits(User.email), checked(email_error)], filters=[strip])
    unit_id = HiddenField("管理单位")
    unit_name = StringField("管理单位全称", validators=fits(Unit.name), filters=[strip])  # 必填 is said by the rule: picked or typed


def one_of_the_choices(form, field) -> None:
    """A posted value must be one the select offers (empty is left to the rules' 请选择…)."""
    if field.data and field.data not in {str(value) for value, _ in field.choices}:
        field.data = ""
        raise ValidationError("请选择有效的选项")


def _select(label: str, choices=(), **kwargs) -> SelectField:
    return SelectField(label, choices=list(choices), validate_choice=False, validators=[one_of_the_choices], **kwargs)


def _question_field(n: str) -> SelectField:
    return _select(f"问题{n}", [("", "---请选择问题---")] + [(q, q) for q in recovery.QUESTIONS])


def checked_value(form: FlaskForm, name: str) -> str:
    """A field's value once its own checks passed, else empty: refused input never reaches a query."""
    field = form[name]
    return "" if field.errors else (field.data or "")


class UnitFields(FlaskForm):
    """The unit's part of 单位管理用户注册 (seed 004 图 10), also used to continue a rejected one."""

    name = StringField("单位名称", validators=[required("单位名称"), *fits(Unit.name)], filters=[strip])
    uscc = StringField("统一社会信用代码", validators=[required("统一社会信用代码"), *fits(Unit.uscc), checked(uscc_error)], filters=[strip_upper])
    nature_id = _select("法人性质")
    registration_type_id = _select("法人类型")
    legal_rep = StringField("法定代表人", validators=[required("法定代表人"), *fits(Unit.legal_rep)], filters=[strip])
    authority = _select("局级（区县）主管部门",
                        description="事业单位、机关、国有企业选上级主管部门；非公有制经济、社会组织选参保地区县科技局；市级主管部门、留创园由市局审核，可不选")
    region_id = _select("注册地址（区县）")
    registered_address = StringField("注册地址", validators=[required("注册地址"), *fits(Unit.registered_address)], filters=[strip])
    located_region_id = _select("坐落地址（区县）")
    located_address = StringField("坐落地址", validators=[required("坐落地址"), *fits(Unit.located_address)], filters=[strip])
    contact_name = StringField("联系人姓名", validators=[required("联系人姓名"), *fits(Unit.contact_name)], filters=[strip])
    email = StringField("电子邮箱", validators=[required("电子邮箱"), *fits(Unit.email), checked(email_error)], filters=[strip])
    contact_mobile = StringField("手机号码", validators=[required("手机号码"), *fits(Unit.contact_mobile), checked(mobile_error)], filters=[strip])

    def fill_choices(self) -> None:
        blank = [("", "---请选择---")]
        natures = db.session.execute(
            select(DictItem.id, DictItem.name).where(DictItem.category == "unit_nature", DictItem.name.in_(unit_registration.ROUTES),
                                                     DictItem.active.is_(True)).order_by(DictItem.sort)).all()
        types = db.session.execute(
            select(DictItem.id, DictItem.name).where(DictItem.category == "registration_type", DictItem.active.is_(True)).order_by(DictItem.sort)).all()
        districts = db.session.execute(select(Region.id, Region.name).where(Region.kind == RegionKind.district).order_by(Region.sort, Region.code)).all()
        self.nature_id.choices = blank + [(str(i), n) for i, n in natures]
        self.registration_type_id.choices = blank + [(str(i), n) for i, n in types]
        self.region_id.choices = blank + [(str(i), n) for i, n in districts]
        self.located_region_id.choices = blank + [(str(i), n) for i, n in districts]
        self.authority.choices = (
            [("", "---请选择---")]
            + [(f"unit:{u.id}", f"{u.name}（主管部门）") for u in unit_registration.competent_units(db.session)]
            + [(f"region:{i}", f"{n}科技局（区县）") for i, n in districts]
        )

    def unit_data(self) -> dict:
        """The form as rules.registration reads it: the picked authority becomes the route's reviewer.
        A field its own checks refused (NUL, too long, not an option) counts as empty here."""
        v = lambda name: checked_value(self, name)  # noqa: E731
        kind, _, number = v("authority").partition(":")
        located = dict(self.located_region_id.choices).get(v("located_region_id"), "")
        located = "" if located.startswith("---") else located
        return {
            "name": v("name"), "uscc": v("uscc"), "nature_id": v("nature_id"),
            "registration_type_id": v("registration_type_id"), "region_id": v("region_id"),
            "legal_rep": v("legal_rep"), "contact_name": v("contact_name"), "contact_mobile": v("contact_mobile"),
            "email": v("email"), "registered_address": v("registered_address"),
            "located_address": f"{located}{v('located_address')}", "address": f"{located}{v('located_address')}",
            "reviewer_unit_id": number if kind == "unit" and number.isdigit() else "",
            "reviewer_region_id": number if kind == "region" and number.isdigit() else "",
        }

    # rules.registration's field names → this form's, and its words → this form's labels
    FIELD_OF = {"reviewer_unit_id": "authority", "reviewer_region_id": "authority", "address": "located_address"}
    WORDS = {"请选择单位性质": "请选择法人性质", "请选择单位所在区县": "请选择注册地址所在区县", "请填写联系人手机": "请填写手机号码"}

    def say(self, errors: dict) -> None:
        for name, message in errors.items():
            message = self.WORDS.get(message, message)
            target = self[self.FIELD_OF.get(name, name)]
            if not target.errors:  # the field's own message first, one message per field
                target.errors = [message]


class UnitSignupForm(UnitFields):
    username = StringField("单位管理员用户名", validators=[required("单位管理员用户名"), *fits(User.username)], filters=[strip])
    password = PasswordField("密码", validators=[required("密码"), Length(max=PASSWORD_MAX, message=f"最多 {PASSWORD_MAX} 个字符")])
    confirm = PasswordField("确认密码", validators=[required("确认密码"), EqualTo("password", "两次输入的密码不一致")])
    q1, q2, q3 = _question_field("一"), _question_field("二"), _question_field("三")
    a1 = StringField("请填写答案", validators=fits(User.name), filters=[strip])
    a2 = StringField("请填写答案", validators=fits(User.name), filters=[strip])
    a3 = StringField("请填写答案", validators=fits(User.name), filters=[strip])

    def pairs(self) -> list[tuple[str, str]]:
        return [(checked_value(self, f"q{i}"), checked_value(self, f"a{i}")) for i in (1, 2, 3)]


class AgreementForm(FlaskForm):
    agree = BooleanField("我已阅读并同意《用户协议》")


# -- pages ------------------------------------------------------------------------------------------
@bp.route("/register")
def choose():
    """选择用户类型 (seed 004 图 2/8)."""
    return render_template("signup/choose.html", kinds=KINDS)


@bp.route("/agreement")
def agreement_text():
    return render_template("signup/agreement.html", form=None, kind=None)


@bp.route("/register/<kind>/agreement", methods=["GET", "POST"])
def agreement(kind: str):
    """用户协议 (seed 004 图 3/9): agreeing leads to the form."""
    if kind not in KINDS:
        abort(404)
    form = AgreementForm()
    if form.validate_on_submit():
        if form.agree.data:
            session["agreed"] = kind
            return redirect(url_for(f"signup.{kind}_form"))
        form.agree.errors = ["请阅读并同意用户协议"]
    return render_template("signup/agreement.html", form=form, kind=kind, title=KINDS[kind])


def _agreed(kind: str):
    return None if session.get("agreed") == kind else redirect(url_for("signup.agreement", kind=kind))


@bp.route("/register/user", methods=["GET", "POST"])
def user_form():
    """填报用户注册: the unit is searched by its full name and ticked (单位选择, seed 004 图 5)."""
    if (detour := _agreed("user")) is not None:
        return detour
    form = UserSignupForm()
    if request.method == "POST" and _checked(form):
        if _throttled():
            flash(THROTTLED, "error")
            return render_template("signup/user.html", form=form, rule=PASSWORD_RULE), 429
        errors = accounts.registration_errors(db.session, {f.name: checked_value(form, f.name) for f in form})
        for name, message in errors.items():
            if not form[name].errors:  # the field's own message first, one message per field
                form[name].errors = [message]
        if not any(f.errors for f in form):
            _count_attempt()
            try:
                user = accounts.sign_up(db.session, {f.name: f.data for f in form})
                unit_name = user.unit.name
                db.session.commit()
            except SQLAlchemyError as error:  # the same user name registered at the same moment
                db.session.rollback()
                say_refusal(form, error, User)
            else:
                return _done([f"您已提交在 {unit_name} 的填报用户注册。",
                              "单位管理员授权后即可登录使用；授权前您可以登录查看授权进度。"])
    picked = accounts.chosen_unit(db.session, {"unit_id": form.unit_id.data}) if form.unit_id.data else None
    return render_template("signup/user.html", form=form, rule=PASSWORD_RULE, picked=picked)


@bp.route("/register/units")
def unit_search():
    """单位选择: approved units whose full name contains what was typed (JSON for the picker)."""
    query = clean_text(request.args.get("q"), limit=100) or ""
    return jsonify([{"id": u.id, "name": u.name} for u in accounts.unit_choices(db.session, query)])


@bp.route("/register/unit", methods=["GET", "POST"])
def unit_form():
    """单位管理用户注册 (seed 004 图 10): the unit, its admin account and three 密保问题 at once."""
    if (detour := _agreed("unit")) is not None:
        return detour
    form = UnitSignupForm()
    form.fill_choices()
    if request.method == "POST" and _checked(form):
        if _throttled():
            flash(THROTTLED, "error")
            return render_template("signup/unit.html", form=form, rule=PASSWORD_RULE), 429
        errors = _account_errors(form)
        try:
            if errors or any(f.errors for f in form):
                unit_registration.validate(db.session, None, form.unit_data())  # say the unit's problems too
                raise Refused(errors=errors)
            _count_attempt()
            account = {"username": form.username.data, "password": form.password.data, "name": form.contact_name.data,
                       "mobile": form.contact_mobile.data, "email": form.email.data,
                       "security_questions": recovery.security_questions(form.pairs())}
            reg = unit_registration.register_new_unit(db.session, account, form.unit_data())
            reviewer = reg.route.label.removesuffix("审核")
            unit_name = reg.unit.name
            db.session.commit()
        except Refused as refused:
            db.session.rollback()
            form.say({**errors, **refused.errors})
        except SQLAlchemyError as error:  # the same unit or user name at the same moment
            db.session.rollback()
            say_refusal(form, error, Unit)
        else:
            return _done([f"{unit_name} 的单位管理用户注册已提交，等待{reviewer}审核。",
                          "审核通过后单位管理用户生效；在此之前，您可以用刚才的用户名和密码登录，查看审核进度或修改后重新提交。"])
    return render_template("signup/unit.html", form=form, rule=PASSWORD_RULE)


def _checked(form: FlaskForm) -> bool:
    """Validate the fields; False only when the page has expired (then nothing else is said)."""
    form.validate()
    return not form.csrf_token.errors


def _done(lines: list[str]):
    """提交成功 (seed 004 图 6), after a redirect: reloading the page submits nothing twice."""
    session.pop("agreed", None)
    session["signup_done"] = lines
    return redirect(url_for("signup.done"))


@bp.route("/register/done")
def done():
    lines = session.pop("signup_done", None)
    if not lines:
        return redirect(url_for("signup.choose"))
    return render_template("signup/done.html", title="提交成功", lines=lines)


def _account_errors(form: UnitSignupForm) -> dict:
    errors = {}
    v = lambda name: checked_value(form, name)  # noqa: E731
    if problem := accounts.username_error(db.session, v("username")):
        errors["username"] = problem
    if problems := policy_errors(v("password"), v("username"), v("contact_mobile")):
        errors["password"] = "；".join(problems)
    for i, message in recovery.pairs_errors(form.pairs()).items():
        errors[f"q{i + 1}" if message in ("请选择问题", "三个问题不能重复") else f"a{i + 1}"] = message
    return errors


# -- a pending account: its status, and continuing a rejected unit registration ---------------------
def _own_registration():
    return db.session.scalars(
        select(UnitRegistration).where(UnitRegistration.registrant_id == current_user.id).order_by(UnitRegistration.id.desc()).limit(1)
    ).first()


@bp.route("/register/status")
@login_required
def status():
    """授权进度 / 审核进度: all a pending or refused account can see."""
    if current_user.status == AccountStatus.active:
        return redirect(url_for("admin.index"))
    return render_template("signup/status.html", user=current_user, registration=_own_registration())


@bp.route("/register/unit/continue", methods=["GET", "POST"])
@login_required
def unit_continue():
    """修改并重新提交: a registrant whose unit registration was not approved corrects and resubmits it."""
    reg = _own_registration()
    if reg is None or reg.status != ReviewStatus.rejected:
        abort(404)
    unit = reg.unit
    form = UnitFields(data=None if request.method == "POST" else _initial(unit, reg))
    form.fill_choices()
    if form.validate_on_submit():
        try:
            unit_registration.register(db.session, current_user, form.unit_data())
            db.session.commit()
        except Refused as refused:
            db.session.rollback()
            form.say(refused.errors or {"name": str(refused)})
        except SQLAlchemyError as error:
            db.session.rollback()
            say_refusal(form, error, Unit)
        else:
            flash("单位注册已重新提交，请等待审核", "success")
            return redirect(url_for("signup.status"))
    return render_template("signup/unit.html", form=form, rule=None, continuing=True, reason=reg.reason)


def _initial(unit: Unit, reg: UnitRegistration) -> dict:
    authority = f"unit:{reg.reviewer_unit_id}" if reg.reviewer_unit_id else (f"region:{reg.reviewer_region_id}" if reg.reviewer_region_id else "")
    return {
        "name": unit.name, "uscc": unit.uscc, "nature_id": str(unit.nature_id or ""), "registration_type_id": str(unit.registration_type_id or ""),
        "legal_rep": unit.legal_rep, "authority": authority, "region_id": str(unit.region_id or ""),
        "registered_address": unit.registered_address, "located_address": unit.located_address, "contact_name": unit.contact_name,
        "email": unit.email, "contact_mobile": unit.contact_mobile,
    }


def gate():
    """A pending or refused account sees its status page and nothing else (before_request)."""
    if not current_user.is_authenticated or current_user.status == AccountStatus.active:
        return None
    endpoint = request.endpoint or ""
    if endpoint.startswith(("signup.", "recovery.")) or endpoint in PENDING_ENDPOINTS or endpoint.endswith(".static"):
        return None
    return redirect(url_for("signup.status"))


def init_signup(app) -> None:
    app.register_blueprint(bp)
    app.before_request(gate)
    app.context_processor(lambda: {"has_endpoint": lambda name: name in app.view_functions})
