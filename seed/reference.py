"""Load the reference files (regions, dictionaries) idempotently: upsert by natural key."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import DictItem, Region, RegionKind

HERE = Path(__file__).resolve().parent


def _rows(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_regions(session: Session) -> int:
    existing = {r.code: r for r in session.scalars(select(Region))}
    changed = 0
    for sort, row in enumerate(_rows("regions.csv"), start=1):
        values = {
            "name": row["name"],
            "kind": RegionKind(row["kind"]),
            "in_liangjiang": row["in_liangjiang"] == "1",
            "in_gaoxin": row["in_gaoxin"] == "1",
            "in_jingkai": row["in_jingkai"] == "1",
            "in_city_hitech": row["in_city_hitech"] == "1",
            "sort": sort,
        }
        region = existing.get(row["code"])
        if region is None:
            session.add(Region(code=row["code"], **values))
            changed += 1
        elif any(getattr(region, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(region, k, v)
            changed += 1
    return changed


def load_dictionaries(session: Session) -> int:
    existing = {(d.category, d.code): d for d in session.scalars(select(DictItem))}
    changed = 0
    for row in _rows("dictionaries.csv"):
        key = (row["category"], row["code"])
        item = existing.get(key)
        if item is None:
            session.add(DictItem(category=row["category"], code=row["code"], name=row["name"], sort=int(row["sort"])))
            changed += 1
        elif item.name != row["name"] or item.sort != int(row["sort"]):
            item.name, item.sort = row["name"], int(row["sort"])
            changed += 1
    return changed


def load_reference(session: Session) -> int:
    changed = load_regions(session) + load_dictionaries(session)
    session.flush()
    return changed
