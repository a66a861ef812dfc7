"""The list and details pages as users meet them (issue 13): the 查询 form generated from each view's
declared filters, whose queries return the rows the database says; 上一条/下一条 in the order of
the list the user came from; the toolbar's labels from the transition table; 处理 or 查看 per row;
state badges. Oracles are hand-written expectations and SQL counts written here."""
from __future__ import annotations

import html as html_lib
import re
from math import ceil
from urllib.parse import quote

import pytest
from flask_admin.contrib.sqla import ModelView
from sqlalchemy import Boolean, func, select

from models import Declaration, Person, Status, Unit
from tests.conftest import DEMO_ACCOUNTS


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _query_form(page: str) -> str:
    match = re.search(r'<form[^>]*id="query-form".*?</form>', page, re.S)
    return match.group(0) if match else ""


def _form_labels(page: str) -> list[str]:
    return [html_lib.unescape(t) for t in re.findall(r'<label for="q-\d+(?:-from)?">([^<]+)</label>', _query_form(page))]


def _field_names(page: str) -> dict[str, str]:
    """label → the request argument of its field."""
    form = _query_form(page)
    out = {}
    for fid, label in re.findall(r'<label for="(q-\d+)(?:-from)?">([^<]+)</label>', form):
        name = re.search(rf'id="{fid}(?:-from)?"[^>]*name="([^"]+)"', form) or re.search(rf'name="([^"]+)"[^>]*id="{fid}(?:-from)?"', form)
        out[html_lib.unescape(label)] = name.group(1)
    return out


def _select_options(page: str, name: str) -> list[tuple[str, str]]:
    block = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', _query_form(page), re.S)
    return [(v, html_lib.unescape(t)) for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', block.group(1)) if v] if block else []


def _row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)]


def _total(page: str) -> int:
    return int(re.search(r'共 (\d+) 条', page).group(1))


def _list_views(app) -> list[ModelView]:
    return [v for v in app.extensions["admin"][0]._views if isinstance(v, ModelView)]


# -- the 查询 form is the view's declared filters --------------------------------------------
@pytest.mark.parametrize("account", DEMO_ACCOUNTS)
def test_each_query_form_offers_one_field_per_declared_filter(app, client_as, account):
    client = client_as(account)
    opened = 0
    for view in _list_views(app):
        response = client.get(f"/admin/{view.endpoint}/")
        if response.status_code != 200:
            continue
        opened += 1
        page = response.get_data(as_text=True)
        declared = list(dict.fromkeys(str(f.name) for f in (view._filters or ())))
        expected = (["关键字"] if view.column_searchable_list else []) + declared
        assert _form_labels(page) == expected, f"{view.endpoint} as {account}"
        assert ("query-reset" in page) == bool(expected)
    assert opened, f"{account} opens no list"


def test_a_query_by_each_choice_shows_only_rows_having_it(app, client_as, db_session):
    """Every select of every list the bureau opens: choosing its first option shows only rows whose
    column has that value (checked by SQL over the shown ids), and 共 N 条 counts them."""
    client = client_as("bureau")
    checked = 0
    for view in _list_views(app):
        response = client.get(f"/admin/{view.endpoint}/")
        if response.status_code != 200 or not view._filters:
            continue
        page = response.get_data(as_text=True)
        groups = {str(f.name): f for f in view._filters}
        for label, name in _field_names(page).items():
            options = _select_options(page, name)
            flt = groups.get(label)
            column = getattr(flt, "column", None)
            if flt is None or str(flt.operation()) != "等于":
                continue  # 审核归属 为 我: not a value of a column
            if not options or column is None or not hasattr(column, "table") or column.table is not view.model.__table__:
                continue
            value = options[0][0]
            shown = _html(client.get(f"/admin/{view.endpoint}/", query_string={name: value, "page_size": 100}))
            ids = _row_ids(shown)
            pk = view.model.__table__.primary_key.columns.values()[0]
            try:
                if isinstance(column.type, Boolean):
                    typed = value == "1"
                elif getattr(column.type, "enum_class", None) is not None:
                    typed = column.type.enum_class(value)
                elif column.type.python_type is int:
                    typed = int(value)
                else:
                    typed = value
            except ValueError:
                continue  # 申报类型 of a declaration: through its call, not a value of this column
            if ids:
                having = db_session.scalar(select(func.count()).select_from(view.model.__table__).where(pk.in_(ids), column == typed))
                assert having == len(ids), f"{view.endpoint}: {label}={value} shows rows without it"
            assert _total(shown) >= len(ids)
            checked += 1
    assert checked >= 5, checked


