"""科企信息统计表, 科技创新券统计表, 全市概况图 and 自定义查询: pages over rules.enterprise_stats."""
from __future__ import annotations

from datetime import date
from typing import Callable, Optional

from flask import jsonify, request, url_for
from flask_admin import expose

from extensions import db
from rules import enterprise_stats as stats

from .enterprise_pages import ScopedPage, arg_int, arg_text, display, xlsx_response

MENU_ORDER = 55
PAGE_SIZE = 50


class TablePage(ScopedPage):
    """One statistics table: a period (year or month), optional tabs, a 合计 row and 导出Excel."""

    title = ""
    tabs: Optional[dict] = None
    period = "year"
    note = ""
    data_name = "年报数据"  # what the years are years of, for "没有该年份的…"
    build: Callable = None  # (session, principal, period, tab) -> stats.Table

    def choices(self):
        years = stats.years(db.session, self.p) or [date.today().year - 1]
        return years

    def read(self):
        errors = {}
        if self.period == "month":
            month = (request.args.get("month") or "").strip() or self.default_month()
            try:
                stats.month_bounds(month)
            except ValueError:
                errors["month"] = "月份格式应为“年-月”，如 2022-05，已显示本月"
                month = self.default_month()
            value = month
        else:
            years = self.choices()
            value = arg_int("year")
            if value not in years:
                if request.args.get("year"):
                    errors["year"] = f"没有该年份的{self.data_name}，已显示{years[0]}年"
                value = years[0]
        tab = request.args.get("tab") or (next(iter(self.tabs)) if self.tabs else None)
        if self.tabs and tab not in self.tabs:
            tab = next(iter(self.tabs))
        return value, tab, errors

    def default_month(self) -> str:
        return date.today().strftime("%Y-%m")

    def table(self, value, tab):
        return type(self).build(db.session, self.p, value, tab) if self.tabs else type(self).build(db.session, self.p, value)

    def sheet_title(self, value, tab):
        """"2022年 区县入库企业情况统计表-年报数量", "2022年5月 培育进度统计表": the period first."""
        period = stats.month_text(value) if self.period == "month" else f"{value}年"
        return f"{period} {self.title}-{self.tabs[tab]}" if self.tabs else f"{period} {self.title}"

    @expose("/")
    def index(self):
        value, tab, errors = self.read()
        table = self.table(value, tab)
        return self.render("admin/enterprises/table.html", page=self, value=value, tab=tab, errors=errors, table=table,
                           display=display, years=self.choices() if self.period == "year" else [],
                           export_url=url_for(".export", **request.args))

    @expose("/export/xlsx/")
    def export(self):
        value, tab, _ = self.read()
        table = self.table(value, tab)
        return xlsx_response(self.sheet_title(value, tab), table.headers, table.rows, table.total, caption=True, note=self.note)


class CultivationPage(TablePage):
    title = "培育进度统计表"
    period = "month"
    note = ("按所选月份统计：本月新增入库与本月提交年报按发生日期计，累计数截至该月末；"
            "待审核企业：截至该月末已提交、仍待审核的企业。")
    build = staticmethod(stats.cultivation_progress)


class DistrictStoragePage(TablePage):
    title = "区县入库企业情况统计表"
    tabs = stats.STORAGE_TABS
    note = "注册企业数：截至所选年份年末已注册的企业；入库科企数：截至年末已入库；年报科企数：提交了所选年份年报的企业。"
    build = staticmethod(stats.district_storage)


class AnnualSummaryPage(TablePage):
    title = "区县科技型企业年报统计表"
    tabs = {k: v[0] for k, v in stats.ANNUAL_TABS.items()}
    note = "统计所选年份已提交（区县待审核、市局待审核、审核已通过）的年报。"
    build = staticmethod(stats.annual_summary)


class VoucherClaimsPage(TablePage):
    title = "科技创新券申领统计表"
    tabs = stats.VOUCHER_TABS
    note = stats.VOUCHER_NOTE
    data_name = "创新券数据"
    build = staticmethod(stats.voucher_claims)

    def choices(self):
        return stats.voucher_years(db.session, self.p) or [date.today().year - 1]


