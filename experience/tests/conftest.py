"""Builders for experience events: one valid payload per kind, envelopes, and appended events."""

import copy
import itertools

import pytest

from experience.models import ExperienceEvent

LOCAL_TRACE = {
    "type": "Local",
    "base_model_hash": "sha256:7f3a9c",
    "adapter": {"adapter_id": "adapter-legal-v2", "adapter_hash": "sha256:aa01", "merged": False},
    "tokenizer_hash": "sha256:tok1",
    "seed": 42,
    "sampler": {"temperature": 0.2, "top_p": 0.9, "top_k": 40},
    "prompt_version": "claims-v7",
    "recall": {
        "corpus_fingerprint": "corpus:2026-01",
        "candidate_ids": ["c1", "c2"],
        "candidate_scores": [0.91, 0.77],
        "injected_count": 1,
    },
    "weights_mutated": False,
    "execution_env": {"device": "cuda:0", "backend": "vllm", "precision": "bf16"},
}

REMOTE_TRACE = {
    "type": "Remote",
    "provider_name": "anthropic",
    "provider_model_id": "claude-sonnet",
    "request_fingerprint": "req:01ab",
    "response_fingerprint": "resp:77cd",
    "temperature": 0.0,
    "top_p": 1.0,
    "max_tokens": 1024,
    "provider_metadata": {"region": "eu"},
    "retried": True,
    "retry_reasons": ["rate_limited"],
    "replayability": "BestEffort",
}

VALID = {
    "ProposalCreated": {
        "proposal": {
            "id": "prop-1",
            "kind": "Claims",
            "payload": "The invoice total matches the purchase order.",
            "structured_payload": {"claims": [{"text": "total matches", "evidence": ["po-17"]}]},
            "trace_link": LOCAL_TRACE,
            "contract_results": [
                {"name": "schema", "passed": True, "failure_reason": None},
                {"name": "citations", "passed": False, "failure_reason": "no source for claim 2"},
            ],
            "requires_human": False,
            "confidence": 0.87,
        },
        "chain_id": "chain-1",
        "step": "Reasoning",
        "policy_snapshot_hash": "psh-01",
    },
    "ProposalValidated": {
        "proposal_id": "prop-1",
        "chain_id": "chain-1",
        "step": "Evaluation",
        "contract_results": [{"name": "schema", "passed": True, "failure_reason": None}],
        "all_passed": True,
        "validator": "contract-engine",
    },
    "FactPromoted": {
        "proposal_id": "prop-1",
        "fact_id": "fact-9",
        "promoted_by": "kernel",
        "reason": "all contracts passed",
        "requires_human": False,
    },
    "RecallExecuted": {
        "query": {
            "query_text": "similar invoice disputes",
            "top_k": 5,
            "step_context": "Reasoning",
            "tenant_scope": None,
        },
        "provenance": {
            "query_hash": "qh1",
            "embedding_input_hash": "eih1",
            "embedding_hash": "eh1",
            "embedder_id": "hash-embedder-v1",
            "embedder_settings_hash": "esh1",
            "corpus_fingerprint": "corpus:2026-01",
            "policy_snapshot_hash": "psh-02",
            "purpose": "RuntimeAugmentation",
            "consumers": ["Kernel"],
            "candidate_scores": [{"id": "c1", "score": 0.91}],
            "candidates_searched": 120,
            "candidates_returned": 1,
            "stop_reason": "BelowThreshold",
            "latency_ms": 14,
            "timestamp": "2026-01-21T12:00:01Z",
            "signature": "unsigned",
        },
        "trace_link_id": "trace-1",
    },
    "ReplayTraceRecorded": {"trace_link_id": "trace-1", "trace_link": LOCAL_TRACE},
    "ReplayabilityDowngraded": {
        "trace_link_id": "trace-1",
        "from": "Deterministic",
        "to": "BestEffort",
        "reason": "RemoteBackendUsed",
    },
    "ArtifactStateTransitioned": {
        "artifact_id": "adapter-legal-v2",
        "artifact_kind": "Adapter",
        "event": {
            "from_state": "Draft",
            "to_state": "Approved",
            "timestamp": "2026-01-21T12:00:00Z",
            "actor": "carol",
            "reason": "eval suite passed",
            "ticket_ref": "GOV-12",
            "tenant_id": None,
        },
    },
    "ArtifactRollbackRecorded": {
        "rollback": {
            "artifact_id": "adapter-legal-v2",
            "previous_state": "Active",
            "rolled_back_at": "2026-01-22T09:00:00Z",
            "actor": "dave",
            "reason": "hallucinated citations in production",
            "impact": {
                "affected_count": 31,
                "quality_issues": ["fabricated citation"],
                "invalidates_outputs": True,
                "severity": "High",
                "affected_tenants": ["acme"],
            },
            "incident_ref": "INC-7",
            "tenant_id": None,
        }
    },
    "BackendInvoked": {
        "backend_name": "vllm-local",
        "adapter_id": "adapter-legal-v2",
        "trace_link_id": "trace-1",
        "step": "Reasoning",
        "policy_snapshot_hash": None,
    },
    "OutcomeRecorded": {
        "chain_id": "chain-1",
        "step": "Planning",
        "passed": True,
        "stop_reason": None,
        "latency_ms": 12,
        "tokens": 42,
        "cost_microdollars": 1500,
        "backend": "local",
    },
    "BudgetExceeded": {"chain_id": "chain-1", "resource": "tokens", "limit": "1024", "observed": "2048"},
    "PolicySnapshotCaptured": {
        "policy_id": "kernel-default",
        "policy": {
            "type": "Kernel",
            "policy": {
                "adapter_id": None,
                "recall_enabled": True,
                "recall_max_candidates": 5,
                "recall_min_score": 0.7,
                "seed": 7,
                "requires_human": False,
                "required_truths": ["no-pii"],
            },
        },
        "snapshot_hash": "psh-01",
        "captured_by": "kernel",
    },
}

