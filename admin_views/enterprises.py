"""企业信息 (基本信息审核, 企业信息查询列表), 科技信息年报 (年报数据审核, 年报数据查询) and 知识价值信用评级列表."""
from __future__ import annotations

from flask import request
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_admin.form import rules
from markupsafe import Markup
from sqlalchemy import Integer, Numeric, Unicode, cast, or_, select
from wtforms.validators import NumberRange, Optional as OptionalValidator, ValidationError

from extensions import db
from models import (
    REPORT_TABS,
    AnnualReport,
    CreditGrade,
    CreditRating,
    Enterprise,
    EnterpriseStatus,
    Region,
    RegionKind,
    ReportStatus,
    Role,
    StorageStatus,
)
from rules import enterprise_review as review
from rules import display, permissions, scope
from rules import renames
from rules.params import parse_int

from .base import ScopedModelView, current_role, principal, scoped_options
from .checks import like_pattern
from .export import display_formatters

MENU_ORDER = 50
FILLERS = frozenset({Role.unit_admin, Role.applicant})
DISTRICT_AND_CITY = frozenset({Role.authority, Role.bureau, Role.sysadmin})


def district_options():
    return scoped_options(Region, where=Region.kind == RegionKind.district)


class EnterpriseOf(BaseSQLAFilter):
    """Filter rows that belong to an enterprise by a fact of the enterprise (e.g. its district)."""

    def __init__(self, model, enterprise_column, name, options=None):
        super().__init__(model.enterprise_id, name, options=options)
        self.enterprise_column = enterprise_column

    def validate(self, value):
        return str(value).isdigit()

    def clean(self, value):
        return int(value)

    def apply(self, query, value, alias=None):
        return query.filter(self.column.in_(select(Enterprise.id).where(self.enterprise_column == value)))

    def operation(self):
        return "等于"


class HiddenInput(rules.Field):
    """A hidden field in form_rules, without the label and row rules.Field gives it ("CSRF Token")."""

    def __call__(self, form, form_opts=None, field_args=None):
        return Markup(str(getattr(form, self.field_name)))


class IntEqual(FilterEqual):
    """等于 on an integer column (year, district): the posted text becomes an int, or the filter is ignored."""

    def validate(self, value):
        return parse_int(value) is not None

    def clean(self, value):
        return parse_int(value)


def year_options(model):
    def options():
        p = principal()
        if p is None:
            return []
        years = db.session.scalars(select(model.year).where(scope.predicate(p, model)).group_by(model.year).order_by(model.year.desc()))
        return [(str(y), f"{y}年") for y in years]

    return options


class ReviewDetailsMixin:
    """审批意见 on the details page (the buttons come from the machine, see ScopedModelView)."""

    review_target = ""

    def reviews(self, obj):
        return review.reviews_of(db.session, self.review_target, obj.id)

    def reviewers(self, reviews) -> dict:
        """审核人 as 姓名（单位/二级单位）, one query for the page."""
        return display.actor_labels(db.session, [r.user_id for r in reviews])


