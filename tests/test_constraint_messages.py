"""Constraint failures in Chinese at their field (rules/constraints.py), forms that check first.

Part 1 drives the database itself: every named constraint of the metadata is violated through Core
(one transaction each, rolled back) and the mapping must answer its field and message.
Part 2 posts the forms as the account that may edit them: no 5xx, the message next to its field,
the typed values still there, and an independent SELECT shows nothing changed; then the same
posts with the form's checks switched off, so that the database refuses them.
Part 3: attachments by their content, searches with % and _, opinions over the limit.
"""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import CheckConstraint, ForeignKeyConstraint, String, and_, null, func, insert, literal, select, update
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from models import Base
from rules import constraints as mapping

from .conftest import _restore
from .form_helpers import errors_at, field_errors, form_data

NAMES = sorted(mapping.constraints())


@pytest.fixture(scope="module")
def engine(_app, snapshot):
    """The demo world, restored once for this module's Core checks (each rolls itself back)."""
    from extensions import db

    with _app.app_context():
        _restore(db.engine, snapshot)
        yield db.engine


# Values that break each hand-written CHECK, as (which row, new values); an enum's code list is
# broken by an unknown code. A new CHECK without a row here fails `test_every_constraint_...`.
CHECK_VIOLATIONS = {
    "ck_call_window_order": (None, {"opens_at": datetime(2030, 1, 2), "closes_at": datetime(2030, 1, 1)}),
    "ck_dict_item_code_not_empty": (None, {"code": ""}),
    "ck_unit_reg_capital_nonneg": (None, {"registered_capital": -1, "paid_in_capital": None}),
    "ck_unit_paid_capital_nonneg": (None, {"paid_in_capital": -1, "registered_capital": None}),
    "ck_unit_paid_le_registered": (None, {"registered_capital": 1, "paid_in_capital": 2}),
    "ck_enterprise_capital_nonneg": (None, {"registered_capital": -1}),
    "ck_unit_revenue_revenue_nonneg": (None, {"revenue": -1}),
    "ck_annual_report_year_range": (None, {"year": 1999}),
    "ck_annual_report_staff_nonneg": (None, {"staff": -1, "tech_staff": None}),
    "ck_annual_report_tech_le_staff": (None, {"staff": 1, "tech_staff": 2}),
    "ck_annual_report_domestic_le_rd": (None, {"rd_expense": 1, "rd_domestic": 2}),
    "ck_annual_report_score_range": (None, {"innovation_score": 101}),
    "ck_app_user_unit_roles_have_unit": ("bureau", {"role": "applicant", "unit_id": None}),
    "ck_app_user_dept_admin_has_dept": ("applicant", {"role": "dept_admin", "secondary_unit_id": None}),
    "ck_app_user_authority_has_area": ("bureau", {"role": "authority", "region_id": None, "unit_id": None}),
    "ck_app_user_authorized_is_unit_admin": ("applicant", {"unit_authorized": True}),
    "ck_innovation_voucher_amount_nonneg": (None, {"amount": -1, "redeemed": None}),
    "ck_innovation_voucher_redeemed_le_amount": (None, {"amount": 1, "redeemed": 2}),
    "ck_declaration_counts_nonneg": (None, {"new_tech_count": -1}),
    "ck_declaration_period_order": (None, {"start_month": date(2030, 6, 1), "end_month": date(2030, 1, 1)}),
    "ck_declaration_attachment_size_nonneg": (None, {"size": -1}),
    "ck_declaration_budget_amount_nonneg": (None, {"amount": -1}),
    "ck_progress_report_percent_range": (None, {"percent": 150}),
    "ck_legacy_project_year_range": (None, {"year": 1989}),
    "ck_enterprise_name_period_order": (None, {"valid_from": date(2030, 6, 1), "valid_to": date(2030, 1, 1)}),
    "ck_enterprise_rename_file_size_nonneg": (None, {"size": -1}),
}


def _pk(table):
    return list(table.primary_key.columns)[0]