_ids = itertools.count(1)


def valid_data(kind):
    return copy.deepcopy(VALID[kind])


def envelope(kind="OutcomeRecorded", data=None, **overrides):
    """A valid envelope of `kind` as a client sends it; overrides replace envelope fields."""
    body = {
        "event_id": f"evt-{next(_ids)}",
        "occurred_at": "2026-01-21T12:00:00Z",
        "tenant_id": "acme",
        "correlation_id": "run-1",
        "event": {"type": kind, "data": valid_data(kind) if data is None else data},
    }
    body.update(overrides)
    return body


def fields_of(body):
    """Model append fields from an envelope."""
    fields = {k: body[k] for k in ("occurred_at", "tenant_id", "correlation_id") if k in body}
    if "event_id" in body:
        fields["event_id"] = body["event_id"]
    fields["kind"] = body["event"]["type"]
    fields["data"] = body["event"]["data"]
    return fields


@pytest.fixture
def make_event(db):
    """make_event("BudgetExceeded", tenant_id="globex", data={...}) → an appended ExperienceEvent."""

    def make(kind="OutcomeRecorded", data=None, **overrides):
        return ExperienceEvent.objects.append(**fields_of(envelope(kind, data, **overrides)))

    return make


def transition_data(artifact_id, from_state, to_state, tenant_id=None, kind="Adapter"):
    """The data of an ArtifactStateTransitioned event moving `artifact_id` between two states."""
    lifecycle = {
        "from_state": from_state,
        "to_state": to_state,
        "timestamp": "2026-01-21T12:00:00Z",
        "actor": "carol",
        "reason": "review",
        "ticket_ref": None,
        "tenant_id": tenant_id,
    }
    return {"artifact_id": artifact_id, "artifact_kind": kind, "event": lifecycle}


@pytest.fixture
def transition(db):
    """transition("a1", "Draft", "Approved", tenant_id=None) → the appended ArtifactStateTransitioned event."""

    def make(artifact_id, from_state, to_state, tenant_id=None, kind="Adapter", **extra):
        data = transition_data(artifact_id, from_state, to_state, tenant_id, kind)
        return ExperienceEvent.objects.append(
            kind="ArtifactStateTransitioned",
            data=data,
            occurred_at="2026-01-21T12:00:00Z",
            tenant_id=tenant_id,
            **extra,
        )

    return make
