"""One reviewing authority per unit and call (issue #12 B). 重庆大学 has a competent department
(市教委, `authority_jw`) and a district (沙坪坝区, whose authority `authority_spb` these tests add):
under a default call only 市教委 sees, decides and ranks its declarations; under a call with
authority_route = district only 沙坪坝区. Black-box through the admin, with plain SQL as the oracle."""
from __future__ import annotations

import os
import re
import threading

import pytest
from sqlalchemy import text

from models import Role, Unit, User
from seed.demo import make_id_no
from tests.form_helpers import edit, one, sql

CALL = "2026年度科研项目（第一批）"  # ranking open; chain dept → unit → authority → bureau
POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def body(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def call_id(db_session) -> int:
    return one(db_session, "SELECT id FROM call WHERE name = :n", n=CALL)


def cqu_rows(db_session, status: str) -> list[tuple[int, str]]:
    return [tuple(r) for r in sql(db_session, "SELECT d.id, d.name FROM declaration d JOIN unit u ON u.id = d.unit_id "
                                              "WHERE u.name = '重庆大学' AND d.call_id = :c AND d.status = :s ORDER BY d.id",
                                  c=call_id(db_session), s=status)]


def status_of(db_session, did: int) -> str:
    return one(db_session, "SELECT status FROM declaration WHERE id = :i", i=did)


def authority_ranks(db_session, unit_name: str) -> dict[int, int]:
    rows = sql(db_session, "SELECT d.id, d.authority_rank FROM declaration d JOIN unit u ON u.id = d.unit_id "
                           "WHERE u.name = :u AND d.call_id = :c AND d.authority_rank IS NOT NULL", u=unit_name, c=call_id(db_session))
    return {did: rank for did, rank in rows}


def act(client, action: str, ids, reason: str = "同意推荐") -> str:
    """A row action with its opinion, as the action form posts it; the outcome the next page shows."""
    response = client.post_form("/admin/declaration/action/", {"action": action, "rowid": [str(i) for i in ids], "reason": reason},
                                follow_redirects=True)
    assert response.status_code == 200, response.status_code
    return body(response)


def rank(client, did: int, position: int):
    return client.post_form("/admin/declaration/action/", {"action": "rank", "rowid": str(did), "position": str(position)})


@pytest.fixture
def spb(db_session, password_hash):
    """沙坪坝区科技局's reviewer: the district of 重庆大学 (whose competent department is 市教委)."""
    region = one(db_session, "SELECT id FROM region WHERE name = '沙坪坝区'")
    db_session.add(User(username="authority_spb", name="沙坪坝区科技局审核员", role=Role.authority, region_id=region,
                        mobile="13900000031", id_no=make_id_no(31), password_hash=password_hash))
    db_session.commit()
    return region


def set_route(client_as, db_session, route: str) -> None:
    response = edit(client_as("bureau"), f"/admin/call/edit/?id={call_id(db_session)}", authority_route=route)
    assert response.status_code == 302, body(response)[-1500:]
    assert one(db_session, "SELECT authority_route FROM call WHERE id = :i", i=call_id(db_session)) == route


def test_the_call_form_offers_the_route_in_chinese(client_as, db_session):
    page = body(client_as("bureau").get(f"/admin/call/edit/?id={call_id(db_session)}"))
    assert "主管部门审核归属" in page
    assert "有主管部门的由主管部门审核，否则由所在区县审核" in page and "由单位所在区县审核" in page


def test_default_call_only_the_competent_department_sees_decides_and_ranks(client_as, db_session, spb):
    waiting = cqu_rows(db_session, "authority_review")
    assert len(waiting) == 3
    jw, district = client_as("authority_jw"), client_as("authority_spb")
    listing = body(district.get("/admin/declaration/"))
    assert not any(name in listing for _, name in waiting)
    for did, _ in waiting:
        assert district.get(f"/admin/declaration/details/?id={did}").status_code == 404
    assert "已审核通过 0 条" in act(district, "approve", [did for did, _ in waiting])
    assert [status_of(db_session, did) for did, _ in waiting] == ["authority_review"] * 3

    assert all(name in body(jw.get("/admin/declaration/")) for _, name in waiting)
    assert "已审核通过 3 条" in act(jw, "approve", [did for did, _ in waiting])
    assert [status_of(db_session, did) for did, _ in waiting] == ["bureau_review"] * 3

    last = waiting[-1][0]
    assert rank(jw, last, 1).status_code == 302
    ranks = authority_ranks(db_session, "重庆大学")
    assert ranks[last] == 1 and sorted(ranks.values()) == [1, 2, 3, 4]
    assert rank(district, waiting[0][0], 1).status_code == 404  # not its row: it cannot even see it
    assert authority_ranks(db_session, "重庆大学") == ranks
    assert not any(name in body(district.get(f"/admin/declaration/ranking/{call_id(db_session)}/")) for _, name in waiting)


def test_district_route_call_only_the_district_sees_decides_and_ranks(client_as, db_session, spb):
    set_route(client_as, db_session, "district")
    waiting = cqu_rows(db_session, "authority_review")
    jw, district = client_as("authority_jw"), client_as("authority_spb")
    assert not any(name in body(jw.get("/admin/declaration/")) for _, name in waiting)
    assert "已审核通过 0 条" in act(jw, "approve", [waiting[0][0]])
    assert status_of(db_session, waiting[0][0]) == "authority_review"

    assert all(name in body(district.get("/admin/declaration/")) for _, name in waiting)
    assert "已审核通过 3 条" in act(district, "approve", [did for did, _ in waiting])
    assert [status_of(db_session, did) for did, _ in waiting] == ["bureau_review"] * 3
    last = waiting[-1][0]
    assert rank(district, last, 1).status_code == 302
    ranks = authority_ranks(db_session, "重庆大学")
    assert ranks[last] == 1 and sorted(ranks.values()) == [1, 2, 3, 4]
    assert rank(jw, waiting[0][0], 2).status_code == 404
    assert authority_ranks(db_session, "重庆大学") == ranks


def test_the_engine_names_the_one_deciding_authority(db_session, spb):
    """Even asked directly (past the scope), the other authority is refused by the AT_LEVEL rule."""
    from models import Declaration
    from rules import transitions, workflow
    from rules.scope import Principal

    did = cqu_rows(db_session, "authority_review")[0][0]
    row = db_session.get(Declaration, did)
    spb_user = db_session.query(User).filter_by(username="authority_spb").one()
    jw_user = db_session.query(User).filter_by(username="authority_jw").one()
    refusal = transitions.refusal(db_session, Principal.of(spb_user), workflow.DECLARATION, "approve", row)
    assert refusal == "应由主管部门（重庆市教育委员会）审核"
    assert transitions.refusal(db_session, Principal.of(jw_user), workflow.DECLARATION, "approve", row) is None


def test_units_and_people_have_one_authority(client_as, db_session, spb):
    """A unit with a competent department is the department's (people, 二级单位 too), not its district's;
    a unit of the district without one is the district's."""
    region = spb
    db_session.add(Unit(name="重庆沙坪坝示例科技有限公司", region_id=region, uscc=None))
    db_session.commit()
    district, jw = client_as("authority_spb"), client_as("authority_jw")
    units = body(district.get("/admin/unit/"))
    assert "重庆沙坪坝示例科技有限公司" in units and "重庆大学" not in units
    assert "重庆大学" in body(jw.get("/admin/unit/")) and "重庆沙坪坝示例科技有限公司" not in body(jw.get("/admin/unit/"))
    assert "软件学院" not in body(district.get("/admin/secondary_unit/"))
    assert "李娜" not in body(district.get("/admin/person/")) and "李娜" in body(jw.get("/admin/person/"))


# -- two authorities ranking at once -------------------------------------------------------------
def _two_groups(client_as, db_session, spb) -> tuple[list[int], list[int]]:
    """市教委 ranks 重庆大学's rows; 沙坪坝区 those of a district unit without a competent department
    (two of 重庆大学's rows, handed to it by SQL and put past the authority level)."""
    region = spb
    db_session.add(Unit(name="重庆沙坪坝示例科技有限公司", region_id=region))
    db_session.commit()
    local = one(db_session, "SELECT id FROM unit WHERE name = '重庆沙坪坝示例科技有限公司'")
    jw = client_as("authority_jw")
    waiting = [did for did, _ in cqu_rows(db_session, "authority_review")]
    moved = [did for did, _ in cqu_rows(db_session, "unit_review")][:2]
    db_session.execute(text("UPDATE declaration SET unit_id = :u, secondary_unit_id = NULL, status = 'bureau_review' "
                            "WHERE id IN (:a, :b)"), {"u": local, "a": moved[0], "b": moved[1]})
    db_session.commit()
    assert "已审核通过 3 条" in act(jw, "approve", waiting)
    return sorted(authority_ranks(db_session, "重庆大学") | {d: 0 for d in waiting}), moved


def _expected(start: list[int], moves: list[tuple[int, int]]) -> dict[int, int]:
    order = list(start)
    for did, position in moves:
        order.remove(did)
        order.insert(position - 1, did)
    return {did: i for i, did in enumerate(order, start=1)}


def _current_order(db_session, ids: list[int], column: str = "authority_rank") -> list[int]:
    rows = dict(sql(db_session, f"SELECT id, {column} FROM declaration WHERE id IN ({', '.join(map(str, ids))})"))
    return sorted(ids, key=lambda i: (rows[i] is None, rows[i] or 0, i))


def test_two_authorities_ranking_do_not_overwrite_each_other(client_as, db_session, spb):
    jw_rows, spb_rows = _two_groups(client_as, db_session, spb)
    jw, district = client_as("authority_jw"), client_as("authority_spb")
    jw_moves = [(jw_rows[-1], 1), (jw_rows[1], 4), (jw_rows[0], 2), (jw_rows[2], 1)] * 3
    spb_moves = [(spb_rows[1], 1), (spb_rows[0], 1)] * 6 + [(spb_rows[1], 1)]  # the district moves last
    jw_start, spb_start = _current_order(db_session, jw_rows), _current_order(db_session, spb_rows)
    errors: list[str] = []

    def run(client, moves):
        for did, position in moves:
            response = rank(client, did, position)
            if response.status_code != 302:
                errors.append(f"{did}: {response.status_code}")

    if POSTGRES:  # really at once
        threads = [threading.Thread(target=run, args=(jw, jw_moves)), threading.Thread(target=run, args=(district, spb_moves))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    else:  # SQLite serialises writers: interleave the two sequences instead
        for i in range(max(len(jw_moves), len(spb_moves))):
            run(jw, jw_moves[i:i + 1])
            run(district, spb_moves[i:i + 1])
    assert errors == []
    page = body(district.get(f"/admin/declaration/ranking/{call_id(db_session)}/"))
    names = dict(sql(db_session, "SELECT id, name FROM declaration WHERE id IN (:a, :b, :c, :d, :e, :f)",
                     **dict(zip("abcdef", jw_rows + spb_rows))))
    assert all(names[d] in page for d in spb_rows) and not any(names[d] in page for d in jw_rows)
    assert authority_ranks(db_session, "重庆大学") == _expected(jw_start, jw_moves)
    assert authority_ranks(db_session, "重庆沙坪坝示例科技有限公司") == _expected(spb_start, spb_moves)

    # returning a ranked row closes the gap in its own authority's ranking only
    spb_before = authority_ranks(db_session, "重庆沙坪坝示例科技有限公司")
    first = min(authority_ranks(db_session, "重庆大学").items(), key=lambda kv: kv[1])[0]
    act(client_as("bureau"), "return", [first], reason="材料不全")
    assert sorted(authority_ranks(db_session, "重庆大学").values()) == [1, 2, 3]
    assert authority_ranks(db_session, "重庆沙坪坝示例科技有限公司") == spb_before
