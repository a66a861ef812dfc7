"""Login, logout and 修改密码: Flask-Login with throttling and an audit row for every attempt.

A signed-in browser is a row of `login_session` (rules/sessions.py): the cookie carries its token
and the user's session version, and the user loader accepts it only while both still count.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from extensions import db, login_manager
from models import User
from rules import audit, sessions
from rules.constraints import CONTROL_CHARS
from rules.passwords import DUMMY_HASH, MAX_LENGTH, hash_password, policy_errors, verify_password
from rules.throttle import DbThrottle, RedisThrottle, account_key, ip_key, user_key
from rules.validators import has_control_chars

bp = Blueprint("auth", __name__)

GENERIC_ERROR = "用户名或密码错误"
TOKEN, VERSION = sessions.COOKIE_TOKEN, sessions.COOKIE_VERSION


def printable(form, field) -> None:
    """NUL and other control characters never reach a query (PostgreSQL refuses them in text)."""
    if field.data and has_control_chars(field.data):
        raise ValidationError(CONTROL_CHARS)


class LoginForm(FlaskForm):
    username = StringField("用户名/手机号/证件号码", validators=[DataRequired("请输入用户名、手机号码或证件号码"), Length(max=100, message="用户名过长"), printable])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST from one of the app's own pages."""


class ChangePasswordForm(FlaskForm):
    old_password = PasswordField("原密码", validators=[DataRequired("请输入原密码")])
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[DataRequired("请再次输入新密码"), EqualTo("new_password", "两次输入的新密码不一致")])


def init_login(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    sessions.install()
    if app.config.get("REDIS_URL"):
        import redis

        app.extensions["throttle"] = RedisThrottle(redis.Redis.from_url(app.config["REDIS_URL"]))
    else:
        app.extensions["throttle"] = DbThrottle(lambda: Session(db.engine))

    @app.before_request
    def _force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in ("auth.change_password", "auth.logout", "static")
            and not (request.endpoint or "").endswith(".static")
        ):
            flash("您正在使用临时密码，请先修改密码", "warning")
            return redirect(url_for("auth.change_password"))


@login_manager.user_loader
def load_user(user_id: str):
    """The request's user, if its session still counts (one query; see rules/sessions.py)."""
    token, version = session.get(TOKEN), session.get(VERSION)
    if not user_id.isdigit() or not isinstance(token, str) or not isinstance(version, int):
        return None
    found = sessions.lookup(db.session, int(user_id), version, token)
    if found is None:
        return None
    user, row_id, last_seen = found
    quiet = not (db.session.new or db.session.dirty or db.session.deleted)  # loaded before the view writes
    if quiet and sessions.touch(db.session, row_id, last_seen):
        db.session.commit()
    return user


def _start_session(user: User) -> None:
    """A login_session row for this browser; its token and the user's version go into the cookie."""
    session[TOKEN] = sessions.start(db.session, user, request.remote_addr, request.user_agent.string)
    session[VERSION] = user.session_version or 0


def find_user(login: str) -> User | None:
    login = login.strip()
    return db.session.execute(
        select(User).where(or_(User.username == login, User.mobile == login, User.id_no == login.upper())).limit(1)
    ).scalar_one_or_none()


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.index")


def _audit(action: str, user: User | None, login: str, summary: str) -> None:
    actor = audit.Actor(user_id=user.id if user else None, username=user.username if user else login[:50], ip=request.remote_addr)
    audit.record(db.session, action, "app_user", user.id if user else None, summary=summary, actor=actor)
    db.session.commit()


def _minutes(until: datetime) -> int:
    return max(1, int((until - datetime.now()).total_seconds() // 60) + 1)


def _locked_message(until: datetime) -> str:
    minutes = _minutes(until)
    return f"登录失败次数过多，账号已锁定 {_duration(minutes)}，请于 {until:%H:%M} 后（约 {minutes} 分钟）再试"


def _address_locked_message(until: datetime) -> str:
    minutes = _minutes(until)
    return f"您所在网络地址登录失败次数过多，已暂停登录 {_duration(minutes)}，请于 {until:%H:%M} 后（约 {minutes} 分钟）再试"


def _duration(minutes: int) -> str:
    """The lock as announced: 15 分钟, 30 分钟, 1 小时… (rounded to the lock steps)."""
    step = next((m for m in (15, 30, 60, 120, 240, 480, 960, 1440) if minutes <= m), 1440)
    return f"{step} 分钟" if step < 60 else f"{step // 60} 小时"


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        login_name = form.username.data.strip()
        password = form.password.data
        user = find_user(login_name)
        throttle = current_app.extensions["throttle"]
        key = user_key(user.id) if user else account_key(login_name)
        address = ip_key(request.remote_addr)
        address_until = throttle.locked_until(address)
        until = throttle.locked_until(key)
        if address_until:
            error = _address_locked_message(address_until)
            _audit("login_locked", user, login_name, f"地址 {request.remote_addr} 锁定期间尝试登录")
        elif until:
            error = _locked_message(until)
            _audit("login_locked", user, login_name, "账号锁定期间尝试登录")
        elif len(password) > MAX_LENGTH or not verify_password(user.password_hash if user else DUMMY_HASH, password) or not user:
            until = throttle.fail(key)
            address_until = throttle.fail(address)  # every account tried from one address counts there
            error = _locked_message(until) if until else _address_locked_message(address_until) if address_until else GENERIC_ERROR
            _audit("login_failure", user, login_name, "密码错误" if user else "用户不存在")
        elif not user.active:
            error = "账号已停用，请联系单位管理员"
            _audit("login_failure", user, login_name, "账号已停用")
        else:
            throttle.reset(key)  # the address keeps its count: one good account must not clear a spray
            session.clear()  # a fresh session (and CSRF token) at login: no session fixation
            login_user(user, remember=False)
            _start_session(user)
            # recorded by the login_success row itself, so not a second (update) audit row
            db.session.execute(update(User).where(User.id == user.id).values(last_login_at=datetime.now()))
            _audit("login_success", user, login_name, "登录成功")
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form, error=error), (200 if not error else 401)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """GET asks (确定退出登录？); the POST, with its CSRF token, ends every session of the user."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    form = LogoutForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("logout.html", form=form)
    user = db.session.get(User, current_user.id)
    sessions.end_all(db.session, user, "logout")
    _audit("logout", user, user.username, "退出登录（结束该用户的全部会话）")
    logout_user()
    session.clear()
    flash("您已安全退出", "info")
    return redirect(url_for("auth.login"))


@bp.route("/change-password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user
        if not verify_password(user.password_hash, form.old_password.data):
            form.old_password.errors.append("原密码不正确")
        else:
            problems = policy_errors(form.new_password.data, user.username, user.mobile or "")
            if verify_password(user.password_hash, form.new_password.data):
                problems.append("新密码不能与原密码相同")
            if problems:
                form.new_password.errors.extend(problems)
            else:
                user.password_hash = hash_password(form.new_password.data)  # ends every session (rules/sessions.py)
                user.must_change_password = False
                db.session.flush()
                _start_session(user)  # … but this browser stays signed in, with the new version
                db.session.commit()
                flash("密码修改成功，您在其他地方的登录已退出", "success")
                return redirect(url_for("admin.index"))
    return render_template("change_password.html", form=form)
