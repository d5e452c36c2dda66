"""A JSONL list export streams each row as the JSON list shows it, from plain rows (no model
instance per row) for serializers that read only columns, in chunks from a server-side cursor."""

import json

import pytest

from enhancelog.models import EnhanceEntry

pytestmark = pytest.mark.django_db


def test_it_streams_the_rows_the_json_list_shows_without_building_model_instances(reader_api, monkeypatch):
    EnhanceEntry.objects.append_many(
        [
            {
                "issue_id": f"ISS-jsonl-{n}",
                "blueprint_id": "bp-jsonl",
                "prev_hash": "a" * 64,
                "new_hash": "",
                "status": EnhanceEntry.REJECTED,
                "reasons": ["denied: ünïcode ✓"],
                "verdicts": [{"axis": "des", "status": "deny", "detail": "x" * n}],
                "ts_ms": 1_700_000_000_000 + n,
                "tenant_id": "acme" if n % 2 else None,
            }
            for n in range(7)
        ]
    )
    listed = reader_api.get("/api/v1/enhances/", {"page_size": 100}).json()["results"]
    built = []
    real_init = EnhanceEntry.__init__
    monkeypatch.setattr(EnhanceEntry, "__init__", lambda self, *a, **kw: built.append(1) or real_init(self, *a, **kw))
    response = reader_api.get("/api/v1/enhances/", {"format": "jsonl"})
    streamed = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert streamed == listed and len(streamed) == 7
    assert not built
