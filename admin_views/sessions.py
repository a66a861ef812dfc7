"""在线用户 (强退) and 登录日志's 解锁: the system administrator's hold on sessions and login locks."""
from __future__ import annotations

from flask import current_app, flash, request, session, url_for
from flask_admin.actions import action
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import and_

from extensions import db
from models import LoginSession
from rules import audit, display, sessions
from rules.sessions import COOKIE_TOKEN as TOKEN
from rules.throttle import account_key, ip_key, user_key

from .base import Outcome, ScopedModelView

MENU_ORDER = 96


def _browser(view, context, model, name):
    return Markup(f'<span title="{escape(model.user_agent or "")}">{escape(sessions.browser_label(model.user_agent))}</span>')


def _force_button(view, context, model, name):
    if model.token_hash == sessions.token_hash(session.get(TOKEN) or ""):
        return Markup('<span class="badge badge-info">当前会话</span>')
    if not view.may("force_logout"):
        return ""
    return Markup(
        f'<form method="post" action="{escape(url_for(".action_view"))}" class="m-0" '
        f'onsubmit="return confirm(\'确定强制退出该会话？\');">'
        f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">'
        f'<input type="hidden" name="action" value="force_logout">'
        f'<input type="hidden" name="rowid" value="{model.id}">'
        f'<input type="hidden" name="url" value="{escape(request.full_path)}">'
        f'<button type="submit" class="btn btn-sm btn-outline-danger">强退</button></form>'
    )


class OnlineUserView(ScopedModelView):
    """Open sessions (RuoYi 在线用户); a login_session row has no scope rule: the Grant gates it."""

    can_view_details = False
    can_export = False
    column_list = ("user", "username", "ip", "user_agent", "started_at", "last_seen_at", "force")
    column_labels = {"user": "姓名（单位）", "username": "用户名", "ip": "登录地址", "user_agent": "浏览器", "force": "操作"}
    column_sortable_list = ("ip", "started_at", "last_seen_at")
    column_default_sort = ("last_seen_at", True)
    column_searchable_list = ("ip", "user_agent")
    column_formatters = {
        "user": lambda v, c, m, n: display.reader(LoginSession, "user")(m),  # 姓名（单位/二级单位）, one query a page
        "username": lambda v, c, m, n: m.user.username if m.user else "",
        "user_agent": _browser, "force": _force_button,
    }

    def base_filter(self):
        return and_(*sessions.open_sessions())

    @action("force_logout", "强退", "确定强制退出所选会话？该用户须重新登录。")
    def action_force_logout(self, ids):
        outcome = Outcome()
        current = session.get(TOKEN)
        for row in self.scoped_rows(self.scoped_ids(ids)):
            label = f"{display.actor_label(row.user) or row.user_id}在 {row.ip or '未知地址'} 的会话"
            refusal = sessions.force_end(db.session, row.id, current)
            if refusal:
                outcome.skip(label, refusal)
            else:
                outcome.ok(label)
        db.session.commit()
        outcome.flash("强退")


class UnlockActions:
    """登录日志: 解锁 the account or the address of the ticked rows (their throttle is forgotten)."""

    @action("unlock_account", "解锁账号", "确定解锁所选记录的账号？其登录失败次数将清零。")
    def action_unlock_account(self, ids):
        keys = {}
        for row in self.scoped_rows(self.scoped_ids(ids)):
            if row.user_id:
                keys[user_key(row.user_id)] = f"账号 {row.username or row.user_id}"
            if row.username:
                keys.setdefault(account_key(row.username), f"账号 {row.username}")
        self._unlock(keys)

    @action("unlock_ip", "解锁IP", "确定解锁所选记录的IP地址？该地址的登录失败次数将清零。")
    def action_unlock_ip(self, ids):
        self._unlock({ip_key(row.ip): f"IP {row.ip}" for row in self.scoped_rows(self.scoped_ids(ids)) if row.ip})

    def _unlock(self, keys: dict[str, str]) -> None:
        throttle = current_app.extensions["throttle"]
        locked, cleared = [], []
        for key, label in keys.items():  # the counters first: on SQLite the audit rows hold the write lock
            until = throttle.locked_until(key)
            throttle.reset(key)
            cleared.append((key, label, until))
            if until:
                locked.append(label)
        for key, label, until in cleared:
            audit.record(db.session, "unlock", "login_throttle", key, before={"locked_until": audit.jsonable(until)},
                         after={"locked_until": None}, summary=f"解锁{label}" + ("" if until else "（未锁定，失败次数清零）"))
        db.session.commit()
        if locked:
            flash(f"已解锁：{'、'.join(dict.fromkeys(locked))}", "success")
        else:
            flash("所选记录的账号或IP当前未被锁定，已将其登录失败次数清零", "info")


def register(admin, session):
    admin.add_view(OnlineUserView(LoginSession, session, name="在线用户", category="系统管理", endpoint="online_user"))

