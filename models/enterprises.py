"""Technology enterprises (科技型企业), their annual reports (科技信息年报), reviews, credit ratings,
innovation vouchers (科技创新券) and the saved parameters of the enterprise libraries (seed 001)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .org import Unit, dict_fk
from .reference import DictItem, Region

MONEY = Numeric(16, 2)


class EnterpriseStatus(LabeledEnum):
    pending = ("pending", "待审核")
    approved = ("approved", "审核已通过")
    rejected = ("rejected", "审核不通过")


class StorageStatus(LabeledEnum):
    out = ("out", "未入库")
    stored = ("stored", "已入库")


class ReportStatus(LabeledEnum):
    draft = ("draft", "未提交")
    district_review = ("district_review", "区县待审核")
    district_rejected = ("district_rejected", "区县审核不通过")
    city_review = ("city_review", "市局待审核")
    city_rejected = ("city_rejected", "市局审核不通过")
    approved = ("approved", "审核已通过")


class ListingStatus(LabeledEnum):
    none = ("none", "未挂牌上市")
    regional = ("regional", "区域性股权市场挂牌")
    neeq = ("neeq", "新三板挂牌")
    star_filed = ("star_filed", "科创板已申报")
    listed = ("listed", "已上市")


class CreditGrade(LabeledEnum):
    aaa = ("AAA", "AAA")
    aa = ("AA", "AA")
    a = ("A", "A")
    b = ("B", "B")
    c = ("C", "C")


class VoucherType(LabeledEnum):
    rd = ("rd", "研发设计券")
    testing = ("testing", "检验检测券")
    transfer = ("transfer", "技术转移券")
    consulting = ("consulting", "科技咨询券")


class Enterprise(Timestamped, Base):
    """A technology enterprise registered in a district (区县), reviewed by that district."""

    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint("registered_capital IS NULL OR registered_capital >= 0", name="capital_nonneg"),
        Index("ix_enterprise_region_status", "region_id", "review_status"),
        Index("ix_enterprise_region_storage", "region_id", "storage_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, info=label("企业名称", required=True))
    uscc: Mapped[str] = mapped_column(String(18), unique=True, info=label("统一社会信用代码", required=True))
    unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), unique=True, info=label("对应单位")
    )
    region_id: Mapped[int] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("所属区县", required=True)
    )
    zone_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("所在园区/新区")
    )
    registered_on: Mapped[Optional[date]] = mapped_column(Date, info=label("注册时间"))
    registered_capital: Mapped[Optional[Decimal]] = mapped_column(MONEY, info=label("注册资本(万元)"))
    legal_rep: Mapped[Optional[str]] = mapped_column(String(50), info=label("法定代表人"))
    address: Mapped[Optional[str]] = mapped_column(String(200), info=label("通信地址"))
    industry_id: Mapped[Optional[int]] = dict_fk("industry", "产业类型")
    industry_category_id: Mapped[Optional[int]] = dict_fk("industry_category", "产业类别")
    scale_id: Mapped[Optional[int]] = dict_fk("enterprise_scale", "企业规模")
    hitech_field_id: Mapped[Optional[int]] = dict_fk("hitech_field", "高新技术领域")
    contact_name: Mapped[Optional[str]] = mapped_column(String(50), info=label("科研联系人"))
    contact_mobile: Mapped[Optional[str]] = mapped_column(String(11), info=label("科研联系人手机"))
    main_business: Mapped[Optional[str]] = mapped_column(String(200), info=label("主营业务"))
    main_revenue: Mapped[Optional[Decimal]] = mapped_column(MONEY, info=label("主营业务收入(千元)"))
    above_scale: Mapped[bool] = mapped_column(Boolean, default=False, info=label("规上工业企业"))
    review_status: Mapped[EnterpriseStatus] = mapped_column(
        enum_column(EnterpriseStatus, "enterprise_status"), default=EnterpriseStatus.pending, index=True,
        info=label("审核状态"),
    )
    review_opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("审核意见"))
    storage_status: Mapped[StorageStatus] = mapped_column(
        enum_column(StorageStatus, "storage_status"), default=StorageStatus.out, index=True, info=label("入库状态")
    )
    stored_on: Mapped[Optional[date]] = mapped_column(Date, index=True, info=label("入库时间"))
    submitted_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("提交时间"))

    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id], info=label("对应单位"))
    region: Mapped[Region] = relationship(foreign_keys=[region_id], info=label("所属区县"))
    zone: Mapped[Optional[Region]] = relationship(foreign_keys=[zone_id], info=label("所在园区/新区"))
    industry: Mapped[Optional[DictItem]] = relationship(foreign_keys=[industry_id], info=label("产业类型"))
    industry_category: Mapped[Optional[DictItem]] = relationship(foreign_keys=[industry_category_id], info=label("产业类别"))
    scale: Mapped[Optional[DictItem]] = relationship(foreign_keys=[scale_id], info=label("企业规模"))
    hitech_field: Mapped[Optional[DictItem]] = relationship(foreign_keys=[hitech_field_id], info=label("高新技术领域"))

    def __str__(self) -> str:
        return self.name


def _num(text: str, **kw):
    return mapped_column(MONEY, nullable=True, info=label(text, **kw))


def _int(text: str, **kw):
    return mapped_column(Integer, nullable=True, info=label(text, **kw))


# The nine tabs of the annual report and the columns on each (seed 001 §3.1.3).
REPORT_TABS: list[tuple[str, tuple[str, ...]]] = [
    ("基本信息", ("year", "filler_name", "filler_mobile", "innovation_score")),
    ("经营概况", ("revenue", "main_revenue", "net_profit", "tax_paid", "total_assets", "export_income", "rd_expense", "rd_domestic")),
    ("科技成果", ("invention_patents", "utility_patents", "software_copyrights", "other_ip", "new_products", "tech_contracts")),
    ("主导或参与标准制定", ("standards_led", "standards_joined", "standards_note")),
    ("人员状况", ("staff", "tech_staff", "rd_staff", "doctors", "masters")),
    ("研发平台", ("platforms_national", "platforms_city", "platform_names")),
    ("挂牌上市", ("listing_status", "listing_board")),
    ("高企认定情况", ("hitech_certified", "hitech_cert_year", "hitech_cert_no")),
    ("高新技术产品", ("hitech_products", "hitech_income", "hitech_product_names")),
]


class AnnualReport(Timestamped, Base):
    """科技信息年报: one per enterprise and year, filled by the enterprise, reviewed by district then city."""

    __tablename__ = "annual_report"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "year", name="uq_annual_report_enterprise_year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint("staff IS NULL OR staff >= 0", name="staff_nonneg"),
        CheckConstraint("tech_staff IS NULL OR staff IS NULL OR tech_staff <= staff", name="tech_le_staff"),
        CheckConstraint("rd_domestic IS NULL OR rd_expense IS NULL OR rd_domestic <= rd_expense", name="domestic_le_rd"),
        CheckConstraint("innovation_score IS NULL OR innovation_score BETWEEN 0 AND 100", name="score_range"),
        Index("ix_annual_report_year_status", "year", "status", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="CASCADE"), index=True, info=label("企业名称", required=True)
    )
    year: Mapped[int] = mapped_column(Integer, info=label("年份", required=True))
    status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus, "report_status"), default=ReportStatus.draft, index=True, info=label("审核状态")
    )
    submitted_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("提交时间"))
    district_opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("区县审核意见"))
    city_opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("市局审核意见"))
    # 基本信息
    filler_name: Mapped[Optional[str]] = mapped_column(String(50), info=label("填报人"))
    filler_mobile: Mapped[Optional[str]] = mapped_column(String(11), info=label("填报人手机"))
    innovation_score: Mapped[Optional[int]] = _int("创新能力自评分")
    # 经营概况 (万元)
    revenue: Mapped[Optional[Decimal]] = _num("营业收入(万元)")
    main_revenue: Mapped[Optional[Decimal]] = _num("主营业务收入(万元)")
    net_profit: Mapped[Optional[Decimal]] = _num("净利润(万元)")
    tax_paid: Mapped[Optional[Decimal]] = _num("上缴税金(万元)")
    total_assets: Mapped[Optional[Decimal]] = _num("资产总额(万元)")
    export_income: Mapped[Optional[Decimal]] = _num("出口创汇(万元)")
    rd_expense: Mapped[Optional[Decimal]] = _num("研发费用总额(万元)")
    rd_domestic: Mapped[Optional[Decimal]] = _num("境内研发费用(万元)")
    # 科技成果
    invention_patents: Mapped[Optional[int]] = _int("有效发明专利(件)")
    utility_patents: Mapped[Optional[int]] = _int("实用新型专利(件)")
    software_copyrights: Mapped[Optional[int]] = _int("软件著作权(件)")
    other_ip: Mapped[Optional[int]] = _int("其他知识产权(件)")
    new_products: Mapped[Optional[int]] = _int("新产品(项)")
    tech_contracts: Mapped[Optional[int]] = _int("技术合同(项)")
    # 主导或参与标准制定
    standards_led: Mapped[Optional[int]] = _int("主导制定标准(项)")
    standards_joined: Mapped[Optional[int]] = _int("参与制定标准(项)")
    standards_note: Mapped[Optional[str]] = mapped_column(Text, info=label("标准名称"))
    # 人员状况
    staff: Mapped[Optional[int]] = _int("从业人员(人)")
    tech_staff: Mapped[Optional[int]] = _int("科技人员(人)")
    rd_staff: Mapped[Optional[int]] = _int("研发人员(人)")
    doctors: Mapped[Optional[int]] = _int("博士(人)")
    masters: Mapped[Optional[int]] = _int("硕士(人)")
    # 研发平台
    platforms_national: Mapped[Optional[int]] = _int("国家级研发平台(个)")
    platforms_city: Mapped[Optional[int]] = _int("市级研发平台(个)")
    platform_names: Mapped[Optional[str]] = mapped_column(Text, info=label("研发平台名称"))
    # 挂牌上市
    listing_status: Mapped[ListingStatus] = mapped_column(
        enum_column(ListingStatus, "listing_status"), default=ListingStatus.none, info=label("挂牌上市情况")
    )
    listing_board: Mapped[Optional[str]] = mapped_column(String(100), info=label("挂牌上市板块/代码"))
    # 高企认定情况
    hitech_certified: Mapped[bool] = mapped_column(Boolean, default=False, info=label("是否高新技术企业"))
    hitech_cert_year: Mapped[Optional[int]] = _int("高企认定年份")
    hitech_cert_no: Mapped[Optional[str]] = mapped_column(String(40), info=label("高企证书编号"))
    # 高新技术产品
    hitech_products: Mapped[Optional[int]] = _int("高新技术产品(项)")
    hitech_income: Mapped[Optional[Decimal]] = _num("高新技术产品(服务)收入(万元)")
    hitech_product_names: Mapped[Optional[str]] = mapped_column(Text, info=label("高新技术产品名称"))

    enterprise: Mapped[Enterprise] = relationship(info=label("企业名称"))

    def __str__(self) -> str:
        return f"{self.enterprise.name if self.enterprise else self.enterprise_id} {self.year}年年报"


class EnterpriseReview(Base):
    """One review record (审批意见) of an enterprise's basic info or of an annual report."""

    __tablename__ = "enterprise_review"
    __table_args__ = (Index("ix_enterprise_review_target", "target", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(20), info=label("对象"))  # enterprise | annual_report
    target_id: Mapped[int] = mapped_column(Integer, info=label("对象编号"))
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="CASCADE"), index=True, info=label("企业")
    )
    level: Mapped[str] = mapped_column(String(20), info=label("审核级别"))
    action: Mapped[str] = mapped_column(String(20), info=label("操作"))
    from_status: Mapped[str] = mapped_column(String(20), info=label("原状态"))
    to_status: Mapped[str] = mapped_column(String(20), info=label("新状态"))
    opinion: Mapped[Optional[str]] = mapped_column(Text, info=label("审批意见"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), info=label("审核人"))
    username: Mapped[Optional[str]] = mapped_column(String(50), info=label("审核人"))
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, info=label("审核时间"))


