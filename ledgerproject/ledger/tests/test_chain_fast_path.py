"""Full chain verification rebuilds each entry's canonical bytes from its columns: no row's stored
text is parsed unless its bytes differ (test_chain.py holds the reasons a differing row gets)."""

import json

import pytest

from enhancelog.models import EnhanceEntry
from ledgerproject.ledger import chain
from ledgerproject.ledger.chain import verify_chain
from runs.models import Run, RunEvent

pytestmark = pytest.mark.django_db


def enhance(n, tenant=None, verdicts=()):
    return {
        "issue_id": f"ISS-fast-{n}",
        "blueprint_id": "bp-fast",
        "prev_hash": "a" * 64,
        "new_hash": "b" * 64,
        "status": EnhanceEntry.APPLIED,
        "verdicts": list(verdicts),
        "ts_ms": 1_700_000_000_000 + n,
        "tenant_id": tenant,
    }


def test_it_parses_no_stored_canonical_text_when_the_columns_rebuild_it_byte_for_byte(monkeypatch):
    import uuid

    from django.utils import timezone

    EnhanceEntry.objects.append_many([enhance(n, tenant="acme" if n % 2 else None) for n in range(40)])
    run = Run.objects.append(
        run_id=uuid.uuid4(), spec_digest="c" * 64, agent_name="fast", tags={"k": [1, 2.5]}, created_at=timezone.now()
    )
    RunEvent.objects.append_events(run, [{"kind": "step", "payload": {"x": 1.0, "y": "é"}} for _ in range(5)])
    parsed = []
    real_loads = json.loads

    def loads(text, **kwargs):
        if isinstance(text, str) and text.startswith('{"content":'):
            parsed.append(text)  # a stored canonical text (JSON columns are parsed by their field)
        return real_loads(text, **kwargs)

    monkeypatch.setattr(chain.json, "loads", loads)
    for model in (EnhanceEntry, Run, RunEvent):
        result = verify_chain(model)
        assert result.ok and result.checked == model._base_manager.count(), result
    assert len(parsed) <= 5  # run events' float payloads may come back spelled as 1.0: those only
