"""Read an HTML form back into post data, the way a browser would submit it unchanged."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlalchemy import select


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select = None
        self._select_first = None
        self._select_chosen = False
        self._option_value = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button", "file"):
                return
            self.data.setdefault(name, []).append(a.get("value") or ("y" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.data.setdefault(self._select, []).append(value)
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            if not self._select_chosen:
                self.data.setdefault(self._select, []).append(self._select_first or "")
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                self.data[self._textarea][0] = self.data[self._textarea][0].lstrip("\n")
            self._textarea = None


def form_data(html: str) -> dict:
    """The fields of the page's main form (the first with a CSRF token that is not an action form)."""
    forms = re.findall(r"<form[^>]*>.*?</form>", html, re.S)
    body = next((f for f in forms if "csrf_token" in f and "/action/" not in f.split(">", 1)[0]), forms[0] if forms else html)
    parser = _FormParser()
    parser.feed(body)
    return {k: (v if len(v) > 1 else v[0]) for k, v in parser.data.items()}


def edit(client, url: str, **changes):
    """GET an edit page, change some fields, POST it back; returns the response."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = form_data(page.get_data(as_text=True))
    data.update(changes)
    return client.post(url, data=data)


def scalar(session, stmt):
    session.expire_all()
    return session.scalar(stmt)


def row(session, model, **where):
    session.expire_all()
    stmt = select(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.scalars(stmt).first()


def field_errors(response) -> list[str]:
    """The error texts shown next to fields (Flask-Admin's list items and our own feedback divs)."""
    html = response.get_data(as_text=True)
    texts = []
    for block in re.findall(r'class="invalid-feedback[^"]*"[^>]*>(.*?)</div>', html, re.S):
        items = re.findall(r"<li>\s*(.*?)\s*</li>", block, re.S)
        texts += items or [re.sub(r"<[^>]+>", "", block).strip()]
    return [t for t in texts if t]


class _FieldGroups(HTMLParser):
    """Which form-group each named input sits in, and the invalid-feedback texts of each group."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[bool, int]] = []  # open divs: (is a form-group, its number)
        self.groups = 0
        self.where: dict[str, int] = {}
        self.errors: dict[int, list[str]] = {}
        self._feedback = 0  # depth inside an invalid-feedback element

    def _group(self):
        return next((n for is_group, n in reversed(self.stack) if is_group), None)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div":
            is_group = "form-group" in classes
            self.groups += is_group
            self.stack.append((is_group, self.groups))
            if self._feedback:
                self._feedback += 1
            elif "invalid-feedback" in classes:
                self._feedback = 1
                self.errors.setdefault(self._group(), []).append("")
        elif tag in ("input", "select", "textarea") and a.get("name"):
            self.where.setdefault(a["name"], self._group())

    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()
            if self._feedback:
                self._feedback -= 1

    def handle_data(self, data):
        if self._feedback:
            self.errors[self._group()][-1] += data


def errors_at(html: str, name: str) -> list[str]:
    """The error texts shown in the form-group of the input called `name` (its invalid-feedback)."""
    parser = _FieldGroups()
    parser.feed(html)
    group = parser.where.get(name)
    assert group is not None, f"no input named {name!r} inside a form-group"
    return [" ".join(t.split()) for t in parser.errors.get(group, []) if t.strip()]


def sql(db_session, query: str, **params):
    """Plain SQL, the oracle beside the code under test (after what the requests committed)."""
    from sqlalchemy import text

    db_session.rollback()  # see what the requests committed
    return db_session.execute(text(query), params).all()


def one(db_session, query: str, **params):
    rows = sql(db_session, query, **params)
    return rows[0][0] if rows else None
