"""Command line: `flask --app app seed reference|demo|bootstrap` and `flask --app app create-user`."""
from __future__ import annotations

import time

import click
from flask import Flask
from sqlalchemy import func, select

from extensions import db
from models import Region, Role, SecondaryUnit, Unit, User
from rules.passwords import hash_password, policy_errors


def register_cli(app: Flask) -> None:
    __import__("cli_import").register_import_cli(app)  # Excel import and the export worker (issue 6)
    @app.cli.group()
    def seed():
        """Reference and demo data."""

    @seed.command("reference")
    def seed_reference():
        """Load the 38 区县 of 重庆, its zones and the dictionaries (idempotent)."""
        from seed.reference import load_reference

        changed = load_reference(db.session)
        db.session.commit()
        click.echo(f"参考数据已加载：新增或更新 {changed} 条")

    @seed.command("demo")
    @click.option("--scale", default=0, show_default=True, help="额外生成的人员数量（按每 50 人一个单位生成单位）")
    def seed_demo_cmd(scale: int):
        """Realistic, deterministic demo data with every demo account (idempotent)."""
        from seed.demo import seed_demo

        started = time.perf_counter()
        with click.progressbar(length=max(scale, 1), label="生成演示数据") as bar:
            seed_demo(db.session, scale=scale, progress=bar.update)
            db.session.commit()
        click.echo(f"演示数据已生成（scale={scale}），用时 {time.perf_counter() - started:.1f} 秒")

    @seed.command("bootstrap")
    def seed_bootstrap():
        """Reference and demo data when the database holds no users yet (used by `make run`)."""
        from seed.demo import seed_demo

        if db.session.scalar(select(func.count()).select_from(User)):
            click.echo("数据库已有数据，跳过演示数据")
            return
        seed_demo(db.session)
        db.session.commit()
        click.echo("已加载参考数据和演示数据；演示账号密码均为 Demo@12345")

    @app.cli.command("create-user")
    @click.option("--username", prompt="用户名")
    @click.option("--name", prompt="姓名")
    @click.option("--role", type=click.Choice([r.value for r in Role]), prompt="角色")
    @click.option("--password", prompt="密码", hide_input=True, confirmation_prompt=True)
    @click.option("--mobile", default=None)
    @click.option("--unit", "unit_name", default=None, help="单位全称")
    @click.option("--secondary-unit", "dept_name", default=None, help="二级单位名称")
    @click.option("--region", "region_name", default=None, help="区县名称")
    def create_user(username, name, role, password, mobile, unit_name, dept_name, region_name):
        """Create an account (e.g. the first system administrator)."""
        problems = policy_errors(password, username, mobile or "")
        if problems:
            raise click.ClickException("；".join(problems))
        if db.session.scalar(select(User).where(User.username == username)):
            raise click.ClickException(f"用户名 {username} 已存在")
        unit = db.session.scalar(select(Unit).where(Unit.name == unit_name)) if unit_name else None
        if unit_name and unit is None:
            raise click.ClickException(f"找不到单位：{unit_name}")
        dept = None
        if dept_name:
            dept = db.session.scalar(select(SecondaryUnit).where(SecondaryUnit.unit_id == (unit.id if unit else None), SecondaryUnit.name == dept_name))
            if dept is None:
                raise click.ClickException(f"找不到二级单位：{dept_name}")
        region = db.session.scalar(select(Region).where(Region.name == region_name)) if region_name else None
        if region_name and region is None:
            raise click.ClickException(f"找不到区县：{region_name}")
        user = User(
            username=username, name=name, role=Role(role), mobile=mobile, password_hash=hash_password(password),
            unit_id=unit.id if unit else None, secondary_unit_id=dept.id if dept else None, region_id=region.id if region else None,
        )
        db.session.add(user)
        try:
            db.session.commit()
        except Exception as exc:  # a CHECK constraint names what is missing for the role
            db.session.rollback()
            raise click.ClickException(f"无法创建用户：{exc.__class__.__name__}，请检查角色所需的单位/二级单位/区县") from exc
        click.echo(f"已创建用户 {username}（{Role(role).label}）")