# -- 企业信息 ---------------------------------------------------------------------------------
class EnterpriseView(ReviewDetailsMixin, ScopedModelView):
    """企业信息查询列表 (§2.2): 审核状态, 入库状态, search, export; 审核 from the details page."""

    handle_label = "审核"  # the 操作 link where the user may decide now

    review_target = "enterprise"
    details_template = "admin/enterprises/enterprise_details.html"

    column_list = ("name", "uscc", "region", "zone", "registered_on", "industry_category", "scale", "contact_name",
                   "contact_mobile", "review_status", "storage_status")
    column_searchable_list = ("name", "uscc")
    column_sortable_list = ("name", "uscc", "registered_on", "review_status", "storage_status")
    column_default_sort = ("id", False)
    column_filters = (
        FilterEqual(Enterprise.review_status, "审核状态", options=EnterpriseStatus.choices()),
        FilterEqual(Enterprise.storage_status, "入库状态", options=StorageStatus.choices()),
        IntEqual(Enterprise.region_id, "所属区县", options=district_options()),
    )
    column_details_list = ("name", "uscc", "region", "zone", "registered_on", "registered_capital", "legal_rep", "address",
                           "industry", "industry_category", "scale", "hitech_field", "contact_name", "contact_mobile",
                           "main_business", "main_revenue", "above_scale", "review_status", "review_opinion",
                           "storage_status", "stored_on", "submitted_at", "unit", "former_names")
    column_labels = {"former_names": "曾用名"}
    column_formatters = display_formatters(Enterprise, "former_names")  # details and the export's extra column
    column_export_list = ("name", "uscc", "region", "zone", "registered_on", "legal_rep", "industry", "industry_category",
                          "scale", "hitech_field", "contact_name", "contact_mobile", "main_revenue", "above_scale",
                          "review_status", "storage_status", "stored_on")
    form_columns = ("name", "uscc", "region", "zone", "registered_on", "registered_capital", "legal_rep", "address",
                    "industry", "industry_category", "scale", "hitech_field", "contact_name", "contact_mobile",
                    "main_business", "main_revenue", "above_scale")

    def _search_hint(self) -> str:
        return super()._search_hint() + "、曾用名"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """企业名称 or 统一社会信用代码, and any former name (曾用名, rules/renames.py), `%` and `_` literal."""
        for term in search.split(" "):
            if not term:
                continue
            pattern = like_pattern(term)
            match = or_(*(cast(c, Unicode).ilike(pattern, escape="\\") for c in (Enterprise.name, Enterprise.uscc)),
                        renames.former_name_match(pattern))
            query = query.filter(match)
            count_query = count_query.filter(match) if count_query is not None else None
        return query, count_query, joins, count_joins

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if current_role() not in permissions.ADMINS:  # an enterprise never moves itself to another district
            for name in ("region", "zone", "name", "uscc"):
                if hasattr(form, name):
                    delattr(form, name)
        return form

    def projects(self, obj) -> list[dict]:
        """项目基本信息 (seed 003): the enterprise's declarations and its claimed 老项目, in the user's scope."""
        from flask import g, url_for

        from rules.legacy import enterprise_projects

        memo = g.setdefault("enterprise_projects", {})  # the tab's title and its table ask alike
        if obj.id in memo:
            return memo[obj.id]
        p = principal()
        rows = memo[obj.id] = enterprise_projects(db.session, p, obj)
        endpoints = {"declaration": "declaration", "legacy": "legacy_project"}
        for row in rows:
            endpoint = endpoints[row["kind"]]
            row["url"] = url_for(f"{endpoint}.details_view", id=row["id"]) if permissions.allowed(p, endpoint) else None
        return rows

    def row_refusal(self, action, row):
        if action == "edit" and row.review_status == EnterpriseStatus.approved and current_role() in FILLERS:
            return "企业基本信息已审核通过，不能修改；如需变更请联系所属区县科技局"
        if action == "edit" and row.review_status == EnterpriseStatus.pending:
            return "企业基本信息正在审核中（待审核），审核完成前不能修改"
        return super().row_refusal(action, row)


class EnterpriseReviewView(EnterpriseView):
    """基本信息审核 (§2.1): the district's 待审核 enterprises."""

    can_export = False
    column_filters = (IntEqual(Enterprise.region_id, "所属区县", options=district_options()),)

    def base_filter(self):
        return Enterprise.review_status == EnterpriseStatus.pending


# -- 科技信息年报 -------------------------------------------------------------------------------
REPORT_NUMERIC = [c.name for c in AnnualReport.__table__.columns
                  if isinstance(c.type, (Integer, Numeric)) and c.name not in ("id", "enterprise_id", "year")]


