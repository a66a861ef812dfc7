"""Odd input on the paths this change touched: transitions, confirmation pages, 待办 links."""
from __future__ import annotations

import pytest

ODD = ["9" * 30, "-1", "abc", "1\x00", "²", "x" * 5000]


@pytest.mark.parametrize("username, endpoint, action", [
    ("unit_cqu", "declaration", "approve"), ("unit_cqu", "declaration", "return"), ("unit_cqu", "person", "reject"),
    ("authority_yb", "registration", "approve"), ("authority_yb", "enterprise", "reject"), ("applicant_ent", "annual_report", "submit"),
])
def test_odd_ids_and_reasons_never_answer_500(client_as, username, endpoint, action):
    client = client_as(username)
    for raw in ODD:
        for fields in ({}, {"reason": "理由\x00" + "长" * 3000}):
            response = client.action(endpoint, action, [raw], **fields)
            assert response.status_code in (200, 302, 400, 404), (raw, response.status_code)
