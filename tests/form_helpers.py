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
