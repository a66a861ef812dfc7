"""People (人员) with the field list of the unit manual's 个人信息 page and its review state."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LabeledEnum, Timestamped, enum_column, label
from .org import CityScope, SecondaryUnit, Unit, dict_fk
from .reference import DictItem, Region


class Gender(LabeledEnum):
    male = ("male", "男")
    female = ("female", "女")


class ReviewStatus(LabeledEnum):
    pending = ("pending", "待审核")
    approved = ("approved", "审核已通过")
    rejected = ("rejected", "审核不通过")


# Changing one of these needs the unit's review (seed 000 §2.5); the others save at once.
REVIEWED_FIELDS = ("id_no", "unit_id", "education_id", "degree_id", "title_id", "position")


class Person(Timestamped, Base):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("id_type_id", "id_no", name="id_type_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), unique=True, info=label("账号")
    )
    name: Mapped[str] = mapped_column(String(50), index=True, info=label("姓名", required=True))
    gender: Mapped[Optional[Gender]] = mapped_column(enum_column(Gender, "gender"), info=label("性别"))
    nationality: Mapped[str] = mapped_column(String(40), default="中国", info=label("国籍/地区"))
    ethnicity_id: Mapped[Optional[int]] = dict_fk("ethnicity", "民族")
    political_status_id: Mapped[Optional[int]] = dict_fk("political_status", "政治面貌")
    id_type_id: Mapped[Optional[int]] = dict_fk("id_type", "证件类型")
    id_no: Mapped[Optional[str]] = mapped_column(String(30), index=True, info=label("证件号码"))
    birth_date: Mapped[Optional[date]] = mapped_column(Date, info=label("出生日期"))
    work_province: Mapped[str] = mapped_column(String(40), default="重庆市", info=label("工作单位所在省/市"))
    work_region_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("region.id", ondelete="RESTRICT"), info=label("工作单位所在区/县")
    )
    work_city_scope: Mapped[CityScope] = mapped_column(
        enum_column(CityScope, "person_city_scope"), default=CityScope.inside, info=label("工作单位地域")
    )
    unit_nature_id: Mapped[Optional[int]] = dict_fk("unit_nature", "单位性质")
    unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True, info=label("工作单位")
    )
    secondary_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("secondary_unit.id", ondelete="RESTRICT"), index=True, info=label("二级单位")
    )
    unit_address: Mapped[Optional[str]] = mapped_column(String(200), info=label("单位通信地址"))
    education_id: Mapped[Optional[int]] = dict_fk("education", "最高学历")
    degree_id: Mapped[Optional[int]] = dict_fk("degree", "最高学位")
    title_id: Mapped[Optional[int]] = dict_fk("title", "职称")
    position: Mapped[Optional[str]] = mapped_column(String(50), info=label("职务"))
    major: Mapped[Optional[str]] = mapped_column(String(50), info=label("专业"))
    mobile: Mapped[Optional[str]] = mapped_column(String(11), index=True, info=label("手机"))
    office_phone: Mapped[Optional[str]] = mapped_column(String(20), info=label("办公电话"))
    email: Mapped[Optional[str]] = mapped_column(String(120), info=label("电子邮箱"))
    qq: Mapped[Optional[str]] = mapped_column(String(20), info=label("QQ"))
    wechat: Mapped[Optional[str]] = mapped_column(String(50), info=label("微信"))

    review_status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus, "person_review_status"),
        default=ReviewStatus.approved,
        index=True,
        info=label("状态"),
    )
    pending_changes: Mapped[Optional[dict]] = mapped_column(JSON, info=label("待审核变更"))
    # 工作单位 change under review: the destination unit decides it (and sees the person meanwhile).
    pending_unit_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), index=True, info=label("申请调入单位")
    )
    review_reason: Mapped[Optional[str]] = mapped_column(Text, info=label("驳回原因"))
    submitted_at: Mapped[Optional[datetime]] = mapped_column(DateTime, info=label("最近更新时间"))

    user = relationship("User", foreign_keys=[user_id], info=label("账号"))
    ethnicity: Mapped[Optional[DictItem]] = relationship(foreign_keys=[ethnicity_id], info=label("民族"))
    political_status: Mapped[Optional[DictItem]] = relationship(foreign_keys=[political_status_id], info=label("政治面貌"))
    id_type: Mapped[Optional[DictItem]] = relationship(foreign_keys=[id_type_id], info=label("证件类型"))
    work_region: Mapped[Optional[Region]] = relationship(foreign_keys=[work_region_id], info=label("工作单位所在区/县"))
    unit_nature: Mapped[Optional[DictItem]] = relationship(foreign_keys=[unit_nature_id], info=label("单位性质"))
    unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[unit_id], info=label("工作单位"))
    pending_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[pending_unit_id], info=label("申请调入单位"))
    secondary_unit: Mapped[Optional[SecondaryUnit]] = relationship(foreign_keys=[secondary_unit_id], info=label("二级单位"))
    education: Mapped[Optional[DictItem]] = relationship(foreign_keys=[education_id], info=label("最高学历"))
    degree: Mapped[Optional[DictItem]] = relationship(foreign_keys=[degree_id], info=label("最高学位"))
    title: Mapped[Optional[DictItem]] = relationship(foreign_keys=[title_id], info=label("职称"))

    def __str__(self) -> str:
        return self.name
