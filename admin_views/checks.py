"""What every model form checks before the database does, and how a save the database refuses is said.

`ModelChecks` is mixed into the base view (admin_views/base.py):
- the scaffolded forms get, from their columns, the length of String(n) ("最多 N 个字"), no control
  characters, numbers the column can hold, dates within 1900–2100 (past ones not after today) and
  the format of contact fields named by their column (mobile, phone, email, postcode, bank …);
- a posted form is checked against the model's UNIQUE constraints before it is saved;
- an IntegrityError or DataError of the save becomes the Chinese message of rules/constraints.py
  at its field, the typed values kept and the session rolled back (Flask-Admin rolls back);
- the search box matches `%` and `_` as typed.
"""
from __future__ import annotations

from typing import Optional

from flask import current_app, flash, g
from flask_admin.contrib.sqla.fields import InlineModelFormList
from sqlalchemy import Integer, Numeric, Unicode, UniqueConstraint, cast, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from wtforms.fields import DateTimeField, DecimalField, FieldList, FormField, IntegerField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length, StopValidation, ValidationError

from rules import constraints
from rules.params import like_literal
from rules.validators import (
    bank_account_error, bank_code_error, email_error, has_control_chars, mobile_error, phone_error, postcode_error, uscc_error,
)

from .validation import at_most, checked, in_range, no_control_chars, sensible_date

# A text column's name says its format: `contact_mobile`, `leader_phone`, `email`, `bank_account` …
NAMED_FORMATS = (
    ("mobile", mobile_error), ("phone", phone_error), ("email", email_error), ("postcode", postcode_error),
    ("bank_account", bank_account_error), ("bank_code", bank_code_error), ("uscc", uscc_error),
)
# Dates of what already happened: 注册时间, 出生日期, 申领日期, 入库时间.
PAST_DATES = frozenset({"registered_on", "birth_date", "applied_on", "stored_on"})
INT_MAX = 2**31 - 1  # INTEGER on PostgreSQL
SAVE_FAILED = "保存失败，请稍后重试；数据未作任何修改"


def _format_of(name: str):
    for key, rule in NAMED_FORMATS:
        if name == key or name.endswith(f"_{key}"):
            return rule
    return None


def _chinese(validator):
    if isinstance(validator, Length) and validator.message is None and validator.max != -1:
        return at_most(validator.max) if validator.min in (-1, 0) else Length(
            min=validator.min, max=validator.max, message=f"应为 {validator.min}–{validator.max} 个字")
    return validator


def _control_chars_first(form, field) -> None:
    """NUL and other control characters stop the field's checks: PostgreSQL refuses them even in a SELECT."""
    try:
        no_control_chars(form, field)
    except ValidationError as exc:
        raise StopValidation(exc.args[0]) from None


def field_checks(name: str, field_class: type, column, validators) -> list:
    """The validators of one form field: its own, then what its column implies."""
    out = [_chinese(v) for v in validators or ()]
    column_type = getattr(column, "type", None)
    if issubclass(field_class, StringField):
        out.insert(0, _control_chars_first)  # before any validator that queries with the value
        length = getattr(column_type, "length", None)
        if isinstance(length, int) and not any(isinstance(v, Length) for v in out):
            out.append(at_most(length))
        rule = _format_of(name)
        if rule is not None and not any(hasattr(v, "rule") for v in out):
            out.append(checked(rule))
        out.append(no_control_chars)
    elif issubclass(field_class, DateTimeField):
        if not any(hasattr(v, "past") for v in out):
            out.append(sensible_date(past=name in PAST_DATES))
    elif issubclass(field_class, IntegerField) and isinstance(column_type, Integer):
        out.append(in_range(-INT_MAX - 1, INT_MAX))
    elif issubclass(field_class, DecimalField) and isinstance(column_type, Numeric) and column_type.precision:
        limit = 10 ** (column_type.precision - (column_type.scale or 0))
        out.append(in_range(-limit + 1, limit - 1, f"数值超出允许的范围（整数部分最多 {column_type.precision - (column_type.scale or 0)} 位）"))
    return out


def harden(form_class: type, model) -> type:
    """Add `field_checks` to every field of a scaffolded form class, inline forms included (once)."""
    if form_class.__dict__.get("_hardened"):
        return form_class
    columns = {attr.key: attr.columns[0] for attr in sa_inspect(model).column_attrs}
    for name, unbound in list(vars(form_class).items()):
        if not isinstance(unbound, UnboundField):
            continue
        if issubclass(unbound.field_class, InlineModelFormList) and len(unbound.args) >= 3:
            harden(unbound.args[0], unbound.args[2])  # (form, session, model, …)
        else:
            unbound.kwargs["validators"] = field_checks(name, unbound.field_class, columns.get(name), unbound.kwargs.get("validators"))
    form_class._hardened = True
    return form_class


# -- the database said no ---------------------------------------------------------------------
def _fields_named(form, name: str) -> list:
    """The fields called `name` in a form: its own, else those of its inline rows (项目成员, 经费预算)."""
    if name in form:
        return [form[name]]
    found = []
    for field in form:
        if isinstance(field, FieldList):
            for entry in field.entries:
                if isinstance(entry, FormField) and name in entry.form:
                    found.append(entry.form[name])
    return found


