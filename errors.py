"""Error pages in Chinese, and an expired form shown again instead of a bare 400.

Every HTTP error a user can meet (400, 403, 404, 405, 413, 500 and the rest) is a page of the
app with a way back. A stale or missing CSRF token on one of the app's forms renders that form
again with what was typed and "页面已过期，请重新提交": the form's own CSRF check fails as well,
so nothing is saved, and the new page carries a fresh token.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("kjback.errors")

EXPIRED = "页面已过期，请重新提交"

MESSAGES = {
    400: ("请求无效", "提交的内容无法处理，请返回后重试。"),
    401: ("请先登录", "请登录后再访问此页面。"),
    403: ("无权访问", "您没有访问此页面的权限。"),
    404: ("页面不存在", "您访问的页面或记录不存在，或不在您的数据权限范围内。"),
    405: ("操作方式不正确", "此页面不接受这种访问方式，请从页面上的按钮进入。"),
    413: ("文件过大", "上传的文件超过大小限制，请压缩或拆分后再上传。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("系统繁忙", "处理时出现了问题，您的修改没有保存。请稍后重试，或联系系统管理员。"),
}

# Pages whose POST is validated by a FlaskForm (which checks the CSRF token itself): these are
# rendered again with the typed values when the token is stale.
FORM_ENDPOINTS = ("auth.login", "auth.change_password", "profile.index", "signup.user_form", "signup.unit_form", "signup.agreement", "signup.unit_continue", "unit_authorization.index")
FORM_VIEWS = (".create_view", ".edit_view", ".action_view")  # action_view: a transition's reason and inputs
FORM_ENDPOINTS += ("recovery.forgot", "recovery.verify", "recovery.questions", "recovery.code", "recovery.new_password")  # 忘记密码


def error_page(code: int):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    context = {"code": code, "title": title, "message": message, "back": _same_site(request.referrer)}
    inside = _in_back_office(context)
    return (inside if inside is not None else render_template("error.html", **context)), code


def _in_back_office(context: dict):
    """A signed-in user's error page inside the back office's frame (sidebar, breadcrumbs, user
    menu), so the way on is where it always is; None when the frame itself cannot be drawn (no
    user, an account waiting for 授权, or the failure is in what the frame needs)."""
    from flask_login import current_user

    from models import AccountStatus

    try:
        admins = current_app.extensions.get("admin") or []
        if not admins or not current_user.is_authenticated or current_user.status is not AccountStatus.active:
            return None
        return admins[0].index_view.render("admin/error.html", **context)
    except Exception:  # the plain page never fails
        from extensions import db

        db.session.rollback()
        log.warning("错误页面无法套用后台框架，改用简单页面", exc_info=True)
        return None


def _same_site(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc != request.host):
        return None  # another site, or javascript:/data: — never a link or a redirect target
    return url


def _form_page(endpoint: str | None) -> bool:
    return bool(endpoint) and (endpoint in FORM_ENDPOINTS or endpoint.endswith(FORM_VIEWS))


def init_errors(app) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        if (request.endpoint or "").endswith(("ajax_update", "ajax_lookup")):
            return EXPIRED, 400  # an inline edit: its widget shows the answer
        flash(EXPIRED, "warning")
        if request.method == "POST" and _form_page(request.endpoint) and request.endpoint in current_app.view_functions:
            g.csrf_expired = True  # the forms refuse to validate, whatever their own CSRF check says
            return current_app.view_functions[request.endpoint](**(request.view_args or {}))
        back = _same_site(request.referrer)
        return redirect(back or url_for("admin.index"))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        return error_page(error.code)

    @app.errorhandler(InternalServerError)
    def _internal(error):
        from extensions import db

        db.session.rollback()
        log.error("服务器内部错误：%s %s", request.method, request.path, exc_info=getattr(error, "original_exception", None))
        return error_page(500)
