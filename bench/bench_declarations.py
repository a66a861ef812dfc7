"""Benchmark of the 申报书 review list and bulk 审核通过 at scale (not a test; prints numbers).

    .venv/bin/python bench/bench_declarations.py --db sqlite --rows 1000000
    .venv/bin/python bench/bench_declarations.py --db postgresql --rows 200000 --reuse

Generates N declarations over 2,000 units (bulk insert: executemany on SQLite, COPY on
PostgreSQL), then reports the median of 20 requests through the Flask test client after
warm-up — first list page, filtered page (状态 + 年度), a search, page 5000 — for a unit
reviewer and for the bureau, each beside the raw SQL the page needs (count + one page: the
lower bound), and the median of 5 bulk 审核通过 of 1,000 rows through the action endpoint.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_i4"
UNITS = 2000
WORDS = "智能 制造 数据 材料 能源 生物 医药 芯片 软件 平台 装备 检测 绿色 低碳 农业 交通 安全 网络 精密 新型".split()
STATUSES = ["approved"] * 30 + ["rejected"] * 10 + ["bureau_review"] * 20 + ["authority_review"] * 10 + \
    ["unit_review"] * 10 + ["dept_review"] * 5 + ["returned"] * 5 + ["draft"] * 10


def database_url(kind: str, rows: int = 1_000_000) -> str:
    """One scratch database per size, shared with bench_export (--endpoint declaration)."""
    if kind == "sqlite":
        return f"sqlite:///{os.environ.get('BENCH_SQLITE', f'/tmp/bench_declarations_{rows}.sqlite')}"
    from models.base import scratch_schema_url

    return scratch_schema_url(PG_URL, f"{SCHEMA}_{rows}")


def build(app, rows: int, reuse: bool) -> None:
    from extensions import db
    from models import Base, Declaration

    with app.app_context():
        engine = db.engine
        if reuse:
            try:
                have = db.session.scalar(select(func.count()).select_from(Declaration))
                if have and have >= rows:
                    print(f"reusing {have:,} declarations")
                    return
            except Exception:
                db.session.rollback()
        print("creating schema …", flush=True)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        from seed.demo import seed_demo

        seed_demo(db.session)
        db.session.commit()
        _units_and_calls(db.session)
        db.session.commit()
        t0 = time.perf_counter()
        _declarations(db.session, engine, rows)
        print(f"inserted {rows:,} declarations in {time.perf_counter() - t0:.1f} s", flush=True)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))


def _units_and_calls(session) -> None:
    from sqlalchemy import insert

    from models import DEFAULT_CHAIN, Call, CallType, Region, Role, Unit, User
    from rules.passwords import hash_password

    regions = [r.id for r in session.scalars(select(Region).where(Region.kind == "district"))]
    session.execute(insert(Unit), [
        {"name": f"基准单位{i:05d}", "region_id": regions[i % len(regions)], "status": "approved", "province_city": "重庆市", "city_scope": "inside"}
        for i in range(UNITS)
    ])
    now = datetime.now()
    for year in range(now.year - 9, now.year + 1):
        session.add(Call(name=f"基准批次{year}", type=CallType.research, year=year, batch="第一批", batch_code="01",
                         opens_at=datetime(year, 1, 1), closes_at=now + timedelta(days=30) if year == now.year else datetime(year, 12, 1),
                         review_chain=list(DEFAULT_CHAIN)))
    first = session.scalar(select(Unit.id).where(Unit.name == "基准单位00000"))
    for username, role in (("bench_unit", Role.unit_admin), ("bench_applicant", Role.applicant)):
        session.add(User(username=username, name=username, role=role, unit_id=first, password_hash=hash_password("Demo@12345")))


def _declarations(session, engine, rows: int) -> None:
    from models import Call, DictItem, Unit, User

    rng = random.Random(7)
    units = list(session.scalars(select(Unit.id).where(Unit.name.like("基准单位%")).order_by(Unit.id)))
    calls = {c.year: c.id for c in session.scalars(select(Call).where(Call.name.like("基准批次%")))}
    applicant = session.scalar(select(User.id).where(User.username == "bench_applicant"))
    years = sorted(calls)
    tech = list(session.scalars(select(DictItem.id).where(DictItem.category == "tech_level")))
    industry = list(session.scalars(select(DictItem.id).where(DictItem.category == "industry_category")))
    cols = ("call_id", "year", "applicant_id", "unit_id", "status", "name", "number", "leader", "leader_phone", "summary",
            "innovation", "tech_level_id", "industry_category_id", "start_month", "end_month", "innovation_mode",
            "new_tech_count", "new_product_count", "new_process_count", "new_tech_desc", "submitted_at", "unit_rank",
            "authority_rank", "created_at", "updated_at")
    stamp = datetime(2025, 6, 1)
    modes = ("own", "absorb", "joint")

    def row(i):
        """Every field of the form filled, as a submitted 申报书 has them (the export benchmark reads 20)."""
        year = years[i % len(years)]
        status = STATUSES[rng.randrange(len(STATUSES))]
        words = f"{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.choice(WORDS)}"
        name = f"{words}关键技术研究{i}"
        number = None if status == "draft" else f"{year}01{i:010d}"
        start = date(year, 1 + i % 12, 1)
        return (calls[year], year, applicant, units[i % len(units)], status, name, number, "张伟", f"138{i % 10**8:08d}",
                f"围绕{words}开展研究，形成可推广的成套技术。", f"突破{words}核心工艺，主要技术指标达到国内先进水平，申请发明专利{i % 5 + 1}项。",
                tech[i % len(tech)] if tech else None, industry[i % len(industry)] if industry else None,
                start, date(year + 2, start.month, 1), modes[i % 3], i % 4, i % 3, i % 2, f"新技术：{words}",
                None if status == "draft" else stamp + timedelta(minutes=i % 100000),
                (i % 50) + 1 if status in ("authority_review", "bureau_review", "approved") else None,
                (i % 30) + 1 if status in ("bureau_review", "approved") else None, stamp, stamp)

    batch = 20000
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY declaration ({', '.join(cols)}) FROM STDIN") as copy:
                for i in range(rows):
                    copy.write_row(row(i))
        else:
            sql = f"INSERT INTO declaration ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            for start in range(0, rows, batch):
                cur.executemany(sql, [row(i) for i in range(start, min(rows, start + batch))])
        raw.commit()
    finally:
        raw.close()


# -- measuring ---------------------------------------------------------------------------------
def median_ms(fn, repeat: int = 20, warmup: int = 3) -> tuple[float, float]:
    """Median wall-clock and median CPU time (this process) in ms: the machine may be shared."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def login(app, username):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": "Demo@12345"})
    assert response.status_code == 302, response.status_code
    return client


