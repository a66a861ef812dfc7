"""rules/calls.py without a request: 申报对象 (applicant_refusal), the 限额规则 rows and a call in words."""
from __future__ import annotations

from types import SimpleNamespace as NS

import pytest
from sqlalchemy import select

from models import Call, Unit
from rules import calls
from rules.calls import QuotaRow

NAMES = {"03": "国有企业", "04": "非公有制经济", "08": "高等院校", "09": "科研院所"}


def unit(code, name):
    return NS(nature=NS(category="unit_nature", code=code, name=name))


@pytest.mark.parametrize("natures, who, expected", [
    (None, unit("08", "高等院校"), None),
    ([], unit("08", "高等院校"), None),
    (["03", "04"], unit("04", "非公有制经济"), None),
    (["03", "04"], unit("08", "高等院校"), "本批次仅限企业申报（国有企业、非公有制经济），本单位的单位性质为“高等院校”"),
    (["08", "09"], unit("04", "非公有制经济"), "本批次仅限以下单位性质的单位申报（高等院校、科研院所），本单位的单位性质为“非公有制经济”"),
    (["03", "04"], NS(nature=None), "本批次仅限企业申报（国有企业、非公有制经济），本单位未填写单位性质"),
    (["03"], None, "您的账号未关联单位，不能申报"),
])
def test_applicant_refusal(natures, who, expected):
    assert calls.applicant_refusal(NS(applicant_natures=natures), who, NAMES) == expected


def test_applicant_refusal_reads_the_dictionary_of_the_demo_units(db_session):
    tech = NS(applicant_natures=list(calls.ENTERPRISE_NATURES))
    call = db_session.scalars(select(Call)).first()
    call.applicant_natures = list(calls.ENTERPRISE_NATURES)  # not saved: only its session is read
    units = {u.name: u for u in db_session.scalars(select(Unit).where(Unit.name.in_(("重庆大学", "重庆渝北智联科技有限公司"))))}
    assert calls.applicant_refusal(call, units["重庆渝北智联科技有限公司"]) is None
    assert calls.applicant_refusal(call, units["重庆大学"]) == "本批次仅限企业申报（国有企业、非公有制经济），本单位的单位性质为“高等院校”"
    assert calls.applicant_refusal(tech, units["重庆渝北智联科技有限公司"], {}) is None
    db_session.rollback()


def rows(*pairs):
    return [QuotaRow(lower, count) for lower, count in pairs]


def test_quota_rows_become_the_stored_rule_and_back():
    rule, errors = calls.quota_rule(rows(("0", "1"), ("2000", "2"), ("", ""), ("40000", "5"), ("1,000,00", "10")))
    assert errors == {} and rule == [[0, 1], [2000, 2], [40000, 5], [100000, 10]]
    assert calls.quota_rows(rule) == rows(("0", "1"), ("2000", "2"), ("40000", "5"), ("100000", "10"))
    assert calls.quota_rule(rows(("0", "1"), ("2500.5", "3")))[0] == [[0, 1], [2500.5, 3]]
    assert calls.quota_rule(rows(("", "")))[1] == {-1: ["请至少填写一档限额，或选择“不限额”"]}


def test_quota_rows_refused_with_the_row_named():
    rule, errors = calls.quota_rule(rows(("0", "1"), ("40000", "5"), ("2000", "x"), ("-1", "2")))
    assert rule is None
    assert errors == {
        2: ["营业收入下限应大于上一档的下限（40000 万元）：各档按营业收入从低到高排列，不能重叠", "项目数应为不小于 0 的整数"],
        3: ["营业收入下限不能为负数"],
    }


def test_a_call_in_words():
    c = NS(review_chain=["unit", "authority", "bureau"], authority_label="区县审核", quota_rule=[[0, 1], [2000, 2], [40000, 5], [100000, 10]],
           required_fields=["name", "leader"], required_attachments=["body"], applicant_natures=["03", "04"],
           form_fields=[{"label": "市场前景", "type": "textarea", "required": True}, {"label": "是否合作", "type": "bool"}])
    assert calls.chain_text(c) == "单位审核 → 区县审核 → 科技局审核"
    assert calls.quota_text(c) == ("上年度营业收入 2000 万元以下 1 项；2000 万元至 40000 万元 2 项；"
                                   "40000 万元至 100000 万元 5 项；100000 万元及以上 10 项")
    assert calls.required_text(c) == "项目名称、项目负责人"
    assert calls.attachments_text(c) == "申报书正文"
    assert calls.natures_text(c, NAMES) == "国有企业、非公有制经济"
    assert calls.form_fields_text(c) == "市场前景（多行文本，必填）、是否合作（是/否）"
    empty = NS(review_chain=[], authority_label="", quota_rule=None, required_fields={}, required_attachments=None,
               applicant_natures=None, form_fields=None)
    assert calls.quota_text(empty) == "不限额" and calls.attachments_text(empty) == "不要求"
    assert calls.natures_text(empty) == "所有单位" and calls.form_fields_text(empty) == "无"
    assert calls.required_text(empty) == "未设置（提交时不检查必填项）"  # the old JSON box's {}
