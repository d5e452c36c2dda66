"""A refused array of log records names the refused item's index (API.md, Conventions) and stores nothing."""

import pytest

from logchain.models import LogRecord

LIST = "/api/v1/logs/"
pytestmark = pytest.mark.django_db


def test_an_array_repeating_a_node_and_seq_names_the_repeating_item(writer_api, log_fields):
    batch = [log_fields(node_id=5, seq=1), log_fields(node_id=5, seq=2), log_fields(node_id=5, seq=1, message="again")]
    response = writer_api.post(LIST, batch, format="json")
    assert response.status_code == 400
    body = response.json()
    assert [item["index"] for item in body["items"]] == [2]
    assert "item 2" in body["detail"] and "item 0" in body["detail"]
    assert not LogRecord.objects.exists()


def test_the_batch_endpoint_names_every_malformed_item(writer_api, log_fields):
    batch = [log_fields(node_id=5, level="Loud"), log_fields(node_id=5), log_fields(node_id=5, seq="x")]
    response = writer_api.post(f"{LIST}batch/", batch, format="json")
    assert response.status_code == 400
    assert [item["index"] for item in response.json()["items"]] == [0, 2]
    assert not LogRecord.objects.exists()
