"""The experience ledger's append path: per-kind schemas, serde defaults, ids, lifecycle, EventQuery."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from experience import schemas
from experience.filters import ExperienceEventFilterSet
from experience.models import ExperienceEvent, step_summary
from experience.tests.conftest import REMOTE_TRACE, VALID, envelope, fields_of, valid_data
from ledgerproject.ledger.exceptions import ConflictError, StateConflictError

pytestmark = pytest.mark.django_db


def append(kind, data, **overrides):
    return ExperienceEvent.objects.append(**fields_of(envelope(kind, data, **overrides)))


def errors_of(kind, data, **overrides):
    with pytest.raises(ValidationError) as caught:
        append(kind, data, **overrides)
    return caught.value.message_dict


# --- one valid payload per kind --------------------------------------------------------------


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_it_stores_a_valid_event_of_every_kind_unchanged(kind):
    event = append(kind, valid_data(kind))
    stored = ExperienceEvent.objects.get(seq=event.seq)
    assert stored.kind == kind
    assert stored.data == VALID[kind]


def test_there_are_exactly_the_seeds_twelve_kinds():
    assert len(schemas.KINDS) == 12
    assert set(schemas.KINDS) == set(VALID)


# --- several invalid payloads per kind (path of the bad field in the message) ----------------


def _without(data, *path):
    node = data
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return data


def _with(data, value, *path):
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


INVALID = [
    # (kind, mutate(data) -> data, error path)
    ("ProposalCreated", lambda d: _with(d, "high", "proposal", "confidence"), "event.data.proposal.confidence"),
    ("ProposalCreated", lambda d: _with(d, 1.5, "proposal", "confidence"), "event.data.proposal.confidence"),
    ("ProposalCreated", lambda d: _with(d, "Guess", "proposal", "kind"), "event.data.proposal.kind"),
    ("ProposalCreated", lambda d: _with(d, "reasoning", "step"), "event.data.step"),
    ("ProposalCreated", lambda d: _without(d, "chain_id"), "event.data.chain_id"),
    (
        "ProposalCreated",
        lambda d: _with(d, "Cloud", "proposal", "trace_link", "type"),
        "event.data.proposal.trace_link.type",
    ),
    (
        "ProposalCreated",
        lambda d: _with(d, "yes", "proposal", "contract_results", 1, "passed"),
        "event.data.proposal.contract_results.1.passed",
    ),
    (
        "ProposalCreated",
        lambda d: _with(d, -1, "proposal", "trace_link", "seed"),
        "event.data.proposal.trace_link.seed",
    ),
    ("ProposalCreated", lambda d: _with(d, "bad id!", "proposal", "id"), "event.data.proposal.id"),
    ("ProposalValidated", lambda d: _with(d, "true", "all_passed"), "event.data.all_passed"),
    ("ProposalValidated", lambda d: _without(d, "contract_results", 0, "name"), "event.data.contract_results.0.name"),
    ("ProposalValidated", lambda d: _with(d, "", "proposal_id"), "event.data.proposal_id"),
    ("FactPromoted", lambda d: _without(d, "fact_id"), "event.data.fact_id"),
    ("FactPromoted", lambda d: _with(d, 1, "requires_human"), "event.data.requires_human"),
    ("FactPromoted", lambda d: _with(d, "x", "promoted_at"), "event.data.promoted_at"),
    ("RecallExecuted", lambda d: _with(d, -5, "query", "top_k"), "event.data.query.top_k"),
    ("RecallExecuted", lambda d: _with(d, "Storage", "provenance", "purpose"), "event.data.provenance.purpose"),
    ("RecallExecuted", lambda d: _with(d, ["Robot"], "provenance", "consumers"), "event.data.provenance.consumers.0"),
    ("RecallExecuted", lambda d: _with(d, "Timeout", "provenance", "stop_reason"), "event.data.provenance.stop_reason"),
    ("RecallExecuted", lambda d: _without(d, "provenance", "latency_ms"), "event.data.provenance.latency_ms"),
    ("ReplayTraceRecorded", lambda d: _without(d, "trace_link", "type"), "event.data.trace_link.type"),
    (
        "ReplayTraceRecorded",
        lambda d: _with(d, 2.0, "trace_link", "sampler", "top_p"),
        "event.data.trace_link.sampler.top_p",
    ),
    (
        "ReplayTraceRecorded",
        lambda d: _with(d, 2**60, "trace_link", "seed"),
        "event.data.trace_link.seed",
    ),
    ("ReplayTraceRecorded", lambda d: _with(d, "a/b", "trace_link_id"), "event.data.trace_link_id"),
    ("ReplayabilityDowngraded", lambda d: _with(d, "Sometimes", "to"), "event.data.to"),
    ("ReplayabilityDowngraded", lambda d: _with(d, "Because", "reason"), "event.data.reason"),
    ("ReplayabilityDowngraded", lambda d: _without(d, "from"), "event.data.from"),
    ("ArtifactStateTransitioned", lambda d: _with(d, "Live", "event", "to_state"), "event.data.event.to_state"),
    ("ArtifactStateTransitioned", lambda d: _with(d, "Model", "artifact_kind"), "event.data.artifact_kind"),
    ("ArtifactStateTransitioned", lambda d: _with(d, {"Other": 3}, "artifact_kind"), "event.data.artifact_kind.Other"),
    ("ArtifactStateTransitioned", lambda d: _without(d, "event", "actor"), "event.data.event.actor"),
    (
        "ArtifactRollbackRecorded",
        lambda d: _with(d, "Severe", "rollback", "impact", "severity"),
        "event.data.rollback.impact.severity",
    ),
    (
        "ArtifactRollbackRecorded",
        lambda d: _with(d, -3, "rollback", "impact", "affected_count"),
        "event.data.rollback.impact.affected_count",
    ),
    (
        "ArtifactRollbackRecorded",
        lambda d: _with(d, "Gone", "rollback", "previous_state"),
        "event.data.rollback.previous_state",
    ),
    ("BackendInvoked", lambda d: _without(d, "trace_link_id"), "event.data.trace_link_id"),
    ("BackendInvoked", lambda d: _with(d, "Thinking", "step"), "event.data.step"),
    ("BackendInvoked", lambda d: _with(d, ["x"], "adapter_id"), "event.data.adapter_id"),
    ("OutcomeRecorded", lambda d: _with(d, "12ms", "latency_ms"), "event.data.latency_ms"),
    ("OutcomeRecorded", lambda d: _with(d, -1, "tokens"), "event.data.tokens"),
    ("OutcomeRecorded", lambda d: _with(d, 1.5, "cost_microdollars"), "event.data.cost_microdollars"),
    ("OutcomeRecorded", lambda d: _without(d, "passed"), "event.data.passed"),
    ("BudgetExceeded", lambda d: _with(d, 1024, "limit"), "event.data.limit"),
    ("BudgetExceeded", lambda d: _without(d, "resource"), "event.data.resource"),
    ("BudgetExceeded", lambda d: _with(d, 2048, "observed"), "event.data.observed"),
    ("PolicySnapshotCaptured", lambda d: _with(d, "Security", "policy", "type"), "event.data.policy.type"),
    (
        "PolicySnapshotCaptured",
        lambda d: _with(d, "five", "policy", "policy", "recall_max_candidates"),
        "event.data.policy.policy.recall_max_candidates",
    ),
    ("PolicySnapshotCaptured", lambda d: _without(d, "policy", "policy"), "event.data.policy.policy"),
]


@pytest.mark.parametrize(("kind", "mutate", "path"), INVALID, ids=[f"{k}:{p}" for k, _, p in INVALID])
def test_it_rejects_a_malformed_payload_naming_the_bad_field(kind, mutate, path):
    errors = errors_of(kind, mutate(valid_data(kind)))
    assert path in errors, errors
    assert ExperienceEvent.objects.count() == 0


def test_every_kind_has_several_invalid_cases():
    covered = {}
    for kind, _, _ in INVALID:
        covered[kind] = covered.get(kind, 0) + 1
    assert set(covered) == set(schemas.KINDS)
    assert min(covered.values()) >= 3


def test_it_rejects_an_unknown_kind():
    errors = errors_of("HypothesisResolved", {"x": 1})
    assert "event.type" in errors
    assert "unknown event kind 'HypothesisResolved'" in errors["event.type"][0]


def test_it_rejects_a_payload_that_is_not_an_object():
    assert "event.data" in errors_of("BudgetExceeded", ["tokens"])


# --- serde defaults and Option fields -------------------------------------------------------


def test_missing_options_are_stored_as_null():
    data = valid_data("OutcomeRecorded")
    for key in ("stop_reason", "latency_ms", "tokens", "cost_microdollars", "backend"):
        del data[key]
    event = append("OutcomeRecorded", data)
    assert event.data["latency_ms"] is None and event.data["backend"] is None


def test_it_fills_the_serde_defaults_of_recall_provenance():
    data = valid_data("RecallExecuted")
    for key in ("purpose", "consumers", "signature"):
        del data["provenance"][key]
    event = append("RecallExecuted", data)
    provenance = event.data["provenance"]
    assert provenance["purpose"] == "RuntimeAugmentation"
    assert provenance["consumers"] == []
    assert provenance["signature"] == "unsigned"


def test_it_fills_the_allowed_uses_default_of_a_recall_policy():
    data = {
        "policy_id": "recall-default",
        "policy": {
            "type": "Recall",
            "policy": {
                "enabled": False,
                "max_k_total": 5,
                "max_tokens_injection": 500,
                "min_score_threshold": 0.5,
                "budgets": {"max_latency_ms": 100, "max_embedding_calls": 3, "max_tokens_per_candidate": 100},
            },
        },
        "snapshot_hash": "rh1",
        "captured_by": "kernel",
    }
    event = append("PolicySnapshotCaptured", data)
    assert event.data["policy"]["policy"]["allowed_uses"] == ["RuntimeAugmentation"]


def test_a_required_vec_without_a_serde_default_is_required():
    data = valid_data("ProposalValidated")
    del data["contract_results"]
    assert "event.data.contract_results" in errors_of("ProposalValidated", data)


def test_it_accepts_a_remote_trace_and_a_routing_policy_with_enum_keys():
    append(
        "ReplayTraceRecorded",
        {"trace_link_id": "trace-r", "trace_link": VALID["ProposalCreated"]["proposal"]["trace_link"] | {}},
    )
    from experience.tests.conftest import REMOTE_TRACE

    append("ReplayTraceRecorded", {"trace_link_id": "trace-remote", "trace_link": REMOTE_TRACE})
    routing = {
        "policy_id": "routing",
        "policy": {
            "type": "Routing",
            "policy": {
                "truth_preferences": {"no-pii": "strict"},
                "risk_tier_backends": {"High": ["local"], "Low": ["remote", "local"]},
                "data_classification_backends": {"Restricted": ["local"]},
                "default_backend": "local",
            },
        },
        "snapshot_hash": "rt1",
        "captured_by": "ops",
    }
    append("PolicySnapshotCaptured", routing)
    routing["policy"]["policy"]["risk_tier_backends"] = {"Extreme": ["local"]}
    assert "event.data.policy.policy.risk_tier_backends.Extreme" in errors_of("PolicySnapshotCaptured", routing)


def test_it_accepts_the_open_artifact_kind():
    data = valid_data("ArtifactStateTransitioned")
    data["artifact_kind"] = {"Other": "PromptTemplate"}
    assert append("ArtifactStateTransitioned", data).data["artifact_kind"] == {"Other": "PromptTemplate"}


# --- envelope: ids, time, event_id ------------------------------------------------------------


def test_it_mints_a_ulid_event_id_when_absent():
    body = envelope()
    del body["event_id"]
    event = ExperienceEvent.objects.append(**fields_of(body))
    assert len(event.event_id) == 26 and event.event_id.isalnum()


@pytest.mark.parametrize("bad", ["", "has space", "slash/id", "x" * 257, "ünïcode"])
@pytest.mark.parametrize("field", ["event_id", "tenant_id", "correlation_id"])
def test_it_rejects_ids_outside_the_upstream_rule(field, bad):
    errors = errors_of("OutcomeRecorded", None, **{field: bad})
    assert field in errors


def test_an_id_of_256_allowed_characters_is_accepted():
    assert append("OutcomeRecorded", None, event_id="a._-Z9" + "x" * 250).event_id.endswith("x")


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-01-21T12:00:00", "2026-13-01T00:00:00Z", "2" * 65])
def test_it_rejects_an_occurred_at_that_is_not_a_zoned_iso_timestamp(bad):
    assert "occurred_at" in errors_of("OutcomeRecorded", None, occurred_at=bad)


def test_occurred_at_is_kept_as_claimed_and_recorded_at_is_the_servers():
    event = append("OutcomeRecorded", None, occurred_at="1970-01-01T00:00:00Z")
    assert event.occurred_at == "1970-01-01T00:00:00Z"
    assert event.recorded_at.year >= 2025


def test_a_repeated_event_id_is_a_conflict_and_tells_a_replay_from_a_clash():
    body = envelope(event_id="evt-same")
    ExperienceEvent.objects.append(**fields_of(body))
    with pytest.raises(ConflictError) as replay:
        ExperienceEvent.objects.append(**fields_of(body))
    assert replay.value.identical is True
    with pytest.raises(ConflictError) as clash:
        ExperienceEvent.objects.append(**fields_of(envelope("BudgetExceeded", event_id="evt-same")))
    assert clash.value.identical is False
    assert ExperienceEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("ProposalCreated", {"chain_id": "chain-1", "proposal_id": "prop-1"}),
        ("ProposalValidated", {"chain_id": "chain-1", "proposal_id": "prop-1"}),
        ("FactPromoted", {"proposal_id": "prop-1"}),
        ("RecallExecuted", {"trace_link_id": "trace-1"}),
        ("ReplayTraceRecorded", {"trace_link_id": "trace-1"}),
        ("ReplayabilityDowngraded", {"trace_link_id": "trace-1"}),
        ("ArtifactStateTransitioned", {"artifact_id": "adapter-legal-v2"}),
        ("ArtifactRollbackRecorded", {"artifact_id": "adapter-legal-v2"}),
        ("BackendInvoked", {"trace_link_id": "trace-1"}),
        ("OutcomeRecorded", {"chain_id": "chain-1"}),
        ("BudgetExceeded", {"chain_id": "chain-1"}),
        ("PolicySnapshotCaptured", {}),
    ],
)
def test_it_extracts_the_indexed_ids_a_kind_carries(kind, columns):
    overrides = {"tenant_id": None} if kind == "ArtifactStateTransitioned" else {}
    event = append(kind, valid_data(kind), **overrides)
    for column in ("chain_id", "artifact_id", "trace_link_id", "proposal_id"):
        assert getattr(event, column) == columns.get(column)


# --- the artifact lifecycle -------------------------------------------------------------------

PATH_TO = {
    "Draft": [],
    "Approved": [("Draft", "Approved")],
    "Active": [("Draft", "Approved"), ("Approved", "Active")],
    "Quarantined": [("Draft", "Approved"), ("Approved", "Quarantined")],
    "Deprecated": [("Draft", "Deprecated")],
    "RolledBack": [("Draft", "Approved"), ("Approved", "RolledBack")],
}
ALLOWED = {
    ("Draft", "Approved"),
    ("Draft", "Deprecated"),
    ("Approved", "Active"),
    ("Approved", "Quarantined"),
    ("Approved", "RolledBack"),
    ("Active", "Quarantined"),
    ("Active", "Deprecated"),
    ("Active", "RolledBack"),
    ("Quarantined", "Active"),
    ("Quarantined", "RolledBack"),
    ("Quarantined", "Deprecated"),
}
PAIRS = [(a, b) for a in schemas.STATES for b in schemas.STATES]


@pytest.mark.parametrize(("from_state", "to_state"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_the_lifecycle_table_decides_every_transition(transition, from_state, to_state):
    for step_from, step_to in PATH_TO[from_state]:
        transition("art-1", step_from, step_to)
    assert ExperienceEvent.objects.current_state("art-1") == from_state
    if (from_state, to_state) in ALLOWED:
        transition("art-1", from_state, to_state)
        assert ExperienceEvent.objects.current_state("art-1") == to_state
    else:
        with pytest.raises(StateConflictError) as caught:
            transition("art-1", from_state, to_state)
        assert "not in the artifact lifecycle" in caught.value.message
        assert ExperienceEvent.objects.current_state("art-1") == from_state


def test_the_table_matches_the_seed():
    assert {(a, b) for a, targets in schemas.TRANSITIONS.items() for b in targets} == ALLOWED


def test_a_new_artifact_starts_in_draft(transition):
    with pytest.raises(StateConflictError) as caught:
        transition("fresh", "Approved", "Active")
    assert caught.value.extra["current_state"] == "Draft"


def test_from_state_must_be_the_current_state(transition):
    transition("art-2", "Draft", "Approved")
    with pytest.raises(StateConflictError) as caught:
        transition("art-2", "Draft", "Approved")
    assert "is Approved, not Draft" in caught.value.message


def test_the_transitions_read_under_the_lock_are_what_the_orm_reads(transition, monkeypatch):
    # The lifecycle's read reaches the rules from the kernel (state_reads, in the lock's message on PostgreSQL),
    # each row as iterating the queryset gives it: the JSON column as its value, not its text.
    transition("read-1", "Draft", "Approved", tenant_id="acme")
    transition("read-1", "Approved", "Active", tenant_id="acme")
    transition("read-2", "Draft", "Deprecated")
    seen = []
    real = ExperienceEvent.check_append_allowed.__func__

    def spy(cls, entries, using, read=None):
        seen.append((read, list(cls._transitions_newest_first(entries, using))))
        return real(cls, entries, using, read)

    monkeypatch.setattr(ExperienceEvent, "check_append_allowed", classmethod(spy))
    transition("read-1", "Active", "Deprecated", tenant_id="acme")
    [(read, orm)] = seen
    assert read["transitions"] == orm
    assert [(artifact, data["event"]["to_state"]) for artifact, _, data in orm] == [
        ("read-1", "Active"),
        ("read-1", "Approved"),
    ]
    # Read under the lock, the stale claim is still refused with the state it found.
    with pytest.raises(StateConflictError) as caught:
        transition("read-1", "Active", "Deprecated", tenant_id="acme")
    assert caught.value.extra["current_state"] == "Deprecated"


def test_an_event_that_moves_no_artifact_reads_no_transitions(make_event, monkeypatch):
    reads = []
    real = ExperienceEvent.state_reads.__func__

    def spy(cls, entries, connection):
        found = real(cls, entries, connection)
        reads.append(found)
        return found

    monkeypatch.setattr(ExperienceEvent, "state_reads", classmethod(spy))
    make_event("OutcomeRecorded")
    assert reads == [{}]


def test_an_artifact_keeps_the_tenant_of_its_first_transition(transition):
    transition("art-3", "Draft", "Approved", tenant_id="acme")
    with pytest.raises(StateConflictError):
        transition("art-3", "Approved", "Active", tenant_id="globex")


def test_a_batch_walks_the_lifecycle_in_order_and_is_atomic():
    def move(a, b):
        data = valid_data("ArtifactStateTransitioned")
        data["event"].update(from_state=a, to_state=b)
        return fields_of(envelope("ArtifactStateTransitioned", data, tenant_id=None))

    ExperienceEvent.objects.append_many([move("Draft", "Approved"), move("Approved", "Active")])
    assert ExperienceEvent.objects.current_state("adapter-legal-v2") == "Active"
    with pytest.raises(StateConflictError) as caught:
        ExperienceEvent.objects.append_many([move("Active", "Quarantined"), move("Active", "Deprecated")])
    assert caught.value.extra["index"] == 1
    assert ExperienceEvent.objects.current_state("adapter-legal-v2") == "Active"
    assert ExperienceEvent.objects.count() == 2


def test_current_artifacts_is_one_row_per_artifact_with_its_newest_state(transition):
    transition("a1", "Draft", "Approved")
    transition("a2", "Draft", "Deprecated")
    transition("a1", "Approved", "Active")
    rows = {e.artifact_id: e.data["event"]["to_state"] for e in ExperienceEvent.objects.current_artifacts()}
    assert rows == {"a1": "Active", "a2": "Deprecated"}
    assert [e.artifact_id for e in ExperienceEvent.objects.current_artifacts().in_state("Active")] == ["a1"]


# --- EventQuery: the upstream property tests as behaviour --------------------------------------

KIND_STRATEGY = st.sampled_from(
    ["OutcomeRecorded", "BudgetExceeded", "BackendInvoked", "FactPromoted", "ProposalValidated"]
)
# "." and ".." follow the upstream alphabet but are no URL path segment (the kernel's URL id rule refuses them).
ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda value: value not in (".", "..")
)
MOMENT = st.datetimes(
    min_value=datetime.datetime(2020, 1, 1), max_value=datetime.datetime(2030, 1, 1), timezones=st.just(datetime.UTC)
)


@st.composite
def envelopes(draw):
    kind = draw(KIND_STRATEGY)
    data = valid_data(kind)
    if "chain_id" in data:
        data["chain_id"] = draw(st.sampled_from(["chain-a", "chain-b"]))
    if kind == "OutcomeRecorded":
        data["tokens"] = draw(st.none() | st.integers(0, 10**6))
        data["passed"] = draw(st.booleans())
    moment = draw(MOMENT).replace(microsecond=0)
    return {
        "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tenant_id": draw(st.none() | st.sampled_from(["acme", "globex", "initech"])),
        "correlation_id": draw(st.none() | st.sampled_from(["run-1", "run-2"])),
        "kind": kind,
        "data": data,
        "event_id": draw(ID),
    }


batches = st.lists(envelopes(), min_size=0, max_size=12, unique_by=lambda e: e["event_id"])


class rolled_back:
    """Each hypothesis example runs on an empty ledger: its appends are rolled back afterwards."""

    def __enter__(self):
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def __exit__(self, *exc):
        transaction.set_rollback(True)
        self.atomic.__exit__(*exc)
        return False


def query(tenant_id=None, since=None, until=None, kinds=(), correlation_id=None, chain_id=None, limit=None):
    """The seed's query_events as the API answers it: the events FilterSet, then the cap, in append order."""
    params = QueryDict(mutable=True)
    for name, value in [("tenant_id", tenant_id), ("correlation_id", correlation_id), ("chain_id", chain_id)]:
        if value is not None:
            params[name] = value
    for name, moment in [("since", since), ("until", until)]:
        if moment is not None:
            params[name] = moment.isoformat()
    params.setlist("kind", sorted(kinds))
    filterset = ExperienceEventFilterSet(params, queryset=ExperienceEvent.objects.all())
    assert filterset.is_valid(), filterset.errors
    return list(filterset.qs.capped(limit).order_by("seq"))


