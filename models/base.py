"""Declarative base, shared column helpers and Chinese-labelled enums for every model."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum as SAEnum, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def built_on(obj, dialect: str) -> bool:
    """Alembic's include_object: skip what `.ddl_if(dialect=...)` keeps off this dialect (the
    PostgreSQL-only trigram index) — autogenerate does not read ddl_if itself."""
    only = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
    return only is None or only == dialect or (isinstance(only, (tuple, list)) and dialect in only)


def scratch_schema_url(url: str, schema: str) -> str:
    """A fresh PostgreSQL schema for a test run or a benchmark, and `url` pointing into it.

    Extensions (pg_trgm for the search indexes) live in `public`, once per database, so the
    search path is the schema first, then public."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url)
    with engine.begin() as conn:  # an unreachable server fails here; nobody skips it
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    engine.dispose()
    parsed = make_url(url)
    return parsed.set(query={**parsed.query, "options": f"-csearch_path={schema},public"}).render_as_string(hide_password=False)


class LabeledEnum(enum.Enum):
    """An enum whose value is a stable code and whose `label` is the Chinese text users see."""

    def __new__(cls, code: str, label: str):
        obj = object.__new__(cls)
        obj._value_ = code
        obj.label = label
        return obj

    def __str__(self) -> str:
        return self.label

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


def enum_column(enum_cls: type[LabeledEnum], name: str) -> SAEnum:
    """A VARCHAR column with a CHECK constraint listing the codes, the same on SQLite and PostgreSQL."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def label(text: str, **extra) -> dict:
    """Column `info` carrying the Chinese label the admin and the exports show."""
    return {"label": text, **extra}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), default=datetime.now, info=label("创建时间")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime,
        server_default=func.now(),
        default=datetime.now,
        onupdate=datetime.now,
        info=label("更新时间"),
    )
