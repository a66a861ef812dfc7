"""Command line for Excel: `flask --app app import MODEL FILE [--dry-run]` and the RQ export worker."""
from __future__ import annotations

import time

import click
from flask import Flask, current_app

from extensions import db


def register_import_cli(app: Flask) -> None:
    from rules.importing import SPECS

    @app.cli.command("import")
    @click.argument("model", type=click.Choice(sorted(SPECS)))
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="只检查并预览，不写入数据库")
    def import_cmd(model: str, file: str, dry_run: bool):
        """Import an Excel file into MODEL (upsert by its natural key, all in one transaction)."""
        from rules import audit
        from rules.importing import ImportRefused, apply_plan, make_plan, read_sheet

        spec = SPECS[model]
        started = time.perf_counter()
        max_bytes = int(current_app.config.get("IMPORT_MAX_BYTES_CLI", 1 << 31))
        max_rows = int(current_app.config.get("IMPORT_MAX_ROWS_CLI", 10_000_000))
        try:
            with open(file, "rb") as fh:
                sheet = read_sheet(fh, spec, max_bytes, max_rows)
                with click.progressbar(length=max(1, _row_estimate(file)), label=f"检查{spec.title}") as bar:
                    plan = make_plan(db.session, spec, sheet, progress=bar.update)
        except ImportRefused as exc:
            raise click.ClickException(str(exc)) from exc
        for error in plan.errors[:200]:
            click.echo(f"第 {error.row} 行  {error.column}：{error.reason}", err=True)
        if plan.errors:
            more = f"（仅显示前 200 处）" if len(plan.errors) > 200 else ""
            db.session.rollback()
            raise click.ClickException(f"发现 {len(plan.errors)} 处错误{more}，未导入任何记录")
        if dry_run:
            db.session.rollback()
            click.echo(f"预览（未写入）：共 {plan.rows} 行，{plan.summary()}，用时 {time.perf_counter() - started:.1f} 秒")
            return
        with audit.acting_as(audit.Actor(username="cli")):
            apply_plan(db.session, plan)
            db.session.commit()
        click.echo(f"已导入{spec.title}：共 {plan.rows} 行，{plan.summary()}，用时 {time.perf_counter() - started:.1f} 秒")

    @app.cli.command("export-worker")
    @click.option("--burst", is_flag=True, help="处理完队列中的任务后退出")
    def export_worker(burst: bool):
        """Run background exports from the Redis queue `exports` (needs REDIS_URL)."""
        url = current_app.config.get("REDIS_URL")
        if not url:
            raise click.ClickException("未设置 REDIS_URL：未配置 Redis 时导出任务在 Web 进程的线程池中运行")
        from redis import Redis
        from rq import Queue, Worker

        from admin_views.downloads import QUEUE_NAME

        connection = Redis.from_url(url)
        Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(burst=burst)


def _row_estimate(path: str) -> int:
    """Rows from the sheet's dimension (cheap in read-only mode); 1 when unknown."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = (wb.worksheets[0].max_row or 2) - 1
        wb.close()
        return rows
    except Exception:
        return 1