def _filler(conn, table, n: int) -> dict:
    """A row for a table the demo leaves empty: every required column, foreign keys to real rows."""
    row = {}
    for column in table.columns:
        if column.primary_key or (column.nullable and not column.foreign_keys):
            continue
        if column.foreign_keys:
            referred = next(iter(column.foreign_keys)).column
            row[column.name] = conn.scalar(select(func.min(referred)))
        elif hasattr(column.type, "enum_class") and column.type.enum_class is not None:
            states = list(column.type.enum_class)  # two fillers in two states: a partial unique index on one state holds
            row[column.name] = states[(n - 1) % len(states)]
        elif column.default is not None or column.server_default is not None:
            continue
        else:
            kind = column.type.python_type
            row[column.name] = {str: f"t{n}", int: n, Decimal: Decimal(1), datetime: datetime.now(), date: date.today(), bool: False}.get(kind, [])
    return row


def _rows(conn, table, where=None, count: int = 2) -> list[dict]:
    """Rows of `table` (matching `where`); a table the demo leaves empty gets two fillers."""
    if conn.scalar(select(func.count()).select_from(table)) == 0:
        for n in (1, 2):
            conn.execute(insert(table).values(_filler(conn, table, n)))
    stmt = select(table).order_by(_pk(table)).limit(count)
    rows = [dict(r._mapping) for r in conn.execute(stmt if where is None else stmt.where(where))]
    assert rows, f"the demo has no {table.name} row for this case"
    return rows


def _set(conn, table, row: dict, values: dict) -> None:
    conn.execute(update(table).where(_pk(table) == row[_pk(table).name]).values(values))


def _violate(conn, name: str) -> None:
    table, c = mapping.constraints()[name]
    if isinstance(c, CheckConstraint) and c._type_bound:
        column = next(iter(c.columns))
        _set(conn, table, _rows(conn, table)[0], {column: literal("~", String)})
    elif isinstance(c, CheckConstraint):
        assert name in CHECK_VIOLATIONS, f"{name}: add the values that break it to CHECK_VIOLATIONS"
        role_of_row, values = CHECK_VIOLATIONS[name]
        rows = _rows(conn, table, table.c.role == role_of_row if role_of_row else None, 1)
        _set(conn, table, rows[0], values)
    elif isinstance(c, ForeignKeyConstraint):
        _set(conn, table, _rows(conn, table)[0], {c.columns.keys()[0]: 2**31 - 1})
    elif name == "uq_app_user_unit_authorized":  # a partial unique index: a second 授权人 of a unit
        holder, other = _rows(conn, table, table.c.role == "unit_admin", 2)
        _set(conn, table, holder, {"unit_authorized": True})
        _set(conn, table, other, {"unit_id": holder["unit_id"], "unit_authorized": True})
    elif name in ("uq_unit_change_pending", "uq_enterprise_rename_pending"):  # a partial unique index: a second pending request
        owner = "unit_id" if name == "uq_unit_change_pending" else "enterprise_id"
        first, second = _rows(conn, table, None, 2)
        _set(conn, table, first, {"status": "pending"})
        _set(conn, table, second, {owner: first[owner], "status": "pending"})
    else:  # UNIQUE: a second row takes the first one's values
        columns = c.columns.keys()
        first = _rows(conn, table, and_(*[table.c[k].isnot(None) for k in columns]), 1)[0]
        if conn.scalar(select(func.count()).select_from(table)) < 2:  # the demo has one row: a filler is the second
            conn.execute(insert(table).values(_filler(conn, table, 2)))
        second = _rows(conn, table, _pk(table) != first[_pk(table).name], 1)[0]
        _set(conn, table, second, {k: first[k] for k in columns})


def _raised(engine, action) -> IntegrityError:
    """The IntegrityError `action` makes the database raise; its transaction is rolled back."""
    with engine.connect() as conn:
        with pytest.raises(IntegrityError) as caught:
            action(conn)
        conn.rollback()
    return caught.value


