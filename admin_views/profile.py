"""个人中心: every signed-in user's own page (基本资料, 修改密码, 登录记录), reached from the user menu.

Not in the sidebar. Its rows are the user's own account (through rules.scope like any other read)
and the user's own sign-ins (rules.scope.own_logins); a change of 姓名, 手机号码 or 电子邮箱 is an
ORM write, so the audit listener logs it in the same transaction.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from wtforms import StringField
from wtforms.validators import DataRequired

from extensions import db
from models import ACTION_LABELS, AuditLog, User
from rules import display, scope
from rules.constraints import MESSAGES, explain
from rules.params import parse_int
from rules.validators import email_error, mobile_error

from .base import AdminForm, RoleGate, principal
from .validation import checked, fits, strip

TABS = {"info": "基本资料", "password": "修改密码", "logins": "登录记录"}
PAGE_SIZE = 20
MOBILE_TAKEN = MESSAGES["uq_app_user_mobile"][1]


class ProfileForm(AdminForm):
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), *fits(User.name)], filters=[strip])  # blanks are no name
    mobile = StringField("手机号码", validators=[*fits(User.mobile), checked(mobile_error)], filters=[strip])
    email = StringField("电子邮箱", validators=[*fits(User.email), checked(email_error)], filters=[strip])


class ProfileView(RoleGate, BaseView):
    """个人中心: open to every role (rules/permissions.py `profile`), never listed in the menu."""

    def is_visible(self) -> bool:
        return False

    def is_accessible(self) -> bool:
        p = principal()
        return p is not None and p.authorised and super().is_accessible()

    @expose("/", methods=("GET", "POST"))
    def index(self):
        user = self._me()
        tab = request.args.get("tab")
        tab = tab if tab in TABS else "info"
        form = ProfileForm(request.form if request.method == "POST" else None, obj=user)  # AdminForm reads no request by itself
        if request.method == "POST":
            tab = "info"
            if form.validate_on_submit() and self._save(user, form):
                flash("保存成功", "success")
                return redirect(url_for(".index"))
        logins = self._logins() if tab == "logins" else None
        return self.render("admin/profile.html", user=user, form=form, tab=tab, tabs=TABS, logins=logins,
                           where=display.actor_place(user), modules=display.reader(User, "modules")(user) if user.modules else "")

    def _me(self) -> User:
        p = principal()
        user = db.session.scalar(select(User).where(User.id == p.user_id, scope.predicate(p, User)))
        if user is None:
            abort(404)
        return user

    def _save(self, user: User, form: ProfileForm) -> bool:
        """The typed values onto the account, or the reason at its field (the page keeps what was typed)."""
        mobile = form.mobile.data or None
        if mobile and _mobile_taken(user, mobile):
            form.mobile.errors.append(MOBILE_TAKEN)
            return False
        user.name, user.mobile, user.email = form.name.data, mobile, form.email.data or None
        try:
            db.session.commit()  # the audit listener logs the change in this transaction
        except IntegrityError as exc:  # the same number saved by someone else a moment ago
            db.session.rollback()
            problem = explain(exc)
            if problem.field in ("name", "mobile", "email"):
                form[problem.field].errors.append(problem.message)
            else:
                flash(problem.message, "error")
            return False
        return True

    def _logins(self) -> dict:
        """The user's 登录记录, newest first, PAGE_SIZE a page; a page past the last reads as the last, and
        anything that is no page number (2**63, -1, text) as the first."""
        p = principal()
        mine = (scope.predicate(p, AuditLog), scope.own_logins(p))
        count = db.session.scalar(select(func.count()).select_from(AuditLog).where(*mine))
        pages = max(1, -(-count // PAGE_SIZE))
        page = min(parse_int(request.args.get("page"), lo=1) or 1, pages)
        rows = db.session.scalars(
            select(AuditLog).where(*mine).order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        return {"rows": rows, "count": count, "page": page, "pages": pages, "offset": (page - 1) * PAGE_SIZE,
                "results": ACTION_LABELS}


def _mobile_taken(user: User, mobile: str) -> bool:
    """Another account signs in with this number already (as its 手机号码, or as its user name)."""
    clash = select(User.id).where(User.id != user.id, or_(User.mobile == mobile, User.username == mobile)).limit(1)
    return db.session.scalar(clash) is not None


def register(admin, session):
    admin.add_view(ProfileView(name="个人中心", endpoint="profile"))
