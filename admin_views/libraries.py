"""The eight enterprise libraries: one page each over its declarative entry in rules/libraries.py."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose

from extensions import db
from models import Region, RegionKind
from rules import libraries as lib
from rules import scope

from .enterprise_pages import ScopedPage, arg_int, arg_text, display, xlsx_response

MENU_ORDER = 60
PAGE_SIZE = 20


def _date(name: str, errors: dict):
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None


class LibraryPage(ScopedPage):
    def __init__(self, library: lib.Library, **kwargs):
        self.library = library
        super().__init__(name=library.name, category=library.category, endpoint=library.endpoint, **kwargs)

    # -- reading the page's arguments ------------------------------------------------------
    def years(self) -> list[int]:
        return lib.report_years(db.session, self.p)

    def query(self, source=None) -> tuple[lib.Query, dict]:
        source = source if source is not None else request.args
        defaults = lib.saved_defaults(db.session, self.library)
        values, errors = lib.parse_params(self.library, defaults, {p.key: source.get(f"c_{p.key}") for p in self.library.params})
        errors = {f"c_{k}": v for k, v in errors.items()}
        years = self.years()
        year = arg_int("year") or lib.latest_year(db.session, self.p) or (years[0] if years else date.today().year - 1)
        q = lib.Query(year=year, values=values, search=arg_text("search"))
        if "region" in self.library.filters:
            q.region_id = arg_int("region")
        if "founded" in self.library.filters:
            q.founded_from, q.founded_to = _date("founded_from", errors), _date("founded_to", errors)
        if "first_year" in self.library.filters:
            q.first_year = arg_int("first_year")
        return q, errors

    def page_args(self, q: lib.Query) -> dict:
        args = {k: v for k, v in request.args.items() if k != "page"}
        args["year"] = q.year
        return args

    # -- pages -------------------------------------------------------------------------------
    @expose("/")
    def index(self):
        q, errors = self.query()
        stmt, headers = lib.members(db.session, self.library, self.p, q)
        total = lib.count(db.session, stmt)
        page = max(0, arg_int("page", 0) or 0)
        rows = [list(r) for r in db.session.execute(stmt.offset(page * PAGE_SIZE).limit(PAGE_SIZE))]
        if self.library.first_year and len(headers) == len(lib.LIST_COLUMNS):
            first = lib.first_years_of(db.session, self.library, self.p, q.values, q.year, [r[0] for r in rows])
            headers = headers + ["首次符合条件年份"]
            rows = [r + [first.get(r[0])] for r in rows]
        regions = db.session.scalars(
            scope_regions(self.p)).all() if "region" in self.library.filters else []
        return self.render(
            "admin/enterprises/library.html", library=self.library, q=q, errors=errors, headers=headers, rows=rows,
            total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)), offset=page * PAGE_SIZE, display=display,
            years=self.years(), regions=regions, can_save=self.may("save_params"), args=self.page_args(q),
        )

    @expose("/details/<int:enterprise_id>/")
    def details(self, enterprise_id: int):
        q, errors = self.query()
        result = lib.explain(db.session, self.library, self.p, enterprise_id, q.year, q.values)
        if result is None:
            abort(404)
        from models import Enterprise

        enterprise = db.session.get(Enterprise, enterprise_id)
        args = self.page_args(q)
        return self.render("admin/enterprises/library_details.html", library=self.library, q=q, result=result,
                           enterprise=enterprise, display=display, back=url_for(".index", **args),
                           member=all(c["passed"] for c in result))

    @expose("/export/xlsx/")
    def export(self):
        q, _ = self.query()
        stmt, headers = lib.members(db.session, self.library, self.p, q, first_year_for_all=True)
        rows = (row[1:] for row in db.session.execute(stmt.execution_options(yield_per=2000)))
        return xlsx_response(f"{self.library.name}{q.year}", headers, rows)

    @expose("/defaults/", methods=("POST",))
    def save_defaults(self):
        if not self.may("save_params"):
            abort(404)
        defaults = lib.saved_defaults(db.session, self.library)
        values, errors = lib.parse_params(self.library, defaults, {p.key: request.form.get(f"c_{p.key}") for p in self.library.params})
        if errors:
            flash("未保存：" + "；".join(errors.values()), "error")
        else:
            changed = lib.save_defaults(db.session, self.library, values)
            db.session.commit()
            flash(f"已保存默认条件参数（变更 {changed} 项）" if changed else "默认条件参数未变化", "success")
        back = {f"c_{p.key}": request.form.get(f"c_{p.key}", "") for p in self.library.params}
        return redirect(url_for(".index", **back))


def scope_regions(p):
    from sqlalchemy import select

    from models import Enterprise

    where = Region.id.in_(select(Enterprise.region_id).where(scope.predicate(p, Enterprise)))
    return select(Region).where(Region.kind == RegionKind.district, where).order_by(Region.sort)


def register(admin, session):
    for library in lib.LIBRARIES:
        admin.add_view(LibraryPage(library))
