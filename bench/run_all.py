"""`make bench`: every benchmark at the sizes the issues name, on SQLite and PostgreSQL, one after
the other (they would disturb each other's timings), each one's output kept in bench/results/.

    .venv/bin/python -m bench.run_all [--quick]

--quick runs 1/10 of each size, to check the scripts work. The scratch databases stay under
/tmp and in bench_* schemas of the local PostgreSQL and are reused by the next run.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def plan(scale: int) -> list[tuple[str, list[str]]]:
    def n(rows: int) -> str:
        return str(rows // scale)

    return [
        ("declarations", ["bench/bench_declarations.py", "--db", "both", "--rows", n(1_000_000), "--reuse"]),
        ("enterprises", ["-m", "bench.bench_enterprises", "--backend", "both", "--count", n(100_000)]),
        ("export", ["-m", "bench.bench_export", "--rows", n(100_000), n(1_000_000), "--db", "sqlite", "--db", "postgres"]),
        ("import", ["-m", "bench.bench_import", "--rows", n(100_000), "--db", "sqlite", "--db", "postgres"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", help="some of: declarations enterprises export import")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    failed = []
    for name, cmd in plan(10 if args.quick else 1):
        if args.only and name not in args.only:
            continue
        out = RESULTS / f"{name}{'_quick' if args.quick else ''}.txt"
        print(f"== {name}: {' '.join(cmd)} → {out.relative_to(ROOT)}", flush=True)
        started = time.perf_counter()
        with open(out, "w") as fh:
            proc = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                sys.stdout.write(line)
                fh.write(line)
            proc.wait()
        print(f"   {name} took {time.perf_counter() - started:.0f} s (exit {proc.returncode})", flush=True)
        if proc.returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
