"""Demo data for the runs ledgers: agent specs and final states as blobs, runs in every status, output lineage."""

import datetime
import io
import json
import random
import uuid

from django.db import transaction
from django.utils import timezone

from ledgerproject.ledger import clock
from runs import blobstore
from runs.models import Blob, Output, Run, RunEvent, RunOutcome, RunStatus, mint_output_id

WHO = "demo-loader"

AGENTS = {
    "coder": {"model": "claude-sonnet", "tools": ["read_file", "edit_file", "run_tests", "grep"], "max_steps": 40},
    "reviewer": {"model": "claude-haiku", "tools": ["read_file", "diff", "comment"], "max_steps": 15},
    "planner": {"model": "claude-opus", "tools": ["search_issues", "read_file", "write_plan"], "max_steps": 20},
}
TASKS = {
    "coder": ["fix flaky test in payments", "add retry to webhook sender", "refactor auth middleware"],
    "reviewer": ["review PR #482", "review PR #490"],
    "planner": ["plan Q3 migration to PostgreSQL 16", "break down onboarding epic"],
}
FILES = ["src/payments/charge.py", "src/auth/middleware.py", "tests/test_webhooks.py", "docs/migration.md"]


def _put(obj, media_type="application/json"):
    raw = json.dumps(obj, indent=2, sort_keys=True).encode()
    blob, _created = blobstore.put_blob(io.BytesIO(raw), media_type=media_type, recorded_by=WHO)
    return blob.digest


def _event_stream(rng, agent, task, start, outcome):
    """A plausible agent trace: graph start, nodes with tool and model calls, then the end (or not)."""
    spec = AGENTS[agent]
    t = start
    events = [("graph_started", {"task": task, "max_steps": spec["max_steps"]})]
    steps = rng.randint(3, 7)
    for step in range(1, steps + 1):
        node = rng.choice(["plan", "act", "observe", "reflect"])
        events.append(("node_entered", {"node": node, "step": step}))
        events.append(
            (
                "llm_call",
                {
                    "model": spec["model"],
                    "prompt_tokens": rng.randint(800, 6000),
                    "completion_tokens": rng.randint(50, 900),
                    "latency_ms": rng.randint(400, 4000),
                },
            )
        )
        if node in ("act", "observe"):
            tool = rng.choice(spec["tools"])
            args = {"path": rng.choice(FILES)} if tool in ("read_file", "edit_file", "diff") else {"query": task[:24]}
            events.append(("tool_called", {"tool": tool, "args": args}))
            ok = not (outcome == RunStatus.FAILED and step == steps)
            result = {"tool": tool, "ok": ok, "bytes": rng.randint(120, 24000)}
            if not ok:
                result["error"] = rng.choice(["TimeoutError: tool exceeded 30s", "exit status 1: 3 tests failed"])
            events.append(("tool_result", result))
        events.append(("node_exited", {"node": node, "step": step}))
    stamped = []
    for kind, payload in events:
        t += datetime.timedelta(milliseconds=rng.randint(150, 5000))
        stamped.append((kind, payload, t))
    return stamped


