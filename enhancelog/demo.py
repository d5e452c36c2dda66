"""Demo data for the enhance log: dozens of blueprints, hundreds of attempts, ~15% rejected, some reviewed."""

import hashlib
import random

from enhancelog.models import EnhanceEntry, Review
from enhancelog.stats import DAY_MS, now_ms

BLUEPRINT_NAMES = [
    "coding", "design", "review", "triage", "planner", "docs-writer", "test-runner", "refactor", "release-notes",
    "security-scan", "migration", "api-client", "ui-polish", "data-clean", "sql-tuner", "infra", "oncall",
    "summarizer", "translator", "search", "indexer", "billing", "support-bot", "sales-brief", "research",
    "scheduler", "dedupe", "forecaster", "labeler", "compliance", "qa-checklist", "changelog", "retro",
    "ticket-router", "spec-writer", "onboarding",
]  # fmt: skip
AXES = ("des", "canonical", "noop", "agent-ref")
INTENTS = [
    "tighten the retry policy on flaky tool calls",
    "add a verification step before committing file edits",
    "split the planner prompt into goal and constraints",
    "teach the agent to cite the ticket it is working on",
    "drop the redundant summarisation pass",
    "route long documents to the chunking sub-agent",
    "make the output schema explicit for the reviewer",
    "reference the shared style agent instead of inlining rules",
]
DENY_REASONS = {
    "des": ["blueprint.id missing", "steps[2].tool is not declared", "unknown field 'retries' at steps[0]"],
    "canonical": ["YAML not in canonical key order", "duplicate anchor &shared", "trailing whitespace in prompt"],
    "noop": ["patched blueprint hashes to prev_hash", "patch changes only comments"],
    "agent-ref": ["agent 'style-guide' does not exist", "agent ref points at a retired version"],
}
PASS_EVIDENCE = {
    "des": "schema valid (12 steps)",
    "canonical": "canonical form round-trips",
    "noop": "content hash changed",
    "agent-ref": "all 3 agent refs resolve",
}


def _hash(rng):
    return hashlib.sha256(rng.randbytes(16)).hexdigest()


def build(seed, blueprints=36, attempts=540, now=None):
    """The demo rows (append fields), ascending by ts_ms: ~15% rejected, one continuity break."""
    rng = random.Random(seed)
    now = now_ms() if now is None else now
    start = now - 45 * DAY_MS
    names = BLUEPRINT_NAMES[:blueprints]
    heads = {name: _hash(rng) for name in names}
    times = sorted(rng.randint(start, now - 60_000) for _ in range(attempts))
    rows = []
    for number, ts_ms in enumerate(times, start=1):
        blueprint = rng.choice(names)
        intent = rng.choice(INTENTS)
        rejected = rng.random() < 0.15
        if rejected:
            denied = rng.sample(AXES, k=1 if rng.random() < 0.8 else 2)
            verdicts = [
                {"axis": axis, "status": "deny", "detail": rng.choice(DENY_REASONS[axis])}
                if axis in denied
                else {"axis": axis, "status": "pass", "detail": PASS_EVIDENCE[axis]}
                for axis in AXES
            ]
            rows.append(
                {
                    "issue_id": f"ISS-{number:05d}",
                    "blueprint_id": blueprint,
                    "prev_hash": heads[blueprint],
                    "new_hash": "",
                    "intent": intent,
                    "rationale": "rejected: " + ", ".join(denied) + " denied the patch",
                    "verdicts": verdicts,
                    "status": "rejected",
                    "reasons": [f"{v['axis']}: {v['detail']}" for v in verdicts if v["status"] == "deny"],
                    "ts_ms": ts_ms,
                }
            )
            continue
        prev = heads[blueprint]
        if number == attempts // 2:
            prev = _hash(rng)  # a blueprint edited outside the enhance flow: the trace shows a break
        heads[blueprint] = new = _hash(rng)
        rows.append(
            {
                "issue_id": f"ISS-{number:05d}",
                "blueprint_id": blueprint,
                "prev_hash": prev,
                "new_hash": new,
                "intent": intent,
                "rationale": "all verifier axes passed; patch applied",
                "verdicts": [{"axis": axis, "status": "pass", "detail": PASS_EVIDENCE[axis]} for axis in AXES],
                "status": "applied",
                "reasons": [],
                "ts_ms": ts_ms,
            }
        )
    return rows


def load(seed=20261121):
    """Load the demo set unless the enhance log already has entries; returns a one-line summary."""
    if EnhanceEntry.objects.exists():
        return "enhance log already has entries; left as it is"
    rng = random.Random(seed + 1)
    rows = build(seed)
    entries = EnhanceEntry.objects.append_many(rows, recorded_by="demo-agent-runtime")
    rejected = [e for e in entries if e.status == EnhanceEntry.REJECTED]
    # Older rejections have mostly been triaged; the recent ones form the backlog.
    reviewed = [e for e in rejected[: int(len(rejected) * 0.6)] if rng.random() < 0.7]
    decisions = [choice for choice, _ in Review.DECISION_CHOICES]
    reviews = [
        {
            "entry": e,
            "decision": rng.choice(decisions),
            "comment": rng.choice(["", "seen before", "verifier too strict"]),
        }
        for e in reviewed
    ]
    if reviews:
        Review.objects.append_many(reviews, recorded_by="demo-reviewer")
    blueprints = len({e.blueprint_id for e in entries})
    return (
        f"{len(entries)} enhance attempts on {blueprints} blueprints, {len(rejected)} rejected, {len(reviews)} reviewed"
    )