def raw_page(session, principal, filters=(), search=None, offset=0):
    """The SQL a list page needs: the count and one page of 20 rows with the shown names."""
    from sqlalchemy import or_

    from models import Call, Declaration, DictItem, Unit
    from rules import scope

    where = [scope.predicate(principal, Declaration), *filters]
    if search:
        where.append(or_(Declaration.name.like(f"%{search}%"), Declaration.number.like(f"%{search}%"), Declaration.leader.like(f"%{search}%")))
    tech = DictItem.__table__.alias("tech")

    def count():
        session.execute(select(func.count()).select_from(Declaration).where(*where)).scalar_one()

    def page():
        session.execute(
            select(Declaration.__table__, Call.name, Unit.name, tech.c.name)
            .outerjoin(Call, Call.id == Declaration.call_id).outerjoin(Unit, Unit.id == Declaration.unit_id)
            .outerjoin(tech, tech.c.id == Declaration.tech_level_id)
            .where(*where).order_by(Declaration.id.desc()).limit(20).offset(offset)
        ).all()

    return count, page


def measure(app, kind: str, rows: int) -> None:
    from extensions import db
    from models import Declaration, Status, User
    from rules import scope

    year = datetime.now().year - 1
    pages = [
        ("首页（第1页）", "", (), None, 0),
        ("筛选 状态+年度", f"?flt0_0=bureau_review&flt1_1={year}", lambda: (Declaration.status == Status.bureau_review, Declaration.year == year), None, 0),
        ("搜索", "?search=芯片平台", (), "芯片平台", 0),
        ("第5000页", "?page=4999", (), None, 99980),
    ]
    print(f"\n== {kind}: {rows:,} declarations over {UNITS:,} units; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs ==")
    print("median of 20 after 3 warm-up; wall / CPU of this process (ms); raw SQL = COUNT(*) and the page query alone")
    print(f"{'who':<11}{'page':<14}{'Flask wall/cpu':>18}{'raw COUNT':>16}{'raw page':>16}")
    # Requests run outside any app context: a shared one would let Flask-Login's `g` cache one
    # client's user for the next client. Raw SQL runs in its own short app context.
    for username in ("bench_unit", "bureau"):
        client = login(app, username)
        with app.app_context():
            principal = scope.Principal.of(db.session.scalars(select(User).where(User.username == username)).one())
        for label, query, filters, search, offset in pages:
            url = "/admin/declaration/" + query

            def get(url=url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            flask_ms = median_ms(get)
            with app.app_context():
                count, page = raw_page(db.session, principal, filters() if callable(filters) else filters, search, offset)
                count_ms, page_ms = median_ms(count), median_ms(page)
                db.session.rollback()
            cell = lambda m: f"{m[0]:.1f}/{m[1]:.1f}"  # noqa: E731
            print(f"{username:<11}{label:<14}{cell(flask_ms):>18}{cell(count_ms):>16}{cell(page_ms):>16}", flush=True)
    bulk_approve(app, db)


def bulk_approve(app, db) -> None:
    from models import Declaration, Status

    client = login(app, "bureau")
    times, cpu = [], []
    for k in range(5):
        with app.app_context():
            ids = list(db.session.scalars(select(Declaration.id).where(Declaration.status == Status.bureau_review).order_by(Declaration.id).limit(1000)))
        data = {"action": "approve", "rowid": [str(i) for i in ids], "reason": "同意立项"}
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.post("/admin/declaration/action/", data=data)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert response.status_code == 302, response.status_code
        with app.app_context():
            done = db.session.scalar(select(func.count()).select_from(Declaration).where(Declaration.id.in_(ids), Declaration.status == Status.approved))
        assert done == len(ids), (done, len(ids))
    print(f"bureau     批量审核通过 1,000 条: median wall {statistics.median(times):.3f} s, CPU {statistics.median(cpu):.3f} s "
          f"(runs: {', '.join(f'{t:.3f}' for t in times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing benchmark database with enough rows")
    parser.add_argument("--build-only", action="store_true", help="build (or keep, with --reuse) the database and stop")
    args = parser.parse_args()
    from app import create_app

    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        # MAX_FORM_PARTS: one POST carries 1,000 rowids here (the list pages post at most 100).
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(kind, args.rows), "WTF_CSRF_ENABLED": False, "TESTING": True, "MAX_FORM_PARTS": 5000})
        build(app, args.rows, args.reuse)
        if not args.build_only:
            measure(app, kind, args.rows)


if __name__ == "__main__":
    main()
