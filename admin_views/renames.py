"""企业更名管理 (seed 003, issue #14): the enterprise asks with proof, its district decides (rules/renames.py)."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import DateBetweenFilter, FilterEqual
from flask_admin.helpers import get_redirect_target
from sqlalchemy import delete, select
from wtforms.validators import ValidationError

from models import AttachmentKind, Enterprise, EnterpriseRename, EnterpriseReview, RenameFile, RenameStatus
from rules import display, scope
from rules import renames as rules
from rules.params import parse_int

from .base import ScopedModelView, principal
from .checks import INT_MAX
from .declarations import _upload_error, send_stored, upload_dir
from .enterprises import EnterpriseOf, district_options
from .export import display_formatters

MENU_ORDER = 52


class RenameView(ScopedModelView):
    """企业更名管理: list, 新增 (the enterprise's own), details with 证明材料 and 审批意见, review actions."""

    handle_label = "审核"
    details_template = "admin/renames/details.html"
    column_list = ("enterprise.uscc", "old_name", "new_name", "valid_from", "status", "requested_by", "requested_at")
    column_details_list = ("enterprise.uscc", "old_name", "new_name", "valid_from", "note", "status", "reason",
                           "requested_by", "requested_at", "reviewed_by", "reviewed_at")
    column_export_list = ("enterprise.uscc", "enterprise.region", "old_name", "new_name", "valid_from", "note", "status", "reason",
                          "requested_by", "requested_at", "reviewed_at")
    column_labels = {"enterprise.uscc": "统一社会信用代码", "enterprise.region": "所属区县", "reviewed_by": "审核人"}
    column_formatters = display_formatters(EnterpriseRename, "requested_by", "requested_at")
    column_searchable_list = ("old_name", "new_name", "enterprise.uscc")
    column_sortable_list = ("old_name", "new_name", "valid_from", "status", "requested_at")
    column_default_sort = ("requested_at", True)
    column_filters = (
        FilterEqual(EnterpriseRename.status, "状态", options=RenameStatus.choices()),
        DateBetweenFilter(EnterpriseRename.valid_from, "变更日期"),
        EnterpriseOf(EnterpriseRename, Enterprise.region_id, "所属区县", options=district_options()),
    )
    form_columns = ("new_name", "valid_from", "note")
    form_args = {"new_name": {"description": "与变更后的营业执照一致"},
                 "valid_from": {"description": "营业执照的变更日期（新名称启用之日），不能晚于今天"}}
    form_widget_args = {"note": {"rows": 4}}

    # -- 新增: the enterprise is the user's own -------------------------------------------------
    def own_enterprise(self):
        return rules.own_enterprise(self.session, principal())

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        if self.can_create and self.own_enterprise() is None:
            flash("您的单位没有对应的企业信息，不能申请企业更名", "warning")
            return redirect(get_redirect_target() or self.get_url(".index_view"))
        return super().create_view()

    def create_form(self, obj=None):
        form = super().create_form(obj)
        enterprise = self.own_enterprise()
        if enterprise is not None and hasattr(form, "new_name"):
            form.new_name.description = f"当前名称：{enterprise.name}；新名称与变更后的营业执照一致"
        return form

    def get_save_return_url(self, model, is_created=False):
        """After 保存 the request's page: its 证明材料 are uploaded there, then 提交."""
        return self.get_url(".details_view", id=model.id)

    def after_model_change(self, form, model, is_created):
        if is_created:
            flash("更名申请已保存（未提交）：请在“证明材料”中上传变更后的营业执照等材料，然后点击“提交”", "info")

    def validate_form(self, form):
        ok = super().validate_form(form)
        if request.method != "POST" or not hasattr(form, "new_name") or not hasattr(form, "_obj"):
            return ok
        row = form._obj
        with self.session.no_autoflush:
            enterprise = row.enterprise if row is not None else self.own_enterprise()
            if enterprise is None or form.valid_from.errors:  # a date that did not parse is said by the field already
                return False
            problems = rules.request_problems(self.session, enterprise, form.new_name.data, form.valid_from.data,
                                              rename_id=row.id if row is not None else None)
        for name, message in problems.items():
            if name:
                getattr(form, name).errors = [*getattr(form, name).errors, message]
            else:
                flash(message, "error")
        return ok and not problems

    def on_model_change(self, form, model, is_created):
        model.new_name = (model.new_name or "").strip()
        if is_created:
            with self.session.no_autoflush:  # the new row is in the session already, still without its enterprise
                enterprise = self.own_enterprise()
            if enterprise is None:
                raise ValidationError("您的单位没有对应的企业信息，不能申请企业更名")
            model.enterprise_id, model.old_name = enterprise.id, enterprise.name
            model.requested_by_id = principal().user_id

    def on_model_delete(self, model):
        """A request given up (未提交/已退回) takes its 审批意见 along: a later request never inherits them."""
        self.session.execute(delete(EnterpriseReview).where(EnterpriseReview.target == "enterprise_rename",
                                                            EnterpriseReview.target_id == model.id))

    def after_model_delete(self, model):
        for file in model.files:
            (upload_dir() / file.stored_name).unlink(missing_ok=True)

    # -- details: 证明材料 and 审批意见 ------------------------------------------------------------
    def reviews(self, row):
        entries = rules.reviews_of(self.session, row.id)
        actors = display.actor_labels(self.session, [e.user_id for e in entries])
        labels = {t.action: t.label for t in rules.RENAMES.transitions}
        return [{"level": e.level, "action": labels.get(e.action, ""), "opinion": e.opinion or "",
                 "actor": actors.get(e.user_id) or display.login_shown(e.username), "at": e.at,
                 "change": " → ".join(RenameStatus(s).label if s in RenameStatus._value2member_map_ else "—"
                                      for s in (e.from_status, e.to_status))} for e in entries]

    @expose("/files/<int:id>/", methods=("POST",))
    def upload_view(self, id):
        row = self.get_one(id)
        back = self.get_url(".details_view", id=row.id)
        if not self.may("edit", row):
            flash("只有未提交或已退回的更名申请可以上传证明材料", "error")
            return redirect(back)
        files = [f for f in request.files.getlist("file") if f and f.filename] or [None]
        errors = [e for e in (_upload_error(f, AttachmentKind.other.value) for f in files) if e]
        if errors:  # all or nothing: a batch with a bad file is refused whole, said once per problem
            flash("未上传：" + "；".join(dict.fromkeys(errors)), "error")
            return redirect(back)
        folder = upload_dir()
        for file in files:
            data = file.read()
            stored = f"{uuid.uuid4().hex}.{file.filename.rsplit('.', 1)[1].lower()}"
            (folder / stored).write_bytes(data)
            self.session.add(RenameFile(rename_id=row.id, filename=file.filename, stored_name=stored, size=len(data)))
        self.session.commit()
        flash("已上传证明材料：" + "、".join(f"“{f.filename}”" for f in files), "success")
        return redirect(back)

    @expose("/file/<fid>/")
    def download_view(self, fid):
        file = self._file(fid)
        return send_stored(file.stored_name, file.filename, self.get_url(".details_view", id=file.rename_id))

    @expose("/file/<fid>/delete/", methods=("POST",))
    def delete_file_view(self, fid):
        file = self._file(fid)
        row = file.rename
        if not self.may("edit", row):
            flash("只有未提交或已退回的更名申请可以删除证明材料", "error")
        else:
            self.session.delete(file)
            self.session.commit()
            (upload_dir() / file.stored_name).unlink(missing_ok=True)
            flash(f"已删除证明材料“{file.filename}”", "success")
        return redirect(self.get_url(".details_view", id=row.id))

    def _file(self, fid):
        number = parse_int(fid, lo=1, hi=INT_MAX)
        file = None if number is None else self.session.scalar(
            select(RenameFile).where(RenameFile.id == number, scope.predicate(principal(), RenameFile)))
        if file is None:
            abort(404)
        return file


def register(admin, session):
    admin.add_view(RenameView(EnterpriseRename, session, name="企业更名管理", category="企业信息", endpoint="enterprise_rename"))
