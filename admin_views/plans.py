"""计划表 and 计划汇总表 (seed 003): approved projects of a 年度 and 批次 in the user's scope, listed and
summed, each with 导出Excel whose sheet names the period (rules/plans.py)."""
from __future__ import annotations

from datetime import date

from flask import request, url_for
from flask_admin import expose

from extensions import db
from rules import plans

from .enterprise_pages import ScopedPage, arg_int, display, xlsx_response

MENU_ORDER = 32
CATEGORY = "项目管理"
PAGE_SIZE = 50


class PlanPage(ScopedPage):
    """计划表: the period (年度, 批次) from the URL, the latest year by default; a bad value falls
    back to the default with a message beside its field."""

    kind = "计划表"
    tabs = None

    def read(self):
        errors = {}
        years = plans.years(db.session, self.p) or [date.today().year]
        year = arg_int("year", years[0])
        if year not in years:
            errors["year"] = "该年度没有已立项项目，已显示最近年度"
            year = years[0]
        calls = plans.calls(db.session, self.p, year)
        call = None
        raw = (request.args.get("call") or "").strip()
        if raw:
            call = next((c for c in calls if str(c.id) == raw), None)
            if call is None:
                errors["call"] = "所选批次在该年度没有已立项项目，已显示全部批次"
        tab = request.args.get("tab") if self.tabs and request.args.get("tab") in self.tabs else (next(iter(self.tabs)) if self.tabs else None)
        return {"year": year, "years": years, "call": call, "calls": calls, "tab": tab, "errors": errors}

    def title(self, period) -> str:
        text = plans.title(self.kind, period["year"], period["call"])
        return f"{text}（{self.tabs[period['tab']]}）" if self.tabs else text

    def period_args(self, period, **extra) -> dict:
        args = {"year": period["year"], "call": period["call"].id if period["call"] else None, "tab": period["tab"]}
        return {k: v for k, v in {**args, **extra}.items() if v is not None}

    def page_of(self, period):
        page = arg_int("page", 0) or 0
        table, count = plans.plan(db.session, self.p, period["year"], period["call"].id if period["call"] else None,
                                  page * PAGE_SIZE, PAGE_SIZE)
        return table, {"page": page, "pages": max(1, -(-count // PAGE_SIZE)), "count": count}

    @expose("/")
    def index(self):
        period = self.read()
        table, pager = self.page_of(period)
        return self.render("admin/plans/table.html", page=self, period=period, table=table, pager=pager, display=display,
                           title=self.title(period), export_url=url_for(".export", **self.period_args(period)))

    @expose("/export/xlsx/")
    def export(self):
        period = self.read()
        table, _ = plans.plan(db.session, self.p, period["year"], period["call"].id if period["call"] else None)
        return xlsx_response(self.title(period), table.headers, table.rows)


class PlanSummaryPage(PlanPage):
    """计划汇总表: 项目数 and 已下达 by 区县 or by 产业类别, with a 合计 row."""

    kind = "计划汇总表"
    tabs = plans.SUMMARY_TABS

    def page_of(self, period):
        return plans.summary(db.session, self.p, period["year"], period["call"].id if period["call"] else None, period["tab"]), None

    @expose("/export/xlsx/")
    def export(self):
        period = self.read()
        table, _ = self.page_of(period)
        return xlsx_response(self.title(period), table.headers, table.rows, table.total)


def register(admin, session):
    admin.add_view(PlanPage(name="计划表", category=CATEGORY, endpoint="plan"))
    admin.add_view(PlanSummaryPage(name="计划汇总表", category=CATEGORY, endpoint="plan_summary"))
