"""A refused batch of enhances names each refused item's index (API.md, Conventions) and stores nothing."""

import pytest

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json

URL = "/api/v1/enhances/"
pytestmark = pytest.mark.django_db


def test_a_batch_repeating_an_issue_id_names_the_repeating_item(writer_api):
    response = writer_api.post(f"{URL}batch/", [entry_json("r1"), entry_json("r2"), entry_json("r1")], format="json")
    assert response.status_code == 400
    body = response.json()
    assert [item["index"] for item in body["items"]] == [2]
    assert "item 2" in body["detail"]
    assert not EnhanceEntry.objects.exists()


def test_a_batch_names_every_malformed_item(writer_api):
    batch = [entry_json("m1", ts_ms="soon"), entry_json("m2"), "not an entry", entry_json("m4")]
    response = writer_api.post(f"{URL}batch/", batch, format="json")
    assert response.status_code == 400
    body = response.json()
    assert [item["index"] for item in body["items"]] == [0, 2]
    assert "item 0" in body["detail"] and "item 2" in body["detail"]
    assert not EnhanceEntry.objects.exists()
