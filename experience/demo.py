"""Demo data: agent decision chains across two tenants, covering all 12 experience event kinds."""

import datetime
import random

from experience.models import ExperienceEvent

TENANTS = {
    "acme-legal": {
        "tasks": [
            "Check that the invoice total matches purchase order PO-{n}",
            "Summarize the indemnity clause of contract C-{n}",
            "Classify support ticket #{n} by urgency",
            "Draft a reply to the auditor's question on expense report ER-{n}",
        ],
        "adapter": "adapter-contracts-v3",
        "backends": ["vllm-local", "anthropic-remote"],
    },
    "globex-support": {
        "tasks": [
            "Plan the rollout of the new refund policy to region {n}",
            "Evaluate answer quality of the FAQ bot on batch {n}",
            "Extract claims from customer complaint {n}",
        ],
        "adapter": "adapter-support-v1",
        "backends": ["vllm-local", "openai-remote"],
    },
}
PROPOSAL_KINDS = ["Claims", "Plan", "Classification", "Evaluation", "DraftDocument", "Reasoning"]
CONTRACTS = ["schema-valid", "citations-present", "no-pii", "within-policy"]
FAILURES = {
    "citations-present": "claim 2 has no supporting document",
    "no-pii": "customer e-mail address in the payload",
    "within-policy": "refund exceeds the 30-day window",
    "schema-valid": "missing field 'amount'",
}


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _local_trace(rng, adapter):
    return {
        "type": "Local",
        "base_model_hash": f"sha256:{rng.getrandbits(64):016x}",
        "adapter": {"adapter_id": adapter, "adapter_hash": f"sha256:{rng.getrandbits(48):012x}", "merged": False},
        "tokenizer_hash": "sha256:5e1f0c2a9b",
        "seed": rng.randrange(1, 2**31),
        "sampler": {"temperature": 0.2, "top_p": 0.95, "top_k": 40},
        "prompt_version": f"prompt-v{rng.randint(3, 9)}",
        "recall": {
            "corpus_fingerprint": "corpus:2026-01-15:blake3:91ac",
            "candidate_ids": [f"mem-{rng.randint(100, 999)}" for _ in range(3)],
            "candidate_scores": [round(rng.uniform(0.6, 0.95), 3) for _ in range(3)],
            "injected_count": 2,
        },
        "weights_mutated": False,
        "execution_env": {"device": "cuda:0", "backend": "vllm", "precision": "bf16"},
    }


def _remote_trace(rng, provider):
    return {
        "type": "Remote",
        "provider_name": provider.split("-")[0],
        "provider_model_id": {"anthropic": "claude-sonnet-4", "openai": "gpt-4.1"}.get(provider.split("-")[0], "model"),
        "request_fingerprint": f"req:{rng.getrandbits(64):016x}",
        "response_fingerprint": f"resp:{rng.getrandbits(64):016x}",
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 2048,
        "provider_metadata": {"region": rng.choice(["eu-west-1", "us-east-1"])},
        "retried": rng.random() < 0.2,
        "retry_reasons": [],
        "replayability": "BestEffort",
    }


def _policies(rng, tenant, at):
    kernel = {
        "adapter_id": TENANTS[tenant]["adapter"],
        "recall_enabled": True,
        "recall_max_candidates": 5,
        "recall_min_score": 0.7,
        "seed": 7,
        "requires_human": tenant == "acme-legal",
        "required_truths": ["no-pii", "citations-present"],
    }
    routing = {
        "truth_preferences": {"no-pii": "strict"},
        "risk_tier_backends": {"Low": ["vllm-local"], "High": ["vllm-local"], "Critical": []},
        "data_classification_backends": {"Restricted": ["vllm-local"], "Public": TENANTS[tenant]["backends"]},
        "default_backend": "local",
    }
    recall = {
        "enabled": True,
        "max_k_total": 5,
        "max_tokens_injection": 500,
        "min_score_threshold": 0.5,
        "budgets": {"max_latency_ms": 100, "max_embedding_calls": 3, "max_tokens_per_candidate": 100},
        "allowed_uses": ["RuntimeAugmentation"],
    }
    rows = []
    for name, policy in (("Kernel", kernel), ("Routing", routing), ("Recall", recall)):
        rows.append(
            _row(
                tenant,
                f"policy-{tenant}",
                at,
                "PolicySnapshotCaptured",
                {
                    "policy_id": f"{tenant}-{name.lower()}",
                    "policy": {"type": name, "policy": policy},
                    "snapshot_hash": f"psh-{rng.getrandbits(40):010x}",
                    "captured_by": "policy-service",
                },
            )
        )
    return rows


def _row(tenant, correlation, at, kind, data):
    return {
        "occurred_at": _iso(at),
        "tenant_id": tenant,
        "correlation_id": correlation,
        "kind": kind,
        "data": data,
    }


