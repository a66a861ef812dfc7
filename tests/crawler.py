"""A crawler over the whole back office: every page an account can reach, then each one replayed with
hostile parameters. It records what a user must never meet: a 5xx (or an exception) and English
words on the screen. The tests in test_crawler.py decide what to assert.
"""
from __future__ import annotations

import json
import os
import re
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

HUGE = str(2**63)  # one past the largest BIGINT
NUL = "a\x00b"
LONG = "字" * 5000

# (case, value) tried in every integer-ish and text argument; `²` passes str.isdigit().
ODD_VALUES = (
    ("huge", HUGE),
    ("negative", "-1"),
    ("text", "x"),
    ("superscript", "²"),
    ("nul", NUL),
    ("long", LONG),
    ("like", "%_"),
)

# Arguments the pages read (Flask-Admin's and the app's own), each tried with every odd value.
PAGE_ARGS = ("page", "page_size", "sort", "desc", "search", "id", "year", "region", "first_year", "month",
             "tab", "call_id", "founded_from", "founded_to", "f", "edit", "next", "url")

# English a user could meet in the interface. Data the demo seeds itself (usernames, e-mail
# addresses) is not interface text; the crawler strips those before looking.
ENGLISH_UI = {
    "save", "cancel", "delete", "edit", "create", "list", "filter", "filters", "search", "add", "apply",
    "items", "item", "record", "records", "failed", "valid", "invalid", "choice", "required", "please",
    "select", "submit", "next", "previous", "prev", "home", "actions", "action", "export", "import",
    "view", "details", "name", "title", "note", "email", "e-mail", "duty", "sort", "subject", "amount",
    "true", "false", "none", "null", "error", "back", "close", "matches", "found", "csrf",
    "token", "field", "selected", "sure", "continue", "reset", "login", "logout", "password", "username",
    "user", "status", "remove", "new", "yes", "no", "ok", "page", "first", "last", "more", "loading",
    "clear", "today", "month", "year", "week", "date", "time", "from", "to", "of", "and", "or", "is",
    "equals", "contains", "between", "greater", "smaller", "empty", "not", "in", "with", "the", "this",
    "unit", "file", "upload", "download", "forbidden", "method", "allowed",
    "internal", "server", "request", "bad", "entity", "large", "redirecting", "should", "be", "redirected",
}


@dataclass
class Finding:
    account: str
    url: str
    what: str  # "5xx", "exception" or "english"
    detail: str

    def __str__(self) -> str:
        return f"[{self.account}] {self.what} {self.url[:160]!r}: {self.detail[:400]}"


class _Visible(HTMLParser):
    """The text a user sees: element text outside script/style, option labels, titles, placeholders,
    button values and the flash messages."""

    SKIP = {"script", "style", "template", "noscript"}
    SHOWN_ATTRS = ("title", "placeholder", "data-original-title", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # Flask-Admin keeps the blank inline row (添加 项目成员) as escaped HTML in a hidden div
        if tag in self.SKIP or (tag == "div" and "inline-field-template" in (attrs.get("class") or "")):
            self._skip += 1
            self._skip_tag = tag
            return
        for name in self.SHOWN_ATTRS:
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if (tag in self.SKIP or tag == getattr(self, "_skip_tag", None)) and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _is_data(text: str) -> bool:
    """Flask-Admin keeps its filter and confirmation tables as JSON in hidden elements: data, not text."""
    text = text.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(p for p in parser.parts if p.strip() and not _is_data(p))


def english_words(text: str, data_words: set[str]) -> set[str]:
    words = set()
    for raw in re.findall(r"[A-Za-z][A-Za-z\-]*", text):
        word = raw.lower()
        if word in data_words:
            continue
        if word in ENGLISH_UI or "__none" in word:
            words.add(raw)
    if "__None" in text:
        words.add("__None")
    return words


@dataclass
class Crawler:
    client: object
    account: str
    data_words: set[str]
    enum_codes: set[str]
    findings: list[Finding] = field(default_factory=list)
    requests: int = 0
    seen: set[str] = field(default_factory=set)

    def _record(self, url: str, what: str, detail: str) -> None:
        self.findings.append(Finding(self.account, url, what, detail))

    def request(self, method: str, url: str, check_english: bool = True, **kwargs):
        self.requests += 1
        try:
            response = self.client.open(url, method=method, **kwargs)
        except Exception as exc:  # TESTING propagates exceptions: that is a 500 for the user
            tb = traceback.extract_tb(exc.__traceback__)
            where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in tb[-3:])
            self._record(url, "exception", f"{type(exc).__name__}: {exc} @ {where}")
            return None
        if response.status_code >= 500:
            self._record(url, "5xx", str(response.status_code))
        elif check_english and response.mimetype == "text/html" and response.status_code < 300:
            self.check_english(url, response.get_data(as_text=True))
        return response

    def get(self, url: str, params: dict | None = None, **kwargs):
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, doseq=True)}"
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: dict, **kwargs):
        return self.request("POST", url, data=data, **kwargs)

    def check_english(self, url: str, html: str) -> None:
        text = visible_text(html)
        found = english_words(text, self.data_words)
        found |= {w for w in re.findall(r"[a-z][a-z_]+", text) if w in self.enum_codes and w not in self.data_words}
        if not re.search(r'<html[^>]*lang="zh-CN"', html):
            found.add('<html lang≠"zh-CN">')
        if found:
            self._record(url, "english", ", ".join(sorted(found)))

    # -- walking -----------------------------------------------------------------------------
    def links(self, html: str) -> list[str]:
        out = []
        for href in re.findall(r'href="([^"#]+)"', html):
            href = href.replace("&amp;", "&")
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/admin") or "/static/" in parts.path:
                continue
            if any(s in parts.path for s in ("/export/", "/download/file/", "/template/", "/logout")):
                continue
            out.append(href)
        return out


def report(crawler: "Crawler") -> None:
    """Fail with the findings; CRAWL_REPORT=<file> also appends them there as JSON lines."""
    if os.environ.get("CRAWL_REPORT") and crawler.findings:
        with open(os.environ["CRAWL_REPORT"], "a") as out:
            for f in crawler.findings:
                out.write(json.dumps(f.__dict__ if isinstance(f, Finding) else {"detail": str(f)}, ensure_ascii=False) + "\n")
    assert not crawler.findings, f"{len(crawler.findings)} of {crawler.requests} requests:\n" + "\n".join(map(str, crawler.findings[:40]))
