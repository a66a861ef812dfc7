"""Two reviewers approving the same declarations at once, and many submitters drawing 项目编号 at once.

Each thread has its own app context, session and connection. Runs on PostgreSQL
(TEST_DATABASE_URL) and on SQLite (where writers serialise on the database lock).
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

from sqlalchemy import insert, select

from models import Call, Declaration, ReviewRecord, Status, User
from rules import scope, workflow

ROWS = 120


def _principal(db_session, username):
    return scope.Principal.of(db_session.scalars(select(User).where(User.username == username)).one())


def _bulk_rows(db_session, applicant, status, n, numbered=True):
    call = db_session.scalars(select(Call).where(Call.name == f"{datetime.now().year}年度科研项目（第一批）")).one()
    base = db_session.scalars(select(Declaration).where(Declaration.call_id == call.id, Declaration.status != Status.draft)).first()
    rows = []
    for i in range(n):
        rows.append({
            "call_id": call.id, "year": call.year, "applicant_id": applicant.id, "unit_id": applicant.unit_id,
            "secondary_unit_id": applicant.secondary_unit_id, "status": status, "name": f"并发测试{applicant.username}{i:04d}",
            "number": f"C{applicant.id:03d}{i:06d}" if numbered else None, "leader": "张伟", "leader_phone": "13900000008",
            "summary": "简介", "innovation": base.innovation, "tech_level_id": base.tech_level_id,
            "industry_category_id": base.industry_category_id, "start_month": base.start_month, "end_month": base.end_month,
            "innovation_mode": base.innovation_mode, "new_tech_count": 0, "new_product_count": 0, "new_process_count": 0,
        })
    db_session.execute(insert(Declaration), rows)
    db_session.commit()
    return list(db_session.scalars(select(Declaration.id).where(Declaration.name.like(f"并发测试{applicant.username}%")).order_by(Declaration.id)))


def _run_in_threads(app, jobs):
    from extensions import db

    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def work(k, principal, ids, action, order):
        try:
            with app.app_context():
                barrier.wait()
                results[k] = workflow.act(db.session, principal, ids[::order], action, "同意")
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k, *job)) for k, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_two_reviewers_approve_the_same_rows_at_once(app, db_session):
    zhang = db_session.scalars(select(User).where(User.username == "applicant_zhang")).one()
    ids = _bulk_rows(db_session, zhang, Status.bureau_review, ROWS)
    bureau = _principal(db_session, "bureau")
    results = _run_in_threads(app, [(bureau, ids, "approve", 1), (bureau, ids, "approve", -1)])
    assert sum(len(r.done) for r in results) == ROWS
    assert sum(len(r.skipped) for r in results) == ROWS
    db_session.expire_all()
    statuses = Counter(db_session.scalars(select(Declaration.status).where(Declaration.id.in_(ids))))
    assert statuses == {Status.approved: ROWS}
    per_row = Counter(db_session.scalars(select(ReviewRecord.declaration_id).where(ReviewRecord.declaration_id.in_(ids))))
    assert set(per_row.values()) == {1} and len(per_row) == ROWS


def test_concurrent_submitters_get_unique_consecutive_numbers(app, db_session):
    users = {u.username: u for u in db_session.scalars(select(User).where(User.username.in_(["applicant_zhang", "applicant_li"])))}
    jobs = []
    for username in ("applicant_zhang", "applicant_li"):
        ids = _bulk_rows(db_session, users[username], Status.draft, 40, numbered=False)
        jobs.append((_principal(db_session, username), ids, "submit", 1))
    results = _run_in_threads(app, jobs)
    assert [len(r.done) for r in results] == [40, 40], [r.skipped[:3] for r in results]
    db_session.expire_all()
    numbers = list(db_session.scalars(select(Declaration.number).where(Declaration.name.like("并发测试%"))))
    assert len(numbers) == 80 and len(set(numbers)) == 80 and all(numbers)
    prefix = numbers[0][:-4]
    assert all(n.startswith(prefix) for n in numbers)
    seqs = sorted(int(n[-4:]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 80))  # no gaps, no duplicates


def test_two_submissions_cannot_both_take_the_last_quota_place(app, db_session):
    import os

    import pytest

    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises writers")
    ent = db_session.scalars(select(User).where(User.username == "applicant_ent")).one()
    tech = db_session.scalars(select(Call).where(Call.name == f"{datetime.now().year}年技术创新项目（上半年）")).one()
    base = db_session.scalars(select(Declaration).where(Declaration.name == "工业设备预测性维护平台")).one()
    ids = []
    for k in range(2):
        copy = Declaration(call_id=tech.id, year=tech.year, applicant_id=ent.id, unit_id=ent.unit_id, status=Status.draft,
                           name=f"抢名额{k}", leader="陈杰", leader_phone="13900000014", summary="简介", innovation=base.innovation,
                           tech_level_id=base.tech_level_id, industry_category_id=base.industry_category_id,
                           start_month=base.start_month, end_month=base.end_month, innovation_mode=base.innovation_mode,
                           new_tech_desc="新技术")
        db_session.add(copy)
        db_session.flush()
        ids.append(copy.id)
    db_session.delete(base)  # 25000万 → 2 places, one already taken: one place left for two submitters
    db_session.commit()
    p = _principal(db_session, "applicant_ent")
    results = _run_in_threads(app, [(p, [ids[0]], "submit", 1), (p, [ids[1]], "submit", 1)])
    assert sorted(len(r.done) for r in results) == [0, 1]
    assert any("超出本批次申报限额" in why for r in results for _, why in r.skipped)
