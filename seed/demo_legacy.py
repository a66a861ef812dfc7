"""Demo: 老项目 of the old system (seed 003's 项目基本信息 rows), most carrying the credit code of
重庆渝北智联科技有限公司 (unit_ent, applicant_ent; district authority_yb): two to claim, one
待确认, one 已认领 with its history; two of 重庆江北数据服务有限公司; one of no enterprise on file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from models import ClaimStatus, Enterprise, LegacyProject, ReviewLog, Role, User

ORDER = 60  # after the enterprises

YB, JB = "重庆渝北智联科技有限公司", "重庆江北数据服务有限公司"
C = ClaimStatus
# 项目编号, 年度, 批次, 企业, 项目名称, 技术水平, 产业类别, 原系统状态, 认领状态, 认领人, 确认人
ROWS = (
    ("201721901196", 2017, "第二批", YB, "人才公共服务信息平台", "国内先进", "新一代信息技术", "已批准", C.unclaimed, None, None),
    ("201721901197", 2017, "第二批", YB, "应用融合平台", "国内先进", "新一代信息技术", "已批准", C.unclaimed, None, None),
    ("201931001087", 2019, "第三批", YB, "微服务开发平台", "国内先进", "新一代信息技术", "已上报省", C.pending, "unit_ent", None),
    ("201931001088", 2019, "第三批", YB, "融智营商综合服务平台", "国内先进", "新一代信息技术", "已上报省", C.claimed, "applicant_ent", "authority_yb"),
    ("201831002015", 2018, "第一批", JB, "工业数据治理平台", "国内领先", "新一代信息技术", "已批准", C.unclaimed, None, None),
    ("202050001038", 2020, "上半年", JB, "融资服务平台", "国内先进", "新一代信息技术", "已批准", C.pending, "unit_ent_jb", None),
    ("201650100321", 2016, "第一批", "重庆山城光电材料有限公司", "高效光伏封装材料产业化", "国内先进", "新材料", "已批准", C.unclaimed, None, None),
)
OTHER_USCC = "91500108000800001M"  # a company not on file as an enterprise


def seed_legacy_projects(ctx) -> None:
    s = ctx.session
    existing = set(s.scalars(select(LegacyProject.number)))
    enterprises = {e.name: e for e in s.scalars(select(Enterprise).where(Enterprise.name.in_([YB, JB])))}
    users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(["unit_ent", "applicant_ent", "unit_ent_jb", "authority_yb"])))}
    for number, year, batch, name, project, level, category, original, status, claimant, reviewer in ROWS:
        enterprise = enterprises.get(name)
        if number in existing or (name in (YB, JB) and enterprise is None):
            continue
        claimed_at = datetime(2024, 3, 5, 10, 20) if claimant else None
        reviewed_at = datetime(2024, 3, 8, 15, 0) if reviewer else None
        row = LegacyProject(number=number, year=year, batch=batch, enterprise_name=name,
                            uscc=enterprise.uscc.strip().upper() if enterprise else OTHER_USCC, name=project, tech_level=level,
                            industry_category=category, original_status=original, claim_status=status,
                            enterprise_id=enterprise.id if claimant and enterprise else None,
                            claimed_by_id=users[claimant].id if claimant in users else None, claimed_at=claimed_at,
                            reviewed_by_id=users[reviewer].id if reviewer in users else None, reviewed_at=reviewed_at,
                            review_opinion="经核对，项目属实，同意认领" if reviewer else None)
        s.add(row)
        s.flush()
        if claimant in users:  # the claim's history, as the engine would have written it
            s.add(ReviewLog(target="legacy_project", target_id=row.id, action="claim", from_status=C.unclaimed.value,
                            to_status=C.pending.value, user_id=users[claimant].id, username=claimant,
                            role=users[claimant].role.value, at=claimed_at))
        if reviewer in users:
            s.add(ReviewLog(target="legacy_project", target_id=row.id, action="approve", from_status=C.pending.value,
                            to_status=C.claimed.value, opinion=row.review_opinion, user_id=users[reviewer].id,
                            username=reviewer, role=Role.authority.value, at=reviewed_at))


STEPS = [seed_legacy_projects]
