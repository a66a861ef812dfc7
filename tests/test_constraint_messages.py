"""Constraint failures in Chinese at their field (rules/constraints.py), forms that check first.

Part 1 drives the database itself: every named constraint of the metadata is violated through Core
(one transaction each, rolled back) and the mapping must answer its field and message.
Part 2 posts the forms as the account that may edit them: no 5xx, the message next to its field,
the typed values still there, and an independent SELECT shows nothing changed.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import CheckConstraint, ForeignKeyConstraint, String, and_, null, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from models import Base
from rules import constraints as mapping

from .conftest import _restore

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
        elif column.default is not None or column.server_default is not None:
            continue
        elif hasattr(column.type, "enum_class") and column.type.enum_class is not None:
            row[column.name] = next(iter(column.type.enum_class))
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
        role, values = CHECK_VIOLATIONS[name]
        rows = _rows(conn, table, table.c.role == role if role else None, 1)
        _set(conn, table, rows[0], values)
    elif isinstance(c, ForeignKeyConstraint):
        _set(conn, table, _rows(conn, table)[0], {c.columns.keys()[0]: 2**31 - 1})
    elif name == "uq_app_user_unit_authorized":  # a partial unique index: a second 授权人 of a unit
        holder, other = _rows(conn, table, table.c.role == "unit_admin", 2)
        _set(conn, table, holder, {"unit_authorized": True})
        _set(conn, table, other, {"unit_id": holder["unit_id"], "unit_authorized": True})
    else:  # UNIQUE: a second row takes the first one's values
        columns = c.columns.keys()
        first = _rows(conn, table, and_(*[table.c[k].isnot(None) for k in columns]), 1)[0]
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
