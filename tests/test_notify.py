"""消息: channels chosen per message, delivery only after the commit, failures recorded, the outbox page,
and temporary passwords sent instead of shown."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select, text, update

from models import Channel, Message, MessageStatus, User
from rules import notify
from tests.conftest import login
from tests.mail_helpers import sms, smtp, smtp_down  # noqa: F401 — fixtures

SECRET = "Tmp#Secret42"


def user(db_session, username: str) -> User:
    db_session.expire_all()
    return db_session.scalar(select(User).where(User.username == username))


def give_email(db_session, username: str, address: str) -> None:
    db_session.execute(update(User).where(User.username == username).values(email=address))
    db_session.commit()


def messages(db_session, **where) -> list[Message]:
    db_session.expire_all()
    return list(db_session.scalars(select(Message).filter_by(**where).order_by(Message.id)))


def test_without_channels_a_message_stays_in_the_outbox(app, db_session):
    zhang = user(db_session, "applicant_zhang")
    message = notify.notify(db_session, zhang, "temporary_password", "您的临时密码", f"密码 {SECRET}", secret=SECRET)
    db_session.commit()
    stored = messages(db_session, id=message.id)[0]
    assert (stored.channel, stored.status, stored.sent_at) == (Channel.outbox, MessageStatus.kept, None)
    assert SECRET in stored.body  # nobody has received it: the administrator passes it on
    assert notify.outcome(stored) == "已保存至站内消息，请联系系统管理员转告"


def test_email_is_sent_after_the_commit_and_its_secret_is_not_kept(app, db_session, smtp):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    zhang = user(db_session, "applicant_zhang")
    message = notify.notify(db_session, zhang, "temporary_password", "您的临时密码", f"您的临时密码为 {SECRET} 。", secret=SECRET)
    assert smtp.received == []  # recorded, not yet sent: the transaction may still roll back
    db_session.commit()
    [mail] = smtp.to("zhang@example.com")
    assert mail["Subject"] == "您的临时密码" and SECRET in smtp.text(mail)
    stored = messages(db_session, id=message.id)[0]
    assert (stored.channel, stored.status, stored.error) == (Channel.email, MessageStatus.sent, None)
    assert stored.sent_at is not None and SECRET not in stored.body and notify.REDACTED in stored.body
    assert notify.outcome(stored) == "已通过电子邮件发送至 z***@example.com"
    logged = db_session.execute(text("SELECT count(*) FROM audit_log WHERE CAST(after AS TEXT) LIKE :s OR CAST(before AS TEXT) LIKE :s"), {"s": f"%{SECRET}%"}).scalar()
    assert logged == 0  # nor in the audit log


def test_a_rolled_back_change_sends_nothing(app, db_session, smtp):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    before = db_session.scalar(select(func.count()).select_from(Message))
    notify.notify(db_session, user(db_session, "applicant_zhang"), "temporary_password", "您的临时密码", SECRET, secret=SECRET)
    db_session.rollback()
    db_session.commit()  # a later commit of the same session does not send the forgotten message
    assert smtp.received == []
    assert db_session.scalar(select(func.count()).select_from(Message)) == before


def test_a_rolled_back_savepoint_sends_only_what_survived(app, db_session, smtp):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    zhang = user(db_session, "applicant_zhang")
    notify.notify(db_session, zhang, "notice", "保留", "保留的消息")
    savepoint = db_session.begin_nested()
    notify.notify(db_session, zhang, "notice", "撤销", "撤销的消息")
    savepoint.rollback()
    db_session.commit()
    assert [m["Subject"] for m in smtp.received] == ["保留"]


def test_sms_when_there_is_no_email_and_a_gateway(app, db_session, sms):
    zhang = user(db_session, "applicant_zhang")
    message = notify.notify(db_session, zhang, "reset_code", "验证码", "验证码 123456", secret="123456")
    db_session.commit()
    assert sms.sent == [(zhang.mobile, "【验证码】验证码 123456")]
    stored = messages(db_session, id=message.id)[0]
    assert (stored.channel, stored.status, stored.address) == (Channel.sms, MessageStatus.sent, zhang.mobile)
    assert "123456" not in stored.body
    assert notify.outcome(stored) == "已通过短信发送至 139****0008"


def test_smtp_down_is_a_failed_message_in_chinese(app, db_session, smtp_down):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    message = notify.notify(db_session, user(db_session, "applicant_zhang"), "temporary_password", "您的临时密码", SECRET, secret=SECRET)
    db_session.commit()
    stored = messages(db_session, id=message.id)[0]
    assert stored.status == MessageStatus.failed and stored.error == "无法连接邮件服务器"
    assert SECRET in stored.body  # not delivered: the administrator can still pass it on


def test_smtp_down_during_reset_password_is_no_500(app, db_session, client_as, smtp_down):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    client = client_as("unit_cqu")
    response = client.action("user", "reset_password", [user(db_session, "applicant_zhang").id])
    assert response.status_code == 302
    page = html.unescape(client.get("/admin/user/").get_data(as_text=True))
    assert "applicant_zhang：临时密码电子邮件发送失败（无法连接邮件服务器），已保存至站内消息" in page
    [stored] = messages(db_session, kind="temporary_password")
    assert stored.status == MessageStatus.failed


def test_unknown_sms_gateway_stops_the_start_up():
    with pytest.raises(ValueError):
        notify.from_config({"SMS_GATEWAY": "no_such_module:Gateway"})


# -- temporary passwords are sent, not shown ----------------------------------------------------------
def test_reset_password_sends_the_temporary_password_by_email(app, db_session, client_as, smtp):
    give_email(db_session, "applicant_zhang", "zhang@example.com")
    client = client_as("unit_cqu")
    client.action("user", "reset_password", [user(db_session, "applicant_zhang").id])
    page = html.unescape(client.get("/admin/user/").get_data(as_text=True))
    assert "applicant_zhang：临时密码已通过电子邮件发送至 z***@example.com" in page
    [mail] = smtp.to("zhang@example.com")
    password = re.search(r"临时密码为 (\S+) 。", smtp.text(mail)).group(1)
    assert password not in page
    fresh = login(app, "applicant_zhang", password)
    assert fresh.get("/admin/person/").headers["Location"].endswith("/change-password")


def test_new_authorisation_sends_the_temporary_password_by_sms(app, db_session, client_as, sms):
    client = client_as("unit_cqu")
    response = client.post_form("/admin/unit_authorization/", {"name": "周敏", "mobile": "13983005678", "id_no": "500103198001013516"})
    assert response.status_code == 302
    page = html.unescape(client.get("/admin/unit_authorization/").get_data(as_text=True))
    assert "临时密码已通过短信发送至 139****5678" in page
    [(mobile, sent)] = sms.sent
    password = re.search(r"临时密码为 (\S+) 。", sent).group(1)
    assert mobile == "13983005678" and password not in page
    login(app, "13983005678", password)


def test_new_authorisation_without_a_channel_stays_in_the_outbox(app, db_session, client_as, smtp):
    """An account created without an e-mail and no SMS gateway: kept in the outbox, and said so."""
    client = client_as("unit_cqu")
    client.post_form("/admin/unit_authorization/", {"name": "周敏", "mobile": "13983005678", "id_no": "500103198001013516"})
    page = html.unescape(client.get("/admin/unit_authorization/").get_data(as_text=True))
    assert "临时密码已保存至站内消息，请联系系统管理员转告" in page
    [stored] = messages(db_session, kind="temporary_password")
    assert stored.channel == Channel.outbox and smtp.received == []


# -- the 消息 outbox page -----------------------------------------------------------------------------
@pytest.fixture
def some_messages(db_session):
    zhang = user(db_session, "applicant_zhang")
    notify.notify(db_session, zhang, "temporary_password", "旧的临时密码", "内容一")
    notify.notify(db_session, None, "notice", "审核结果通知", "内容二", address="someone@example.org")
    db_session.commit()
    db_session.execute(update(Message).where(Message.subject == "审核结果通知").values(status=MessageStatus.failed, error="无法连接邮件服务器"))
    db_session.commit()


def test_outbox_lists_messages_for_the_system_administrator(app, client_as, some_messages):
    client = client_as("sysadmin")
    page = client.get("/admin/message/").get_data(as_text=True)
    assert page.index("审核结果通知") < page.index("旧的临时密码")  # newest first
    assert "站内消息" in page and "临时密码" in page and "发送失败" in page
    found = client.get("/admin/message/", query_string={"search": "someone@example.org"}).get_data(as_text=True)
    assert "审核结果通知" in found and "旧的临时密码" not in found
    from admin_views.messages import MessageView

    view = next(v for v in app.extensions["admin"][0]._views if isinstance(v, MessageView))
    with app.test_request_context():
        failed_url = view.filter_url(发送状态="failed")
        kind_url = view.filter_url(消息类型="temporary_password")
    failed = client.get(failed_url).get_data(as_text=True)
    assert "审核结果通知" in failed and "旧的临时密码" not in failed
    kind = client.get(kind_url).get_data(as_text=True)
    assert "旧的临时密码" in kind and "审核结果通知" not in kind
    assert client.get("/admin/message/new/").status_code in (302, 403, 404)


def test_outbox_details_show_the_body(app, db_session, client_as, some_messages):
    message_id = db_session.scalar(select(Message.id).where(Message.subject == "旧的临时密码"))
    page = client_as("sysadmin").get("/admin/message/details/", query_string={"id": message_id})
    assert page.status_code == 200 and "内容一" in page.get_data(as_text=True)


@pytest.mark.parametrize("username", ["bureau", "authority_yb", "unit_cqu", "applicant_zhang"])
def test_outbox_is_not_found_for_anybody_else(app, db_session, client_as, some_messages, username):
    client = client_as(username)
    message_id = db_session.scalar(select(Message.id).limit(1))
    assert client.get("/admin/message/").status_code in (403, 404)
    assert client.get("/admin/message/details/", query_string={"id": message_id}).status_code in (403, 404)
