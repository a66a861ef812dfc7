"""Benchmark (not a test): Excel import of 科技型企业 (or 单位信息) on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_import [--rows 100000] [--db sqlite] [--db postgres] [--model enterprise|unit]

For each database it builds a fresh scratch database (a file under /tmp, or the PostgreSQL schema
bench_import in BENCH_PG_URL) holding the demo world, writes an N-row file as Excel saves one
(xlsxwriter: shared strings, real date cells; under /tmp), then runs each step in
its own child process, so that peak memory is that step's own (VmHWM − RSS before the step):

  dry run     read_sheet + make_plan: parse, validate, compare with the database; writes nothing
  import      make_plan + apply_plan + commit, one transaction (every row audited, as the CLI does)
  re-import   dry run of the same file once it is in: every row found unchanged

The steps run in this order on the same database; the import page and the CLI run the same code.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.memory import reset_peak, rss_kb  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_import"
STEPS = ("dry run", "import", "re-import")






# -- the file -------------------------------------------------------------------------------
def _reference() -> tuple[list[tuple[str, str]], list[str], dict[str, list[str]]]:
    """Districts (code, name), zone names and dictionary names, from the seed's own csv files."""
    with open(ROOT / "seed" / "regions.csv", encoding="utf-8") as fh:
        regions = list(csv.DictReader(fh))
    with open(ROOT / "seed" / "dictionaries.csv", encoding="utf-8") as fh:
        names: dict[str, list[str]] = {}
        for item in csv.DictReader(fh):
            names.setdefault(item["category"], []).append(item["name"])
    districts = [(r["code"], r["name"]) for r in regions if r["kind"] == "district"]
    return districts, [r["name"] for r in regions if r["kind"] == "zone"], names


def enterprise_rows(rows: int):
    from seed.demo import make_uscc

    districts, zones, names = _reference()
    for i in range(rows):
        code, district = districts[i % len(districts)]
        yield [
            f"导入测试{district}{i:06d}科技有限公司", make_uscc(8_000_000 + i, "91", code), district,
            zones[i % len(zones)] if i % 5 == 0 else None, date(2000, 1, 1) + timedelta(days=i % 8000), 100 + i % 5000,
            "王测试", f"重庆市{district}测试路{i % 900 + 1}号", names["industry"][i % len(names["industry"])],
            names["industry_category"][i % len(names["industry_category"])], names["enterprise_scale"][i % len(names["enterprise_scale"])],
            names["hitech_field"][i % len(names["hitech_field"])], "李科研", f"136{i:08d}", "技术开发、技术服务及相关产品的生产销售",
            round(1000 + (i * 37.17) % 90000, 2), "是" if i % 4 == 0 else "否",
        ]


def unit_rows(rows: int):
    """The same rows as bench_export's unit file."""
    from seed.demo import make_uscc

    for i in range(rows):
        yield [f"导入测试单位{i:06d}", make_uscc(5_000_000 + i, "91", "500112"), "渝北区", f"重庆市渝北区测试路{i}号", "401120",
               date(2010, 1, 1) + timedelta(days=i % 4000), 1000 + i % 500, 500, "有限责任公司", "非公有制经济", "第二产业",
               "王测试", "李联系", f"138{i:08d}", "023-67000000", f"u{i}@example.cn", "中国工商银行重庆分行", f"31000{i:010d}", "102653000013"]


ROWS = {"enterprise": enterprise_rows, "unit": unit_rows}


def write_file(path: Path, model: str, rows: int) -> None:
    """An import file as Excel saves one: shared strings, dates as date cells, numbers as numbers."""
    import xlsxwriter

    from rules.importing import SPECS

    spec = SPECS[model]
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(spec.title)
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, spec.headers)
    for r, row in enumerate(ROWS[model](rows), start=1):
        assert len(row) == len(spec.headers)
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, date):
                ws.write_datetime(r, c, v, day)
            elif isinstance(v, str):
                ws.write_string(r, c, v)
            else:
                ws.write_number(r, c, v)
    wb.close()


# -- the database -----------------------------------------------------------------------------
def make_app(url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url})


def fresh_database(kind: str, model: str, rows: int) -> str:
    """An empty scratch database with the demo world, as bench_export's `prepare` builds it."""
    from sqlalchemy import create_engine, text

    from extensions import db
    from models import Base
    from models.base import scratch_schema_url
    from seed.demo import seed_demo

    if kind == "sqlite":
        path = Path(f"/tmp/bench_import_{model}_{rows}.db")
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        engine.dispose()
        url = scratch_schema_url(PG_URL, SCHEMA)
    app = make_app(url)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        seed_demo(db.session, password_hash="x")
        db.session.commit()
        db.engine.dispose()
    return url


# -- one step (runs in its own process) --------------------------------------------------------
def measure(step: str, url: str, model: str, path: Path) -> dict:
    from extensions import db
    from rules import audit
    from rules.importing import SPECS, apply_plan, make_plan, read_sheet

    import openpyxl  # noqa: F401  (loaded once per worker, not per import)

    spec = SPECS[model]
    app = make_app(url)
    with app.app_context():
        db.session.execute(db.select(1))  # connect before measuring
        reset_peak()
        base = rss_kb()
        started = time.perf_counter()
        with open(path, "rb") as fh:
            plan = make_plan(db.session, spec, read_sheet(fh, spec, 1 << 31, 10_000_000))
        result = {"rows": plan.rows, "plan_seconds": time.perf_counter() - started, "summary": plan.summary(), "errors": len(plan.errors)}
        if step == "import" and plan.ok:
            applying = time.perf_counter()
            with audit.acting_as(audit.Actor(username="bench")):
                apply_plan(db.session, plan)
                db.session.commit()
            result["apply_seconds"] = time.perf_counter() - applying
        else:
            db.session.rollback()
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = (rss_kb("VmHWM") - base) / 1024
    return result


def run(step: str, url: str, model: str, path: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_import", "--child", step, "--url", url, "--model", model, "--file", str(path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(step: str, r: dict) -> str:
    if "error" in r:
        return f"  {step:10s} FAILED: {r['error']}"
    split = f"  (plan {r['plan_seconds']:.1f} s + apply {r['apply_seconds']:.1f} s)" if "apply_seconds" in r else ""
    rate = r["rows"] / r["seconds"] if r["seconds"] else 0
    return (f"  {step:10s} {r['rows']:>9,} rows  {r['seconds']:7.1f} s  {rate:>8,.0f} rows/s  peak +{r['peak_mb']:6.1f} MB"
            f"{split}  [{r['summary']}, errors {r['errors']}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--model", choices=sorted(ROWS), default="enterprise")
    parser.add_argument("--child", choices=STEPS)
    parser.add_argument("--url")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.url, args.model, Path(args.file))))
        return
    path = Path(f"/tmp/bench_import_{args.model}_{args.rows}.xlsx")
    started = time.perf_counter()
    write_file(path, args.model, args.rows)  # anew each time: the spec's columns may have changed
    print(f"wrote {path} ({path.stat().st_size / 1048576:.1f} MB) in {time.perf_counter() - started:.1f} s", flush=True)
    for kind in args.db or ["sqlite"]:
        print(f"== {kind}, {args.rows:,} rows of {args.model}", flush=True)
        url = fresh_database(kind, args.model, args.rows)
        for step in STEPS:
            print(report(step, run(step, url, args.model, path)), flush=True)


if __name__ == "__main__":
    main()