def test_queries_return_the_rows_the_database_says(app, client_as, db_session):
    client = client_as("bureau")
    page = _html(client.get("/admin/declaration/"))
    names = _field_names(page)
    assert set(names) >= {"关键字", "项目状态", "项目年度", "申报单位"}

    submitted = Declaration.status != Status.draft  # the bureau never sees drafts (they are their applicants')
    waiting = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.status == Status.unit_review))
    shown = _html(client.get("/admin/declaration/", query_string={names["项目状态"]: "unit_review", "page_size": 100}))
    assert _total(shown) == waiting == len(_row_ids(shown)) and waiting > 0

    of_2026 = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.year == 2026, submitted))
    assert _total(_html(client.get("/admin/declaration/", query_string={names["项目年度"]: "2026"}))) == of_2026

    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    of_cqu = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.unit_id == cqu, submitted))
    assert _total(_html(client.get("/admin/declaration/", query_string={names["申报单位"]: str(cqu)}))) == of_cqu > 0

    bridge = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.name.contains("桥梁"), submitted))
    assert _total(_html(client.get("/admin/declaration/", query_string={"search": "桥梁"}))) == bridge > 0

    # both ends of a search and a filter at once, the empty fields of the form ignored
    both = db_session.scalar(select(func.count()).select_from(Declaration).where(Declaration.unit_id == cqu, Declaration.year == 2026, submitted))
    combined = {names["申报单位"]: str(cqu), names["项目年度"]: "2026", names["项目状态"]: "", "search": ""}
    shown = _html(client.get("/admin/declaration/", query_string=combined))
    assert _total(shown) == both and "值无效" not in shown


def test_a_long_choice_is_searched_remotely_within_the_scope(app, client_as, db_session, monkeypatch):
    from admin_views import listing

    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    page = _html(client_as("unit_cqu").get("/admin/declaration/"))  # few units in scope: a plain select
    assert _select_options(page, _field_names(page)["申报单位"]) == [(str(cqu), "重庆大学")]
    monkeypatch.setattr(listing, "REMOTE_AT", 1)  # the demo has a few dozen units; a city has thousands
    bureau = client_as("bureau")
    name = _field_names(_html(bureau.get("/admin/declaration/")))["申报单位"]
    page = _html(bureau.get("/admin/declaration/", query_string={name: str(cqu)}))
    remote = re.search(rf'<input type="hidden" class="remote-filter[^>]*name="{name}"[^>]*>', _query_form(page), re.S).group(0)
    assert f'value="{cqu}"' in remote and 'data-text="重庆大学"' in remote, "the chosen unit is shown by name"
    url = html_lib.unescape(re.search(r'data-url="([^"]+)"', remote).group(1))
    found = bureau.get(url + "&q=大学").get_json()["results"]
    expected = db_session.scalars(select(Unit.name).where(Unit.name.contains("大学"))).all()
    assert {r["text"] for r in found} == set(expected[:30]) and found
    own = client_as("unit_cqu").get(url + "&q=大学").get_json()["results"]
    assert [r["text"] for r in own] == ["重庆大学"], "the unit admin is offered only its own unit"
    for hostile in ("\x00", "x" * 5000, "%_", "²"):
        assert bureau.get(url + "&q=" + quote(hostile)).status_code == 200
    assert bureau.get("/admin/declaration/filter-options/", query_string={"f": "\x00" * 80}).get_json() == {"results": []}


def test_a_date_range_reads_both_ends_and_odd_ends_never_fail(app, client_as):
    client = client_as("sysadmin")
    page = _html(client.get("/admin/operation_log/"))
    name = _field_names(page)["时间"]
    everything = _total(page)
    assert _total(_html(client.get("/admin/operation_log/", query_string=[(name, "2000-01-01"), (name, "2999-12-31")]))) == everything
    assert _total(_html(client.get("/admin/operation_log/", query_string=[(name, "2999-01-01"), (name, "")]))) == 0
    for odd in ("garbage", "2024-13-45", "\x00", "9" * 40):
        response = client.get("/admin/operation_log/", query_string=[(name, odd), (name, odd)])
        assert response.status_code == 200 and "值无效" in response.get_data(as_text=True)


