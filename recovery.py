"""忘记密码 (seed 002 §2.3, seed 004): a public journey in three steps, its state in PasswordReset.

1. 用户名/手机号/证件号码 and, as the challenge, the account's registered 手机号码 or 电子邮箱;
   any mismatch says only 账号信息不匹配, and failures are throttled per address and per account.
2. 回答密保问题, or a one-time code sent through notify() to the registered e-mail or phone.
3. a new password under the policy; every other session of the account ends.

The browser holds only a random token (in its session); the database holds its hash.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from auth import find_user, printable
from extensions import db
from models import MessageStatus, PasswordReset, User
from rules import audit, notify, recovery
from rules.passwords import MAX_LENGTH as PASSWORD_MAX

bp = Blueprint("recovery", __name__)

TOKEN = "password_reset"


class ForgotForm(FlaskForm):
    username = StringField("用户名/手机号/证件号码", validators=[DataRequired("请输入用户名、手机号码或证件号码"), Length(max=100, message="输入过长"), printable])
    contact = StringField("注册时填写的手机号码或电子邮箱", validators=[DataRequired("请输入注册时填写的手机号码或电子邮箱"), Length(max=120, message="输入过长"), printable])


class MethodForm(FlaskForm):
    method = StringField("验证方式", validators=[DataRequired("请选择验证方式"), Length(max=20, message="请选择验证方式"), printable])


class QuestionsForm(FlaskForm):
    answer_0 = StringField("问题一", validators=[DataRequired("请填写答案"), Length(max=recovery.ANSWER_MAX, message="答案过长"), printable])
    answer_1 = StringField("问题二", validators=[DataRequired("请填写答案"), Length(max=recovery.ANSWER_MAX, message="答案过长"), printable])
    answer_2 = StringField("问题三", validators=[DataRequired("请填写答案"), Length(max=recovery.ANSWER_MAX, message="答案过长"), printable])


class CodeForm(FlaskForm):
    code = StringField("验证码", validators=[DataRequired("请输入验证码"), Length(max=recovery.CODE_DIGITS, message="验证码为 6 位数字"), printable])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码"), Length(max=PASSWORD_MAX, message=f"最多 {PASSWORD_MAX} 个字符")])
    confirm = PasswordField("确认新密码", validators=[DataRequired("请再次输入新密码"), EqualTo("new_password", "两次输入的新密码不一致")])


# -- throttling ---------------------------------------------------------------------------------
def _throttle():
    return current_app.extensions["throttle"]


def _ip_key() -> str:
    return "reset:ip:" + (request.remote_addr or "unknown")[:45]


def _account_key(user: User | None, login: str) -> str:
    return f"reset:user:{user.id}" if user else "reset:login:" + login.strip().lower()[:100]


def _locked(*keys: str) -> datetime | None:
    return next((until for until in map(_throttle().locked_until, keys) if until), None)


def _locked_message(until: datetime) -> str:
    return f"尝试次数过多，请于 {until:%H:%M} 后再试"


def _audit(action: str, user: User | None, login: str, summary: str) -> None:
    actor = audit.Actor(user_id=user.id if user else None, username=user.username if user else login[:50], ip=request.remote_addr)
    audit.record(db.session, action, "app_user", user.id if user else None, summary=summary, actor=actor)


# -- the attempt behind the browser's token ----------------------------------------------------------
def _open() -> tuple[PasswordReset, User] | None:
    reset = recovery.current(db.session, session.get(TOKEN))
    return (reset, db.session.get(User, reset.user_id)) if reset is not None else None


def _start_again(message: str = recovery.VOID):
    db.session.commit()  # counted attempts stay counted
    session.pop(TOKEN, None)
    flash(message, "warning")
    return redirect(url_for("recovery.forgot"))


def _page(template: str, status: int = 200, **context):
    return render_template(f"recovery/{template}.html", **context), status


# -- step 1: who -----------------------------------------------------------------------------------
@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot():
    form = ForgotForm()
    error = None
    if form.validate_on_submit():
        login = form.username.data.strip()
        user = find_user(login)
        keys = (_ip_key(), _account_key(user, login))
        until = _locked(*keys)
        if until:
            error = _locked_message(until)
        elif user is None or not recovery.contact_matches(user, form.contact.data):
            until = max((u for u in map(_throttle().fail, keys) if u), default=None)
            error = _locked_message(until) if until else recovery.MISMATCH
            _audit("password_reset_failure", user, login, "忘记密码：账号信息不匹配" if user else "忘记密码：用户不存在")
            db.session.commit()
        elif not user.active:
            error = recovery.DISABLED
            _audit("password_reset_failure", user, login, "忘记密码：账号已停用")
            db.session.commit()
        else:
            session[TOKEN] = recovery.start(db.session, user, request.remote_addr)
            db.session.commit()
            return redirect(url_for("recovery.verify"))
    return _page("forgot", 200 if not error else 400, form=form, error=error)


# -- step 2: prove it -------------------------------------------------------------------------------
@bp.route("/forgot-password/verify", methods=["GET", "POST"])
def verify():
    found = _open()
    if found is None:
        return _start_again()
    reset, user = found
    methods = recovery.methods(user)
    form = MethodForm()
    error = None
    if form.validate_on_submit():
        method = form.method.data
        if method not in methods:
            error = "请选择验证方式"
        elif method == "question":
            return redirect(url_for("recovery.questions"))
        else:
            send_key = f"reset:send:{user.id}"
            until = _locked(send_key)
            if until:
                error = f"验证码发送过于频繁，请于 {until:%H:%M} 后再试"
            else:
                _throttle().fail(send_key)  # every code sent counts: nobody floods a mailbox
                message = recovery.send_code(db.session, reset, user, method)
                db.session.commit()  # delivered now, after the commit
                if message.status == MessageStatus.failed:
                    error = f"验证码发送失败（{message.error}），请稍后重试"
                else:
                    flash(f"验证码{notify.outcome(message)}，10 分钟内有效", "info")
                    return redirect(url_for("recovery.code"))
    return _page("verify", 200 if not error else 400, form=form, methods=methods, error=error, user=user)


@bp.route("/forgot-password/questions", methods=["GET", "POST"])
def questions():
    found = _open()
    if found is None:
        return _start_again()
    reset, user = found
    if not recovery.has_questions(user):
        return redirect(url_for("recovery.verify"))
    form = QuestionsForm()
    for i, item in enumerate(user.security_questions):
        form[f"answer_{i}"].label.text = item.get("question") or f"问题{'一二三'[i]}"
    error = None
    if form.validate_on_submit():
        answers = [form[f"answer_{i}"].data for i in range(recovery.COUNT)]
        error = recovery.check_answers(db.session, reset, user, answers)
        if error is None:
            db.session.commit()
            return redirect(url_for("recovery.new_password"))
        db.session.commit()  # the attempt counted, before the throttle's own transaction
        _throttle().fail(_account_key(user, ""))
        if error == recovery.TOO_MANY:
            return _start_again(error)
    return _page("questions", 200 if not error else 400, form=form, error=error)


@bp.route("/forgot-password/code", methods=["GET", "POST"])
def code():
    found = _open()
    if found is None:
        return _start_again()
    reset, user = found
    if reset.method not in recovery.CHANNELS:
        return redirect(url_for("recovery.verify"))
    if recovery.may_set_password(reset):
        return redirect(url_for("recovery.new_password"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        error = recovery.check_code(db.session, reset, form.code.data)
        if error is None:
            db.session.commit()
            return redirect(url_for("recovery.new_password"))
        db.session.commit()  # the attempt counted, before the throttle's own transaction
        if error != recovery.EXPIRED:
            _throttle().fail(_account_key(user, ""))
        if error == recovery.TOO_MANY:
            return _start_again(error)
    address = user.email if reset.method == "email" else user.mobile
    return _page("code", 200 if not error else 400, form=form, error=error, address=notify.mask(address))


# -- step 3: the new password ------------------------------------------------------------------------
@bp.route("/forgot-password/new", methods=["GET", "POST"])
def new_password():
    found = _open()
    if found is None:
        return _start_again()
    reset, user = found
    if reset.verified_at is None:
        return redirect(url_for("recovery.verify"))
    if not recovery.may_set_password(reset):
        return _start_again("验证已超时，请重新开始")
    form = NewPasswordForm()
    if form.validate_on_submit():
        actor = audit.Actor(user_id=user.id, username=user.username, ip=request.remote_addr)
        done = recovery.complete(db.session, reset, user, form.new_password.data, actor)
        if done.errors == [recovery.VOID]:
            db.session.rollback()
            return _start_again()
        if done.errors:
            db.session.rollback()
            form.new_password.errors = [*form.new_password.errors, *done.errors]
        else:
            db.session.commit()
            session.pop(TOKEN, None)
            for key in (f"user:{user.id}", f"reset:user:{user.id}"):  # the login lock ends with the reset
                _throttle().reset(key)
            flash("密码已重置，请使用新密码登录", "success")
            return redirect(url_for("auth.login"))
    return _page("new_password", 200 if not form.errors else 400, form=form)