def _chain(rng, tenant, index, at):
    """One decision chain: plan → recall → propose → validate → (promote) → outcomes, sometimes over budget."""
    info = TENANTS[tenant]
    chain_id = f"chain-{tenant.split('-')[0]}-{index:03d}"
    run = f"run-{tenant.split('-')[0]}-{index:03d}"
    trace_id = f"trace-{tenant.split('-')[0]}-{index:03d}"
    task = rng.choice(info["tasks"]).format(n=rng.randint(1000, 9999))
    backend = rng.choice(info["backends"])
    remote = backend != "vllm-local"
    trace = _remote_trace(rng, backend) if remote else _local_trace(rng, info["adapter"])
    rows = []

    def tick(seconds):
        nonlocal at
        at += datetime.timedelta(seconds=seconds, milliseconds=rng.randint(0, 999))
        return at

    for step in ("Planning", "Reasoning", "Evaluation"):
        if step == "Reasoning":
            rows.append(
                _row(
                    tenant,
                    run,
                    tick(1),
                    "RecallExecuted",
                    {
                        "query": {"query_text": task, "top_k": 5, "step_context": step, "tenant_scope": tenant},
                        "provenance": {
                            "query_hash": f"{rng.getrandbits(64):016x}",
                            "embedding_input_hash": f"{rng.getrandbits(64):016x}",
                            "embedding_hash": f"{rng.getrandbits(64):016x}",
                            "embedder_id": "hash-embedder-v1",
                            "embedder_settings_hash": "es-3f2a",
                            "corpus_fingerprint": "corpus:2026-01-15:blake3:91ac",
                            "policy_snapshot_hash": "psh-recall",
                            "purpose": "RuntimeAugmentation",
                            "consumers": ["Kernel"],
                            "candidate_scores": [
                                {"id": f"mem-{rng.randint(100, 999)}", "score": round(rng.uniform(0.5, 0.95), 3)}
                                for _ in range(3)
                            ],
                            "candidates_searched": rng.randint(200, 5000),
                            "candidates_returned": 3,
                            "stop_reason": rng.choice(["ReachedTopK", "BelowThreshold"]),
                            "latency_ms": rng.randint(8, 90),
                            "timestamp": _iso(at),
                            "signature": "unsigned",
                        },
                        "trace_link_id": trace_id,
                    },
                )
            )
            rows.append(
                _row(tenant, run, tick(0), "ReplayTraceRecorded", {"trace_link_id": trace_id, "trace_link": trace})
            )
            rows.append(
                _row(
                    tenant,
                    run,
                    tick(0),
                    "BackendInvoked",
                    {
                        "backend_name": backend,
                        "adapter_id": None if remote else info["adapter"],
                        "trace_link_id": trace_id,
                        "step": step,
                        "policy_snapshot_hash": "psh-kernel",
                    },
                )
            )
            if remote:
                rows.append(
                    _row(
                        tenant,
                        run,
                        tick(0),
                        "ReplayabilityDowngraded",
                        {
                            "trace_link_id": trace_id,
                            "from": "Deterministic",
                            "to": "BestEffort",
                            "reason": "RemoteBackendUsed",
                        },
                    )
                )
        proposal_id = f"prop-{chain_id}-{step.lower()}"
        results = [
            {
                "name": name,
                "passed": (ok := rng.random() > 0.15),
                "failure_reason": None if ok else FAILURES[name],
            }
            for name in rng.sample(CONTRACTS, 3)
        ]
        all_passed = all(r["passed"] for r in results)
        requires_human = tenant == "acme-legal" and step == "Reasoning"
        rows.append(
            _row(
                tenant,
                run,
                tick(2),
                "ProposalCreated",
                {
                    "proposal": {
                        "id": proposal_id,
                        "kind": {
                            "Planning": "Plan",
                            "Reasoning": rng.choice(PROPOSAL_KINDS),
                            "Evaluation": "Evaluation",
                        }[step],
                        "payload": f"{step} for: {task}",
                        "structured_payload": {"task": task, "step": step},
                        "trace_link": trace,
                        "contract_results": results,
                        "requires_human": requires_human,
                        "confidence": round(rng.uniform(0.55, 0.98), 2),
                    },
                    "chain_id": chain_id,
                    "step": step,
                    "policy_snapshot_hash": "psh-kernel",
                },
            )
        )
        rows.append(
            _row(
                tenant,
                run,
                tick(1),
                "ProposalValidated",
                {
                    "proposal_id": proposal_id,
                    "chain_id": chain_id,
                    "step": step,
                    "contract_results": results,
                    "all_passed": all_passed,
                    "validator": "contract-engine",
                },
            )
        )
        if all_passed:
            rows.append(
                _row(
                    tenant,
                    run,
                    tick(0),
                    "FactPromoted",
                    {
                        "proposal_id": proposal_id,
                        "fact_id": f"fact-{rng.getrandbits(32):08x}",
                        "promoted_by": "reviewer:carol" if requires_human else "kernel",
                        "reason": "approved by a reviewer" if requires_human else "all contracts passed",
                        "requires_human": requires_human,
                    },
                )
            )
        tokens = rng.randint(300, 4200)
        rows.append(
            _row(
                tenant,
                run,
                tick(1),
                "OutcomeRecorded",
                {
                    "chain_id": chain_id,
                    "step": step,
                    "passed": all_passed,
                    "stop_reason": None if all_passed else "contract_failed",
                    "latency_ms": rng.randint(120, 4800),
                    "tokens": tokens,
                    "cost_microdollars": tokens * (15 if remote else 2),
                    "backend": backend,
                },
            )
        )
        if tokens > 4000:
            rows.append(
                _row(
                    tenant,
                    run,
                    tick(0),
                    "BudgetExceeded",
                    {"chain_id": chain_id, "resource": "tokens", "limit": "4000", "observed": str(tokens)},
                )
            )
    if rng.random() < 0.2:
        rows.append(
            _row(
                tenant,
                run,
                tick(0),
                "BudgetExceeded",
                {"chain_id": chain_id, "resource": "time", "limit": "30s", "observed": f"{rng.randint(31, 90)}s"},
            )
        )
    return rows, at