# -- 上一条/下一条 follow the list the user came from ------------------------------------------
def test_details_of_the_kth_row_link_to_rows_k_minus_1_and_k_plus_1(app, client_as, db_session):
    client = client_as("bureau")
    page = _html(client.get("/admin/declaration/"))
    names = _field_names(page)
    view = next(v for v in _list_views(app) if v.endpoint == "declaration")
    by_name = [i for i, (c, _) in enumerate(view._list_columns) if c == "name"][0]
    args = {names["项目年度"]: "2026", "sort": str(by_name), "desc": "1"}
    listed = _row_ids(_html(client.get("/admin/declaration/", query_string=args)))
    # the oracle: the same rows and order from SQL
    expected = db_session.scalars(select(Declaration.id).where(Declaration.year == 2026, Declaration.status != Status.draft)
                                  .order_by(Declaration.name.desc(), Declaration.id.desc())).all()
    assert listed == expected[:20] and len(listed) >= 3
    list_url = "/admin/declaration/?" + "&".join(f"{k}={v}" for k, v in args.items())
    for k in (0, 1, len(listed) - 1):
        details = _html(client.get("/admin/declaration/details/", query_string={"id": listed[k], "url": list_url}))
        prev = re.search(r'id="prev-record" href="([^"]+)"', details)
        nxt = re.search(r'id="next-record" href="([^"]+)"', details)
        if k == 0:
            assert prev is None, "the first row has no 上一条"
        else:
            assert f"id={listed[k - 1]}&" in html_lib.unescape(prev.group(1))
        target = html_lib.unescape(nxt.group(1))
        if k + 1 < len(expected):
            assert f"id={expected[k + 1]}&" in target
        else:
            assert target == list_url, "past the last row: back to the list"


# -- toolbar labels, 操作 links and badges ---------------------------------------------------------
def _review_buttons(page: str) -> list[str]:
    dialog = re.search(r'id="review-dialog".*?</form>', page, re.S)
    return re.findall(r'<button type="submit" name="action" value="\w+"[^>]*>([^<]+)</button>', dialog.group(0)) if dialog else []


@pytest.mark.parametrize("account,buttons", [
    ("dept_cqu_se", ["项目申报审核（单位）", "退回"]),  # seed 000 §3.2
    ("unit_cqu", ["提交至主管部门", "退回"]),  # the demo's 科研项目 calls go 单位 → 主管部门审核 → 科技局
    ("authority_yb", ["上报至省", "退回企业"]),  # its rows waiting are 技术创新项目 (seed 003: 已上报省, 退回企业; issue #14)
    ("bureau", ["审核通过", "退回", "不予立项"]),
])
def test_the_review_dialog_names_where_the_rows_go(client_as, account, buttons):
    page = _html(client_as(account).get("/admin/declaration/"))
    assert _review_buttons(page) == buttons
    assert ">批量提交<" in page  # the manuals' name of the reviewers' bulk button


def test_applicants_submit_in_bulk(client_as):
    page = _html(client_as("applicant_zhang").get("/admin/declaration/"))
    assert re.search(r'data-action="submit"[^>]*>批量提交</button>', page)
    assert _review_buttons(page) == []


def test_each_row_offers_handle_where_the_user_acts_now_else_view(client_as, db_session):
    page = _html(client_as("unit_cqu").get("/admin/declaration/", query_string={"page_size": 100}))
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    rows = db_session.execute(select(Declaration.id, Declaration.status).where(Declaration.unit_id == cqu, Declaration.status != Status.draft)).all()
    assert rows
    for pk, status in rows:
        link = re.search(rf'<a class="op-(\w+)" href="/admin/declaration/details/\?id={pk}&amp;[^"]*">([^<]+)</a>', page)
        assert link, pk
        assert link.group(2) == ("处理" if status == Status.unit_review else "查看"), (pk, status)


def test_states_are_badges_of_their_kind(client_as, db_session):
    page = _html(client_as("bureau").get("/admin/declaration/", query_string={"page_size": 100}))
    expected = {"unit_review": "review", "bureau_review": "review", "returned": "returned", "approved": "approved", "rejected": "rejected"}
    badges = {state: kind for kind, state in re.findall(r'class="badge state state-(\w+)" data-state="(\w+)"', page)}
    shown = set(db_session.scalars(select(Declaration.status).where(Declaration.status != Status.draft)).all())
    released = set(db_session.scalars(select(Declaration.release_status).where(Declaration.status != Status.draft)).all())
    assert {s.value for s in shown | released} == set(badges), "every state on the page is a badge (审核状态 and 下达状态)"
    for state, kind in expected.items():
        if Status(state) in shown:
            assert badges[state] == kind, (state, badges)
    draft = _html(client_as("applicant_zhang").get("/admin/declaration/"))
    assert 'class="badge state state-draft" data-state="draft"' in draft


def test_the_footer_counts_and_offers_every_page(client_as, db_session):
    page = _html(client_as("unit_cqu").get("/admin/person/", query_string={"page_size": 10}))
    cqu = db_session.scalar(select(Unit.id).where(Unit.name == "重庆大学"))
    people = db_session.scalar(select(func.count()).select_from(Person).where(Person.unit_id == cqu))
    assert _total(page) == people
    assert re.search(r'data-pages="(\d+)"', page).group(1) == str(ceil(people / 10))
    assert all(f"{n} 条/页" in page for n in (10, 20, 50, 100))


