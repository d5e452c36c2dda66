"""Finding 1: the experience pages need the experience ledger's view permission, not only a login; ids fit URLs."""

import pytest
from django.test import Client

from experience import demo
from experience.models import ExperienceEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored():
    demo.load(seed=7)
    event = ExperienceEvent.objects.exclude(artifact_id=None).first()
    trace = ExperienceEvent.objects.filter(kind="ReplayTraceRecorded").first()
    return {
        "/events/": event.event_id,
        f"/events/{event.event_id}/": event.event_id,
        f"/events/correlations/{event.correlation_id}/": event.event_id,
        "/artifacts/": event.artifact_id,
        f"/artifacts/{event.artifact_id}/": event.event_id,
        f"/trace-links/{trace.trace_link_id}/": trace.event_id,
    }


def test_it_refuses_every_experience_page_to_an_account_with_no_role(stored, make_user):
    client = Client()
    client.force_login(make_user("no-role"))
    for url, stored_id in stored.items():
        response = client.get(url)
        assert response.status_code == 403, url
        assert stored_id not in response.content.decode(), url


def test_it_sends_an_anonymous_visitor_to_the_login_page(stored):
    for url in stored:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_it_still_shows_the_pages_to_a_reader(stored, make_user):
    client = Client()
    client.force_login(make_user("reader-1", roles=["reader"]))
    for url, stored_id in stored.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert stored_id in response.content.decode(), url


@pytest.mark.parametrize("event_id", [".", ".."])
def test_it_refuses_an_event_id_that_no_url_can_carry(writer_api, event_id):
    from experience.tests.conftest import envelope

    response = writer_api.post("/api/v1/events/", envelope(event_id=event_id), format="json")
    assert response.status_code == 400, response.content
    assert "detail" in response.json() and "event_id" in str(response.json())
    assert not ExperienceEvent.objects.exists()
