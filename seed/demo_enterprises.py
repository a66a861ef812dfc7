"""Demo enterprises in all 38 districts with annual reports 2020–2022, credit ratings and vouchers.

Each enterprise's values come from its own index (random.Random(index)), so a rerun inserts only
what is missing and yields the same data. Bulk inserts in batches.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable

from sqlalchemy import insert, select

from models import (
    AnnualReport,
    CreditGrade,
    CreditRating,
    Enterprise,
    EnterpriseStatus,
    InnovationVoucher,
    ListingStatus,
    Region,
    ReportStatus,
    StorageStatus,
    Unit,
    VoucherType,
)

from .demo import BATCH, DemoContext, chinese_name, make_mobile, make_uscc

ORDER = 50
YEARS = (2020, 2021, 2022)
BASE_COUNT = 500
DEMO_UNITS = {  # demo units that are enterprises, with their basic-info review state
    "重庆渝北智联科技有限公司": EnterpriseStatus.approved,
    "重庆江北数据服务有限公司": EnterpriseStatus.approved,
    "重庆两江精密制造有限公司": EnterpriseStatus.pending,
}
WORD_A = "恒远 智联 创新 博睿 华辰 新锐 中科 天成 云帆 星河 凯达 瑞景 合信 众诚 宏图 鼎新 海川 金桥 飞鸿 明德 思源 领航 长江 巴渝 山城 嘉陵 缙云 九章 正和 弘毅".split()
WORD_B = "智能 信息 生物 医药 精密 材料 电子 数据 软件 光电 环保 能源 汽车 机器人 检测 装备 农业 传感 芯片 通信".split()
WORD_C = "科技有限公司 技术有限公司 股份有限公司 科技股份有限公司 研究院有限公司".split()


def enterprise_count(scale: int) -> int:
    return BASE_COUNT + max(0, scale)


def enterprise_name(i: int, district: str) -> str:
    a = WORD_A[i % len(WORD_A)]
    b = WORD_B[(i // len(WORD_A)) % len(WORD_B)]
    c = WORD_C[(i // (len(WORD_A) * len(WORD_B))) % len(WORD_C)]
    cycle = i // (len(WORD_A) * len(WORD_B) * len(WORD_C))
    short = district.replace("土家族苗族自治县", "").replace("苗族土家族自治县", "").replace("土家族自治县", "").rstrip("区县")
    return f"重庆{short}{a}{b}{c}" if cycle == 0 else f"重庆{short}{a}{b}{cycle}号{c}"


def _money(x: float) -> Decimal:
    return Decimal(str(round(x, 2)))


def enterprise_row(i: int, region: Region, zones: dict, dicts: dict) -> dict:
    rng = random.Random(1_000_003 * i + 17)
    if rng.random() < 0.25:  # a quarter are young firms (孵化库)
        registered = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 4 * 365))
    else:
        registered = date(1995, 1, 1) + timedelta(days=rng.randrange(0, 27 * 365))
    status = rng.choices([EnterpriseStatus.approved, EnterpriseStatus.pending, EnterpriseStatus.rejected], [80, 15, 5])[0]
    stored = status == EnterpriseStatus.approved and rng.random() < 0.9
    stored_on = None
    if stored:
        start = max(registered, date(2019, 1, 1))
        stored_on = start + timedelta(days=rng.randrange(0, max(1, (date(2023, 6, 30) - start).days)))
    zone = None
    for flag, zone_name in (("in_liangjiang", "两江新区"), ("in_gaoxin", "西部科学城重庆高新区"), ("in_jingkai", "重庆经开区")):
        if getattr(region, flag) and rng.random() < 0.4 and zone_name in zones:
            zone = zones[zone_name]
    return {
        "name": enterprise_name(i, region.name),
        "uscc": make_uscc(5_000_000 + i, "91", region.code),
        "region_id": region.id,
        "zone_id": zone,
        "registered_on": registered,
        "registered_capital": _money(rng.choice([50, 100, 200, 500, 1000, 3000, 5000])),
        "legal_rep": chinese_name(rng),
        "address": f"重庆市{region.name}科技大道{i % 900 + 1}号",
        "industry_id": rng.choices(dicts["industry"], [1, 6, 4])[0] if dicts["industry"] else None,
        "industry_category_id": rng.choice(dicts["industry_category"]) if dicts["industry_category"] else None,
        "scale_id": rng.choices(dicts["enterprise_scale"], [1, 3, 8, 6])[0] if dicts["enterprise_scale"] else None,
        "hitech_field_id": rng.choice(dicts["hitech_field"]) if dicts["hitech_field"] else None,
        "contact_name": chinese_name(rng),
        "contact_mobile": make_mobile(30_000_000 + i, "136"),
        "main_business": "技术开发、技术服务及相关产品的生产销售",
        "main_revenue": _money(rng.lognormvariate(9.5, 1.3)),
        "above_scale": rng.random() < 0.25,
        "review_status": status,
        "review_opinion": "营业执照信息与填报不一致，请核实后重新提交" if status == EnterpriseStatus.rejected else None,
        "storage_status": StorageStatus.stored if stored else StorageStatus.out,
        "stored_on": stored_on,
        "submitted_at": datetime(2022, 1, 1) + timedelta(minutes=rng.randrange(0, 600_000)),
    }


def report_rows(i: int, enterprise_id: int, registered: date, years: Iterable[int] = YEARS, last_status=None) -> list[dict]:
    rng = random.Random(7_000_013 * i + 5)
    revenue = rng.lognormvariate(7.6, 1.5)  # 万元, median ~2000
    growth_bias = rng.uniform(-0.1, 0.45)
    staff = max(5, int(revenue ** 0.55 * rng.uniform(0.8, 2.5)))
    tech_share = rng.uniform(0.04, 0.45)
    rd_share = rng.uniform(0.01, 0.12)
    patents = int(rng.expovariate(1 / max(1.0, revenue ** 0.3)))
    certified = rng.random() < 0.3
    cert_year = rng.randint(2014, 2022) if certified else None
    rows = []
    for year in years:
        if year < registered.year:
            continue
        if rng.random() < 0.1:
            continue  # no report that year
        if year == YEARS[-1]:
            status = last_status or rng.choices(
                [ReportStatus.approved, ReportStatus.city_review, ReportStatus.district_review, ReportStatus.district_rejected, ReportStatus.city_rejected, ReportStatus.draft],
                [62, 10, 14, 4, 2, 8],
            )[0]
        else:
            status = ReportStatus.approved if rng.random() < 0.95 else ReportStatus.draft
        revenue *= 1 + growth_bias + rng.uniform(-0.08, 0.08)
        staff_y = max(3, int(staff * rng.uniform(0.9, 1.15)))
        tech = int(staff_y * tech_share)
        rd = revenue * rd_share * rng.uniform(0.8, 1.2)
        hitech_income = revenue * rng.uniform(0.3, 0.95)
        submitted = datetime(year + 1, 3, 1) + timedelta(minutes=rng.randrange(0, 180_000)) if status != ReportStatus.draft else None
        rows.append({
            "enterprise_id": enterprise_id, "year": year, "status": status, "submitted_at": submitted,
            "district_opinion": "同意" if status in (ReportStatus.city_review, ReportStatus.approved, ReportStatus.city_rejected) else
            ("研发费用数据缺少佐证材料" if status == ReportStatus.district_rejected else None),
            "city_opinion": "同意" if status == ReportStatus.approved else ("科技人员数据与社保人数不符" if status == ReportStatus.city_rejected else None),
            "filler_name": chinese_name(rng), "filler_mobile": make_mobile(40_000_000 + i, "135"),
            "innovation_score": rng.randint(50, 95),
            "revenue": _money(revenue), "main_revenue": _money(revenue * rng.uniform(0.8, 1.0)),
            "net_profit": _money(revenue * rng.uniform(-0.05, 0.18)), "tax_paid": _money(revenue * rng.uniform(0.01, 0.06)),
            "total_assets": _money(revenue * rng.uniform(0.6, 2.5)), "export_income": _money(revenue * rng.uniform(0, 0.2)),
            "rd_expense": _money(rd), "rd_domestic": _money(rd * rng.uniform(0.5, 1.0)),
            "invention_patents": patents + (year - YEARS[0]), "utility_patents": rng.randint(0, 20),
            "software_copyrights": rng.randint(0, 15), "other_ip": rng.randint(0, 5),
            "new_products": rng.randint(0, 8), "tech_contracts": rng.randint(0, 6),
            "standards_led": rng.choices([0, 1, 2], [80, 15, 5])[0], "standards_joined": rng.choices([0, 1, 2, 3], [60, 25, 10, 5])[0],
            "staff": staff_y, "tech_staff": tech, "rd_staff": int(tech * rng.uniform(0.5, 1.0)),
            "doctors": rng.randint(0, 3), "masters": rng.randint(0, 15),
            "platforms_national": 1 if rng.random() < 0.03 else 0, "platforms_city": rng.choices([0, 1, 2], [70, 25, 5])[0],
            "listing_status": rng.choices(list(ListingStatus), [85, 6, 5, 2, 2])[0],
            "hitech_certified": bool(certified and cert_year <= year), "hitech_cert_year": cert_year if certified and cert_year <= year else None,
            "hitech_cert_no": f"GR{cert_year}5100{i % 10000:04d}" if certified and cert_year <= year else None,
            "hitech_products": rng.randint(0, 6), "hitech_income": _money(hitech_income),
        })
    return rows


def _dicts(ctx: DemoContext) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"industry": [], "industry_category": [], "enterprise_scale": [], "hitech_field": []}
    for (category, _), item in sorted(ctx.dicts.items(), key=lambda kv: (kv[1].category, kv[1].sort, kv[1].id)):
        if category in out:
            out[category].append(item.id)
    return out


def _batches(session, model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start : start + BATCH])


def seed_enterprises(ctx: DemoContext, count: int | None = None) -> None:
    s = ctx.session
    regions = sorted((r for r in ctx.regions.values() if r.kind.value == "district"), key=lambda r: r.sort)
    zones = {r.name: r.id for r in ctx.regions.values() if r.kind.value == "zone"}
    dicts = _dicts(ctx)
    existing = set(s.scalars(select(Enterprise.name)))
    yubei = next((r for r in regions if r.name == "渝北区"), None)
    rows = []
    # the demo units that are enterprises come first, linked to their unit
    for k, (unit_name, status) in enumerate(DEMO_UNITS.items()):
        unit = s.scalar(select(Unit).where(Unit.name == unit_name))
        if unit is None or unit_name in existing:
            continue
        region = next(r for r in regions if r.id == unit.region_id)
        row = enterprise_row(k, region, zones, dicts)
        row.update(name=unit_name, uscc=unit.uscc, unit_id=unit.id, review_status=status, review_opinion=None,
                   registered_on=unit.registered_on or row["registered_on"],
                   storage_status=StorageStatus.stored if status == EnterpriseStatus.approved else StorageStatus.out,
                   stored_on=date(2021, 5, 10) if status == EnterpriseStatus.approved else None,
                   contact_name=unit.contact_name, contact_mobile=unit.contact_mobile)
        rows.append(row)
    for i in range(100, 100 + enterprise_count(ctx.scale) if count is None else 100 + count):
        region = yubei if i % 7 == 0 and yubei else regions[i % len(regions)]  # 渝北区 (the demo district) gets more
        row = enterprise_row(i, region, zones, dicts)
        if row["name"] not in existing:
            rows.append(row)
    _batches(s, Enterprise, rows)
    ctx.progress(len(rows))
    _seed_children(ctx, {r["name"] for r in rows})


def _index_of(name: str, uscc: str) -> int:
    return int(uscc[8:17]) - 5_000_000 if uscc.startswith("91") and int(uscc[8:17]) >= 5_000_000 else 0


def _seed_children(ctx: DemoContext, new_names: set[str]) -> None:
    """Reports, ratings and vouchers of the enterprises just inserted."""
    if not new_names:
        return
    s = ctx.session
    new = [row for row in s.execute(select(Enterprise.id, Enterprise.name, Enterprise.uscc, Enterprise.registered_on, Enterprise.storage_status)) if row.name in new_names]
    reports, ratings, vouchers = [], [], []
    for e in new:
        i = _index_of(e.name, e.uscc) or e.id
        demo_unit = e.name in DEMO_UNITS
        reports.extend(report_rows(i, e.id, e.registered_on or date(2010, 1, 1), last_status=ReportStatus.draft if demo_unit else None))
        rng = random.Random(9_000_011 * i + 3)
        for year in YEARS:
            if e.storage_status == StorageStatus.stored and rng.random() < 0.4:
                grade = rng.choices(list(CreditGrade), [10, 25, 35, 20, 10])[0]
                ratings.append({"enterprise_id": e.id, "year": year, "grade": grade, "score": {"AAA": 92, "AA": 84, "A": 76, "B": 66, "C": 55}[grade.value] + rng.randint(0, 6),
                                "credit_limit": _money(rng.choice([100, 200, 300, 500, 800, 1000])), "bank": rng.choice(["重庆银行", "重庆农村商业银行", "中国建设银行重庆分行", "招商银行重庆分行"])})
            if rng.random() < 0.3:
                for _ in range(rng.randint(1, 3)):
                    amount = rng.choice([2, 5, 10, 20, 30, 50])
                    vouchers.append({"enterprise_id": e.id, "year": year, "voucher_type": rng.choice(list(VoucherType)), "amount": _money(amount),
                                     "redeemed": _money(amount * rng.choice([0, 0.5, 0.8, 1.0])), "applied_on": date(year, rng.randint(1, 12), rng.randint(1, 28))})
    _batches(s, AnnualReport, reports)
    _batches(s, CreditRating, ratings)
    _batches(s, InnovationVoucher, vouchers)


STEPS = [seed_enterprises]
