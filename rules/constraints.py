"""Database constraint failures said in Chinese at the form field they concern, never as raw DB text.

One table, `MESSAGES`, names every CHECK and UNIQUE constraint (by the name the database knows it
by, models/base.py NAMING) with its form field and message; foreign keys and the code lists of
enum columns are mechanical and derived from the metadata (`rule`). `explain(exc)` reads an
IntegrityError or DataError of SQLite (the message text) or PostgreSQL (sqlstate and diag) and
answers a `Problem`: the field (None: the whole form) and the message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Table, UniqueConstraint
from sqlalchemy import inspect as sa_inspect

from models import Base


@dataclass(frozen=True)
class Problem:
    field: Optional[str]  # the form field the message belongs to; None: said above the form
    message: str


GENERIC = "保存失败：数据不符合要求，请检查后重试"
MISSING_REFERENCE = "所选的关联数据不存在或已被删除，请重新选择"
IN_USE = "该记录已被其他数据使用，不能删除"  # = rule(<a CHECK>, deleting=True)
TOO_LONG = "输入的内容过长，请删减后重试"
OUT_OF_RANGE = "输入的数值超出允许的范围"
CONTROL_CHARS = "不能包含不可见的控制字符"
BAD_VALUE = "输入的内容格式不正确"

# CHECK and UNIQUE constraints (and unique indexes): name → (form field, message).
MESSAGES: dict[str, tuple[str, str]] = {
    # 申报批次, 申报书, 成员, 经费预算, 附件, 调度填报, 营业收入
    "name": ("name", "该批次名称已存在"),  # call.name
    "ck_call_window_order": ("closes_at", "申报截止时间应晚于开始时间"),
    "number": ("number", "该项目编号已存在"),
    "ck_declaration_period_order": ("end_month", "项目截止时间不能早于项目起始时间"),
    "ck_declaration_counts_nonneg": ("new_tech_count", "新技术、新产品、新工艺的个数不能为负数"),
    "ck_declaration_budget_amount_nonneg": ("amount", "金额不能为负数"),
    "ck_declaration_attachment_size_nonneg": ("file", "文件大小不正确，请重新上传"),
    "uq_declaration_attachment_stored_name": ("file", "附件保存失败，请重新上传"),
    "ck_progress_report_percent_range": ("percent", "完成进度须在 0 到 100 之间"),
    "declaration_period": ("period", "该项目本期次的调度已填报，请在列表中修改"),
    "unit_year": ("year", "该单位该年度的营业收入已填报"),
    "ck_unit_revenue_revenue_nonneg": ("revenue", "营业收入不能为负数"),
    # 字典, 区县, 库参数
    "category_code": ("code", "该字典类别下已有相同的代码"),
    "ck_dict_item_code_not_empty": ("code", "请填写代码"),
    "uq_region_name": ("name", "该区县名称已存在"),
    "uq_region_code": ("code", "该行政区划代码已存在"),
    "uq_library_param_library_param": ("param", "该库已设置此参数"),
    # 单位, 二级单位, 单位注册
    "uq_unit_name": ("name", "该单位名称已注册"),
    "uq_unit_uscc": ("uscc", "该统一社会信用代码已注册"),
    "ck_unit_reg_capital_nonneg": ("registered_capital", "注册资本不能为负数"),
    "ck_unit_paid_capital_nonneg": ("paid_in_capital", "实收资本不能为负数"),
    "ck_unit_paid_le_registered": ("paid_in_capital", "实收资本不能大于注册资本"),
    "unit_name": ("name", "本单位已有同名的二级单位"),
    "uq_unit_registration_unit_id": ("name", "该单位已提交过注册申请"),
    "uq_unit_change_pending": ("region", "本单位已有待审核的单位信息变更，请等待审核或撤回后再提交"),
    # 账号, 人员
    "uq_app_user_username": ("username", "该用户名已被使用"),
    "uq_app_user_mobile": ("mobile", "该手机号码已被其他账号使用"),
    "uq_app_user_id_no": ("id_no", "该证件号码已被其他账号使用"),
    "uq_app_user_unit_authorized": ("unit_authorized", "本单位已有法人单位授权人"),
    "ck_app_user_unit_roles_have_unit": ("unit", "单位管理员、部门管理员和申报人须选择所属单位"),
    "ck_app_user_dept_admin_has_dept": ("secondary_unit", "部门管理员须选择二级单位"),
    "ck_app_user_authority_has_area": ("region", "主管部门账号须选择所属区县或所属单位"),
    "ck_app_user_authorized_is_unit_admin": ("unit_authorized", "只有单位管理员可以是法人单位授权人"),
    "id_type_no": ("id_no", "该证件号码已有人员信息"),
    "uq_person_user_id": ("user", "该账号已有个人信息"),
    "uq_login_session_token_hash": ("token_hash", "登录会话冲突，请重新登录"),
    "uq_password_reset_token_hash": ("token_hash", "找回密码凭据冲突，请重新开始找回密码"),
    # 企业, 年报, 信用评级, 创新券
    "uq_enterprise_name": ("name", "该企业名称已存在"),
    "uq_enterprise_uscc": ("uscc", "该统一社会信用代码的企业已存在"),
    "uq_enterprise_unit_id": ("unit", "该单位已有对应的企业信息"),
    "ck_enterprise_capital_nonneg": ("registered_capital", "注册资本不能为负数"),
    "uq_annual_report_enterprise_year": ("year", "该企业该年度的年报已存在，请在列表中修改"),
    "ck_annual_report_year_range": ("year", "年份须在 2000 到 2100 之间"),
    "ck_annual_report_staff_nonneg": ("staff", "从业人员不能为负数"),
    "ck_annual_report_tech_le_staff": ("tech_staff", "科技人员不能多于从业人员"),
    "ck_annual_report_domestic_le_rd": ("rd_domestic", "境内研发费用不能大于研发费用总额"),
    "ck_annual_report_score_range": ("innovation_score", "须在 0 到 100 之间"),
    "uq_credit_rating_enterprise_year": ("year", "该企业该年度的信用评级已存在"),
    "ck_innovation_voucher_amount_nonneg": ("amount", "申领金额不能为负数"),
    "ck_innovation_voucher_redeemed_le_amount": ("redeemed", "兑付金额不能大于申领金额"),
    # 老项目认领, 企业更名管理 (issue 14)
    "uq_legacy_project_number": ("number", "该项目编号的老项目已存在"),
    "ck_legacy_project_year_range": ("year", "项目年度须在 1990 到 2100 之间"),
    "uq_enterprise_rename_pending": ("new_name", "该企业已有待审核的更名申请，请等待区县审核后再申请"),
    "uq_enterprise_rename_file_stored_name": ("stored_name", "证明材料保存冲突，请重新上传"),
    "ck_enterprise_rename_file_size_nonneg": ("size", "文件大小不能为负数"),
    "ck_enterprise_name_period_order": ("valid_to", "曾用名的结束日期不能早于开始日期"),
}

# What a table's rows are called, for "该记录已被申报书使用，不能删除".
TABLE_LABELS = {
    "annual_report": "科技信息年报", "app_user": "账号", "audit_log": "操作日志", "call": "申报批次", "credit_rating": "信用评级",
    "declaration": "申报书", "declaration_attachment": "附件", "declaration_budget": "经费预算", "declaration_member": "项目成员",
    "dict_item": "字典项", "enterprise": "企业信息", "enterprise_review": "企业审核记录", "export_job": "导出任务",
    "innovation_voucher": "科技创新券", "library_param": "库参数", "person": "人员信息", "progress_report": "调度填报",
    "region": "区县", "review_log": "审批意见", "review_record": "审批意见", "secondary_unit": "二级单位", "unit": "单位",
    "unit_registration": "单位注册", "unit_revenue": "单位营业收入", "unit_change": "单位信息变更", "login_session": "在线用户",
    "password_reset": "找回密码记录", "message": "消息",
}


# -- the metadata: constraint names, their tables and columns, the form field of a column ----
def constraints() -> dict[str, tuple[Table, object]]:
    """Every named CHECK, UNIQUE and FOREIGN KEY constraint and unique index: name → (table, it)."""
    return _constraints()


@lru_cache(maxsize=1)
def _constraints() -> dict:
    found = {}
    for table in Base.metadata.sorted_tables:
        for c in table.constraints:
            if isinstance(c, (CheckConstraint, UniqueConstraint, ForeignKeyConstraint)) and c.name:
                found[str(c.name)] = (table, c)
        for ix in table.indexes:
            if ix.unique:
                found[str(ix.name)] = (table, ix)
    return found


def field_of(table: Table, column_name: str) -> tuple[str, str, bool]:
    """(form field, label, is a choice) of a column: a foreign key's form field is its relationship."""
    column = table.c[column_name]
    label = column.info.get("label", "")
    mapper = _mapper(table)
    if mapper is not None:
        for rel in mapper.relationships:
            if column in rel.local_columns and rel.direction.name == "MANYTOONE":
                return rel.key, rel.info.get("label") or label, True
        for attr in mapper.column_attrs:
            if column in attr.columns:
                return attr.key, label, False
    return column_name, label, False