def load(seed=20261121):
    if Blob.objects.exists() or Run.objects.exists() or Output.objects.exists():
        return "already has entries, left as it is"
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        specs = {name: _put({"agent": name, **config, "version": 3}) for name, config in AGENTS.items()}
        plan = [RunStatus.COMPLETED] * 7 + [RunStatus.FAILED] * 3 + [RunStatus.CANCELLED] * 2 + [RunStatus.RUNNING] * 3
        rng.shuffle(plan)
        counts = {status: 0 for status in RunStatus.values}
        planned = []
        for index, status in enumerate(plan):
            agent = rng.choice(list(AGENTS))
            task = rng.choice(TASKS[agent])
            # Older runs first; the running ones are the most recent.
            age = datetime.timedelta(hours=(len(plan) - index) * 5 + rng.randint(0, 4))
            if status == RunStatus.RUNNING:
                age = datetime.timedelta(minutes=rng.randint(2, 40))
            planned.append((status, agent, task, now - age))
        # One append per ledger: runs, then all their events, then the outcomes.
        runs = Run.objects.append_many(
            [
                {
                    "run_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "spec_digest": specs[agent],
                    "agent_name": agent,
                    "git_sha": f"{rng.getrandbits(160):040x}",
                    "tags": {
                        "task": task,
                        "env": rng.choice(["ci", "staging", "dev"]),
                        "trigger": rng.choice(["pr", "cron"]),
                    },
                    "created_at": start,
                }
                for status, agent, task, start in planned
            ],
            recorded_by=WHO,
        )
        event_rows, outcome_rows = [], []
        for run, (status, agent, task, start) in zip(runs, planned, strict=True):
            stream = _event_stream(rng, agent, task, start, status)
            if status == RunStatus.CANCELLED:
                stream = stream[: max(2, len(stream) // 2)]
            final_digest = None
            if status in (RunStatus.COMPLETED, RunStatus.FAILED):
                state = {"task": task, "status": status.lower(), "files_changed": rng.sample(FILES, 2)}
                final_digest = _put(state)
                stream.append(("checkpoint", {"state_digest": final_digest}, stream[-1][2]))
            if status != RunStatus.RUNNING:
                stream.append(("graph_finished", {"status": status.lower()}, stream[-1][2]))
            event_rows += [
                {"run": run, "event_seq": seq, "kind": kind, "payload": payload, "timestamp": moment}
                for seq, (kind, payload, moment) in enumerate(stream, start=1)
            ]
            if status != RunStatus.RUNNING:
                outcome_rows.append(
                    {
                        "finished": stream[-1][2],
                        "run": run,
                        "status": status,
                        "total_events": len(stream),
                        "final_state_digest": final_digest,
                        "duration_ms": int((stream[-1][2] - start).total_seconds() * 1000),
                        "success": status == RunStatus.COMPLETED,
                    }
                )
            counts[status] += 1
        RunEvent.objects.append_many(event_rows, recorded_by=WHO)
        # Each outcome is recorded when its run finished (its completed_at), in that order, so a run's
        # completed_at - created_at is its duration_ms.
        for row in sorted(outcome_rows, key=lambda row: row["finished"]):
            with clock.backdated(row.pop("finished")):
                RunOutcome.objects.append(recorded_by=WHO, **row)
        events_total = len(event_rows)
        outputs = _outputs(rng)
        # A scratch upload nobody refers to, cleaned up: its record stays, the deletion is its own entry.
        scratch = _put({"draft": True, "agent": "coder", "note": "superseded before any run used it"})
        blobstore.delete_blob(scratch, recorded_by=WHO, reason="retention: unreferenced draft spec")
    summary = ", ".join(f"{n} {status.lower()}" for status, n in counts.items())
    return (
        f"{len(plan)} runs ({summary}), {events_total} run events, {outputs} task outputs, {Blob.objects.count()} blobs"
    )


def _inline(value):
    return {"kind": "inline", "value": value}


class _Planned:
    """An output to append, known by a local name until the store mints its id."""

    def __init__(self, task, attempt, producer, event, parents):
        self.task, self.attempt, self.producer, self.event, self.parents = task, attempt, producer, event, parents
        self.depth = 1 + max((parent.depth for parent in parents), default=-1)
        self.output_id = mint_output_id()


def _outputs(rng):
    """Three task attempts whose outputs branch and merge, one building on an earlier attempt."""
    planned = []

    def out(task, attempt, producer, event, parents=()):
        item = _Planned(task, attempt, producer, event, list(parents))
        planned.append(item)
        return item

    task = "refactor-auth-middleware"
    # Attempt 1 fails its tests.
    p1 = out(task, 1, "planner", {"type": "progress", "stage": "plan", "note": "split session and token checks"})
    d1 = out(task, 1, "coder", {"type": "partial", "chunk": _inline("diff --git a/src/auth/middleware.py …")}, [p1])
    t1 = out(
        task, 1, "tester", {"type": "artifact", "name": "pytest.log", "content": _inline("3 failed, 41 passed")}, [d1]
    )
    out(task, 1, "coder", {"type": "final", "ok": False, "content": _inline({"verdict": "tests failing"})}, [t1])
    # Attempt 2 starts from attempt 1's plan, branches into two partial diffs and merges them.
    p2 = out(task, 2, "planner", {"type": "progress", "stage": "replan", "note": "keep token path separate"}, [p1])
    left = out(task, 2, "coder", {"type": "partial", "chunk": _inline("session checks rewritten")}, [p2])
    right = out(task, 2, "coder-2", {"type": "partial", "chunk": _inline("token checks rewritten")}, [p2])
    notes = _put({"findings": ["missing CSRF exemption on /hooks"], "severity": "medium"})
    review = out(
        task,
        2,
        "reviewer",
        {
            "type": "artifact",
            "name": "review.json",
            "content": {"kind": "blob", "digest": notes, "mime": "application/json"},
        },
        [left, right],
    )
    merged = out(
        task,
        2,
        "coder",
        {"type": "artifact", "name": "patch.diff", "content": _inline("merged patch")},
        [left, right, review],
    )
    tests = out(
        task, 2, "tester", {"type": "artifact", "name": "pytest.log", "content": _inline("44 passed")}, [merged]
    )
    out(
        task,
        2,
        "coder",
        {"type": "final", "ok": True, "content": _inline({"verdict": "ready", "tests": 44})},
        [merged, tests],
    )

    task = "summarize-incident-512"
    chunks = []
    start = out(task, 1, "summarizer", {"type": "progress", "stage": "collect", "note": "12 log files"})
    for part in range(3):
        chunks.append(
            out(task, 1, "summarizer", {"type": "partial", "chunk": _inline(f"timeline part {part + 1}")}, [start])
        )
    out(task, 1, "summarizer", {"type": "final", "ok": True, "content": _inline("DB failover at 03:12 UTC …")}, chunks)

    task = "translate-docs"
    src = out(task, 1, "fetcher", {"type": "artifact", "name": "README.md", "content": _inline("# Ledger …")})
    for lang in rng.sample(["de", "fr", "ja", "es"], 3):
        done = out(task, 1, f"translator-{lang}", {"type": "partial", "chunk": _inline(f"README.{lang}.md")}, [src])
        out(task, 1, f"translator-{lang}", {"type": "progress", "stage": "proofread", "note": lang}, [done])
    # Parents must exist before their children: one atomic append per depth of the graph.
    for depth in range(max(item.depth for item in planned) + 1):
        Output.objects.append_many(
            [
                {
                    "output_id": item.output_id,
                    "task_id": item.task,
                    "attempt": item.attempt,
                    "producer_agent": item.producer,
                    "event": item.event,
                    "parent_refs": [parent.output_id for parent in item.parents],
                }
                for item in planned
                if item.depth == depth
            ],
            recorded_by=WHO,
        )
    return len(planned)
