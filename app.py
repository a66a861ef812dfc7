"""Application factory, configuration from the environment, and the command line."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, g, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from extensions import babel, csrf, db, login_manager, migrate
from rules import audit, notify

ROOT = Path(__file__).resolve().parent


class BigIntConverter(IntegerConverter):
    """`<int:id>` up to the largest INTEGER (every key column is one): a larger number is a 404,
    not an "integer out of range" from PostgreSQL."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated into instance/ on first run."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def default_config(instance: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'app.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "FLASK_ADMIN_FLUID_LAYOUT": True,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "EXPORT_ASYNC_ROWS": int(os.environ.get("EXPORT_ASYNC_ROWS", 20000)),
        "EXPORT_DIR": os.environ.get("EXPORT_DIR") or None,  # default instance/exports; share it between machines
        "EXPORT_EXPIRE_HOURS": float(os.environ.get("EXPORT_EXPIRE_HOURS", 24)),
        # 消息 channels (rules/notify.py): none configured, messages stay in the outbox
        **{key: os.environ.get(key) or None for key in MAIL_KEYS},
        "SMS_GATEWAY": os.environ.get("SMS_GATEWAY") or None,  # "package.module:Class", a rules.notify.SmsGateway
    }


MAIL_KEYS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_DEFAULT_SENDER", "MAIL_TIMEOUT")


def _admin_translations(instance: Path) -> str:
    """translations/*.po compiled into instance/translations (when the .po is newer): Flask-Admin
    reads them before its own catalogue, whose shipped admin.mo lacks messages its .po has."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target_root = instance / "translations"
    for po in (ROOT / "translations").glob("*/LC_MESSAGES/*.po"):
        mo = target_root / po.relative_to(ROOT / "translations").with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source)
            partial = mo.with_suffix(f".{os.getpid()}.tmp")
            with partial.open("wb") as out:
                write_mo(out, catalog)
            partial.replace(mo)  # atomic: several workers may start at once
    return str(target_root)


def _sqlite_pragmas(app: Flask) -> None:
    """Foreign keys on, WAL and a busy timeout, so SQLite enforces what PostgreSQL enforces."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "sqlite":
            return

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(default_config(instance))
    app.config["SECRET_KEY"] = _secret_key(instance)
    app.config.update(config or {})
    app.config["ADMIN_TRANSLATIONS"] = _admin_translations(instance)

    app.url_map.converters["int"] = BigIntConverter  # before any route is added
    proxies = int(os.environ.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:  # behind N reverse proxies: the client's address (per-address throttling, logs) from X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "zh_Hans_CN", timezone_selector=lambda: "Asia/Shanghai")
    login_manager.init_app(app)
    audit.install()
    notify.configure(notify.from_config(app.config))
    _sqlite_pragmas(app)

    from admin_views import init_admin
    from auth import bp as auth_bp, init_login

    from signup import init_signup

    init_login(app)
    app.register_blueprint(auth_bp)
    from recovery import bp as recovery_bp

    app.register_blueprint(recovery_bp)
    init_signup(app)
    init_admin(app)

    from errors import init_errors

    init_errors(app)

    @app.before_request
    def _actor():
        user = current_user if current_user and current_user.is_authenticated else None
        g.audit_token = audit.set_actor(
            audit.Actor(
                user_id=user.id if user else None,
                username=user.username if user else None,
                ip=request.remote_addr,
            )
        )

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def root():
        from flask import redirect, url_for

        return redirect(url_for("admin.index"))

    from cli import register_cli

    register_cli(app)
    return app
