"""What "Send plan" says it did (QA walkthrough): never "sent" when no e-mail or SMS is set up; "queued" when one is,
and the people a channel cannot reach are counted as waiting in the outbox (linked for admins)."""
from datetime import date

import pytest

from dashboard.plans import settings as delivery_settings
from dashboard.plans.publish import PublishResult
from dashboard.plans.publish import describe
from tests.support import csrf_token_from
from tests.support.plans import DAY
from tests.support.plans import build_plan_world

BOTH_CHANNELS = {"SMTP_URL": "smtp://127.0.0.1:2525", "MAIL_FROM": "plans@example.test",
                 "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret", "TWILIO_FROM": "+15550000000"}


@pytest.fixture
def publish_world(app):
    return build_plan_world(app)


def _send(client, as_user, login):
    login(as_user)
    token = csrf_token_from(client.get(f"/plans/{DAY.isoformat()}/publish").get_data(as_text=True))
    answer = client.post(f"/plans/{DAY.isoformat()}/publish", data={"csrf_token": token, "location": ""},
                         headers={"HX-Request": "true"})
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    return html[html.index("publish-result"):html.index("</p>", html.index("publish-result"))]


def test_without_a_channel_the_panel_says_the_plan_is_ready_not_sent(app, client, publish_world, make_user, login):
    result = _send(client, make_user("ADMIN"), login)
    assert "sent to" not in result
    assert "Plan v1 ready for 4 people, 2 not reachable: no e-mail or SMS is set up, so the messages wait in the " \
           "outbox." in result
    assert 'href="/outbox?day=' in result                                   # admins get the way to them


def test_a_dispatcher_is_told_the_same_without_the_admins_outbox_link(app, client, publish_world, make_user, login):
    result = _send(client, make_user("DISPATCHER", locations=[publish_world["north"], publish_world["south"]]), login)
    assert "Plan v1 ready for 4 people" in result and "/outbox" not in result


def test_with_channels_the_plan_is_queued_and_the_unreachable_wait(app, client, publish_world, make_user, login):
    app.config.update(delivery_settings.parse(BOTH_CHANNELS))
    result = _send(client, make_user("ADMIN"), login)
    # Cy has neither e-mail nor phone: no channel reaches them, so their message waits.
    assert "Plan v1 queued for 3 of 4 people, 2 not reachable; 1 waits in the outbox" in result
    assert "sent to" not in result


def test_describe_words_each_case():
    day = date(2026, 12, 7)
    assert describe(PublishResult(day, 1, 12, [], held=12, channels=False)) == (
        "Plan v1 ready for 12 people: no e-mail or SMS is set up, so the messages wait in the outbox.")
    assert describe(PublishResult(day, 2, 12, [], held=0, channels=True)) == "Plan v2 queued for 12 people."
    assert describe(PublishResult(day, 3, 3, ["Tom"], held=1, channels=True)) == (
        "Plan v3 queued for 2 of 3 people, 1 not reachable; 1 waits in the outbox: no e-mail or SMS set up reaches "
        "that person.")
