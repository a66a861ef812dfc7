"""Legal units (法人单位) and their secondary units (二级单位)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .reference import DictItem, Region


class UnitStatus(LabeledEnum):
    pending = ("pending", "待审核")
    approved = ("approved", "审核已通过")
    rejected = ("rejected", "审核不通过")


class CityScope(LabeledEnum):
    inside = ("inside", "重庆市内")
    outside = ("outside", "重庆市外")


def dict_fk(category: str, text: str, **kw):
    """A foreign key to a dictionary entry; `info['dict']` tells forms which dictionary to offer."""
    return mapped_column(
        ForeignKey("dict_item.id", ondelete="RESTRICT"), nullable=True, info=label(text, dict=category), **kw
    )


class Unit(Timestamped, Base):
    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint("registered_capital IS NULL OR registered_capital >= 0", name="reg_capital_nonneg"),
        CheckConstraint("paid_in_capital IS NULL OR paid_in_capital >= 0", name="paid_capital_nonneg"),
        CheckConstraint(
            "paid_in_capital IS NULL OR registered_capital IS NULL OR paid_in_capital <= registered_capital",
            name="paid_le_registered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True, info=label("单位名称", required=True))
    province_city: Mapped[str] = mapped_column(String(40), default="重庆市", info=label("单位所在省市"))
    city_scope: Mapped[CityScope] = mapped_column(
        enum_column(CityScope, "city_scope"), default=CityScope.inside, info=label("单位地域")
    )
    region_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), index=True, info=label("单位所在区县")
    )
    address: Mapped[Optional[str]] = mapped_column(String(200), info=label("通信地址"))
    registered_address: Mapped[Optional[str]] = mapped_column(String(200), info=label("注册地址"))
    located_address: Mapped[Optional[str]] = mapped_column(String(200), info=label("坐落地址"))
    postcode: Mapped[Optional[str]] = mapped_column(String(6), info=label("邮政编码"))
    registered_on: Mapped[Optional[date]] = mapped_column(Date, info=label("注册时间"))
    registered_capital: Mapped[Optional[Decimal]] = mapped_column(Numeric(14, 2), info=label("注册资本(万元)"))
    paid_in_capital: Mapped[Optional[Decimal]] = mapped_column(Numeric(14, 2), info=label("实收资本(万元)"))
    uscc: Mapped[Optional[str]] = mapped_column(String(18), unique=True, info=label("统一社会信用代码"))
    registration_type_id: Mapped[Optional[int]] = dict_fk("registration_type", "登记注册类型")
    nature_id: Mapped[Optional[int]] = dict_fk("unit_nature", "单位性质")
    legal_rep: Mapped[Optional[str]] = mapped_column(String(50), info=label("法定代表人"))
    legal_rep_id_type_id: Mapped[Optional[int]] = dict_fk("id_type", "法定代表人证件类型")
    legal_rep_id_no: Mapped[Optional[str]] = mapped_column(String(30), info=label("法定代表人证件号码"))
    zone_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), info=label("单位所在新区")
    )
    industry_id: Mapped[Optional[int]] = dict_fk("industry", "行业门类")
    contact_name: Mapped[Optional[str]] = mapped_column(String(50), info=label("单位联系人姓名"))
    contact_mobile: Mapped[Optional[str]] = mapped_column(String(11), info=label("单位联系人手机", required=True))
    contact_phone: Mapped[Optional[str]] = mapped_column(String(20), info=label("单位联系人办公电话", required=True))
    email: Mapped[Optional[str]] = mapped_column(String(120), info=label("电子邮箱", required=True))
    keywords: Mapped[Optional[str]] = mapped_column(String(200), info=label("研究领域关键词"))
    bank_account_name: Mapped[Optional[str]] = mapped_column(String(200), info=label("户名"))
    bank_name: Mapped[Optional[str]] = mapped_column(String(200), info=label("开户银行", required=True))
    bank_account: Mapped[Optional[str]] = mapped_column(String(40), info=label("银行账号", required=True))
    bank_code: Mapped[Optional[str]] = mapped_column(String(12), info=label("银行行号", required=True))
    competent_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), index=True, info=label("主管部门")
    )
    status: Mapped[UnitStatus] = mapped_column(
        enum_column(UnitStatus, "unit_status"), default=UnitStatus.approved, index=True, info=label("审核状态")
    )

    region: Mapped[Optional[Region]] = relationship(foreign_keys=[region_id], info=label("单位所在区县"))
    zone: Mapped[Optional[Region]] = relationship(foreign_keys=[zone_id], info=label("单位所在新区"))
    registration_type: Mapped[Optional[DictItem]] = relationship(foreign_keys=[registration_type_id], info=label("登记注册类型"))
    nature: Mapped[Optional[DictItem]] = relationship(foreign_keys=[nature_id], info=label("单位性质"))
    legal_rep_id_type: Mapped[Optional[DictItem]] = relationship(foreign_keys=[legal_rep_id_type_id], info=label("法定代表人证件类型"))
    industry: Mapped[Optional[DictItem]] = relationship(foreign_keys=[industry_id], info=label("行业门类"))
    competent_unit: Mapped[Optional["Unit"]] = relationship(remote_side=[id], info=label("主管部门"))
    secondary_units: Mapped[list["SecondaryUnit"]] = relationship(back_populates="unit", info=label("二级单位"))

    def __str__(self) -> str:
        return self.name


class SecondaryUnit(Timestamped, Base):
    __tablename__ = "secondary_unit"
    __table_args__ = (UniqueConstraint("unit_id", "name", name="unit_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True, info=label("所属单位")
    )
    name: Mapped[str] = mapped_column(String(100), info=label("二级单位（部门）名称"))
    manager_name: Mapped[Optional[str]] = mapped_column(String(50), info=label("管理人员姓名"))
    manager_mobile: Mapped[Optional[str]] = mapped_column(String(11), info=label("管理人员手机"))
    manager_id_no: Mapped[Optional[str]] = mapped_column(String(18), info=label("管理人员身份证号码"))

    unit: Mapped[Unit] = relationship(back_populates="secondary_units", info=label("所属单位"))

    def __str__(self) -> str:
        return f"{self.unit.name}({self.name})" if self.unit else self.name
