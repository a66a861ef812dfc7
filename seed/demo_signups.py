"""Demo: a 填报用户 who registered under 重庆大学 and waits for its admin's 授权 (seed 004), with the
证件号码 of a person already on file, so that `make run` shows the 待授权 card and the match notice."""
from __future__ import annotations

from sqlalchemy import select

from models import AccountStatus, Person, Role, Unit, User

ORDER = 90  # after the units and people


def seed_pending_signup(ctx) -> None:
    s = ctx.session
    if s.scalar(select(User.id).where(User.username == "signup_cqu")):
        return
    unit = s.scalar(select(Unit).where(Unit.name == "重庆大学"))
    person = s.scalars(select(Person).where(Person.unit_id == unit.id, Person.user_id.is_(None), Person.id_no.is_not(None))
                       .order_by(Person.id.desc()).limit(1)).first()  # the last: tests use the first ones
    taken = person is not None and s.scalar(select(User.id).where(User.id_no == person.id_no))
    s.add(User(username="signup_cqu", name=person.name if person else "刘洋", role=Role.applicant, unit_id=unit.id,
               id_no=None if taken or person is None else person.id_no, mobile="13700000001", email="signup_cqu@example.cn",
               password_hash=ctx.password_hash, status=AccountStatus.pending, modules=[]))


STEPS = [seed_pending_signup]