def test_constraint_names_are_unique_and_the_table_has_no_stale_entries():
    named = [str(c.name) for t in Base.metadata.sorted_tables for c in [*t.constraints, *t.indexes] if c.name and not str(c.name).startswith(("pk_", "ix_"))]
    assert len(named) == len(set(named)), "two constraints share a name: the mapping could not tell them apart"
    assert set(mapping.MESSAGES) <= set(NAMES), set(mapping.MESSAGES) - set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_constraint_has_its_field_and_chinese_message(engine, name):
    expected = mapping.rule(name)
    assert expected is not None, f"{name} has no entry in rules/constraints.MESSAGES"
    error = _raised(engine, lambda conn: _violate(conn, name))
    table, c = mapping.constraints()[name]
    if isinstance(c, ForeignKeyConstraint) and engine.dialect.name == "sqlite":
        expected = mapping.Problem(None, mapping.MISSING_REFERENCE)  # SQLite does not name the key
    assert mapping.explain(error) == expected, str(error.orig)
    assert all(ord(ch) > 127 or not ch.isalpha() for ch in expected.message), expected.message  # Chinese, no raw text


RESTRICTING = [n for n in NAMES if isinstance(mapping.constraints()[n][1], ForeignKeyConstraint)
               and mapping.constraints()[n][1].ondelete in (None, "RESTRICT")]


@pytest.mark.parametrize("name", RESTRICTING)
def test_deleting_a_row_still_in_use_says_who_uses_it(engine, name):
    table, c = mapping.constraints()[name]
    column = table.c[c.columns.keys()[0]]
    referred = next(iter(column.foreign_keys)).column

    def delete_used(conn):
        used = conn.scalar(select(column).where(column.isnot(None)).limit(1))
        if used is None:  # nobody uses one yet: let the first row use the first one
            used = conn.scalar(select(func.min(referred)))
            _set(conn, table, _rows(conn, table, None, 1)[0], {column.name: used})
        conn.execute(referred.table.delete().where(referred == used))

    error = _raised(engine, delete_used)
    problem = mapping.explain(error, deleting=True)
    users = {mapping.rule(n, deleting=True) for n in RESTRICTING if _referred(n) is referred.table}
    assert problem in users | {mapping.Problem(None, mapping.IN_USE)}, (problem, str(error.orig))
    if engine.dialect.name == "postgresql":  # it names the key: the message names its table
        assert problem == mapping.rule(error.orig.diag.constraint_name, deleting=True)


def _referred(name):
    return next(iter(mapping.constraints()[name][1].elements)).column.table


REQUIRED = [(t.name, col.name) for t in Base.metadata.sorted_tables for col in t.columns
            if not col.nullable and not col.primary_key and t.name != "login_throttle"]


@pytest.mark.parametrize("table_name, column_name", REQUIRED, ids=[f"{t}.{c}" for t, c in REQUIRED])
def test_a_missing_required_value_is_asked_for_by_its_label(engine, table_name, column_name):
    table = Base.metadata.tables[table_name]
    error = _raised(engine, lambda conn: _set(conn, table, _rows(conn, table, None, 1)[0], {column_name: null()}))
    problem = mapping.explain(error)
    assert problem == mapping.not_null(table_name, column_name), str(error.orig)
    assert problem.message.startswith(("请填写", "请选择")) and problem.field


DATA_CASES = {  # (table, column, value, message, the databases that refuse it)
    "text over String(200)": ("declaration", "name", "长" * 201, mapping.TOO_LONG, {"postgresql"}),
    "a NUL byte in text": ("declaration", "leader", "张\x00伟", mapping.CONTROL_CHARS, {"postgresql"}),
    "an integer over INTEGER": ("declaration", "new_tech_count", 2**70, mapping.OUT_OF_RANGE, {"postgresql", "sqlite"}),
    "money over Numeric(14,2)": ("declaration_budget", "amount", Decimal("1e13"), mapping.OUT_OF_RANGE, {"postgresql"}),
}