class AnnualReportView(ReviewDetailsMixin, ScopedModelView):
    """年报数据查询 (§3.2) for district and city; the enterprise fills and submits its own reports here."""

    review_target = "annual_report"
    details_template = "admin/enterprises/report_details.html"

    column_list = ("enterprise", "enterprise.uscc", "enterprise.region", "year", "revenue", "staff", "submitted_at", "status")
    column_labels = {"enterprise.uscc": "统一社会信用代码", "enterprise.region": "所属区县"}
    column_formatters = display_formatters(AnnualReport, "enterprise")  # the name valid in the report's year
    column_searchable_list = ("enterprise.name", "enterprise.uscc")
    column_sortable_list = ("year", "revenue", "staff", "submitted_at", "status")
    column_default_sort = ("id", True)
    column_filters = (
        FilterEqual(AnnualReport.status, "审核状态", options=ReportStatus.choices()),
        IntEqual(AnnualReport.year, "年份", options=year_options(AnnualReport)),
        EnterpriseOf(AnnualReport, Enterprise.region_id, "所属区县", options=district_options()),
    )
    column_export_list = ("enterprise", "enterprise.uscc", "enterprise.region", "year", "status", "district_opinion",
                          "city_opinion", *[c for _, cols in REPORT_TABS for c in cols if c != "year"])
    form_args = {name: {"validators": [OptionalValidator(), NumberRange(min=0, message="不能为负数")]} for name in REPORT_NUMERIC}
    form_args["innovation_score"] = {"validators": [OptionalValidator(), NumberRange(min=0, max=100, message="须在 0 到 100 之间")]}
    form_args["year"] = {"validators": [NumberRange(min=2000, max=2100, message="年份须在 2000 到 2100 之间")]}
    form_rules = [HiddenInput("csrf_token")] + [
        rules.FieldSet(("enterprise", *cols) if title == "基本信息" else cols, title) for title, cols in REPORT_TABS
    ]
    form_columns = ("enterprise", *[c for _, cols in REPORT_TABS for c in cols])

    # (field, other field, message): the first may not exceed the second; said at the field
    NOT_ABOVE = (
        ("tech_staff", "staff", "科技人员不能多于从业人员"),
        ("rd_domestic", "rd_expense", "境内研发费用不能大于研发费用总额"),
    )

    def validate_form(self, form):
        ok = super().validate_form(form)
        if request.method != "POST":
            return ok
        for name, bound, message in self.NOT_ABOVE:
            field, limit = getattr(form, name, None), getattr(form, bound, None)
            if field is None or limit is None or field.data is None or limit.data is None:
                continue
            if field.data > limit.data:
                field.errors = [*field.errors, message]
                ok = False
        return ok

    def on_model_change(self, form, model, is_created):  # the last line before the database
        if model.tech_staff is not None and model.staff is not None and model.tech_staff > model.staff:
            raise ValidationError("科技人员不能多于从业人员")
        if model.rd_domestic is not None and model.rd_expense is not None and model.rd_domestic > model.rd_expense:
            raise ValidationError("境内研发费用不能大于研发费用总额")
        if model.enterprise_id is None and model.enterprise is None:
            raise ValidationError("请选择企业")
        enterprise_id = model.enterprise_id or model.enterprise.id
        with db.session.no_autoflush:  # the new row is in the session already: don't find it
            clash = db.session.scalar(select(AnnualReport.id).where(
                AnnualReport.enterprise_id == enterprise_id, AnnualReport.year == model.year, AnnualReport.id != (model.id or 0)))
        if clash:
            raise ValidationError(f"该企业 {model.year} 年的年报已存在，请在列表中修改")

    def tabs(self, obj):
        columns = AnnualReport.__table__.columns
        return [(title, [(columns[c].info["label"], getattr(obj, c)) for c in cols]) for title, cols in REPORT_TABS]


class AnnualReportReviewView(AnnualReportView):
    """年报数据审核 (§3.1): the reports waiting for this user's level."""

    column_filters = (
        IntEqual(AnnualReport.year, "年份", options=year_options(AnnualReport)),
        EnterpriseOf(AnnualReport, Enterprise.region_id, "所属区县", options=district_options()),
    )

    def base_filter(self):
        waiting = {Role.authority: [ReportStatus.district_review], Role.bureau: [ReportStatus.city_review]}
        return AnnualReport.status.in_(waiting.get(current_role(), [ReportStatus.district_review, ReportStatus.city_review]))


# -- 申报事项: 知识价值信用评级列表 -----------------------------------------------------------------
class CreditRatingView(ScopedModelView):
    can_view_details = True
    column_list = ("enterprise", "enterprise.uscc", "enterprise.region", "year", "grade", "score", "credit_limit", "bank")
    column_labels = {"enterprise.uscc": "统一社会信用代码", "enterprise.region": "所属区县"}
    column_formatters = display_formatters(CreditRating, "enterprise")  # the name valid in the rating's year
    column_searchable_list = ("enterprise.name", "enterprise.uscc")
    column_sortable_list = ("year", "grade", "score", "credit_limit")
    column_default_sort = ("id", True)
    column_filters = (
        FilterEqual(CreditRating.grade, "信用等级", options=CreditGrade.choices()),
        IntEqual(CreditRating.year, "年份", options=year_options(CreditRating)),
        EnterpriseOf(CreditRating, Enterprise.region_id, "区县", options=district_options()),
    )
    column_export_list = column_list


def register(admin, session):
    admin.add_view(EnterpriseReviewView(Enterprise, session, name="基本信息审核", category="企业信息", endpoint="enterprise_review"))
    admin.add_view(EnterpriseView(Enterprise, session, name="企业信息查询列表", category="企业信息", endpoint="enterprise"))
    admin.add_view(AnnualReportReviewView(AnnualReport, session, name="年报数据审核", category="科技信息年报", endpoint="annual_report_review"))
    admin.add_view(AnnualReportView(AnnualReport, session, name="年报数据查询", category="科技信息年报", endpoint="annual_report"))
    admin.add_view(CreditRatingView(CreditRating, session, name="知识价值信用评级列表", category="申报事项", endpoint="credit_rating"))
