"""Demo data: several agents' promotions and rollbacks, each recorded at its week of three months of history."""

import datetime
import hashlib
import random

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import DatabaseError
from django.utils import timezone

from ledgerproject.ledger import clock
from releases.models import Release

# (agent, [steps]); a step is ("promote", version) or ("rollback", reason). Each is recorded at its
# week of the story (the kernel's backdated clock, demo data only), so release history has real dates.
STORY = [
    (
        "planner",
        [
            ("promote", "v1.0.0"),
            ("promote", "v1.1.0"),
            ("promote", "v1.2.0"),
            ("rollback", "v1.2.0 looped on multi-step tool plans; back to v1.1.0 while it is fixed"),
            ("promote", "v1.2.1"),
            ("promote", "v1.3.0"),
        ],
    ),
    (
        "reviewer",
        [
            ("promote", "2026.09.1"),
            ("promote", "2026.10.0"),
            ("rollback", "false positives on generated files doubled"),
            ("promote", "2026.10.2"),
        ],
    ),
    (
        "triage-bot",
        [
            ("promote", "0.9.0"),
            ("promote", "0.10.0"),
            ("promote", "0.11.0"),
            ("rollback", "misrouted billing tickets to security"),
            ("rollback", "the rollback target had the old rate-limit bug; returning to 0.11.0 with the limit raised"),
        ],
    ),
    ("summarizer", [("promote", "v3"), ("promote", "v4")]),
    (
        "coder",
        [("promote", "r1"), ("promote", "r2"), ("promote", "r3"), ("rollback", "r3 edits files outside the task")],
    ),
    ("eval-harness", [("promote", "1.0")]),
]
PEOPLE = ["mira@ops", "jonas@ml", "release-bot", "priya@platform", "ci-pipeline"]


def _run_digests():
    """{agent_name: [spec digests]} from the runs app's demo runs, so release pages link to real runs."""
    try:
        run = apps.get_model("runs", "Run")
        rows = run._default_manager.order_by().values_list("agent_name", "spec_digest").distinct()
        found = {}
        for agent, digest in rows:
            if isinstance(digest, str) and len(digest) == 64:
                found.setdefault(agent, []).append(digest.lower())
        return {agent: sorted(set(digests)) for agent, digests in found.items()}
    except (LookupError, FieldError, DatabaseError):
        return {}


def _final_label(steps):
    """The version that is current after the story's steps (rollbacks go back one entry)."""
    history = []
    for step, detail in steps:
        history.append(detail if step == "promote" else history[-2])
    return history[-1]


def load(seed):
    if Release.objects.exists():
        return "releases already present; left as they are"
    rng = random.Random(seed)
    from_runs = _run_digests()
    # The story spans about three months, ending a few days before the runs app's demo runs start,
    # so "as of" a past date names another release than today's.
    start = timezone.now().replace(microsecond=0) - datetime.timedelta(days=4, weeks=13)
    timeline = []
    for order, (agent, steps) in enumerate(STORY):
        # The release current at the end runs the spec the runs app's demo runs used, so the pages link up.
        known = from_runs.get(agent, [])
        final = _final_label(steps) if known else None
        week = 0
        for step, detail in steps:
            week += rng.randint(1, 2)
            moment = start + datetime.timedelta(weeks=week, hours=rng.randint(0, 120), minutes=order)
            timeline.append((moment, agent, step, detail, week, known[0] if known and detail == final else None))
    entries = rollbacks = 0
    # In time order across agents: each entry is recorded at its moment, and a chain's times only go forward.
    for moment, agent, step, detail, week, run_digest in sorted(timeline, key=lambda row: row[0]):
        who = rng.choice(PEOPLE)
        with clock.backdated(moment):
            if step == "promote":
                digest = run_digest or hashlib.sha256(f"spec of {agent} {detail}".encode()).hexdigest()
                Release.objects.promote(
                    agent,
                    digest,
                    promoted_by=who,
                    version_label=detail,
                    notes=f"Week {week}: {detail} passed the promotion gate ({rng.randint(91, 99)}% of evals).",
                    recorded_by="demo",
                )
            else:
                Release.objects.rollback(
                    agent, promoted_by=who, notes=f"Week {week}: rolled back: {detail}.", recorded_by="demo"
                )
                rollbacks += 1
        entries += 1
    return f"{entries} release entries for {len(STORY)} agents over 13 weeks ({rollbacks} rollbacks)"