@pytest.mark.parametrize("table_name, column_name, value, message, refusing", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_a_value_the_column_cannot_hold_is_explained(engine, table_name, column_name, value, message, refusing):
    if engine.dialect.name not in refusing:
        pytest.skip(f"{engine.dialect.name} stores it as it is")
    table = Base.metadata.tables[table_name]
    with engine.connect() as conn:
        with pytest.raises((DataError, StatementError, OverflowError)) as caught:  # SQLite: the driver refuses
            _set(conn, table, _rows(conn, table, None, 1)[0], {column_name: value})
        conn.rollback()
    assert mapping.explain(caught.value) == mapping.Problem(None, message), str(caught.value)


# -- part 2: the forms ------------------------------------------------------------------------
YEAR = datetime.now().year
RESEARCH = f"{YEAR}年度科研项目（第一批）"
PROJECT = "工业互联网标识解析平台"  # applicant_ent's approved project (调度填报)


def _id(session, model, **where):
    return session.scalars(select(model.id).where(*[getattr(model, k) == v for k, v in where.items()])).first()


def _call(s):
    from models import Call

    return f"/admin/declaration/new/?call_id={_id(s, Call, name=RESEARCH)}"


def _unit_of(username):
    def url(s):
        from models import User

        return f"/admin/unit/edit/?id={s.scalar(select(User.unit_id).where(User.username == username))}"

    return url


def _person_of(username):
    def url(s):
        from models import Person, User

        return f"/admin/person/edit/?id={s.scalar(select(Person.id).join(User, Person.user_id == User.id).where(User.username == username))}"

    return url


def _project(s):
    from models import Declaration

    return str(_id(s, Declaration, name=PROJECT))


def _filed_period(s):
    from models import Declaration, ProgressReport

    return s.scalar(select(ProgressReport.period).join(Declaration).where(Declaration.name == PROJECT).limit(1))


def _call_edit(s):
    from models import Call

    return f"/admin/call/edit/?id={_id(s, Call, name=RESEARCH)}"


def _other_call_name(s):
    from models import Call

    return s.scalar(select(Call.name).where(Call.name != RESEARCH).limit(1))


def _revenue(s):
    """A unit and year that already have 营业收入."""
    from models import UnitRevenue

    row = s.execute(select(UnitRevenue.unit_id, UnitRevenue.year).limit(1)).one()
    return {"unit": str(row.unit_id), "year": str(row.year), "revenue": "100"}


def _new_report(**extra):
    return lambda s: {"declaration": _project(s), "period": f"{YEAR}年第四季度", "percent": "50", **extra}


def _new_declaration(**extra):
    return {"name": "约束校验用申报书", "leader": "张伟", "start_month": f"{YEAR}-01-01", "end_month": f"{YEAR + 1}-12-01", **extra}


# (who, the form's URL, what is typed over the shown values, the field, its message, tables that stay as they were)
FORM_CASES = {
    "declaration 起始 later than 截止": ("applicant_zhang", _call, _new_declaration(start_month=f"{YEAR + 1}-06-01", end_month=f"{YEAR}-01-01"),
                                       "end_month", "项目截止时间不能早于项目起始时间", ("declaration",)),
    "declaration negative 新技术": ("applicant_zhang", _call, _new_declaration(new_tech_count="-1"), "new_tech_count", "不能为负数", ("declaration",)),
    "declaration negative budget": ("applicant_zhang", _call, _new_declaration(**{"budget_items-0-subject": "设备费", "budget_items-0-amount": "-5"}),
                                    "budget_items-0-amount", "不能为负数", ("declaration", "declaration_budget")),
    "declaration budget beyond Numeric(14,2)": ("applicant_zhang", _call, _new_declaration(**{"budget_items-0-subject": "设备费", "budget_items-0-amount": "1" * 13}),
                                                "budget_items-0-amount", "数值超出允许的范围（整数部分最多 12 位）", ("declaration", "declaration_budget")),
    "declaration name over String(200)": ("applicant_zhang", _call, _new_declaration(name="长" * 201), "name", "最多 200 个字", ("declaration",)),
    "declaration NUL in 负责人": ("applicant_zhang", _call, _new_declaration(leader="张\x00伟"), "leader", "不能包含不可见的控制字符", ("declaration",)),
    "declaration year 1800": ("applicant_zhang", _call, _new_declaration(start_month="1800-01-01"), "start_month", "日期应在 1900 年至 2100 年之间", ("declaration",)),
    "declaration 负责人电话": ("applicant_zhang", _call, _new_declaration(leader_phone="电话号码"), "leader_phone", "请输入正确的办公电话，如 023-65102000", ("declaration",)),
    "progress 完成进度 150": ("applicant_ent", lambda s: "/admin/progress_report/new/", _new_report(percent="150"), "percent",
                           "完成进度须在 0 到 100 之间", ("progress_report",)),
    "progress repeated 调度期次": ("applicant_ent", lambda s: "/admin/progress_report/new/", lambda s: _new_report(period=_filed_period(s))(s), "period",
                               "该项目本期次的调度已填报，请在列表中修改", ("progress_report",)),
    "unit 银行账号 with letters": ("unit_cqu", _unit_of("unit_cqu"), {"bank_account": "6222abc0001"}, "bank_account",
                               "银行账号应为 8–32 位数字，不含空格或其他字符", ("unit",)),
    "unit 注册时间 in the future": ("unit_cqu", _unit_of("unit_cqu"), {"registered_on": f"{YEAR + 1}-01-01"}, "registered_on", "日期不能晚于今天", ("unit",)),
    "unit 座机 nonsense": ("unit_cqu", _unit_of("unit_cqu"), {"contact_phone": "023-123"}, "contact_phone", "请输入正确的办公电话，如 023-65102000", ("unit",)),
    "unit 实收资本 above 注册资本": ("unit_cqu", _unit_of("unit_cqu"), {"registered_capital": "100", "paid_in_capital": "200"}, "paid_in_capital",
                                "实收资本不能大于注册资本", ("unit",)),
    "unit 通信地址 over String(200)": ("unit_cqu", _unit_of("unit_cqu"), {"address": "路" * 201}, "address", "最多 200 个字", ("unit",)),
    "secondary unit repeated name": ("unit_cqu", lambda s: "/admin/secondary_unit/new/",
                                     {"name": "软件学院", "manager_name": "周明", "manager_mobile": "13912340001", "manager_id_no": "11010519491231002X"},
                                     "name", "本单位已有同名的二级单位", ("secondary_unit", "app_user")),
    "person 办公电话 nonsense": ("applicant_zhang", _person_of("applicant_zhang"), {"office_phone": "12345"}, "office_phone",
                             "请输入正确的办公电话，如 023-65102000", ("person",)),
    "call 截止 before 开始": ("bureau", _call_edit, {"closes_at": f"{YEAR - 5}-01-01 09:00:00"}, "closes_at", "申报截止时间应晚于开始时间", ("call",)),
    "call repeated 批次名称": ("bureau", _call_edit, lambda s: {"name": _other_call_name(s)}, "name", "该批次名称已存在", ("call",)),
    "unit revenue repeated year": ("bureau", lambda s: "/admin/unit_revenue/new/", _revenue, "year", "该单位该年度的营业收入已填报", ("unit_revenue",)),
    "unit revenue negative": ("bureau", lambda s: "/admin/unit_revenue/new/", lambda s: {**_revenue(s), "year": "2001", "revenue": "-1"}, "revenue",
                              "不能为负数", ("unit_revenue",)),
    "单位注册 name over String(200)": ("applicant_li", lambda s: "/admin/registration/new/", {"name": "单" * 201}, "name", "最多 200 个字",
                                   ("unit", "unit_registration")),
    "账号授权 name over String(50)": ("unit_cqu", lambda s: "/admin/unit_authorization/?edit=1", {"name": "张" * 51, "mobile": "13912340002",
                                  "id_no": "11010519491231002X"}, "name", "最多 50 个字", ("app_user",)),
    "/register/user username over String(50)": (None, lambda s: "/register/user", {"username": "u" * 51, "name": "周明", "mobile": "13912340003",
                                         "id_no": "11010519491231002X", "email": "a@example.cn", "unit_name": "重庆大学",
                                         "password": "Demo@12345x", "confirm": "Demo@12345x"}, "username", "最多 50 个字", ("app_user", "person")),
}


def _table_state(session, *names) -> dict:
    """Every row of the tables, as text: an independent look at what the request left behind."""
    session.expire_all()
    return {n: sorted(map(str, session.execute(select(Base.metadata.tables[n])).all())) for n in names}


def _post_case(app, client_as, db_session, case):
    user, url, changes, field, message, tables = case
    client = client_as(user) if user else _anonymous(app)
    target = url(db_session)
    typed = changes(db_session) if callable(changes) else dict(changes)
    page = client.get(target)
    assert page.status_code == 200, (target, page.status_code)
    data = {**form_data(page.get_data(as_text=True)), **typed}
    before = _table_state(db_session, *tables)
    response = client.post(target, data=data)
    return response, typed, before


def _anonymous(app):
    """A visitor who has chosen 填报用户注册 and agreed to the 用户协议 (the form's way in)."""
    import re

    from .conftest import Client

    app.test_client_class = Client
    client = app.test_client()
    page = client.get("/register/user/agreement").get_data(as_text=True)
    client.post("/register/user/agreement", data={"agree": "y", "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)})
    return client


def _said_at_the_field(response, typed, field, message):
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 400), (response.status_code, html[-1500:])
    assert message in errors_at(html, field), (errors_at(html, field), [t for t in field_errors(response)])
    shown = form_data(html)
    for name, value in typed.items():
        if "password" not in name and name != "confirm":
            assert shown.get(name) == value, (name, shown.get(name), value)
    assert "Failed to" not in html and "IntegrityError" not in html and "constraint" not in html


@pytest.mark.parametrize("case", FORM_CASES.values(), ids=FORM_CASES.keys())
def test_the_form_says_it_at_the_field_and_keeps_what_was_typed(app, client_as, db_session, case):
    response, typed, before = _post_case(app, client_as, db_session, case)
    _said_at_the_field(response, typed, case[3], case[4])
    assert _table_state(db_session, *case[5]) == before


# The database as the last line of defence: with the form's checks switched off, the constraint
# refuses and its message (rules/constraints.MESSAGES) still lands at the field.
DATABASE_CASES = {
    "ck_declaration_period_order": FORM_CASES["declaration 起始 later than 截止"],
    "ck_declaration_counts_nonneg": FORM_CASES["declaration negative 新技术"],
    "ck_declaration_budget_amount_nonneg": FORM_CASES["declaration negative budget"],
    "ck_progress_report_percent_range": FORM_CASES["progress 完成进度 150"],
    "declaration_period": FORM_CASES["progress repeated 调度期次"],
    "ck_unit_paid_le_registered": FORM_CASES["unit 实收资本 above 注册资本"],
    "name": FORM_CASES["call repeated 批次名称"],
    "unit_year": FORM_CASES["unit revenue repeated year"],
    "ck_unit_revenue_revenue_nonneg": FORM_CASES["unit revenue negative"],
}


# PostgreSQL refuses what no constraint names (SQLite keeps it): too long text, NUL bytes.
DATA_FORM_CASES = {
    "StringDataRightTruncation": (FORM_CASES["declaration name over String(200)"], "最多 200 个字"),
    "NUL in text": (FORM_CASES["declaration NUL in 负责人"], mapping.CONTROL_CHARS),
}
LAST_LINE = {**{n: (c, mapping.MESSAGES[n][1]) for n, c in DATABASE_CASES.items()}, **DATA_FORM_CASES}


@pytest.mark.parametrize("name, case, message", [(n, c, m) for n, (c, m) in LAST_LINE.items()], ids=LAST_LINE.keys())
def test_the_constraint_is_the_last_line_of_defence(app, client_as, db_session, monkeypatch, caplog, name, case, message):
    from flask import request

    from admin_views.checks import ModelChecks

    if name in DATA_FORM_CASES and db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite keeps such text")
    monkeypatch.setattr(ModelChecks, "validate_form", lambda self, form: request.method == "POST")
    field = mapping.MESSAGES[name][0] if name in mapping.MESSAGES else case[3]
    shown_at = case[3] if field in case[3] else field  # an inline row's field carries its prefix
    response, typed, before = _post_case(app, client_as, db_session, case)
    assert "保存被数据库拒绝" in caplog.text  # the database refused it, not a form check
    _said_at_the_field(response, typed, shown_at, message)
    assert _table_state(db_session, *case[5]) == before


def test_the_tab_with_the_refused_field_is_the_one_shown(app, client_as, db_session):
    response, _, _ = _post_case(app, client_as, db_session, FORM_CASES["declaration negative budget"])
    html = response.get_data(as_text=True)
    assert re.search(r'class="nav-link active"[^>]*href="#tab3"', html) and 'class="tab-pane active" id="tab3"' in html


# -- part 3: nonsense that is not a column: files, searches, opinions ---------------------------
DRAFT = "基于大模型的软件缺陷智能检测方法研究"  # applicant_zhang's draft
PDF, PNG, JPEG, ZIP, OLE = b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n\0\0", b"\xff\xd8\xff\xe0\0\x10JFIF", b"PK\x03\x04\x14\0", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
UPLOADS = {
    "a real PDF": ("申报书.pdf", PDF, "已上传附件"),
    "a renamed .exe is no PDF": ("申报书.pdf", b"MZ\x90\0\x03\0\0\0", "文件内容与扩展名 .pdf 不符"),
    "a JPEG called .png": ("照片.png", JPEG, "文件内容与扩展名 .png 不符"),
    "a real PNG": ("照片.png", PNG, "已上传附件"),
    "a real JPEG": ("照片.jpeg", JPEG, "已上传附件"),
    "a docx is a ZIP": ("正文.docx", ZIP, "已上传附件"),
    "a doc is an OLE file": ("正文.doc", OLE, "已上传附件"),
    "a docx called .doc": ("正文.doc", ZIP, "文件内容与扩展名 .doc 不符"),
    "a PDF called .docx": ("正文.docx", PDF, "文件内容与扩展名 .docx 不符"),
    "a name over String(200)": ("名" * 201 + ".pdf", PDF, "文件名最多 200 个字"),
}


@pytest.mark.parametrize("filename, content, message", UPLOADS.values(), ids=UPLOADS.keys())
def test_an_attachment_is_what_its_extension_says(client_as, db_session, app, tmp_path, filename, content, message):
    from models import Attachment, Declaration

    app.config["UPLOAD_DIR"] = str(tmp_path)
    d = _id(db_session, Declaration, name=DRAFT)
    before = _table_state(db_session, "declaration_attachment")
    page = client_as("applicant_zhang").post_form(f"/admin/declaration/attachments/{d}/", {"kind": "proof", "file": (io.BytesIO(content), filename)},
                                                  follow_redirects=True)
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    stored = db_session.scalars(select(Attachment.filename).where(Attachment.declaration_id == d)).all()
    if message == "已上传附件":
        assert stored == [filename] and sorted(p.read_bytes() for p in tmp_path.iterdir()) == [content]
    else:
        assert _table_state(db_session, "declaration_attachment") == before and not any(tmp_path.iterdir())


SEARCHES = {
    "% is a percent sign": (("桥梁检测效率提升50%研究", "桥梁检测效率提升50倍研究"), "50%", 0),
    "_ is an underscore": (("A_B桥梁监测研究", "AxB桥梁监测研究"), "A_B", 0),
    "a backslash is a backslash": (("路径C:\\桥梁研究", "路径C:桥梁研究"), "C:\\", 0),
    "^ still means starts with": (("桥梁%开头的研究", "研究桥梁%"), "^桥梁%", 0),
}


@pytest.mark.parametrize("names, term, found", SEARCHES.values(), ids=SEARCHES.keys())
def test_search_matches_percent_and_underscore_as_typed(client_as, db_session, names, term, found):
    from models import Declaration, Status, Unit

    cqu = _id(db_session, Unit, name="重庆大学")
    ids = db_session.scalars(select(Declaration.id).where(Declaration.unit_id == cqu, Declaration.status == Status.unit_review).order_by(Declaration.id).limit(2)).all()
    with db_session.get_bind().begin() as conn:
        for row_id, name in zip(ids, names):
            conn.execute(update(Declaration.__table__).where(Declaration.id == row_id).values(name=name))
    page = client_as("unit_cqu").get("/admin/declaration/", query_string={"search": term}).get_data(as_text=True)
    shown = set(re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page))
    assert shown == {str(ids[found])}, (term, shown, ids)


REASONS = {
    "2001 characters are refused, not cut": ("长" * 2001, 400, "退回原因最多 2000 个字（现为 2001 字）"),
    "a NUL byte is refused": ("材料\x00不全", 400, "退回原因不能包含不可见的控制字符"),
    "2000 characters are kept whole": ("长" * 2000, 302, None),
}


@pytest.mark.parametrize("reason, status, message", REASONS.values(), ids=REASONS.keys())
def test_an_opinion_over_the_limit_is_refused_at_its_field(client_as, db_session, reason, status, message):
    from models import Declaration, ReviewRecord, Status, Unit

    cqu = _id(db_session, Unit, name="重庆大学")
    d = db_session.scalar(select(Declaration.id).where(Declaration.unit_id == cqu, Declaration.status == Status.unit_review).limit(1))
    before = _table_state(db_session, "declaration", "review_record")
    response = client_as("unit_cqu").action("declaration", "return", [d], reason=reason)
    assert response.status_code == status
    if message is None:
        assert db_session.scalar(select(ReviewRecord.opinion).where(ReviewRecord.declaration_id == d).order_by(ReviewRecord.id.desc()).limit(1)) == reason
        return
    html = response.get_data(as_text=True)
    assert message in errors_at(html, "reason")
    assert re.search(r'<textarea id="reason" name="reason"[^>]*>(.*?)</textarea>', html, re.S).group(1) == reason  # kept as typed
    assert _table_state(db_session, "declaration", "review_record") == before


def _statistics_search(session, p, term):
    from rules import enterprise_stats as stats

    return stats.voucher_by_enterprise(session, p, 2022, search=term, limit=None)[1]


def _custom_search(session, p, term):
    from rules import enterprise_stats as stats

    stmt, _ = stats.custom_query(p, ["name"], None, term)
    return len(session.execute(stmt).all())


def _library_search(session, p, term):
    from rules import libraries as lib

    library = lib.LIBRARIES[0]
    return len(lib.member_ids(session, library, p, lib.Query(year=2022, values=lib.saved_defaults(session, library), search=term)))


@pytest.mark.parametrize("search", [_statistics_search, _custom_search, _library_search], ids=["创新券统计", "自定义查询", "企业库"])
@pytest.mark.parametrize("term", ["%", "_"])
def test_the_enterprise_pages_search_percent_and_underscore_as_typed(app, db_session, search, term):
    from models import User
    from rules.scope import Principal

    p = Principal.of(db_session.scalars(select(User).where(User.username == "bureau")).one())
    assert search(db_session, p, "") > 0  # there is something a wildcard would have matched
    assert search(db_session, p, term) == 0  # no demo enterprise has % or _ in its name or code
