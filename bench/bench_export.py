"""Benchmark (not a test): 导出Excel through the app's own export code vs csv and xlsxwriter, and
Excel import of units, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_export --rows 100000 --db sqlite --db postgres
    .venv/bin/python -m bench.bench_export --rows 1000000 --db postgres --no-import

For each database it builds a scratch database (SQLite file, or a fresh PostgreSQL schema) with
the demo world plus N generated Person rows, then runs every measurement in its own process so
that peak memory is that run's own: VmHWM (peak RSS) minus the RSS right before the export.

  ours        the view's scoped list query → ordered ids → 1,000-row chunks → rules.exporting writer
  csv         the same rows (same query and value code) into csv.writer — the lower bound
  xlsxwriter  the same rows into xlsxwriter's constant_memory mode (write_string/number/datetime)
  writer-only the three writers alone over rows already in memory (first 100,000 rows)
  import      a 100,000-row 单位信息 file: dry run (parse, validate, compare) and real (one transaction)

The model/view is a parameter (--endpoint, default person, 20 columns); declarations can be
measured the same way once their view exists (--endpoint declaration --columns ...).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERSON_COLUMNS = [
    "name", "gender", "id_no", "mobile", "education", "title", "unit", "secondary_unit", "submitted_at", "review_status",
    "birth_date", "nationality", "ethnicity", "political_status", "id_type", "degree", "position", "major", "email", "office_phone",
]
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# -- database set-up -------------------------------------------------------------------------
def database_url(kind: str, rows: int) -> str:
    if kind == "sqlite":
        return f"sqlite:////tmp/bench_export_{rows}.db"
    schema = f"bench_export_{rows}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    url = make_url(PG_URL)
    return url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def make_app(url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "EXPORT_DIR": "/tmp/bench_exports"})


def prepare(url: str, rows: int) -> None:
    """Demo world + `rows` generated people (bulk INSERTs); reused when already there."""
    from sqlalchemy import func, insert, select

    from extensions import db
    from models import Base, DictItem, Gender, Person, ReviewStatus, SecondaryUnit, Unit
    from seed.demo import make_id_no, make_mobile, seed_demo

    app = make_app(url)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        if not db.session.scalar(select(func.count()).select_from(Unit)):
            seed_demo(db.session, password_hash="x")
            db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Person).where(Person.id_no.like("B%")))
        if have >= rows:
            return
        units = db.session.execute(select(Unit.id, Unit.region_id)).all()
        depts = dict(db.session.execute(select(SecondaryUnit.unit_id, SecondaryUnit.id)).all())
        dicts: dict[str, list[int]] = {}
        for item_id, category in db.session.execute(select(DictItem.id, DictItem.category)):
            dicts.setdefault(category, []).append(item_id)
        statuses = list(ReviewStatus)
        started = time.perf_counter()
        batch = []
        for i in range(have, rows):
            unit_id, region_id = units[i % len(units)]
            batch.append({
                "name": f"测试人员{i:07d}", "gender": Gender.male if i % 3 else Gender.female, "nationality": "中国",
                "ethnicity_id": dicts["ethnicity"][i % len(dicts["ethnicity"])],
                "political_status_id": dicts["political_status"][i % len(dicts["political_status"])],
                "id_type_id": dicts["id_type"][0], "id_no": "B" + make_id_no(i, "500100")[1:] + f"{i}",
                "birth_date": date(1960, 1, 1) + timedelta(days=i % 15000), "work_province": "重庆市",
                "work_region_id": region_id, "unit_id": unit_id, "secondary_unit_id": depts.get(unit_id) if i % 2 else None,
                "education_id": dicts["education"][i % len(dicts["education"])], "degree_id": dicts["degree"][i % len(dicts["degree"])],
                "title_id": dicts["title"][i % len(dicts["title"])], "position": "工程师" if i % 2 else "=研究员",
                "major": "软件工程", "mobile": make_mobile(i), "office_phone": "023-65102000", "email": f"p{i}@example.cn",
                "review_status": statuses[i % len(statuses)], "submitted_at": datetime(2024, 1, 1) + timedelta(minutes=i),
            })
            if len(batch) >= 10_000:
                db.session.execute(insert(Person), batch)
                db.session.commit()
                batch = []
        if batch:
            db.session.execute(insert(Person), batch)
            db.session.commit()
        print(f"  prepared {rows - have} people in {time.perf_counter() - started:.1f}s", file=sys.stderr)


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

        columns = chosen_columns(view, args.columns)
        headers = [t for _, t in columns]
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
            return measure_import(args, app)
        elapsed = time.perf_counter() - started
        return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed if elapsed else 0,
                "peak_mb": (rss_kb("VmHWM") - base) / 1024, "size_mb": path.stat().st_size / 1048576}


def unit_file(path: Path, rows: int) -> None:
    """A 单位信息 file as Excel saves one (shared strings, written with xlsxwriter)."""
    import xlsxwriter

    from rules.importing import SPECS
    from seed.demo import make_uscc

    spec = SPECS["unit"]

    def data():
        for i in range(rows):
            yield [f"导入测试单位{i:06d}", make_uscc(5_000_000 + i, "91", "500112"), "渝北区", f"重庆市渝北区测试路{i}号", "401120",
                   date(2010, 1, 1) + timedelta(days=i % 4000), 1000 + i % 500, 500, "有限责任公司", "非公有制经济", "第二产业",
                   "王测试", "李联系", f"138{i:08d}", "023-67000000", f"u{i}@example.cn", "中国工商银行重庆分行", f"31000{i:010d}", "102653000013"]

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("单位信息")
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, spec.headers)
    for r, row in enumerate(data(), start=1):
        for c, v in enumerate(row):
            if isinstance(v, date):
                ws.write_datetime(r, c, v, day)
            elif isinstance(v, str):
                ws.write_string(r, c, v)
            else:
                ws.write_number(r, c, v)
    wb.close()


def measure_import(args, app) -> dict:
    from extensions import db
    from rules.importing import SPECS, apply_plan, make_plan, read_sheet

    path = Path(f"/tmp/i6_bench_units_{args.import_rows}.xlsx")
    if not path.exists():
        unit_file(path, args.import_rows)
    spec = SPECS["unit"]
    base = rss_kb()
    started = time.perf_counter()
    with open(path, "rb") as fh:
        plan = make_plan(db.session, spec, read_sheet(fh, spec, 1 << 31, 10_000_000))
    dry = time.perf_counter() - started
    result = {"rows": plan.rows, "dry_seconds": dry, "summary": plan.summary(), "errors": len(plan.errors)}
    if args.measure == "import-real":
        started = time.perf_counter()
        apply_plan(db.session, plan)
        db.session.commit()
        result["apply_seconds"] = time.perf_counter() - started
    else:
        db.session.rollback()
    result["peak_mb"] = (rss_kb("VmHWM") - base) / 1024
    return result


def run(url: str, measure_name: str, args) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_export", "--child", measure_name, "--url", url, "--endpoint", args.endpoint,
           "--writer-rows", str(args.writer_rows), "--import-rows", str(args.import_rows), "--columns", *args.columns]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--endpoint", default="person")
    parser.add_argument("--columns", nargs="+", default=PERSON_COLUMNS)
    parser.add_argument("--writer-rows", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--no-import", action="store_true")
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
            print(f"== {kind}, {rows:,} rows × {len(args.columns)} columns ({args.endpoint})", flush=True)
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
            if not args.no_import and rows == args.rows[0]:
                for name in ("import-dry", "import-real"):
                    r = run(url, name, args)
                    if "error" in r:
                        print(f"  {name:18s} FAILED: {r['error']}", flush=True)
                        continue
                    extra = f"  apply {r['apply_seconds']:.1f} s" if "apply_seconds" in r else ""
                    print(f"  {name:18s} {r['rows']:>9,} rows  dry run {r['dry_seconds']:.1f} s{extra}  peak +{r['peak_mb']:.1f} MB  ({r['summary']}, errors {r['errors']})", flush=True)


if __name__ == "__main__":
    main()