class VoucherEnterprisePage(TablePage):
    """科技创新券情况统计表: per enterprise, with year, search and pages."""

    title = "科技创新券情况统计表"
    data_name = "创新券数据"

    def choices(self):
        return stats.voucher_years(db.session, self.p) or [date.today().year - 1]

    @expose("/")
    def index(self):
        value, _, errors = self.read()
        search = arg_text("search")
        page = max(0, arg_int("page", 0) or 0)
        table, count = stats.voucher_by_enterprise(db.session, self.p, value, search, page * PAGE_SIZE, PAGE_SIZE)
        return self.render("admin/enterprises/table.html", page=self, value=value, tab=None, errors=errors, table=table,
                           display=display, years=self.choices(), search=search, searchable=True,
                           pager={"page": page, "pages": max(1, -(-count // PAGE_SIZE)), "count": count},
                           export_url=url_for(".export", **request.args))

    @expose("/export/xlsx/")
    def export(self):
        value, _, _ = self.read()
        search = arg_text("search")
        table, _ = stats.voucher_by_enterprise(db.session, self.p, value, search, 0, None)
        return xlsx_response(self.sheet_title(value, None), table.headers, table.rows, table.total, caption=True)


class OverviewPage(ScopedPage):
    """全市概况图: enterprises per district and per zone type, drawn by ECharts served from /static/vendor."""

    @expose("/")
    def index(self):
        return self.render("admin/enterprises/overview.html", data_url=url_for(".data"), note=stats.OVERVIEW_NOTE)

    @expose("/data/")
    def data(self):
        return jsonify(stats.overview(db.session, self.p))


class CustomQueryPage(ScopedPage):
    """自定义查询 (§5.5): search and year; 导出Excel of exactly the picked fields in the picked order."""

    def read(self):
        years = stats.years(db.session, self.p)
        year = arg_int("year")
        errors = {}
        if year not in years:
            if request.args.get("year"):
                errors["year"] = "没有该年份的年报数据，已显示全部年份"
            year = None
        fields = [f for f in request.args.getlist("f") if f in stats.CUSTOM_BY_KEY] or list(stats.CUSTOM_DEFAULT)
        return year, arg_text("search"), fields, years, errors

    @staticmethod
    def note(year, fields) -> str:
        """With 全部 years, what the report fields' 最近一年年报 means."""
        return stats.LATEST_NOTE if not year and any(stats.CUSTOM_BY_KEY[f].report for f in fields) else ""

    @expose("/")
    def index(self):
        year, search, fields, years, errors = self.read()
        stmt, headers = stats.custom_query(self.p, fields, year, search)
        page = max(0, arg_int("page", 0) or 0)
        count = stats.count_of(db.session, stmt)
        rows = db.session.execute(stmt.offset(page * PAGE_SIZE).limit(PAGE_SIZE)).all()
        return self.render("admin/enterprises/custom.html", year=year, years=years, search=search, headers=headers,
                           errors=errors, note=self.note(year, fields), rows=rows, display=display,
                           fields=stats.CUSTOM_FIELDS, picked=fields, offset=page * PAGE_SIZE,
                           pager={"page": page, "pages": max(1, -(-count // PAGE_SIZE)), "count": count})

    @expose("/export/xlsx/")
    def export(self):
        year, search, fields, _, _ = self.read()
        stmt, headers = stats.custom_query(self.p, fields, year, search)
        rows = db.session.execute(stmt.execution_options(yield_per=2000))
        title = f"{year}年 自定义查询" if year else "全部年份 自定义查询"
        return xlsx_response(title, headers, rows, caption=True, note=self.note(year, fields))


def register(admin, session):
    category = "科企信息统计表"
    admin.add_view(VoucherClaimsPage(name="科技创新券申领统计表", category="申报事项", endpoint="voucher_claims"))
    admin.add_view(VoucherEnterprisePage(name="科技创新券情况统计表", category="申报事项", endpoint="voucher_enterprises"))
    admin.add_view(CultivationPage(name="培育进度统计表", category=category, endpoint="stats_cultivation"))
    admin.add_view(DistrictStoragePage(name="区县入库企业情况统计表", category=category, endpoint="stats_district_storage"))
    admin.add_view(AnnualSummaryPage(name="区县科技型企业年报统计表", category=category, endpoint="stats_annual"))
    admin.add_view(OverviewPage(name="全市概况图", category=category, endpoint="stats_overview"))
    admin.add_view(CustomQueryPage(name="自定义查询", category=category, endpoint="stats_custom"))