def _mapper(table: Table):
    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            return mapper
    return None


def rule(name: str, deleting: bool = False) -> Optional[Problem]:
    """The field and message of constraint `name`, or None when it is not one of ours. A delete
    fails on a key that still points at the row (or a CHECK a SET NULL breaks): it is in use."""
    table, c = constraints().get(name, (None, None))
    if deleting:
        users = TABLE_LABELS.get(table.name, "其他数据") if isinstance(c, ForeignKeyConstraint) else "其他数据"
        return Problem(None, f"该记录已被{users}使用，不能删除") if c is not None else None
    if name in MESSAGES:
        field, message = MESSAGES[name]
        return Problem(field, message)
    if isinstance(c, ForeignKeyConstraint):
        field, label, _ = field_of(table, c.columns.keys()[0])
        return Problem(field, f"所选的{label}不存在或已被删除，请重新选择")
    if isinstance(c, CheckConstraint) and c._type_bound:  # an enum column's list of codes
        field, label, _ = field_of(table, next(iter(c.columns)).name)
        return Problem(field, f"请选择有效的{label}")
    return None


def not_null(table_name: str, column_name: str) -> Problem:
    table = Base.metadata.tables.get(table_name)
    if table is None or column_name not in table.c:
        return Problem(None, GENERIC)
    field, label, choice = field_of(table, column_name)
    return Problem(field, f"请{'选择' if choice else '填写'}{label or '必填项'}")


