"""Benchmark (not a test): 导出Excel of 申报书 rows through the app's own export code, beside csv
and xlsxwriter, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_export --rows 100000 1000000 --db sqlite --db postgres

The rows are bench_declarations' scratch databases (one per size: every form field filled, 2,000
units, built there and reused here). Every measurement runs in its own process so that peak memory
is that run's own: VmHWM (peak RSS, reset just before) minus the RSS right before the export.

  ours        the view's scoped list query → ordered ids → 1,000-row chunks → rules.exporting writer
  csv         the same rows (same query and value code) into csv.writer — the lower bound
  xlsxwriter  the same rows into xlsxwriter's constant_memory mode (write_string/number/datetime)
  writer-*    the three writers alone over rows already in memory (the first 100,000 rows)

Import is measured by bench/bench_import.py.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# 20 of the 申报书 export columns: text, numbers, dates, times, codes shown as labels, related names.
DECLARATION_COLUMNS = [
    "number", "call", "year", "unit", "status", "name", "leader", "leader_phone", "summary", "tech_level",
    "industry_category", "start_month", "end_month", "innovation_mode", "new_tech_count", "new_product_count",
    "new_process_count", "submitted_at", "unit_rank", "authority_rank",
]
from bench.memory import reset_peak, rss_kb  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")




# -- database set-up -------------------------------------------------------------------------
def database_url(kind: str, rows: int) -> str:
    from bench.bench_declarations import database_url as declarations_url

    return declarations_url("postgresql" if kind == "postgres" else kind, rows)


def make_app(url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "EXPORT_DIR": "/tmp/bench_exports"})


def prepare(url: str, rows: int) -> None:
    """bench_declarations' database of `rows` 申报书 (built once, reused)."""
    from bench.bench_declarations import build

    build(make_app(url), rows, reuse=True)


# -- one measurement (runs in its own process) ---------------------------------------------
def _context(app, endpoint):
    from flask import g
    from sqlalchemy import select

    from admin_views.downloads import find_view
    from extensions import db
    from models import User

    ctx = app.test_request_context(f"/admin/{endpoint}/export/xlsx/")
    ctx.push()
    g._login_user = db.session.scalar(select(User).where(User.username == "bureau"))
    return find_view(app, endpoint)


def xlsxwriter_write(path, headers, rows) -> int:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("export")
    bold = wb.add_format({"bold": True})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    moment = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws.write_row(0, 0, headers, bold)
    n = 0
    for n, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v is None:
                continue
            t = type(v)
            if t is str:
                ws.write_string(n, c, v)
            elif t is datetime:
                ws.write_datetime(n, c, v, moment)
            elif t is date:
                ws.write_datetime(n, c, v, day)
            elif t in (int, float):
                ws.write_number(n, c, v)
            elif t is Decimal:
                ws.write_number(n, c, float(v))
            else:
                ws.write_string(n, c, str(v))
    wb.close()
    return n


def csv_write(path, headers, rows) -> int:
    n = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        for n, row in enumerate(rows, start=1):
            w.writerow(row)
    return n


def measure(args) -> dict:
    app = make_app(args.url)
    out = Path("/tmp/bench_exports")
    out.mkdir(exist_ok=True)
    with app.app_context():
        view = _context(app, args.endpoint)
        from admin_views.export import chosen_columns, iter_rows, list_query, ordered_ids, write_export

        import xlsxwriter  # noqa: F401 — loaded before the baseline, like the app's own modules

        columns = chosen_columns(view, args.columns)
        headers = [t for _, t in columns]
        reset_peak()
        base = rss_kb()
        started = time.perf_counter()
        if args.measure in ("ours", "csv", "xlsxwriter"):
            _, query = list_query(view)
            ids = ordered_ids(view, query)
            path = out / f"{args.measure}.{'csv' if args.measure == 'csv' else 'xlsx'}"
            if args.measure == "ours":
                with open(path, "wb") as fh:
                    n = write_export(view, fh, ids, columns)
            elif args.measure == "csv":
                n = csv_write(path, headers, iter_rows(view, ids, columns))
            else:
                n = xlsxwriter_write(path, headers, iter_rows(view, ids, columns))
        elif args.measure.startswith("writer-"):
            _, query = list_query(view)
            ids = ordered_ids(view, query)[: args.writer_rows]
            rows = list(iter_rows(view, ids, columns))
            reset_peak()
            base = rss_kb()
            started = time.perf_counter()
            path = out / f"{args.measure}.out"
            if args.measure == "writer-ours":
                from rules.exporting import write_xlsx

                with open(path, "wb") as fh:
                    n = write_xlsx(fh, "export", headers, rows)
            elif args.measure == "writer-csv":
                n = csv_write(path, headers, rows)
            else:
                n = xlsxwriter_write(path, headers, rows)
        else:
            raise SystemExit(f"unknown measurement {args.measure}")
        elapsed = time.perf_counter() - started
        return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed if elapsed else 0,
                "peak_mb": (rss_kb("VmHWM") - base) / 1024, "size_mb": path.stat().st_size / 1048576}


def run(url: str, measure_name: str, args) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_export", "--child", measure_name, "--url", url, "--endpoint", args.endpoint,
           "--writer-rows", str(args.writer_rows), "--columns", *args.columns]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--endpoint", default="declaration")
    parser.add_argument("--columns", nargs="+", default=DECLARATION_COLUMNS)
    parser.add_argument("--writer-rows", type=int, default=100_000)
    parser.add_argument("--only", nargs="+", help="measurements to run, e.g. ours xlsxwriter")
    parser.add_argument("--prepare-only", action="store_true", help="only build the scratch databases")
    parser.add_argument("--child")
    parser.add_argument("--url")
    args = parser.parse_args()
    os.environ.setdefault("EXPORT_ASYNC_ROWS", "100000000")
    if args.child:
        args.measure = args.child
        print(json.dumps(measure(args)))
        return
    for kind in args.db or ["sqlite"]:
        for rows in args.rows:
            url = database_url(kind, rows)
            print(f"== {kind}, {rows:,} rows × {len(args.columns)} columns ({args.endpoint}); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
            prepare(url, rows)
            if args.prepare_only:
                continue
            names = args.only or ["csv", "xlsxwriter", "ours", "writer-csv", "writer-xlsxwriter", "writer-ours"]
            for name in names:
                r = run(url, name, args)
                if "error" in r:
                    print(f"  {name:18s} FAILED: {r['error']}", flush=True)
                    continue
                print(f"  {name:18s} {r['rows']:>9,} rows  {r['seconds']:8.1f} s  {r['rows_per_s']:>9,.0f} rows/s  "
                      f"peak +{r['peak_mb']:6.1f} MB  file {r['size_mb']:6.1f} MB", flush=True)

if __name__ == "__main__":
    main()
