"""Accounts: users with one role each, and the login throttle used when Redis is not configured."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .org import SecondaryUnit, Unit
from .reference import Region


class Role(LabeledEnum):
    applicant = ("applicant", "申报人")
    dept_admin = ("dept_admin", "二级单位管理员")
    unit_admin = ("unit_admin", "单位管理员")
    authority = ("authority", "主管部门")
    bureau = ("bureau", "科技局")
    sysadmin = ("sysadmin", "系统管理员")


# 模块配置 (seed 004): the declaration types a 填报用户 may use, granted by the unit admin.
# 模块配置 (seed 004): the call types a 填报用户 may declare in; the codes are CallType's.
MODULES = {
    "research": "科研项目",
    "startup": "创业资助",
    "innovation_fund": "创新资助",
    "tech_innovation": "技术创新项目",
}


class AccountStatus(LabeledEnum):
    """授权状态 (seed 004): a 填报用户 waits for the unit admin's 授权; a 单位管理用户 for the unit's review."""

    pending = ("pending", "待授权")
    active = ("active", "已授权")
    refused = ("refused", "已拒绝")


class User(Timestamped, Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role NOT IN ('unit_admin', 'dept_admin', 'applicant') OR unit_id IS NOT NULL", name="unit_roles_have_unit"),
        CheckConstraint("role <> 'dept_admin' OR secondary_unit_id IS NOT NULL", name="dept_admin_has_dept"),
        CheckConstraint("role <> 'authority' OR region_id IS NOT NULL OR unit_id IS NOT NULL", name="authority_has_area"),
        CheckConstraint("NOT unit_authorized OR role = 'unit_admin'", name="authorized_is_unit_admin"),
        # 账号授权 (seed 000 §2.2): at most one 法人单位授权人 per legal unit.
        Index(
            "uq_app_user_unit_authorized",
            "unit_id",
            unique=True,
            sqlite_where=text("unit_authorized"),
            postgresql_where=text("unit_authorized"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True, info=label("用户名"))
    name: Mapped[str] = mapped_column(String(50), info=label("姓名"))
    mobile: Mapped[Optional[str]] = mapped_column(String(11), unique=True, info=label("手机号码"))
    id_no: Mapped[Optional[str]] = mapped_column(String(30), unique=True, info=label("证件号码"))
    password_hash: Mapped[str] = mapped_column(String(255), info=label("密码"))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), index=True, info=label("角色"))
    unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True, info=label("所属单位")
    )
    secondary_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("secondary_unit.id", ondelete="SET NULL"), index=True, info=label("二级单位")
    )
    region_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("所属区县")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, info=label("启用"))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, info=label("需修改密码"))
    modules: Mapped[Optional[list]] = mapped_column(JSON, info=label("模块配置"))
    email: Mapped[Optional[str]] = mapped_column(String(120), info=label("电子邮箱"))
    # 法人单位授权人: a unit_admin account granted by the legal unit; everything but 账号授权 itself.
    unit_authorized: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false"), info=label("法人单位授权人")
    )
    last_login_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("最近登录时间"))
    # 授权状态: a pending account may sign in only to see where its registration stands.
    status: Mapped[AccountStatus] = mapped_column(
        enum_column(AccountStatus, "account_status"), default=AccountStatus.active,
        server_default=AccountStatus.active.value, index=True, info=label("授权状态"),
    )
    refusal_reason: Mapped[Optional[str]] = mapped_column(Text, info=label("拒绝原因"))
    # What the unit admin must check before 授权 (a 手机号码/证件号码 already used by another account):
    # told to the reviewer, never to the registrant, so registration reveals no one's numbers.
    registration_note: Mapped[Optional[str]] = mapped_column(Text, info=label("注册核对"))
    # Raised on logout, password change or reset, disable and role change: every older session ends.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"), info=label("会话版本"))
    # 密保问题 (seed 004): [{"question": "...", "answer": "<argon2 hash of the normalised answer>"}] × 3
    security_questions: Mapped[Optional[list]] = mapped_column(JSON, info=label("密保问题"))

    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id], info=label("所属单位"))
    secondary_unit: Mapped[Optional[SecondaryUnit]] = relationship(foreign_keys=[secondary_unit_id], info=label("二级单位"))
    region: Mapped[Optional[Region]] = relationship(foreign_keys=[region_id], info=label("所属区县"))

    # Flask-Login protocol, kept here so that rules/ need no Flask import.
    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __str__(self) -> str:
        return f"{self.name}（{self.username}）"


class LoginThrottle(Base):
    """Failed-login counters per account when no Redis is configured (shared through the database)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[Optional[datetime]] = mapped_column(DateTime)


class LoginSession(Base):
    """在线用户: one signed-in browser. The cookie holds the token; the row says whether it still counts."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=label("会话标识"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True, info=label("用户"))
    ip: Mapped[Optional[str]] = mapped_column(String(45), info=label("登录地址"))
    user_agent: Mapped[Optional[str]] = mapped_column(String(200), info=label("浏览器"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("登录时间"))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("最近访问时间"))
    ended_at: Mapped[Optional[datetime]] = mapped_column(DateTime, index=True, info=label("结束时间"))
    end_reason: Mapped[Optional[str]] = mapped_column(String(20), info=label("结束原因"))

    user = relationship("User", foreign_keys=[user_id], info=label("用户"))


class PasswordReset(Base):
    """忘记密码: one recovery attempt — who, how it is proven (密保问题 or a one-time code), its limits."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=label("凭据"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True, info=label("用户"))
    method: Mapped[Optional[str]] = mapped_column(String(10), info=label("验证方式"))  # question | email | sms
    code_hash: Mapped[Optional[str]] = mapped_column(String(255), info=label("验证码"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"), info=label("尝试次数"))
    ip: Mapped[Optional[str]] = mapped_column(String(45), info=label("来源地址"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("创建时间"))
    expires_at: Mapped[datetime] = mapped_column(DateTime, info=label("失效时间"))
    verified_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("验证时间"))
    used_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("使用时间"))
