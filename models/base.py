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
