"""Benchmark: experience events — batch append through the real path, and filtered query/page latency at size.

Usage (PostgreSQL; SQLite only as a smoke test with --allow-sqlite):
    scripts/with-postgres.sh .venv/bin/python bench/experience_events.py [--events N] [--runs R]
    DATABASE_URL=postgres://… .venv/bin/python bench/experience_events.py --events 1000000

Events go in through ExperienceEvent.objects.append_many (schema validation of every kind, hashing,
one lock per batch of 1,000) and the rate is printed beside raw psycopg executemany of the same
rows into a plain table in the same run (the ratio is the result; absolute numbers mean little on
a shared machine). Then each API filter and page is requested in-process (Django test client, no
network) R times: p50/p95 server time and the query count, plus EXPLAIN of the main querysets.
"""

import argparse
import datetime
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

from experience.models import ExperienceEvent  # noqa: E402

BATCH = 1000
TENANTS = [f"tenant-{i:02d}" for i in range(20)]


def event_rows(start, count, rng):
    """A realistic mix: per chain a proposal, a validation, a backend call, a trace, outcomes, sometimes a budget."""
    from experience.tests.conftest import VALID

    for number in range(start, start + count):
        chain = number // 8
        kind = (
            "ProposalCreated",
            "ProposalValidated",
            "BackendInvoked",
            "ReplayTraceRecorded",
            "OutcomeRecorded",
            "OutcomeRecorded",
            "RecallExecuted",
            "BudgetExceeded" if rng.random() < 0.3 else "FactPromoted",
        )[number % 8]
        data = json.loads(json.dumps(VALID[kind]))
        if "chain_id" in data:
            data["chain_id"] = f"chain-{chain}"
        if kind == "ProposalCreated":
            data["proposal"]["id"] = f"prop-{chain}"
            data["proposal"]["confidence"] = round(rng.random(), 3)
        if kind in ("ProposalValidated", "FactPromoted"):
            data["proposal_id"] = f"prop-{chain}"
        if "trace_link_id" in data:
            data["trace_link_id"] = f"trace-{chain}"
        if kind == "OutcomeRecorded":
            data["tokens"] = rng.randint(100, 5000)
        seconds = number * 3
        yield {
            "event_id": f"bench-{number:09d}",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_760_000_000 + seconds)),
            "tenant_id": TENANTS[chain % len(TENANTS)],
            "correlation_id": f"run-{chain}",
            "kind": kind,
            "data": data,
        }


def raw_executemany(rows):
    """The baseline: the same rows (as JSON) into an unindexed-but-keyed plain table, one transaction."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_events")
        cursor.execute(
            "CREATE TABLE bench_raw_events (seq bigint primary key, event_id text unique, occurred_at text,"
            " tenant_id text, correlation_id text, kind text, data jsonb)"
        )
        params = [
            (i, r["event_id"], r["occurred_at"], r["tenant_id"], r["correlation_id"], r["kind"], json.dumps(r["data"]))
            for i, r in enumerate(rows, 1)
        ]
        started = time.perf_counter()
        cursor.executemany("INSERT INTO bench_raw_events VALUES (%s, %s, %s, %s, %s, %s, %s)", params)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_events")
    return len(rows) / elapsed


def load(target, seed):
    have = ExperienceEvent.objects.count()
    if have >= target:
        print(f"reusing {have:,} events")
        return None
    rng = random.Random(seed + have)
    seconds = append_in_batches(
        event_rows(have, target - have, rng),
        BATCH,
        lambda batch: ExperienceEvent.objects.append_many(batch, recorded_by="bench"),
        done=have,
        noun="events",
        report_every=50_000,
    )
    rate = (target - have) / seconds
    print(f"loaded {target - have:,} events through append_many at {rate:,.0f} events/s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE experience_experienceevent")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--allow-sqlite", action="store_true")
    args = parser.parse_args()
    prepare_database(args.allow_sqlite)

    if connection.vendor == "postgresql":
        sample = list(event_rows(10_000_000, 20_000, random.Random(args.seed)))
        raw = raw_executemany(sample)
        started = time.perf_counter()
        ExperienceEvent.objects.append_many(sample[:BATCH], recorded_by="bench")  # warm-up, then the measured batches
        for start in range(BATCH, len(sample), BATCH):
            ExperienceEvent.objects.append_many(sample[start : start + BATCH], recorded_by="bench")
        ours = (len(sample) - BATCH) / (time.perf_counter() - started)
        print(f"batch append: raw executemany {raw:,.0f} rows/s, append_many {ours:,.0f} events/s → {ours / raw:.0%}")
    load(args.events, args.seed)

    client = logged_in_client("bench-reader", is_superuser=True)
    some = ExperienceEvent.objects.order_by("-seq").values("event_id", "chain_id", "correlation_id", "occurred_at_utc")[
        500
    ]
    start = some["occurred_at_utc"]
    window = [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (start, start + datetime.timedelta(hours=1))]
    chain = (
        ExperienceEvent.objects.filter(chain_id__isnull=False).order_by("-seq").values_list("chain_id", flat=True)[0]
    )
    trace = (
        ExperienceEvent.objects.filter(kind="ReplayTraceRecorded")
        .order_by("-seq")
        .values_list("trace_link_id", flat=True)[0]
    )
    urls = {
        "list, no filter": "/api/v1/events/",
        "list ?kind=BudgetExceeded": "/api/v1/events/?kind=BudgetExceeded",
        "list ?kind=A&kind=B": "/api/v1/events/?kind=BudgetExceeded&kind=FactPromoted",
        "list ?tenant_id": f"/api/v1/events/?tenant_id={TENANTS[3]}",
        "list ?chain_id": f"/api/v1/events/?chain_id={chain}",
        "list ?correlation_id": f"/api/v1/events/?correlation_id={some['correlation_id']}",
        "list ?since&until (1 h)": f"/api/v1/events/?since={window[0]}&until={window[1]}",
        "list ?limit=50": "/api/v1/events/?kind=OutcomeRecorded&limit=50",
        "get one event": f"/api/v1/events/{some['event_id']}/",
        "trace link": f"/api/v1/trace-links/{trace}/",
        "page: timeline": "/events/",
        "page: timeline, 2 kinds": "/events/?kind=BudgetExceeded&kind=OutcomeRecorded",
        "page: chain": f"/events/chains/{chain}/",
    }
    total = ExperienceEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    print(f"\nlatency at {total:,} events, {args.runs} requests each (in-process, server time):")
    for label, url in urls.items():
        p50, p95, queries = request_latencies(client, url, args.runs, count_queries=True)
        print(f"  {label:28s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {queries} queries")

    for label, qs in {
        "kind filter": ExperienceEvent.objects.filter(kind="BudgetExceeded").order_by("seq")[:100],
        "chain filter": ExperienceEvent.objects.filter(chain_id=chain).order_by("seq")[:100],
        "time range": ExperienceEvent.objects.between(*window).order_by("seq")[:100],
    }.items():
        explain(qs, label, max_lines=8)


if __name__ == "__main__":
    main()
