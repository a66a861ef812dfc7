"""Pure validators for Chinese identifiers and contact data; each returns an error text or None."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Optional

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 (GB 32100-2015, modulus 31)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_error(code: str) -> Optional[str]:
    """Why `code` is not a valid 统一社会信用代码 (GB 32100-2015), or None."""
    code = (code or "").strip().upper()
    if len(code) != 18:
        return "统一社会信用代码应为 18 位"
    if any(c not in USCC_CHARS for c in code):
        return "统一社会信用代码含有非法字符（不使用 I、O、Z、S、V）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3–8 位应为行政区划码（数字）"
    if uscc_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确"
    return None


def id_check_digit(first17: str) -> str:
    """The check digit of a 居民身份证号码 (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def id_card_birth(number: str) -> Optional[date]:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except (ValueError, IndexError):
        return None


def id_card_error(number: str) -> Optional[str]:
    """Why `number` is not a valid 18-digit 居民身份证号码 (GB 11643-1999), or None."""
    number = (number or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return "身份证号码应为 18 位，最后一位可为数字或 X"
    birth = id_card_birth(number)
    if birth is None or birth > date.today() or birth.year < 1900:
        return "身份证号码中的出生日期不正确"
    if id_check_digit(number[:17]) != number[17]:
        return "身份证号码校验位不正确"
    return None


def mobile_error(value: str) -> Optional[str]:
    return None if re.fullmatch(r"1[3-9]\d{9}", (value or "").strip()) else "请输入 11 位手机号码"


def phone_error(value: str) -> Optional[str]:
    """Office phone: 区号-号码[-分机], or a mobile number."""
    value = (value or "").strip()
    if re.fullmatch(r"(0\d{2,3}-?)?[2-9]\d{6,7}(-\d{1,6})?", value) or not mobile_error(value):
        return None
    return "请输入正确的办公电话，如 023-65102000"


def email_error(value: str) -> Optional[str]:
    value = (value or "").strip()
    if re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", value):
        return None
    return "请输入正确的电子邮箱"


def postcode_error(value: str) -> Optional[str]:
    return None if re.fullmatch(r"\d{6}", (value or "").strip()) else "邮政编码应为 6 位数字"


def bank_code_error(value: str) -> Optional[str]:
    return None if re.fullmatch(r"\d{12}", (value or "").strip()) else "银行行号应为 12 位数字"


KEYWORD_SPLIT = re.compile(r"[、,，]")


def keywords_error(value: str) -> Optional[str]:
    words = [w.strip() for w in KEYWORD_SPLIT.split(value or "") if w.strip()]
    if not 3 <= len(words) <= 5:
        return "研究领域关键词应为 3–5 个，用 、 , 或 ， 分隔"
    return None


def capital_error(registered: Optional[Decimal], paid_in: Optional[Decimal]) -> Optional[str]:
    if registered is not None and registered < 0:
        return "注册资本不能为负数"
    if paid_in is not None and paid_in < 0:
        return "实收资本不能为负数"
    if registered is not None and paid_in is not None and paid_in > registered:
        return "实收资本不能大于注册资本"
    return None


def bank_account_error(value: str) -> Optional[str]:
    """银行账号: digits only (a company's account is 8–32 digits long, written without spaces)."""
    return None if re.fullmatch(r"\d{8,32}", (value or "").strip()) else "银行账号应为 8–32 位数字，不含空格或其他字符"


YEAR_MIN, YEAR_MAX = 1900, 2100


def date_error(value: date, past: bool = False, today: Optional[date] = None) -> Optional[str]:
    """A date within 1900–2100 and, for what already happened (注册时间, 出生日期), not after today."""
    day = value.date() if hasattr(value, "date") and callable(value.date) else value
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        return f"日期应在 {YEAR_MIN} 年至 {YEAR_MAX} 年之间"
    if past and day > (today or date.today()):
        return "日期不能晚于今天"
    return None


# What a file of each extension starts with: PDF, PNG, JPEG, OOXML (docx/xlsx are ZIP) and the
# OLE compound file of the old Office formats (doc/xls).
MAGIC = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}


def file_content_error(extension: str, head: bytes) -> Optional[str]:
    """Why a file's first bytes are not what its extension says (a renamed .exe is no PDF), or None."""
    ext = (extension or "").lower().lstrip(".")
    signatures = MAGIC.get(ext)
    if signatures is None:
        return f"不支持 .{ext} 格式的文件"
    if not any(head.startswith(s) for s in signatures):
        return f"文件内容与扩展名 .{ext} 不符，请上传真实的 {ext.upper()} 文件"
    return None


def has_control_chars(text: str) -> bool:
    """NUL and the other control characters below space, tabs and line breaks excepted."""
    return any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text or "")