def store(rows):
    return ExperienceEvent.objects.append_many(rows) if rows else []


def as_envelope(row):
    return {
        "event_id": row["event_id"],
        "occurred_at": row["occurred_at"],
        "tenant_id": row["tenant_id"],
        "correlation_id": row["correlation_id"],
        "event": {"type": row["kind"], "data": row["data"]},
    }


@given(rows=batches)
def test_append_query_roundtrip(rows):
    with rolled_back():
        store(rows)
        found = query()
        assert [e.envelope for e in found] == [as_envelope(r) for r in rows]


@given(rows=batches)
def test_ordering_preserved(rows):
    with rolled_back():
        for row in rows:  # one by one, as separate appends
            ExperienceEvent.objects.append(**row)
        assert [e.event_id for e in query()] == [r["event_id"] for r in rows]


@given(rows=batches, tenant=st.sampled_from(["acme", "globex", "initech"]))
def test_tenant_isolation(rows, tenant):
    with rolled_back():
        store(rows)
        found = query(tenant_id=tenant)
        assert all(e.tenant_id == tenant for e in found)
        assert [e.event_id for e in found] == [r["event_id"] for r in rows if r["tenant_id"] == tenant]
        assert [e.event_id for e in ExperienceEvent.objects.of_tenant(tenant).order_by("seq")] == [
            e.event_id for e in found
        ]