class CreditRating(Base):
    """知识价值信用评级 of an enterprise for a year."""

    __tablename__ = "credit_rating"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", name="uq_credit_rating_enterprise_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True, info=label("企业名称"))
    year: Mapped[int] = mapped_column(Integer, index=True, info=label("年份"))
    grade: Mapped[CreditGrade] = mapped_column(enum_column(CreditGrade, "credit_grade"), index=True, info=label("信用等级"))
    score: Mapped[Optional[int]] = _int("评价得分")
    credit_limit: Mapped[Optional[Decimal]] = _num("授信额度(万元)")
    bank: Mapped[Optional[str]] = mapped_column(String(100), info=label("合作银行"))

    enterprise: Mapped[Enterprise] = relationship(info=label("企业名称"))


class InnovationVoucher(Base):
    """科技创新券: one voucher an enterprise applied for in a year."""

    __tablename__ = "innovation_voucher"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("redeemed IS NULL OR redeemed <= amount", name="redeemed_le_amount"),
        Index("ix_innovation_voucher_year_enterprise", "year", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True, info=label("企业名称"))
    year: Mapped[int] = mapped_column(Integer, info=label("年份"))
    voucher_type: Mapped[VoucherType] = mapped_column(enum_column(VoucherType, "voucher_type"), info=label("创新券类型"))
    amount: Mapped[Decimal] = mapped_column(MONEY, info=label("申领金额(万元)"))
    redeemed: Mapped[Optional[Decimal]] = _num("兑付金额(万元)")
    applied_on: Mapped[Optional[date]] = mapped_column(Date, info=label("申领日期"))

    enterprise: Mapped[Enterprise] = relationship(info=label("企业名称"))


class LibraryParam(Base):
    """A saved default of one library condition parameter (条件参数), set by the city bureau."""

    __tablename__ = "library_param"
    __table_args__ = (UniqueConstraint("library", "param", name="uq_library_param_library_param"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library: Mapped[str] = mapped_column(String(40), info=label("库"))
    param: Mapped[str] = mapped_column(String(40), info=label("参数"))
    value: Mapped[Decimal] = mapped_column(Numeric(16, 4), info=label("默认值"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now, onupdate=datetime.now, info=label("更新时间"))
