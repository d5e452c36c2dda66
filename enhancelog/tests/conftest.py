"""Builders for enhance-log tests: seed-shaped entries, appended entries and reviews."""

import itertools

import pytest

from enhancelog.models import EnhanceEntry, Review

_numbers = itertools.count(1)


def entry_json(issue_id=None, blueprint_id="bp-1", ts_ms=100, status="applied", **overrides):
    """An EnhanceLogEntry as the seed's serde writes it (the seed's mk_entry, plus overrides)."""
    data = {
        "issue_id": issue_id or f"i{next(_numbers)}",
        "blueprint_id": blueprint_id,
        "prev_hash": "00" * 32,
        "new_hash": "ff" * 32,
        "intent": "test intent",
        "rationale": "test rationale",
        "verdicts": [{"axis": "des", "status": "pass", "detail": "ok"}],
        "status": status,
        "reasons": [],
        "ts_ms": ts_ms,
    }
    if status == "rejected":
        data.update(
            status="rejected",
            new_hash="",
            reasons=["des: blueprint.id missing"],
            verdicts=[{"axis": "des", "status": "deny", "detail": "blueprint.id missing"}],
        )
    data.update(overrides)
    return data


@pytest.fixture
def make_enhance(db):
    """make_enhance(**overrides) → a stored EnhanceEntry (applied unless status="rejected")."""

    def make(recorded_by="test-runtime", **overrides):
        return EnhanceEntry.objects.append(recorded_by=recorded_by, **entry_json(**overrides))

    return make


@pytest.fixture
def make_review(db):
    def make(entry, decision=Review.ACKNOWLEDGED, comment="", recorded_by="carol"):
        return Review.objects.append(recorded_by=recorded_by, entry=entry, decision=decision, comment=comment)

    return make


@pytest.fixture
def reviewer_api(carol, client_for):
    return client_for(carol)


@pytest.fixture(autouse=True)
def fresh_dashboard_cache():
    """The dashboard caches per ledger head; test databases reuse seqs, so start every test empty."""
    from django.core.cache import cache

    cache.clear()