@given(rows=batches, kinds=st.sets(KIND_STRATEGY, max_size=3))
def test_kind_filtering(rows, kinds):
    with rolled_back():
        store(rows)
        found = query(kinds=kinds)
        expected = [r["event_id"] for r in rows if not kinds or r["kind"] in kinds]
        assert [e.event_id for e in found] == expected


@given(rows=batches, limit=st.integers(1, 15))
def test_limit_enforced(rows, limit):
    with rolled_back():
        store(rows)
        found = query(limit=limit)
        assert len(found) == min(limit, len(rows))
        assert [e.event_id for e in found] == [r["event_id"] for r in rows][:limit]


@given(rows=batches, correlation=st.sampled_from(["run-1", "run-2"]))
def test_correlation_filtering(rows, correlation):
    with rolled_back():
        store(rows)
        found = query(correlation_id=correlation)
        assert [e.event_id for e in found] == [r["event_id"] for r in rows if r["correlation_id"] == correlation]


@given(rows=batches, chain=st.sampled_from(["chain-a", "chain-b"]))
def test_chain_filtering_sees_only_kinds_that_carry_a_chain(rows, chain):
    with rolled_back():
        store(rows)
        found = query(chain_id=chain)
        assert [e.event_id for e in found] == [r["event_id"] for r in rows if r["data"].get("chain_id") == chain]


