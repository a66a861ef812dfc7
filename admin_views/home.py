"""首页: per-role to-do counts (待办), each linking to the filtered list where the work is.

The cards are declared in rules/permissions.py (TODOS) and derived from the transition tables:
who sees a card, which states it counts and which rows are the user's to decide.
"""
from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from extensions import db
from models import Role
from rules import permissions, scope, transitions

from .base import principal


def view_of(endpoint: str):
    for admin in current_app.extensions.get("admin", []):
        for view in admin._views:
            if view.endpoint == endpoint:
                return view
    return None


def cards_for(p: scope.Principal) -> list[dict]:
    cards = []
    for todo, machine, states in permissions.todo_cards(p):
        view = view_of(todo.endpoint)
        if view is None:
            continue
        state = next(iter(states)) if len(states) == 1 else None
        filters = {name: (state.value if value == "{state}" else value) for name, value in todo.filters.items()}
        where = transitions.waiting_for(machine, todo.action, p, states)
        count = db.session.execute(
            select(func.count()).select_from(machine.model).where(scope.predicate(p, machine.model), where, *_base(view))
        ).scalar_one()
        label = todo.label.replace("{state}", state.label if state is not None else "")
        cards.append({"label": label, "count": count, "url": view.filter_url(**filters)})
    return cards


def _base(view) -> tuple:
    extra = view.base_filter() if hasattr(view, "base_filter") else None
    return () if extra is None else (extra,)


class HomeView(AdminIndexView):
    def is_visible(self) -> bool:
        return True

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        p = principal()
        return self.render("admin/home.html", cards=cards_for(p), role=p.role, user=current_user, Role=Role)
