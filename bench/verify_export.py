"""Chain verification speed and JSONL export (speed, peak memory) on a large enhance log.

Run: scripts/with-postgres.sh .venv/bin/python bench/verify_export.py --entries 200000 --repeat 3
Each phase runs in its own process so its peak RSS is its own; with --repeat N, the verify and export
phases time each walk N times over the same entries and print the best and the median (a shared
machine's load moves single timings a lot). Targets (issue #12): full verification ≥ 100k entries/s, walked
as verify_ledgers walks it (one process per CPU; one process alone is timed beside it);
JSONL export in constant memory at ≥ 50k entries/s. Constant memory is read from the export itself: the
process's resident memory once a tenth of the lines went out, and at the end. A stream that held what it
sent would grow by about the bytes sent in between; the target allows 8 MiB and a tenth of them.
"""

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time

from harness import (
    ROOT,
    SECRET_KEY,
    recreate_database,
    require_postgres_url,
    setup_django,
    vacuum_analyze,
    write_summary,
)

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


def phase_fill(entries, repeat, summary=None):
    setup_django()
    from django.core.management import call_command

    from enhancelog.models import EnhanceEntry

    call_command("migrate", verbosity=0)
    batch = 5000
    start = time.perf_counter()
    for first in range(0, entries, batch):
        rows = [entry(i) for i in range(first, min(entries, first + batch))]
        EnhanceEntry.objects.append_many(rows, recorded_by="bench")
    vacuum_analyze(EnhanceEntry)
    return f"filled {entries} entries in {time.perf_counter() - start:.1f}s"


VERIFY_PER_S, EXPORT_PER_S = 100_000, 50_000
# The export's growth in resident memory between a tenth of its lines and the end that still counts as constant
# memory: a fixed slack (the allocator's arenas, the first pages of each kind of object) and a tenth of the bytes sent
# in between. A stream that held what it sent would grow by about all of them.
EXPORT_GROWTH_SLACK, EXPORT_GROWTH_SHARE = 8 * 2**20, 0.10


def rates(entries, repeat, run):
    """Time run() `repeat` times: (best entries/s, "best / median entries/s" of the timings; a single timing: its rate)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    best, median = entries / min(timings), entries / statistics.median(timings)
    if repeat == 1:
        return best, f"{best:,.0f} entries/s ({timings[0]:.1f}s)"
    return best, f"{best:,.0f} best / {median:,.0f} median entries/s over {repeat} runs"


def plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}es"


def resident_bytes():
    """This process's resident memory now (/proc/self/statm), in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def phase_verify(entries, repeat, summary):
    setup_django()
    from enhancelog.models import EnhanceEntry
    from ledgerproject.ledger.chain import default_workers, verify_chain, verify_links, walk_processes

    # As verify_ledgers walks this ledger: its default workers, as many as the ledger's size allows.
    workers = walk_processes(entries, default_workers())

    def walking(walk, workers):
        def run():
            result = walk(EnhanceEntry, workers=workers)
            assert result.ok and result.checked == entries, result

        return run

    # The target is timed as verify_ledgers walks a ledger (one process per CPU); one process is shown beside it.
    figures = []
    walks = [("links", verify_links, workers), ("full", verify_chain, workers)]
    if workers > 1:
        walks.insert(1, ("full", verify_chain, 1))
    for label, walk, processes in walks:
        best, text = rates(entries, repeat, walking(walk, processes))
        figures.append(f"verify {label} ({plural(processes, 'process')}): {text}")
        if label == "full" and processes == workers:
            write_summary(
                summary,
                [
                    (
                        f"full chain verification, {entries:,} entries, {plural(workers, 'process')} (verify_ledgers)",
                        f"{best:,.0f} entries/s",
                        f"≥ {VERIFY_PER_S:,} entries/s",
                        best >= VERIFY_PER_S,
                    )
                ],
            )
    from ledgerproject.ledger.checkpoints import make_checkpoint, verify_against_checkpoints

    make_checkpoint(EnhanceEntry)  # integrates and signs, outside the timing

    def against():
        check = verify_against_checkpoints(EnhanceEntry)
        assert check.ok and check.latest_tree_size == entries, check

    figures.append(f"against the signed checkpoint: {rates(entries, repeat, against)[1]}")
    return "; ".join(figures)


def phase_export(entries, repeat, summary):
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from ledgerproject.ledger.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench-export", defaults={"is_superuser": True})
    _, key = ApiToken.objects.issue(user)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    growths = []  # (resident bytes gained, bytes sent) from a tenth of the lines to the end, per export

    def export():
        response = client.get("/api/v1/enhances/?format=jsonl")
        lines = sent = 0
        early = None
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            sent += len(chunk)
            if early is None and lines >= entries // 10:
                early = (resident_bytes(), sent)
        assert lines == entries, lines
        growths.append((resident_bytes() - early[0], sent - early[1]))

    best, text = rates(entries, repeat, export)
    grown, sent = max(growths)  # a later export reuses memory an earlier one freed: the first tells most
    flat = grown <= EXPORT_GROWTH_SLACK + EXPORT_GROWTH_SHARE * sent
    write_summary(
        summary,
        [
            (
                f"JSONL export, {entries:,} entries",
                f"{best:,.0f} entries/s",
                f"≥ {EXPORT_PER_S:,} entries/s",
                best >= EXPORT_PER_S,
            ),
            (
                "JSONL export in constant memory",
                f"+{grown / 2**20:.1f} MiB resident over {sent / 2**20:.0f} MiB sent",
                f"grows ≤ {EXPORT_GROWTH_SLACK >> 20} MiB + {EXPORT_GROWTH_SHARE:.0%} of what it sends",
                flat,
            ),
        ],
    )
    return f"export: {text}; resident memory grew {grown / 2**20:.1f} MiB over the last {sent / 2**20:.0f} MiB sent"


PHASES = {"fill": phase_fill, "verify": phase_verify, "export": phase_export}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--repeat", type=int, default=1, help="time each verification and the export N times")
    parser.add_argument("--summary", help="also add each target and verdict to this JSON-lines file (bench/targets.py)")
    args = parser.parse_args()
    if args.phase:
        summary = PHASES[args.phase](args.entries, args.repeat, args.summary)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{summary}; peak RSS {peak_mb:.0f} MB", flush=True)
        return
    app_url = recreate_database(require_postgres_url(), DB_NAME)
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "LOGCHAIN_APPENDER": "noop",
        "LEDGER_VAR_DIR": str(ROOT / "var" / "bench"),
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", SECRET_KEY),
    }
    for phase in PHASES:
        command = [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--entries",
            str(args.entries),
            "--repeat",
            str(args.repeat),
        ]
        subprocess.run(command + (["--summary", args.summary] if args.summary else []), env=env, check=True)


if __name__ == "__main__":
    main()
