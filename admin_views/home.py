"""首页: per-role to-do counts (待办), each linking to the filtered list where the work is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, select

from extensions import db
from models import Role
from rules import scope

from .base import principal


@dataclass(frozen=True)
class Todo:
    """One to-do card: who sees it, how to count it (inside the scope), and where it links."""

    label: str
    roles: frozenset
    model: type
    where: Callable[[scope.Principal], object]
    endpoint: str
    url_args: dict = field(default_factory=dict)

    def count(self, p: scope.Principal) -> int:
        stmt = select(func.count()).select_from(self.model).where(scope.predicate(p, self.model), self.where(p))
        return db.session.execute(stmt).scalar_one()


TODO_CARDS: list[Todo] = []


def register_todo(todo: Todo) -> None:
    """Add a card once: areas register theirs in `register()`, which runs for every app created."""
    if all(card.label != todo.label for card in TODO_CARDS):
        TODO_CARDS.append(todo)


class HomeView(AdminIndexView):
    def is_visible(self) -> bool:
        return True

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            from flask import redirect, request

            return redirect(url_for("auth.login", next=request.full_path))
        p = principal()
        cards = []
        for todo in TODO_CARDS:
            if p.role in todo.roles:
                try:
                    link = url_for(todo.endpoint, **todo.url_args)
                except Exception:  # the view is not registered in this configuration
                    continue
                cards.append({"label": todo.label, "count": todo.count(p), "url": link})
        return self.render("admin/home.html", cards=cards, role=p.role, user=current_user, Role=Role)
