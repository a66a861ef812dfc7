"""The whole surface, walked as each demo account and as an anonymous visitor, then replayed with
hostile input: never a 5xx, never English on the screen (issue 11).

The oracle is independent of the views: the status code, and a list of English interface words
(tests/crawler.py) looked for in the text the page shows.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from models import LabeledEnum, User
from tests.conftest import DEMO_ACCOUNTS
from tests.crawler import HUGE, LONG, NUL, ODD_VALUES, PAGE_ARGS, Crawler, report

import models


def _enum_codes() -> set[str]:
    codes = set()
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, LabeledEnum) and obj is not LabeledEnum:
            codes |= {m.value for m in obj if "_" in m.value or len(m.value) > 4}
    return codes


@pytest.fixture
def words(app, db_session):
    """Words that are data the demo seeds (usernames, e-mail addresses), not interface text."""
    data = set()
    for username, email in db_session.execute(select(User.username, User.email)):
        for part in re.findall(r"[A-Za-z][A-Za-z\-]*", f"{username} {email or ''}"):
            data.add(part.lower())
    return data


def _crawler(client, account, words) -> Crawler:
    return Crawler(client, account, words, _enum_codes() - words)


def _admin_views(app):
    return [v for admin in app.extensions["admin"] for v in admin._views]


def _get_routes(app) -> list:
    """Every GET route of the app without path arguments, and the ones with an int id (given `{id}`)."""
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = rule.rule
        if rule.arguments:
            path = re.sub(r"<int:[a-z_]+>", "{id}", path)
            if "<" in path:
                path = re.sub(r"<[a-z_]+>", "{name}", path)
        out.append((rule.endpoint, path))
    return sorted(out, key=lambda r: r[1])


def _walk(crawler: Crawler, limit: int = 400) -> None:
    """Breadth-first from the home page: each path with each set of argument names once."""
    queue, seen = ["/admin/"], set()
    while queue and len(seen) < limit:
        url = queue.pop(0)
        parts = urlsplit(url)
        key = (parts.path, tuple(sorted(re.findall(r"([a-z_0-9]+)=", parts.query))))
        if key in seen:
            continue
        seen.add(key)
        response = crawler.get(url)
        if response is not None and response.status_code == 200 and response.mimetype == "text/html":
            queue.extend(crawler.links(response.get_data(as_text=True)))
    crawler.seen = {k[0] for k in seen}


@pytest.mark.parametrize("account", DEMO_ACCOUNTS)
def test_every_page_an_account_reaches(app, client_as, words, account):
    crawler = _crawler(client_as(account), account, words)
    _walk(crawler)
    assert len(crawler.seen) >= 3, crawler.seen  # the walk really went somewhere
    report(crawler)


def _filter_args(view) -> list[str]:
    return [f"flt0_{key}" for key in (getattr(view, "_filter_args", None) or {})]


REPLAYED = ("sysadmin", "bureau", "authority_yb", "unit_cqu", "applicant_zhang", "unit_ent")


@pytest.mark.parametrize("account", REPLAYED)
def test_hostile_parameters_on_every_page(app, client_as, words, account):
    client = client_as(account)
    crawler = _crawler(client, account, words)
    views = {v.endpoint: v for v in _admin_views(app)}
    for endpoint, path in _get_routes(app):
        blueprint = endpoint.split(".")[0]
        if endpoint.endswith(("ajax_lookup", "ajax_update")):
            for name in ("x", NUL):
                crawler.get(path, {"name": name, "query": NUL, "limit": HUGE}, check_english=False)
            continue
        if "{id}" in path:
            for odd in (HUGE, "0"):
                crawler.get(path.replace("{id}", odd))
            continue
        if "{name}" in path:
            crawler.get(path.replace("{name}", "xlsx" if "export" in path else "x"))
            crawler.get(path.replace("{name}", NUL))
            continue
        first = crawler.get(path)
        if first is None or first.status_code != 200:
            # details and edit pages (which need an `id`), or not this account's page
            for _case, value in ODD_VALUES:
                crawler.get(path, {"id": value})
            continue
        # each odd value in every argument at once, then in every filter at once (an invalid filter
        # is dropped with a notice, so one bad filter cannot hide behind another)
        view = views.get(blueprint)
        library = [f"c_{p.key}" for p in getattr(getattr(view, "library", None), "params", ())]  # 条件参数
        for _case, value in ODD_VALUES:
            crawler.get(path, {arg: value for arg in (*PAGE_ARGS, *library)})
            filters = _filter_args(views.get(blueprint))
            if filters:
                crawler.get(path, {arg: value for arg in filters})
    assert crawler.requests > 100
    report(crawler)


PUBLIC = ("auth.login", "root", "auth.logout", "signup.choose", "signup.agreement", "signup.agreement_text", "signup.unit_search", "signup.done",
          "recovery.forgot")


def test_anonymous_visitor_meets_the_login_page_only(app, anon, words):
    crawler = _crawler(anon, "anonymous", words)
    for endpoint, path in _get_routes(app):
        url = path.replace("{id}", HUGE).replace("{name}", "xlsx")
        for _case, value in ODD_VALUES:
            response = crawler.get(url, {"id": value, "page": value, "search": value, "next": value})
            if response is not None and endpoint not in PUBLIC and response.status_code not in (302, 404):
                crawler._record(url, "status", f"anonymous got {response.status_code}")
    for _case, value in ODD_VALUES:
        crawler.post("/login", {"username": value, "password": value})
        for kind in ("user", "unit"):  # through the 用户协议, as a visitor gets there
            page = anon.get(f"/register/{kind}/agreement").get_data(as_text=True)
            anon.post(f"/register/{kind}/agreement", data={"agree": "y", "csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)})
            form = anon.get(f"/register/{kind}").get_data(as_text=True)
            fields = {name: value for name in _form_fields(form)}
            fields["csrf_token"] = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
            crawler.post(f"/register/{kind}", fields)
    report(crawler)


def _form_fields(html: str) -> dict[str, str]:
    """The text fields of the first POST form on a page, by name (select, hidden and file inputs aside)."""
    form = re.search(r'<form[^>]*method="POST"[^>]*>(.*?)</form>', html, re.S | re.I)
    if not form:
        return {}
    fields = {}
    for tag, attrs in re.findall(r"<(input|textarea)\b([^>]*)>", form.group(1)):
        name = re.search(r'name="([^"]+)"', attrs)
        kind = re.search(r'type="([^"]+)"', attrs)
        if name and (tag == "textarea" or not kind or kind.group(1) in ("text", "number", "email", "tel", "date", "datetime-local", "month", "url")):
            fields[name.group(1)] = ""
    return fields


@pytest.mark.parametrize("account", ("sysadmin", "bureau", "unit_cqu", "applicant_zhang", "unit_ent", "authority_yb"))
def test_forms_take_nul_and_over_long_text(app, client_as, words, account):
    """Every create and edit form the account opens, posted with NUL bytes and then with 5,000
    characters in each text field: a Chinese message, never a 5xx."""
    client = client_as(account)
    crawler = _crawler(client, account, words)
    _walk(crawler, limit=250)
    forms = sorted(p for p in crawler.seen if p.endswith(("/new/", "/edit/")) or p in ("/change-password", "/admin/unit_authorization/"))
    for path in forms:
        for url in _form_urls(crawler, path):
            page = client.get(url)
            if page.status_code != 200:
                continue
            fields = _form_fields(page.get_data(as_text=True))
            for value in (NUL, LONG, HUGE):
                crawler.post(url, {**{k: value for k in fields}, "csrf_token": client.csrf_token})
    report(crawler)


def _form_urls(crawler: Crawler, path: str) -> list[str]:
    if not path.endswith("/edit/"):
        return [path]
    listing = crawler.client.get(path[: -len("edit/")])
    ids = re.findall(r'name="rowid" value="(\d+)"', listing.get_data(as_text=True)) if listing.status_code == 200 else []
    return [f"{path}?id={ids[0]}"] if ids else []