@given(rows=batches, a=MOMENT, b=MOMENT)
def test_time_range_is_inclusive_on_occurred_at(rows, a, b):
    since, until = min(a, b), max(a, b)
    with rolled_back():
        store(rows)
        found = query(since=since, until=until)
        expected = [r["event_id"] for r in rows if since <= datetime.datetime.fromisoformat(r["occurred_at"]) <= until]
        assert [e.event_id for e in found] == expected


def test_time_range_edges_are_inclusive_and_respect_offsets():
    at = datetime.datetime(2026, 1, 21, 12, 0, tzinfo=datetime.UTC)
    append("OutcomeRecorded", None, event_id="before", occurred_at="2026-01-21T11:59:59.999999Z")
    append("OutcomeRecorded", None, event_id="start", occurred_at="2026-01-21T12:00:00Z")
    append("OutcomeRecorded", None, event_id="offset", occurred_at="2026-01-21T13:30:00+01:00")
    append("OutcomeRecorded", None, event_id="end", occurred_at="2026-01-21T12:45:00Z")
    append("OutcomeRecorded", None, event_id="after", occurred_at="2026-01-21T12:45:00.000001Z")
    ids = [e.event_id for e in query(since=at, until=at + datetime.timedelta(minutes=45))]
    assert ids == ["start", "offset", "end"]
    assert [e.event_id for e in query(since=at, until=at)] == ["start"]
    assert query(since=at + datetime.timedelta(hours=1), until=at) == []


