"""A call's own fields (自定义字段, rules/form_fields.py) on the 申报书 form: WTForms fields built
from the definitions, filled from and written back to `Declaration.extra`.

Saving checks each value's type and the limits a value can break at any time (a number or date
outside its range, a text longer than its maximum); what only 提交 requires (必填, a minimum
length) is checked by rules.workflow.submission_problems, as for the fixed fields.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError

from models import DictItem
from rules import form_fields

PREFIX = "x_"


def field_name(key: str) -> str:
    return PREFIX + key


class _Marked:
    """No check at save, only the red * of a field 提交 requires (admin/_form.html reads the flag;
    not WTForms' `required`, which would become the browser's own check and stop a draft's 保存)."""

    field_flags = {"required_on_submit": True}

    def __call__(self, form, field):
        return None


class _Checked:
    """The value parses as its type, and a bound a saved value may not break (see the module)."""

    def __init__(self, defn: Mapping, dict_ids: Optional[set]):
        self.defn, self.dict_ids = defn, dict_ids

    def __call__(self, form, field):
        value, error = form_fields.parse(self.defn, field.data, self.dict_ids)
        if error:
            raise ValidationError(error)
        if value is None:
            return
        defn = dict(self.defn, required=False)
        if defn["type"] in ("text", "textarea"):
            defn["min"] = None  # a draft may be short; 提交 asks for the minimum
        problems = form_fields.problems([defn], {defn["key"]: value})
        if problems:
            raise ValidationError(problems[0].message)


def dict_choices(session, categories: set[str]) -> dict[str, list[tuple[int, str]]]:
    if not categories:
        return {}
    rows = session.execute(
        select(DictItem.category, DictItem.id, DictItem.name)
        .where(DictItem.category.in_(sorted(categories)), DictItem.active.is_(True))
        .order_by(DictItem.category, DictItem.sort, DictItem.id)
    )
    out: dict[str, list[tuple[int, str]]] = {}
    for category, item_id, name in rows:
        out.setdefault(category, []).append((item_id, name))
    return out


def dict_names(session, defs: Sequence[Mapping], values: Optional[Mapping]) -> dict[int, str]:
    """Names of the dict items the values of select fields point at (also inactive ones)."""
    ids = [v for d in defs if d["type"] == "select" for v in [(values or {}).get(d["key"])] if isinstance(v, int)]
    if not ids:
        return {}
    return dict(session.execute(select(DictItem.id, DictItem.name).where(DictItem.id.in_(ids))).all())


def form_fields_for(session, defs: Sequence[Mapping]) -> dict:
    """The WTForms fields (name → unbound field) of the definitions; file fields have none (their
    files are uploaded on the details page, as the other attachments)."""
    choices = dict_choices(session, {d["dict"] for d in defs if d["type"] == "select" and d.get("dict")})
    fields = {}
    for d in defs:
        kind = d["type"]
        if kind == "file":
            continue
        validators = [_Checked(d, {i for i, _ in choices.get(d.get("dict"), [])} if kind == "select" else None)]
        if d.get("required"):
            validators.append(_Marked())
        render = {}
        if kind in ("text", "textarea"):
            render["maxlength"] = d.get("max") or form_fields.TEXT_MAX[kind]
            if d.get("min"):
                render["data-minlength"] = d["min"]
        if kind == "textarea":
            render["rows"] = 4
        if kind == "number":
            render["inputmode"] = "decimal"
        if kind in ("date", "month"):
            render["type"] = kind
            for bound in ("min", "max"):
                if d.get(bound):
                    render[bound] = d[bound]
        options = dict(label=d["label"], description=d.get("help") or "", validators=validators, render_kw=render)
        if kind == "textarea":
            fields[field_name(d["key"])] = TextAreaField(**options)
        elif kind == "select":
            fields[field_name(d["key"])] = SelectField(
                choices=[("", "请选择")] + [(str(i), n) for i, n in choices.get(d.get("dict"), [])], validate_choice=False, **options)
        elif kind == "bool":
            fields[field_name(d["key"])] = SelectField(choices=[("", "请选择"), ("1", "是"), ("0", "否")], validate_choice=False, **options)
        else:
            fields[field_name(d["key"])] = StringField(**options)
    return fields


def fill(form, defs: Sequence[Mapping], values: Optional[Mapping]) -> None:
    """Stored values into the form's fields (a GET of the edit page)."""
    for d in defs:
        name = field_name(d["key"])
        if name not in form._fields:
            continue
        value = (values or {}).get(d["key"])
        if value is None:
            form[name].data = ""
        elif d["type"] == "bool":
            form[name].data = "1" if value else "0"
        else:
            form[name].data = str(value)


def collect(form, defs: Sequence[Mapping], stored: Optional[Mapping]) -> dict:
    """The values of the posted form (already validated) merged over the stored ones: values of
    fields the call has dropped since, and of file fields, are kept."""
    values = dict(stored or {})
    for d in defs:
        name = field_name(d["key"])
        if name not in form._fields:
            continue
        value, _error = form_fields.parse(d, form[name].data)
        if value is None:
            values.pop(d["key"], None)
        else:
            values[d["key"]] = value
    return values


def tabs_with(tabs: Sequence[tuple[str, Sequence[str]]], defs: Sequence[Mapping]) -> list[tuple[str, tuple]]:
    """The form's tabs with the custom fields added to the tab each names (其他信息 when new)."""
    out = [(title, list(names)) for title, names in tabs]
    for d in defs:
        if d["type"] == "file":
            continue
        title = d.get("tab") or form_fields.DEFAULT_TAB
        target = next((names for t, names in out if t == title), None)
        if target is None:
            target = []
            out.append((title, target))
        target.append(field_name(d["key"]))
    return [(title, tuple(names)) for title, names in out]
