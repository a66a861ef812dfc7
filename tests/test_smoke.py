from tests.conftest import DEMO_ACCOUNTS
import pytest


@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_every_demo_account_logs_in_and_sees_home(client_as, username):
    page = client_as(username).get("/admin/")
    assert page.status_code == 200
    assert "待办事项" in page.get_data(as_text=True)
