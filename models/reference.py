"""Reference data: districts and zones (区县/园区) and the code dictionaries (字典)."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, LabeledEnum, enum_column, label


class RegionKind(LabeledEnum):
    district = ("district", "区县")
    zone = ("zone", "园区/新区")


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True, info=label("行政区划代码"))
    name: Mapped[str] = mapped_column(String(40), unique=True, info=label("名称"))
    kind: Mapped[RegionKind] = mapped_column(
        enum_column(RegionKind, "region_kind"), default=RegionKind.district, info=label("类型")
    )
    in_liangjiang: Mapped[bool] = mapped_column(Boolean, default=False, info=label("两江新区"))
    in_gaoxin: Mapped[bool] = mapped_column(Boolean, default=False, info=label("高新区"))
    in_jingkai: Mapped[bool] = mapped_column(Boolean, default=False, info=label("经开区"))
    in_city_hitech: Mapped[bool] = mapped_column(Boolean, default=False, info=label("市级高新区"))
    sort: Mapped[int] = mapped_column(Integer, default=0, info=label("排序"))

    def __str__(self) -> str:
        return self.name


class DictItem(Base):
    """One entry of a code dictionary; `category` names the dictionary (see DICT_CATEGORIES)."""

    __tablename__ = "dict_item"
    __table_args__ = (
        UniqueConstraint("category", "code", name="category_code"),
        CheckConstraint("length(code) > 0", name="code_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(40), index=True, info=label("字典类别"))
    code: Mapped[str] = mapped_column(String(40), info=label("代码"))
    name: Mapped[str] = mapped_column(String(100), info=label("名称"))
    sort: Mapped[int] = mapped_column(Integer, default=0, info=label("排序"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, info=label("启用"))

    def __str__(self) -> str:
        return self.name


DICT_CATEGORIES = {
    "education": "学历",
    "degree": "学位",
    "title": "职称",
    "unit_nature": "单位性质",
    "registration_type": "登记注册类型",
    "industry": "行业门类",
    "political_status": "政治面貌",
    "ethnicity": "民族",
    "id_type": "证件类型",
    "tech_level": "技术水平",
    "industry_category": "产业类别",
    "enterprise_scale": "企业规模",
    "hitech_field": "高新技术领域",
}