# --- chain summaries --------------------------------------------------------------------------


def test_step_summary_groups_by_step_and_adds_usage(make_event):
    events = [
        make_event("ProposalCreated"),
        make_event("OutcomeRecorded", data={**valid_data("OutcomeRecorded"), "step": "Reasoning", "passed": False}),
        make_event("OutcomeRecorded", data={**valid_data("OutcomeRecorded"), "step": "Reasoning", "tokens": 8}),
        make_event("OutcomeRecorded", data={**valid_data("OutcomeRecorded"), "step": "Evaluation", "latency_ms": None}),
        make_event("BudgetExceeded"),
    ]
    summary = step_summary(events)
    steps = [g["step"] for g in summary["groups"]]
    assert steps == ["Reasoning", "Evaluation", None]
    reasoning = summary["groups"][0]
    assert reasoning["outcome"] == "passed"  # the latest outcome of the step
    assert reasoning["tokens"] == 42 + 8 and reasoning["latency_ms"] == 24 and reasoning["cost_microdollars"] == 3000
    assert summary["totals"]["tokens"] == 92 and summary["totals"]["latency_ms"] == 24
    assert summary["totals"]["budget_exceeded"] == 1 and summary["totals"]["events"] == 5


@pytest.mark.parametrize("tag", [["OutcomeRecorded"], {"a": 1}, 5])
def test_a_kind_that_is_not_a_string_is_refused_not_a_crash(tag):
    assert "event.type" in errors_of(tag, valid_data("OutcomeRecorded"))


