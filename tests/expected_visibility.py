"""Expected visibility (数据权限) of the demo world, written by hand.

Source of every line: DESIGN.md's "Roles and data scope" table, the manuals in seeds/ and the
demo data of seed/demo*.py (which rows exist). Nothing here calls `rules.scope`: an entry is
either a literal set of natural keys or a `Where` rule in plain Python over the raw table rows
(see `tests/test_scope_expected.py` for the row fields), with the count the rule must yield on
the demo data (counted by hand / with plain SQL over the demo tables, not through the scope).

The rules encoded (the product's intended rules, even where today's code disagrees):

- A 未提交 (draft) declaration is visible ONLY to its applicant, bureau and sysadmin included; so
  are its members, budget and review records. An 未上报 (draft) 调度填报 only to its applicant.
- applicant: own person record and own declarations; the unit (and secondary unit) it belongs to;
  its own account; the enterprise linked to its unit with that enterprise's 年报.
- dept_admin: its secondary unit's people, accounts and non-draft declarations; its own unit and
  secondary unit; no enterprises.
- unit_admin: its unit and all its secondary units (people, accounts, non-draft declarations,
  the unit's registration), and the enterprise linked to its unit.
- authority: one authority per unit (issue #12): the units under it as competent department
  (主管部门) and the units of its district (region) that have NO competent department (a unit with
  both is the department's, not the district's), plus its own unit ("既是单位又是主管部门"); their
  secondary units and people; the non-draft declarations it decides at the authority level (per
  call: Call.authority_route = competent → as above; district → every unit of its district); the
  registrations routed to it for review; the enterprises (and 年报) of its region; its own
  account only.
- bureau / sysadmin: everything, except others' drafts.

Natural keys: Declaration name · Person name · Unit name · SecondaryUnit "unit/name" · username ·
UnitRegistration unit name · Enterprise name · AnnualReport (enterprise, year) · ProgressReport
(declaration, quarter) · ReviewRecord (declaration, action, from, to) · Member (declaration,
name) · BudgetItem (declaration, subject).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Where:
    """A hand-written rule over the raw rows of one model (a row is a namespace of plain fields)."""

    description: str
    test: Callable
    count: Optional[int] = None  # how many demo rows the rule selects (hand count; None: not fixed)


ACCOUNTS = (
    "sysadmin",
    "bureau",
    "authority_yb",
    "authority_jw",
    "unit_cqu",
    "dept_cqu_se",
    "applicant_zhang",
    "applicant_li",
    "unit_ent",
    "applicant_ent",
)

# -- the demo world's names ------------------------------------------------------------------
EDU = "重庆市教育委员会"
CQU = "重庆大学"
SWU = "西南大学"
ZHILIAN = "重庆渝北智联科技有限公司"
LIANGJIANG = "重庆两江精密制造有限公司"
JIANGBEI_DATA = "重庆江北数据服务有限公司"
EDU_INSTITUTE = "重庆市教育科学研究院"  # registration pending, competent department 市教委
YUNFAN = "重庆渝北云帆科技有限公司"  # registration pending, district 渝北区
LIUCHUANGYUAN = "重庆留学人员创业园"  # registration pending, routed to the city (bureau)
JB_ASSOCIATION = "重庆江北青年创新协会"  # registration pending, district 江北区
XINGHE = "重庆渝北星河电子有限公司"  # registration rejected, district 渝北区

# Declarations per applicant, split into 未提交 and the rest (seed/demo_declarations.py).
DRAFTS = {
    "applicant_zhang": {"基于大模型的软件缺陷智能检测方法研究"},
    "applicant_li": {"新型储能材料界面机理研究"},
    "applicant_ent": {"工业设备预测性维护平台"},
}
SUBMITTED = {
    "applicant_zhang": {  # 重庆大学 / 软件学院
        "面向微服务架构的智能运维关键技术研究",
        "开源软件供应链安全风险评估方法研究",
        "工业软件可信验证平台研发",
        "智能网联汽车软件测试技术研究",
        "软件定义制造系统关键技术研究",
        "低代码平台生成代码质量评估研究",
        "智能软件工程创业项目",
        "软件自动化测试关键技术研究",
    },
    "applicant_li": {  # 重庆大学, no secondary unit
        "山地城市桥梁健康监测关键技术",
        "复杂地质隧道智能建造技术研究",
        "高性能混凝土耐久性提升技术",
        "留学人员科技成果转化项目",
        "城市内涝预警模型研究",
    },
    "applicant_wang": {  # 重庆大学 / 计算机学院
        "图神经网络在交通预测中的应用",
        "隐私计算联邦学习框架研究",
        "知识图谱构建技术研究",
    },
    "applicant_swu": {"柑橘病虫害智能识别系统研究"},  # 西南大学 / 计算机与信息科学学院
    "applicant_ent": {"智能仓储机器人调度系统", "工业互联网标识解析平台"},  # 智联科技 (渝北区)
    "applicant_lj": {  # 两江精密 (渝北区)
        "高精度数控机床主轴研制",
        "精密减速器国产化关键技术",
        "航空零部件精密加工工艺",
        "五轴联动数控系统研发",
    },
    "applicant_ent_jb": {"政务数据治理服务平台"},  # 江北数据 (江北区)
}

S = SUBMITTED
DECLARATIONS = {
    "sysadmin": S["applicant_zhang"] | S["applicant_li"] | S["applicant_wang"] | S["applicant_swu"]
    | S["applicant_ent"] | S["applicant_lj"] | S["applicant_ent_jb"],  # 24 = every non-draft row
    "authority_yb": S["applicant_ent"] | S["applicant_lj"],  # units of 渝北区
    "authority_jw": S["applicant_zhang"] | S["applicant_li"] | S["applicant_wang"] | S["applicant_swu"],  # 重庆大学, 西南大学
    "unit_cqu": S["applicant_zhang"] | S["applicant_li"] | S["applicant_wang"],
    "dept_cqu_se": S["applicant_zhang"],  # 软件学院: zhang is its only applicant
    "applicant_zhang": DRAFTS["applicant_zhang"] | S["applicant_zhang"],
    "applicant_li": DRAFTS["applicant_li"] | S["applicant_li"],
    "unit_ent": S["applicant_ent"],
    "applicant_ent": DRAFTS["applicant_ent"] | S["applicant_ent"],
}
DECLARATIONS["bureau"] = DECLARATIONS["sysadmin"]


def _of_visible_declarations(account: str, what: str, count: Optional[int] = None) -> Where:
    names = frozenset(DECLARATIONS[account])
    return Where(f"{what} of the declarations {account} sees", lambda r: r.declaration in names, count)


# Counts of the child rows below: review records counted per declaration with plain SQL over
# review_record (drafts have none); every demo declaration has 2 members and 2 budget items.
_ALL = lambda r: True  # noqa: E731
Q1, Q2 = "第一季度", "第二季度"  # 调度填报 periods are "<this year>年第一季度" (submitted), "…第二季度" (draft)

EXPECTED: dict[str, dict[str, object]] = {
    "sysadmin": {
        "Declaration": DECLARATIONS["sysadmin"],
        "Person": Where("every person", _ALL, 84),
        "Unit": Where("every unit", _ALL, 11),
        "SecondaryUnit": {f"{CQU}/软件学院", f"{CQU}/计算机学院", f"{CQU}/机械与运载工程学院", f"{SWU}/计算机与信息科学学院", f"{SWU}/生命科学学院"},
        "User": Where("every account", _ALL, 24),
        "UnitRegistration": {EDU_INSTITUTE, YUNFAN, LIUCHUANGYUAN, JB_ASSOCIATION, XINGHE},
        "Enterprise": Where("every enterprise", _ALL, 503),
        "AnnualReport": Where("every annual report", _ALL, 1243),
        "ProgressReport": {("工业互联网标识解析平台", Q1), ("航空零部件精密加工工艺", Q1)},  # not the 未上报 Q2 ones
        "ReviewRecord": _of_visible_declarations("sysadmin", "review records", 64),
        "Member": _of_visible_declarations("sysadmin", "members", 48),  # not the drafts' members
        "BudgetItem": _of_visible_declarations("sysadmin", "budget items", 48),
    },
    "authority_yb": {  # 渝北区
        "Declaration": DECLARATIONS["authority_yb"],
        "Person": Where("people of the units in 渝北区", lambda r: r.unit_region == "渝北区", 26),
        "Unit": {ZHILIAN, LIANGJIANG, YUNFAN, LIUCHUANGYUAN, XINGHE},
        "SecondaryUnit": set(),
        "User": {"authority_yb"},
        "UnitRegistration": {YUNFAN, XINGHE},  # routed to 渝北区; 留创园 goes to the city
        "Enterprise": Where("enterprises of 渝北区", lambda r: r.region == "渝北区", 84),
        "AnnualReport": Where("annual reports of enterprises of 渝北区", lambda r: r.region == "渝北区", 217),
        "ProgressReport": {("工业互联网标识解析平台", Q1), ("航空零部件精密加工工艺", Q1)},
        "ReviewRecord": _of_visible_declarations("authority_yb", "review records", 18),
        "Member": _of_visible_declarations("authority_yb", "members", 12),
        "BudgetItem": _of_visible_declarations("authority_yb", "budget items", 12),
    },
    "authority_jw": {  # 市教委: competent department of 重庆大学, 西南大学, 教科院; no region
        "Declaration": DECLARATIONS["authority_jw"],
        "Person": Where("people of 市教委 and of the units under it", lambda r: EDU in (r.unit, r.unit_competent), 44),
        "Unit": {EDU, CQU, SWU, EDU_INSTITUTE},
        "SecondaryUnit": {f"{CQU}/软件学院", f"{CQU}/计算机学院", f"{CQU}/机械与运载工程学院", f"{SWU}/计算机与信息科学学院", f"{SWU}/生命科学学院"},
        "User": {"authority_jw"},
        "UnitRegistration": {EDU_INSTITUTE},
        "Enterprise": set(),  # no region, and no unit under it is an enterprise
        "AnnualReport": set(),
        "ProgressReport": set(),
        "ReviewRecord": _of_visible_declarations("authority_jw", "review records", 44),
        "Member": _of_visible_declarations("authority_jw", "members", 34),
        "BudgetItem": _of_visible_declarations("authority_jw", "budget items", 34),
    },
    "unit_cqu": {
        "Declaration": DECLARATIONS["unit_cqu"],
        "Person": Where("people of 重庆大学", lambda r: r.unit == CQU, 18),
        "Unit": {CQU},
        "SecondaryUnit": {f"{CQU}/软件学院", f"{CQU}/计算机学院", f"{CQU}/机械与运载工程学院"},
        "User": {"unit_cqu", "dept_cqu_se", "dept_cqu_cs", "applicant_zhang", "applicant_li", "applicant_wang", "signup_cqu"},
        "UnitRegistration": set(),
        "Enterprise": set(),
        "AnnualReport": set(),
        "ProgressReport": set(),
        "ReviewRecord": _of_visible_declarations("unit_cqu", "review records", 42),
        "Member": _of_visible_declarations("unit_cqu", "members", 32),
        "BudgetItem": _of_visible_declarations("unit_cqu", "budget items", 32),
    },
    "dept_cqu_se": {  # 重庆大学 / 软件学院
        "Declaration": DECLARATIONS["dept_cqu_se"],
        "Person": {"软件学院科研秘书", "张伟"},
        "Unit": {CQU},
        "SecondaryUnit": {f"{CQU}/软件学院"},
        "User": {"dept_cqu_se", "applicant_zhang"},
        "UnitRegistration": set(),
        "Enterprise": set(),
        "AnnualReport": set(),
        "ProgressReport": set(),
        "ReviewRecord": _of_visible_declarations("dept_cqu_se", "review records", 23),
        "Member": _of_visible_declarations("dept_cqu_se", "members", 16),
        "BudgetItem": _of_visible_declarations("dept_cqu_se", "budget items", 16),
    },
    "applicant_zhang": {
        "Declaration": DECLARATIONS["applicant_zhang"],
        "Person": {"张伟"},
        "Unit": {CQU},
        "SecondaryUnit": {f"{CQU}/软件学院"},
        "User": {"applicant_zhang"},
        "UnitRegistration": set(),
        "Enterprise": set(),
        "AnnualReport": set(),
        "ProgressReport": set(),
        "ReviewRecord": _of_visible_declarations("applicant_zhang", "review records", 23),
        "Member": _of_visible_declarations("applicant_zhang", "members", 18),  # the draft's too
        "BudgetItem": _of_visible_declarations("applicant_zhang", "budget items", 18),
    },
    "applicant_li": {
        "Declaration": DECLARATIONS["applicant_li"],
        "Person": {"李娜"},
        "Unit": {CQU},
        "SecondaryUnit": set(),
        "User": {"applicant_li"},
        "UnitRegistration": set(),
        "Enterprise": set(),
        "AnnualReport": set(),
        "ProgressReport": set(),
        "ReviewRecord": _of_visible_declarations("applicant_li", "review records", 10),
        "Member": _of_visible_declarations("applicant_li", "members", 12),
        "BudgetItem": _of_visible_declarations("applicant_li", "budget items", 12),
    },
    "unit_ent": {  # 重庆渝北智联科技有限公司 (渝北区), linked to its enterprise
        "Declaration": DECLARATIONS["unit_ent"],
        "Person": Where("people of 智联科技", lambda r: r.unit == ZHILIAN, 14),
        "Unit": {ZHILIAN},
        "SecondaryUnit": set(),
        "User": {"unit_ent", "applicant_ent"},
        "UnitRegistration": set(),
        "Enterprise": {ZHILIAN},
        "AnnualReport": {(ZHILIAN, 2020), (ZHILIAN, 2021), (ZHILIAN, 2022)},
        "ProgressReport": {("工业互联网标识解析平台", Q1)},  # its applicant's Q2 is still 未上报
        "ReviewRecord": _of_visible_declarations("unit_ent", "review records", 5),
        "Member": _of_visible_declarations("unit_ent", "members", 4),
        "BudgetItem": _of_visible_declarations("unit_ent", "budget items", 4),
    },
    "applicant_ent": {
        "Declaration": DECLARATIONS["applicant_ent"],
        "Person": {"陈杰"},
        "Unit": {ZHILIAN},
        "SecondaryUnit": set(),
        "User": {"applicant_ent"},
        "UnitRegistration": set(),
        "Enterprise": {ZHILIAN},
        "AnnualReport": {(ZHILIAN, 2020), (ZHILIAN, 2021), (ZHILIAN, 2022)},
        "ProgressReport": {("工业互联网标识解析平台", Q1), ("工业互联网标识解析平台", Q2)},
        "ReviewRecord": _of_visible_declarations("applicant_ent", "review records", 5),
        "Member": _of_visible_declarations("applicant_ent", "members", 6),
        "BudgetItem": _of_visible_declarations("applicant_ent", "budget items", 6),
    },
}
# 市科技局 sees what the system administrator sees (全部, still without others' drafts).
EXPECTED["bureau"] = {
    **EXPECTED["sysadmin"],
    "ReviewRecord": _of_visible_declarations("bureau", "review records", 64),
    "Member": _of_visible_declarations("bureau", "members", 48),
    "BudgetItem": _of_visible_declarations("bureau", "budget items", 48),
}

MODELS = ("Declaration", "Person", "Unit", "SecondaryUnit", "User", "UnitRegistration", "Enterprise",
          "AnnualReport", "ProgressReport", "ReviewRecord", "Member", "BudgetItem")

# Rows worth probing for a 404 on the details page when they are outside an account's scope:
# others' drafts, a neighbouring secondary unit, another unit, another district.
PROBES = {
    "Declaration": ["基于大模型的软件缺陷智能检测方法研究", "新型储能材料界面机理研究", "工业设备预测性维护平台",
                    "图神经网络在交通预测中的应用", "柑橘病虫害智能识别系统研究", "政务数据治理服务平台"],
    "Person": ["张伟", "李娜", "王强", "赵敏", "陈杰", "刘洋", "计算机学院科研秘书"],
    "Unit": [CQU, SWU, ZHILIAN, JIANGBEI_DATA, LIUCHUANGYUAN, EDU],
    "SecondaryUnit": [f"{CQU}/软件学院", f"{CQU}/计算机学院", f"{SWU}/生命科学学院"],
    "User": ["applicant_zhang", "applicant_wang", "applicant_swu", "unit_ent_jb", "sysadmin"],
    "UnitRegistration": [LIUCHUANGYUAN, JB_ASSOCIATION, EDU_INSTITUTE, YUNFAN],
    "Enterprise": [ZHILIAN, JIANGBEI_DATA, LIANGJIANG],
    "AnnualReport": [(ZHILIAN, 2022), (JIANGBEI_DATA, 2021), (LIANGJIANG, 2020)],
    "ProgressReport": [("工业互联网标识解析平台", Q2), ("航空零部件精密加工工艺", Q2), ("航空零部件精密加工工艺", Q1)],
}
