"""A refused batch of events names each refused item's index (API.md, Conventions) and stores nothing."""

import pytest

from experience.models import ExperienceEvent
from experience.tests.conftest import envelope, transition_data

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/events/batch/"


@pytest.fixture
def acme_api(make_user, client_for):
    return client_for(make_user("acme-bot", roles=["writer"], tenants=["acme"]))


def moved(artifact_id, from_state, to_state, tenant_id="acme"):
    """An ArtifactStateTransitioned envelope moving `artifact_id` between two states."""
    data = transition_data(artifact_id, from_state, to_state, tenant_id)
    return envelope("ArtifactStateTransitioned", data=data, tenant_id=tenant_id)


def test_a_batch_naming_another_tenant_is_a_404_naming_the_item(acme_api):
    response = acme_api.post(BATCH, [envelope(tenant_id="acme"), envelope(tenant_id="globex-support")], format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "item 1: Tenant 'globex-support' not found."
    assert ExperienceEvent.objects.count() == 0


def test_one_event_of_another_tenant_keeps_its_plain_404(acme_api):
    response = acme_api.post("/api/v1/events/", envelope(tenant_id="globex"), format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "Tenant 'globex' not found."


def test_a_batch_moving_another_tenants_artifact_is_refused_like_an_absent_one(acme_api, transition):
    transition("a-globex", "Draft", "Approved", tenant_id="globex")
    before = ExperienceEvent.objects.count()
    theirs = acme_api.post(BATCH, [envelope(), envelope(), moved("a-globex", "Approved", "Active")], format="json")
    absent = acme_api.post(BATCH, [envelope(), envelope(), moved("a-nobody", "Approved", "Active")], format="json")
    assert theirs.status_code == absent.status_code == 409
    assert theirs.json()["detail"].replace("a-globex", "a-nobody") == absent.json()["detail"]
    assert theirs.json()["index"] == 2
    assert ExperienceEvent.objects.count() == before


def test_a_batch_with_a_refused_transition_names_the_item_in_its_409(writer_api):
    response = writer_api.post(
        BATCH,
        [moved("a1", "Draft", "Approved"), envelope(), moved("a1", "Draft", "Approved")],
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["detail"].startswith("Batch rejected, nothing was stored: item 2: artifact 'a1' is Approved")
    assert body["index"] == 2
    assert [item["index"] for item in body["items"]] == [2]
    assert ExperienceEvent.objects.count() == 0


def test_one_refused_transition_keeps_its_plain_409(writer_api):
    response = writer_api.post("/api/v1/events/", moved("a1", "Approved", "Active"), format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["detail"].startswith("artifact 'a1' is Draft")
    assert "items" not in body and "index" not in body
    assert ExperienceEvent.objects.count() == 0


def test_an_invalid_item_of_a_batch_is_named_by_index(writer_api):
    response = writer_api.post(BATCH, [envelope(), envelope(occurred_at="yesterday")], format="json")
    assert response.status_code == 400
    body = response.json()
    assert [item["index"] for item in body["items"]] == [1]
    assert "item 1:" in body["detail"]
    assert ExperienceEvent.objects.count() == 0
