"""Benchmark: list-by-blueprint and review-queue latency on a big enhance log, with EXPLAIN showing index use.

Usage (PostgreSQL; the default size is 1,000,000 entries):
    DATABASE_URL=postgres://… .venv/bin/python bench/enhancelog_queries.py [--entries N] [--runs R]
    scripts/with-postgres.sh .venv/bin/python bench/enhancelog_queries.py --entries 200000

Entries go in through the real append path (append_many, 5,000 per batch); a ledger that already
holds at least N entries is reused. Times are server-side: the request handled in-process by
Django (no network), p50/p95 over R requests, plus the database's own execution time from
EXPLAIN ANALYZE. Numbers are meaningful as ratios on one machine, not across machines.
"""

import argparse
import json
import random
import time

from harness import (
    append_in_batches,
    explain,
    logged_in_client,
    prepare_database,
    request_latencies,
    setup_django,
)

setup_django()

from django.db import connection  # noqa: E402

from enhancelog.demo import AXES, DENY_REASONS, INTENTS, PASS_EVIDENCE  # noqa: E402
from enhancelog.models import EnhanceEntry, Review  # noqa: E402

DAY_MS = 86_400_000
BATCH = 5000


def rows(start_number, count, total, blueprints, rng, t0, span_ms):
    """Entries in ascending claimed time; ~15% rejected across the four axes."""
    step = span_ms // max(1, total)
    for offset in range(count):
        number = start_number + offset
        ts_ms = t0 + number * step
        blueprint = f"bp-{rng.randrange(blueprints):05d}"
        prev = rng.randbytes(32).hex()
        if rng.random() < 0.15:
            denied = rng.choice(AXES)
            verdicts = [
                {"axis": a, "status": "deny", "detail": DENY_REASONS[a][0]}
                if a == denied
                else {"axis": a, "status": "pass", "detail": PASS_EVIDENCE[a]}
                for a in AXES
            ]
            yield {
                "issue_id": f"B-{number:08d}",
                "blueprint_id": blueprint,
                "prev_hash": prev,
                "new_hash": "",
                "intent": rng.choice(INTENTS),
                "rationale": f"{denied} denied",
                "verdicts": verdicts,
                "status": "rejected",
                "reasons": [f"{denied}: {DENY_REASONS[denied][0]}"],
                "ts_ms": ts_ms,
            }
        else:
            yield {
                "issue_id": f"B-{number:08d}",
                "blueprint_id": blueprint,
                "prev_hash": prev,
                "new_hash": rng.randbytes(32).hex(),
                "intent": rng.choice(INTENTS),
                "rationale": "all axes passed",
                "verdicts": [{"axis": a, "status": "pass", "detail": PASS_EVIDENCE[a]} for a in AXES],
                "status": "applied",
                "reasons": [],
                "ts_ms": ts_ms,
            }


def copy_rows(model, dicts, user_name="bench"):
    """PostgreSQL COPY of entries with the kernel's own content rules and chain hashes, under its lock.

    The same rows append_many would write (validate_append fills the derived columns; canonical
    bytes and entry hashes come from ledgerproject.ledger.hashing, so `verify` passes; the rollups
    pages read are kept as append_many keeps them), minus the
    per-row ORM overhead that makes loading a million rows take an hour on a small machine.
    """
    from django.db import transaction
    from django.utils import timezone

    from ledgerproject.ledger import hashing, rollups
    from ledgerproject.ledger.locking import lock_ledger

    entries = []
    for index, fields in enumerate(dicts):
        entry = model(**fields)
        entry.validate_append()
        content = entry.ledger_content()
        # For this generated data (ASCII keys, strings and small integers, no floats) sorted compact
        # json.dumps is byte-for-byte RFC 8785; checked against the kernel's encoder once per batch.
        content_json = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if index == 0 and content_json != hashing.canonical_json(content):
            raise SystemExit("fast canonical JSON differs from RFC 8785 for this data; use --loader append")
        entries.append((entry, content_json))
    columns = [f.column for f in model._meta.concrete_fields]
    with transaction.atomic():
        lock_ledger(connection, model.ledger_name)
        tip = model._base_manager.order_by("-seq").values_list("seq", "entry_hash").first()
        seq, prev = tip if tip else (0, hashing.GENESIS_HASH)
        now = timezone.now()
        with connection.cursor() as cursor:
            table = model._meta.db_table
            with cursor.cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                for entry, content_json in entries:
                    seq += 1
                    entry.seq, entry.recorded_at, entry.recorded_by_name = seq, now, user_name
                    entry.canonical = hashing.entry_canonical(model.ledger_name, seq, now, user_name, content_json)
                    entry.prev_entry_hash = prev
                    entry.entry_hash = prev = hashing.entry_hash(prev, entry.canonical)
                    copy.write_row(
                        [
                            json.dumps(value) if isinstance(value, (list, dict)) else value
                            for value in (getattr(entry, f.attname) for f in model._meta.concrete_fields)
                        ]
                    )
        # The pages' rollups, as append_many keeps them: one UPSERT for the batch, same transaction.
        rollups.record(model, [entry for entry, _ in entries], connection.alias)