def _offending(form, model) -> Optional[tuple]:
    """For a DataError, which field holds what the column cannot: too long text or control characters."""
    columns = {attr.key: attr.columns[0] for attr in sa_inspect(model).column_attrs} if model is not None else {}
    for field in form:
        data = field.data
        if not isinstance(data, str):
            continue
        if has_control_chars(data):
            return field, constraints.CONTROL_CHARS
        length = getattr(getattr(columns.get(field.name), "type", None), "length", None)
        if isinstance(length, int) and len(data) > length:
            return field, f"最多 {length} 个字"
    return None


def say_refusal(form, exc: BaseException, model=None, deleting: bool = False) -> None:
    """Put the database's refusal, in Chinese, at its field (or above the form); never its raw text."""
    problem = constraints.explain(exc, deleting)
    current_app.logger.warning("保存被数据库拒绝：%s", getattr(exc, "orig", exc))
    target = None
    if form is not None:
        if problem.field:
            candidates = _fields_named(form, problem.field)
            target = candidates[0] if len(candidates) == 1 else None
        elif isinstance(exc, DataError) or problem.message == constraints.CONTROL_CHARS:
            found = _offending(form, model)
            if found:
                target, message = found
                problem = constraints.Problem(target.name, message)
    if target is not None:
        target.errors = [*target.errors, problem.message]
        flash("保存失败，请按提示修改后重新保存", "error")
    else:
        flash(problem.message, "error")


def unique_clashes(session, model, form) -> bool:
    """Check the posted values against the model's UNIQUE constraints; say each clash at its field."""
    obj = getattr(form, "_obj", None)
    table = model.__table__
    pk = sa_inspect(model).primary_key[0]
    clashed = False
    for name, (owner, c) in constraints.constraints().items():
        if owner is not table or not isinstance(c, UniqueConstraint):
            continue
        values = [_posted_or_kept(form, obj, table, column) for column in c.columns]
        if any(v is None for v in values):
            continue  # NULLs never clash; a column the form does not fill is the database's to check
        stmt = select(pk).where(*[column == v for column, v in zip(c.columns, values)]).limit(1)
        if obj is not None:
            stmt = stmt.where(pk != sa_inspect(obj).identity[0])
        with session.no_autoflush:
            if session.scalar(stmt) is None:
                continue
        field, message = constraints.MESSAGES[name]
        targets = _fields_named(form, field)
        if targets:
            targets[0].errors = [*targets[0].errors, message]
        else:
            flash(message, "error")
        clashed = True
    return clashed


def _posted_or_kept(form, obj, table, column):
    field_name, _label, is_relation = constraints.field_of(table, column.name)
    if field_name in form:
        data = form[field_name].data
        if is_relation:
            return getattr(data, next(iter(column.foreign_keys)).column.key, None) if data is not None else None
        return data if data != "" else None
    if obj is not None:
        return getattr(obj, sa_inspect(type(obj)).get_property_by_column(column).key, None)
    return None


def like_pattern(term: str) -> str:
    """Flask-Admin's search term as a LIKE pattern (ESCAPE '\\') with `\\`, `%` and `_` matched as
    typed; `^词` still means 以…开头 and `=词` 等于."""
    if term.startswith("^"):
        return f"{like_literal(term[1:])}%"
    if term.startswith("="):
        return like_literal(term[1:])
    return f"%{like_literal(term)}%"


class ModelChecks:
    """Mixed into ScopedModelView before Flask-Admin's ModelView (see the module docstring)."""

    def scaffold_form(self):
        return harden(super().scaffold_form(), self.model)

    def validate_form(self, form):
        ok = super().validate_form(form)
        if ok and hasattr(form, "_obj"):  # a create or edit form (AdminForm); delete and action forms fill no column
            ok = not unique_clashes(self.session, self.model, form)
        return ok

    def create_model(self, form):
        g.saving = (form, False)
        return super().create_model(form)

    def update_model(self, form, model):
        g.saving = (form, False)
        return super().update_model(form, model)

    def delete_model(self, model):
        g.saving = (None, True)
        return super().delete_model(model)

    def handle_view_exception(self, exc):
        """Flask-Admin's hook of its create, update and delete: a refusal of the database in Chinese."""
        if isinstance(exc, ValidationError):
            return super().handle_view_exception(exc)  # a rule of on_model_change: flashed as it is
        if not isinstance(exc, (SQLAlchemyError, ValueError, OverflowError)):
            if not super().handle_view_exception(exc):  # raises when debugging
                current_app.logger.exception("%s：保存失败", self.endpoint)
                flash(SAVE_FAILED, "error")
            return True
        if not isinstance(exc, (IntegrityError, DataError)):
            current_app.logger.exception("%s：保存失败", self.endpoint)
        form, deleting = g.get("saving", (None, False))
        say_refusal(form, exc, self.model, deleting)
        return True

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Flask-Admin's search (every word in one of the searchable columns), `%` and `_` literal."""
        for term in search.split(" "):
            if not term:
                continue
            pattern = like_pattern(term)
            matches, count_matches = [], []
            for field, path in self._search_fields:
                query, joins, alias = self._apply_path_joins(query, joins, path, inner_join=False)
                column = field if alias is None else getattr(alias, field.key)
                matches.append(cast(column, Unicode).ilike(pattern, escape="\\"))
                if count_query is not None:
                    count_query, count_joins, count_alias = self._apply_path_joins(count_query, count_joins, path, inner_join=False)
                    column = field if count_alias is None else getattr(count_alias, field.key)
                    count_matches.append(cast(column, Unicode).ilike(pattern, escape="\\"))
            query = query.filter(or_(*matches))
            if count_query is not None:
                count_query = count_query.filter(or_(*count_matches))
        return query, count_query, joins, count_joins
