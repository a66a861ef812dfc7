"""Benchmark (not a test): enterprise statistics, chart data and library pages at 100,000 enterprises × 3 years.

    .venv/bin/python -m bench.bench_enterprises [--count 100000] [--backend sqlite|postgresql|both] [--repeat 3]

SQLite uses a file under /tmp, PostgreSQL the schema bench_ent_<count> in BENCH_DATABASE_URL
(default: the local test database); both are reused when they already hold the data
(--build-only builds them and stops).
Prints the median time of each page, as the city (bureau) and as a district (authority_yb).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET = 1.0

PAGES = [
    "/admin/stats_district_storage/?year=2022",
    "/admin/stats_district_storage/?year=2022&tab=scale",
    "/admin/stats_district_storage/?year=2022&tab=field",
    "/admin/stats_annual/?year=2022&tab=business",
    "/admin/stats_annual/?year=2022&tab=people",
    "/admin/stats_annual/?year=2022&tab=results",
    "/admin/stats_cultivation/?month=2022-05",
    "/admin/voucher_claims/?year=2022",
    "/admin/voucher_claims/?year=2022&tab=field",
    "/admin/voucher_enterprises/?year=2022",
    "/admin/stats_overview/data/",
    "/admin/stats_custom/?year=2022",
    "/admin/enterprise/",
    "/admin/enterprise_review/",
    "/admin/annual_report/",
    "/admin/credit_rating/",
    "/admin/library_incubation/",
    "/admin/library_hitech_reserve/",
    "/admin/library_star_reserve/",
    "/admin/library_leader/",
    "/admin/library_high_growth/",
    "/admin/library_sme_reserve/",
    "/admin/library_tech_enterprise/",
    "/admin/library_hitech_certified/",
    "/admin/library_hitech_reserve/?c_tech_pct=15&c_rd_small=4",
    "/admin/stats_district_storage/export/xlsx/?year=2022",
]


def build(app, count: int) -> None:
    from extensions import db
    from models import Base, Enterprise
    from seed import demo, demo_enterprises

    with app.app_context():
        Base.metadata.create_all(db.engine)
        have = db.session.scalar(select(func.count()).select_from(Enterprise))
        if have >= count:
            print(f"  reusing {have} enterprises")
            return
        t = time.perf_counter()
        demo.seed_demo(db.session)
        ctx = demo.DemoContext(db.session, 0, random.Random(1), "x")
        demo._load_lookups(ctx)
        demo_enterprises.seed_enterprises(ctx, count=count)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        else:
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        n = db.session.scalar(select(func.count()).select_from(Enterprise))
        print(f"  built {n} enterprises in {time.perf_counter() - t:.0f} s")


def measure(app, repeat: int) -> list[tuple[str, str, float, int]]:
    results = []
    for user in ("bureau", "authority_yb"):
        client = app.test_client()
        client.post("/login", data={"username": user, "password": "Demo@12345"})
        for url in PAGES:
            times, status = [], 0
            for _ in range(repeat):
                t = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t)
                status = response.status_code
            results.append((user, url, statistics.median(times), status))
    return results


def run(backend: str, count: int, repeat: int, build_only: bool = False) -> list:
    from app import create_app
    from models.base import scratch_schema_url

    if backend == "sqlite":
        url = f"sqlite:////tmp/bench_enterprises_{count}.db"
    else:
        url = scratch_schema_url(PG_URL, f"bench_ent_{count}")
    print(f"== {backend}: {count} enterprises × 3 years; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs ==", flush=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "TESTING": True})
    build(app, count)
    return [] if build_only else [(backend, *r) for r in measure(app, repeat)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    rows = []
    for backend in backends:
        rows.extend(run(backend, args.count, args.repeat, args.build_only))
    if args.build_only:
        return
    print(f"\n{'backend':<11} {'user':<13} {'seconds':>8}  {'status':>6}  page")
    slow = 0
    for backend, user, url, seconds, status in rows:
        flag = "" if seconds < TARGET and status == 200 else "  <-- over target" if status == 200 else "  <-- error"
        slow += bool(flag)
        print(f"{backend:<11} {user:<13} {seconds:8.3f}  {status:>6}  {url}{flag}")
    print(f"\n{len(rows) - slow} of {len(rows)} pages under {TARGET:.0f} s")


if __name__ == "__main__":
    main()