@pytest.mark.parametrize("huge", [str(2**31), str(2**31 + 7), str(2**63 - 1)])
def test_ids_past_the_key_columns_are_404_not_an_overflow(app, client_as, huge):
    """Every key is an INTEGER: PostgreSQL refuses to compare one with a larger number (a 500 before)."""
    client = client_as("bureau")
    for view in _list_views(app):
        if client.get(f"/admin/{view.endpoint}/").status_code != 200:
            continue
        answer = client.get(f"/admin/{view.endpoint}/details/", query_string={"id": huge}).status_code
        assert answer == 404 or (answer == 302 and not view.can_view_details), (view.endpoint, answer)
        listed = client.get(f"/admin/{view.endpoint}/details/", query_string={"id": "1", "url": f"/admin/{view.endpoint}/?flt0_0={huge}"})
        assert listed.status_code in (200, 404) or (listed.status_code == 302 and not view.can_view_details), view.endpoint
    assert client.get(f"/admin/declaration/attachment/{huge}/").status_code == 404
    assert client.get(f"/admin/declaration/preview/{huge}/").status_code == 404
    assert client.action("declaration", "approve", [huge], reason="同意").status_code in (302, 404)


@pytest.mark.parametrize("value", ["1", "0"])
def test_a_yes_no_choice_filters_a_boolean_column(client_as, db_session, value):
    """用户管理 → 用户状态 已启用/已禁用 (a 500 on PostgreSQL before: boolean = varchar)."""
    from models import User

    client = client_as("sysadmin")
    name = _field_names(_html(client.get("/admin/user/")))["用户状态"]
    expected = db_session.scalar(select(func.count()).select_from(User).where(User.active.is_(value == "1")))
    assert _total(_html(client.get("/admin/user/", query_string={name: value}))) == expected


@pytest.mark.parametrize("huge", [str(2**31), str(-(2**31) - 1), str(2**40)])
def test_a_number_past_the_column_is_refused_with_a_notice(client_as, huge):
    client = client_as("bureau")
    name = _field_names(_html(client.get("/admin/declaration/")))["项目年度"]
    shown = _html(client.get("/admin/declaration/", query_string={name: huge}))
    assert "筛选条件“项目年度”的值无效，已忽略" in shown


def test_a_details_page_offers_the_decisions_of_its_transition_table(client_as, db_session):
    """年报 at 市局待审核: the bureau's page has 审核通过 and 审核不通过 with the opinion dialog; the
    enterprise's own user has neither; the nine parts are the page's tabs."""
    from models import AnnualReport, ReportStatus

    report = db_session.scalars(select(AnnualReport).where(AnnualReport.status == ReportStatus.city_review)).first()
    page = _html(client_as("bureau").get("/admin/annual_report_review/details/", query_string={"id": report.id}))
    assert re.findall(r'data-action="(\w+)"', page) == ["approve", "reject"]
    assert 'id="review-dialog"' in page and 'data-reason-label="审核意见（不通过原因）"' in page
    tabs = re.findall(r'<a class="nav-link[^"]*" data-toggle="tab" href="#[\w-]+"[^>]*>([^<（]+)', page)
    assert tabs[0] == "基本信息" and tabs[-1] == "审批意见" and len(tabs) == 10
    done = client_as("bureau").action("annual_report_review", "reject", [report.id], reason="数据不全")
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(AnnualReport, report.id).status == ReportStatus.city_rejected


@pytest.mark.parametrize("account", DEMO_ACCOUNTS)
def test_the_pages_one_query_per_reviewer_rule_decides_as_the_row_checks_do(app, db_session, account):
    """处理/查看 and the toolbar read who decides each row from one query per page (`prefetch_acting`);
    every row of every list must get the same transitions as the row-by-row check gives."""
    from flask import g
    from flask_login import login_user

    from models import User

    user = db_session.scalars(select(User).where(User.username == account)).one()
    compared = 0
    for view in _list_views(app):
        if view.machine is None:
            continue
        with app.test_request_context(f"/admin/{view.endpoint}/"):
            login_user(user)
            if not view.is_accessible():
                continue
            rows = view.get_query().limit(100).all()
            one_by_one = {r.id: [t.action for t in view.transitions_for(r)] for r in rows}
            g.pop("transitions_for", None)
            view.prefetch_acting(rows)
            assert g.get("acting_where") is not None or not rows or all(t.who.where is None for t in view.machine.actions())
            batched = {r.id: [t.action for t in view.transitions_for(r)] for r in rows}
            assert batched == one_by_one, view.endpoint
            compared += len(rows)
    assert compared or account in ("applicant_li", "applicant_ent"), account