def _lifecycle(rng, tenant, at):
    """Governed artifacts of a tenant: one promoted to Active then rolled back, one quarantined, one deprecated."""
    rows = []
    short = tenant.split("-")[0]
    artifacts = [
        (TENANTS[tenant]["adapter"], "Adapter", ["Approved", "Active", "RolledBack"]),
        (f"pack-{short}-core", "Pack", ["Approved", "Active", "Quarantined", "Active"]),
        (f"truths-{short}", "TruthFile", ["Approved", "Active"]),
        (f"eval-{short}-regression", "EvalSuite", ["Approved", "Quarantined", "Deprecated"]),
        (f"prompt-{short}-triage", {"Other": "PromptTemplate"}, ["Deprecated"]),
        (f"policy-{short}-routing", "Policy", ["Approved"]),
    ]
    reasons = {
        "Approved": "evaluation suite passed (98.2%)",
        "Active": "rolled out to production traffic",
        "Quarantined": "drift alert on the weekly eval",
        "Deprecated": "superseded by a newer version",
        "RolledBack": "fabricated citations reported by customers",
    }
    for artifact_id, kind, path in artifacts:
        state = "Draft"
        for to_state in path:
            at += datetime.timedelta(hours=rng.randint(2, 30))
            rows.append(
                _row(
                    tenant,
                    f"gov-{artifact_id}",
                    at,
                    "ArtifactStateTransitioned",
                    {
                        "artifact_id": artifact_id,
                        "artifact_kind": kind,
                        "event": {
                            "from_state": state,
                            "to_state": to_state,
                            "timestamp": _iso(at),
                            "actor": rng.choice(["carol", "dave", "release-bot"]),
                            "reason": reasons[to_state],
                            "ticket_ref": f"GOV-{rng.randint(100, 999)}",
                            "tenant_id": tenant,
                        },
                    },
                )
            )
            if to_state == "RolledBack":
                rows.append(
                    _row(
                        tenant,
                        f"gov-{artifact_id}",
                        at,
                        "ArtifactRollbackRecorded",
                        {
                            "rollback": {
                                "artifact_id": artifact_id,
                                "previous_state": state,
                                "rolled_back_at": _iso(at),
                                "actor": "dave",
                                "reason": reasons["RolledBack"],
                                "impact": {
                                    "affected_count": rng.randint(10, 400),
                                    "quality_issues": ["fabricated citation", "wrong clause referenced"],
                                    "invalidates_outputs": True,
                                    "severity": "High",
                                    "affected_tenants": [tenant],
                                },
                                "incident_ref": f"INC-{rng.randint(10, 99)}",
                                "tenant_id": tenant,
                            }
                        },
                    )
                )
            state = to_state
    return rows


def load(seed=20261121):
    """Append the demo events (does nothing when the experience ledger already has entries)."""
    if ExperienceEvent.objects.exists():
        return "already has entries, left as it is"
    rng = random.Random(seed)
    start = datetime.datetime(2026, 1, 19, 8, 0, tzinfo=datetime.UTC)
    rows = []
    for tenant in TENANTS:
        at = start
        rows.extend(_policies(rng, tenant, at))
        for index in range(1, 13):
            at += datetime.timedelta(minutes=rng.randint(7, 95))
            chain_rows, at = _chain(rng, tenant, index, at)
            rows.extend(chain_rows)
        rows.extend(_lifecycle(rng, tenant, start))
    # Interleave the tenants by claimed time, as a shared collector would receive them.
    rows.sort(key=lambda row: row["occurred_at"])
    events = ExperienceEvent.objects.append_many(rows, recorded_by="demo")
    kinds = len({event.kind for event in events})
    return f"{len(events)} events of {kinds} kinds across {len(TENANTS)} tenants"
