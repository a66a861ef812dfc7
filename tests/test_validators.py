"""The pure validators of rules/validators.py with real-looking valid and invalid values."""
from datetime import date
from decimal import Decimal

import pytest

from rules.validators import (
    bank_code_error,
    capital_error,
    email_error,
    id_card_birth,
    id_card_error,
    id_check_digit,
    keywords_error,
    mobile_error,
    phone_error,
    postcode_error,
    uscc_check_char,
    uscc_error,
)
from rules.passwords import policy_errors, temporary_password


@pytest.mark.parametrize("code", ["91500000MA5U7H2K10", "12500000450400012K", "91500112MA60XJ8H3R", "52500105MA5YQ3K0J6", "91110108551385082Q", "91500112ma60xj8h3r"])
def test_valid_uscc(code):
    assert uscc_error(code) is None


@pytest.mark.parametrize(
    "code, message",
    [
        ("91500000MA5U7H2K11", "校验位不正确"),  # last character changed
        ("91500112MA60XJ8H3", "18 位"),
        ("91500112MA60XJ8H3RR", "18 位"),
        ("91500112MA60XI8H3R", "非法字符"),  # I is not used
        ("915001O2MA60XJ8H3R", "非法字符"),  # O is not used
        ("9150A112MA60XJ8H3R", "行政区划码"),
        ("", "18 位"),
    ],
)
def test_invalid_uscc(code, message):
    assert message in uscc_error(code)


def test_uscc_check_char_follows_gb32100():
    assert uscc_check_char("91500000MA5U7H2K1") == "0"
    assert uscc_check_char("12500000450400012") == "K"


@pytest.mark.parametrize("number", ["11010519491231002X", "500103198001013516", "500112199003072019", "440304200002291236", "11010519491231002x"])
def test_valid_id_card(number):
    assert id_card_error(number) is None


@pytest.mark.parametrize(
    "number, message",
    [
        ("110105194912310021", "校验位不正确"),
        ("500103198001013517", "校验位不正确"),
        ("500103198013013516", "出生日期"),  # month 13
        ("440304190002291230", "出生日期"),  # 1900 was not a leap year
        ("50010319800101351", "18 位"),
        ("5001031980010135XX", "18 位"),
        ("500103 98001013516", "18 位"),
    ],
)
def test_invalid_id_card(number, message):
    assert message in id_card_error(number)


def test_id_card_check_digit_and_birth():
    assert id_check_digit("11010519491231002") == "X"
    assert id_card_birth("500103198001013516") == date(1980, 1, 1)


@pytest.mark.parametrize("value, ok", [("13912345678", True), ("19912345678", True), ("12912345678", False), ("1391234567", False), ("139123456789", False), ("", False)])
def test_mobile(value, ok):
    assert (mobile_error(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("023-65102000", True), ("02365102000", True), ("023-65102000-801", True), ("65102000", True), ("13912345678", True), ("023-123", False), ("phone", False)])
def test_office_phone(value, ok):
    assert (phone_error(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("kyc@cqu.edu.cn", True), ("a.b+c@example.com", True), ("kyc@cqu", False), ("kyc.cqu.edu.cn", False), ("@cqu.edu.cn", False)])
def test_email(value, ok):
    assert (email_error(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("400044", True), ("40004", False), ("4000444", False), ("40004A", False)])
def test_postcode(value, ok):
    assert (postcode_error(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("102653000019", True), ("10265300001", False), ("1026530000190", False), ("10265300001X", False)])
def test_bank_code(value, ok):
    assert (bank_code_error(value) is None) is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("人工智能、大数据、智能制造", True),
        ("人工智能,大数据,智能制造,机器人", True),
        ("人工智能，大数据、智能制造,机器人,新材料", True),
        ("人工智能、大数据", False),
        ("a、b、c、d、e、f", False),
        ("人工智能 大数据 智能制造", False),
    ],
)
def test_keywords(value, ok):
    assert (keywords_error(value) is None) is ok


def test_capital():
    assert capital_error(Decimal("500"), Decimal("0")) is None
    assert capital_error(Decimal("500"), Decimal("500")) is None
    assert capital_error(Decimal("-1"), None) == "注册资本不能为负数"
    assert capital_error(None, Decimal("-0.01")) == "实收资本不能为负数"
    assert capital_error(Decimal("500"), Decimal("500.01")) == "实收资本不能大于注册资本"


@pytest.mark.parametrize(
    "password, username, mobile, problem",
    [
        ("Kjj@2024cq", "zhangwei", "13912345678", None),
        ("kjj2024cq!", "zhangwei", "13912345678", None),  # lower + digit + symbol
        ("Kj@2024", "zhangwei", "", "至少 8 位"),
        ("kjjcqkjjcq2024", "zhangwei", "", "至少三种"),
        ("Zhangwei@2024", "zhangwei", "", "用户名"),
        ("A@13912345678", "zhangwei", "13912345678", "手机号码"),
    ],
)
def test_password_policy(password, username, mobile, problem):
    errors = policy_errors(password, username, mobile)
    assert (not errors) if problem is None else any(problem in e for e in errors)


def test_temporary_password_satisfies_policy():
    for _ in range(50):
        assert policy_errors(temporary_password()) == []
