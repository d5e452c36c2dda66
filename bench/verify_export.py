"""Chain verification speed and JSONL export (speed, peak memory) on a large enhance log.

Run: scripts/with-postgres.sh .venv/bin/python bench/verify_export.py --entries 200000 --repeat 3
Each phase runs in its own process so its peak RSS is its own; with --repeat N, the verify and export
phases time each walk N times over the same entries and print the best and the median (a shared
machine's load moves single timings a lot). Targets (issue #12): full verification ≥ 100k entries/s;
JSONL export in constant memory at ≥ 50k entries/s.
"""

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time

from harness import ROOT, recreate_database, require_postgres_url, setup_django

DB_NAME = "ledger_bench_verify"


def entry(i):
    rejected = i % 7 == 0
    return {
        "issue_id": f"issue-{i}",
        "blueprint_id": f"bp-{i % 500}",
        "prev_hash": secrets.token_hex(32),
        "new_hash": "" if rejected else secrets.token_hex(32),
        "intent": "tighten the retry policy of the fetch step",
        "rationale": "p95 latency regression after the last rollout",
        "verdicts": [{"axis": "des", "status": "deny" if rejected else "pass", "detail": "shape check"}],
        "status": "rejected" if rejected else "applied",
        "reasons": ["des: shape drift"] if rejected else [],
        "ts_ms": 1_760_000_000_000 + i,
    }


def phase_fill(entries, repeat):
    setup_django()
    from django.core.management import call_command

    from enhancelog.models import EnhanceEntry

    call_command("migrate", verbosity=0)
    batch = 5000
    start = time.perf_counter()
    for first in range(0, entries, batch):
        rows = [entry(i) for i in range(first, min(entries, first + batch))]
        EnhanceEntry.objects.append_many(rows, recorded_by="bench")
    return f"filled {entries} entries in {time.perf_counter() - start:.1f}s"


def rates(entries, repeat, run):
    """Time run() `repeat` times; "best / median entries/s" of the timings (a single timing: its rate)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    best, median = entries / min(timings), entries / statistics.median(timings)
    if repeat == 1:
        return f"{best:,.0f} entries/s ({timings[0]:.1f}s)"
    return f"{best:,.0f} best / {median:,.0f} median entries/s over {repeat} runs"


def phase_verify(entries, repeat):
    setup_django()
    from enhancelog.models import EnhanceEntry
    from ledgerproject.ledger.chain import verify_chain, verify_links

    def walking(walk):
        def run():
            result = walk(EnhanceEntry)
            assert result.ok and result.checked == entries, result

        return run

    figures = [
        f"verify {label}: {rates(entries, repeat, walking(walk))}"
        for label, walk in (("links", verify_links), ("full", verify_chain))
    ]
    from ledgerproject.ledger.checkpoints import make_checkpoint, verify_against_checkpoints

    make_checkpoint(EnhanceEntry)  # integrates and signs, outside the timing

    def against():
        check = verify_against_checkpoints(EnhanceEntry)
        assert check.ok and check.latest_tree_size == entries, check

    figures.append(f"against the signed checkpoint: {rates(entries, repeat, against)}")
    return "; ".join(figures)


def phase_export(entries, repeat):
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from ledgerproject.ledger.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench-export", defaults={"is_superuser": True})
    _, key = ApiToken.objects.issue(user)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    def export():
        response = client.get("/api/v1/enhances/?format=jsonl")
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        assert lines == entries, lines

    return f"export: {rates(entries, repeat, export)}"


PHASES = {"fill": phase_fill, "verify": phase_verify, "export": phase_export}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--repeat", type=int, default=1, help="time each verification and the export N times")
    args = parser.parse_args()
    if args.phase:
        summary = PHASES[args.phase](args.entries, args.repeat)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{summary}; peak RSS {peak_mb:.0f} MB", flush=True)
        return
    app_url = recreate_database(require_postgres_url(), DB_NAME)
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "LOGCHAIN_APPENDER": "noop",
        "LEDGER_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    for phase in PHASES:
        subprocess.run(
            [sys.executable, __file__, "--phase", phase, "--entries", str(args.entries), "--repeat", str(args.repeat)],
            env=env,
            check=True,
        )


if __name__ == "__main__":
    main()