def test_a_trace_variant_that_is_not_a_string_is_refused():
    data = valid_data("ReplayTraceRecorded")
    data["trace_link"]["type"] = ["Local"]
    assert "event.data.trace_link.type" in errors_of("ReplayTraceRecorded", data)


@pytest.mark.parametrize(
    ("kind", "path", "where"),
    [
        ("ArtifactStateTransitioned", "event.data.event.tenant_id", ("event",)),
        ("ArtifactRollbackRecorded", "event.data.rollback.tenant_id", ("rollback",)),
    ],
)
def test_a_records_own_tenant_must_match_the_envelopes(kind, path, where):
    data = valid_data(kind)
    data[where[0]]["tenant_id"] = "globex"
    assert path in errors_of(kind, data, tenant_id="acme")
    assert append(kind, data, tenant_id="globex").tenant_id == "globex"


def test_an_artifact_keeps_the_kind_of_its_first_transition(transition):
    transition("art-4", "Draft", "Approved", kind="Adapter")
    with pytest.raises(StateConflictError) as caught:
        transition("art-4", "Approved", "Active", kind={"Other": "Prompt"})
    assert "is recorded as Adapter, not Other(Prompt)" in caught.value.message
    transition("art-4", "Approved", "Active", kind="Adapter")


def test_the_chain_verifies_after_appends_whose_payload_got_serde_defaults():
    from ledgerproject.ledger.chain import verify_chain

    data = valid_data("RecallExecuted")
    del data["provenance"]["signature"], data["trace_link_id"]
    append("RecallExecuted", data)
    for kind in schemas.KINDS:
        if kind != "ArtifactStateTransitioned":
            append(kind, valid_data(kind))
    result = verify_chain(ExperienceEvent)
    assert result.ok and result.checked == 12