def append(model, batch, fast):
    if fast:
        copy_rows(model, batch)
    else:
        model.objects.append_many(batch, recorded_by="bench")


def load(target, blueprints, seed, fast):
    have = EnhanceEntry.objects.count()
    if have >= target:
        print(f"reusing {have:,} entries")
        return
    rng = random.Random(seed + have)
    now = int(time.time() * 1000)
    span = 365 * DAY_MS
    t0 = now - span
    elapsed = append_in_batches(
        rows(have, target - have, target, blueprints, rng, t0, span),
        BATCH,
        lambda batch: append(EnhanceEntry, batch, fast),
        done=have,
        noun="entries",
        report_every=50_000,
    )
    print(f"loaded {target - have:,} entries in {elapsed:.0f}s ({(target - have) / elapsed:,.0f}/s)")
    # Review the older 70% of rejections, as a team that keeps up with triage would: the backlog is recent.
    cutoff = t0 + int(span * 0.7)
    older = list(EnhanceEntry.objects.rejected().filter(ts_ms__lt=cutoff).values_list("seq", flat=True))
    for start in range(0, len(older), BATCH):
        append(Review, [{"entry_id": seq, "decision": "acknowledged"} for seq in older[start : start + BATCH]], fast)
    print(f"reviewed {len(older):,} older rejections")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE enhancelog_enhanceentry")
        cursor.execute("ANALYZE enhancelog_review")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--blueprints", type=int, default=0, help="default: one per 1,000 entries")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--loader",
        choices=["copy", "append"],
        default="copy",
        help="copy: PostgreSQL COPY with the kernel's hashes (fast); append: the real append_many path",
    )
    parser.add_argument("--allow-sqlite", action="store_true", help="run against SQLite (a smoke test)")
    args = parser.parse_args()
    prepare_database(args.allow_sqlite)
    blueprints = args.blueprints or max(10, args.entries // 1000)
    load(args.entries, blueprints, args.seed, fast=args.loader == "copy" and connection.vendor == "postgresql")

    client = logged_in_client("bench", is_superuser=True, is_staff=True)
    rng = random.Random(args.seed)
    total = EnhanceEntry.objects.head().seq
    print(
        f"\nledger: {total:,} entries, {blueprints:,} blueprints, {Review.objects.count():,} reviews; {args.runs} runs each"
    )

    def blueprint_url():
        return f"/api/v1/enhances/?blueprint_id=bp-{rng.randrange(blueprints):05d}&page_size=100"

    cases = [
        ("API list by blueprint (100/page)", blueprint_url),
        ("API get by issue_id", lambda: f"/api/v1/enhances/B-{rng.randrange(total):08d}/"),
        ("API unreviewed rejections (100/page)", "/api/v1/enhances/?status=rejected&reviewed=false&page_size=100"),
        ("admin review queue (50/page)", "/admin/enhancelog/enhanceentry/queue/"),
        ("admin review queue, denied by noop", "/admin/enhancelog/enhanceentry/queue/?denied_axis=noop"),
        ("dashboard (cached after first view)", "/enhances/"),
    ]
    print(f"\n{'request':45} {'p50 ms':>8} {'p95 ms':>8}")
    for label, url in cases:
        p50, p95, _ = request_latencies(client, url, args.runs, warm_up=True)
        print(f"{label:45} {p50:8.1f} {p95:8.1f}")

    bp = "bp-00001"
    for queryset, label in (
        (EnhanceEntry.objects.for_blueprint(bp).in_list_order()[:101], f"list by blueprint {bp}"),
        (EnhanceEntry.objects.review_queue()[:51], "review queue (unreviewed rejections, newest first)"),
        (EnhanceEntry.objects.review_queue().denied_on("noop")[:51], "review queue denied by noop"),
        (
            EnhanceEntry.objects.unreviewed_rejections().order_by("ts_ms", "seq")[:101],
            "unreviewed rejections oldest first, from the unreviewed floor (API ?status=rejected&reviewed=false)",
        ),
    ):
        explain(queryset, label, "enhancelog_enhanceentry", require_index_node=True)


if __name__ == "__main__":
    main()