def _unique_by_columns(table_name: str, columns: list[str]) -> Optional[str]:
    for name, (table, c) in constraints().items():
        if table.name == table_name and isinstance(c, (UniqueConstraint, Index)) and sorted(c.columns.keys()) == sorted(columns):
            return name
    return None


# -- reading the database's error -------------------------------------------------------------
SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")
SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w., ]+)")
SQLITE_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")
NUL_TEXT = ("NUL (0x00)", "0x00", "\\x00")


def explain(exc: BaseException, deleting: bool = False) -> Problem:
    """What a failed INSERT, UPDATE or DELETE means for the user, in Chinese."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        return _postgres(sqlstate, getattr(orig, "diag", None), deleting)
    return _by_text(str(orig), deleting)


def _postgres(sqlstate: str, diag, deleting: bool) -> Problem:
    if sqlstate == "23502":
        return not_null(getattr(diag, "table_name", "") or "", getattr(diag, "column_name", "") or "")
    if sqlstate.startswith("23"):
        name = getattr(diag, "constraint_name", None)
        fallback = IN_USE if deleting else MISSING_REFERENCE if sqlstate == "23503" else GENERIC
        return (rule(name, deleting) if name else None) or Problem(None, fallback)
    return _data_problem(sqlstate, "")


def _by_text(text: str, deleting: bool) -> Problem:
    if m := SQLITE_CHECK.search(text):
        return rule(m.group(1), deleting) or Problem(None, GENERIC)
    if m := SQLITE_UNIQUE.search(text):
        parts = [p.strip().split(".") for p in m.group(1).split(",")]
        name = _unique_by_columns(parts[0][0], [p[-1] for p in parts]) if parts and len(parts[0]) == 2 else None
        return (rule(name) if name else None) or Problem(None, GENERIC)
    if m := SQLITE_NOT_NULL.search(text):
        return not_null(m.group(1), m.group(2))
    if "FOREIGN KEY constraint failed" in text:  # SQLite does not say which one
        return Problem(None, IN_USE if deleting else MISSING_REFERENCE)
    return _data_problem("", text)


def _data_problem(sqlstate: str, text: str) -> Problem:
    """DataError and friends: too long, out of range, NUL bytes, unreadable values."""
    if sqlstate == "22001":
        return Problem(None, TOO_LONG)
    if sqlstate in ("22003", "22008") or "too large" in text or "out of range" in text:
        return Problem(None, OUT_OF_RANGE)
    if sqlstate == "22021" or any(t in text for t in NUL_TEXT):
        return Problem(None, CONTROL_CHARS)
    if sqlstate.startswith("22"):
        return Problem(None, BAD_VALUE)
    return Problem(None, GENERIC)


def column_length(model, field: str) -> Optional[int]:
    """The String(n) length of a model's column behind form field `field`, or None."""
    attr = sa_inspect(model).column_attrs.get(field)
    length = getattr(attr.columns[0].type, "length", None) if attr is not None else None
    return length if isinstance(length, int) else None