@pytest.mark.parametrize(
    ("kind", "mutate", "path"),
    [
        ("OutcomeRecorded", lambda d: _with(d, "lo\x00cal", "backend"), "event.data.backend"),
        (
            "ProposalCreated",
            lambda d: _with(d, {"a\x00": 1}, "proposal", "structured_payload"),
            "event.data.proposal.structured_payload",
        ),
        (
            "ProposalCreated",
            lambda d: _with(d, ["ok", "b\x00"], "proposal", "structured_payload"),
            "event.data.proposal.structured_payload.1",
        ),
        (
            "ReplayTraceRecorded",
            lambda d: _with(d, {**REMOTE_TRACE, "provider_metadata": {"re\x00gion": "eu"}}, "trace_link"),
            "event.data.trace_link.provider_metadata",
        ),
    ],
)
def test_it_refuses_nul_characters_that_postgresql_cannot_store(kind, mutate, path):
    errors = errors_of(kind, mutate(valid_data(kind)))
    assert any(key.startswith(path) and "NUL" in " ".join(msgs) for key, msgs in errors.items()), errors


@pytest.mark.parametrize(
    ("kind", "data", "path"), [("ArtifactRollbackRecorded", {}, "event.data.rollback"), ("", {}, "event.type")]
)
def test_an_empty_payload_or_kind_is_reported_on_its_envelope_path(kind, data, path):
    assert path in errors_of(kind, data)
