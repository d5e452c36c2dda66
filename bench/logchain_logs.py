"""Benchmark: the node-log ledger — handler cost per record, appender flush rate, query and viewer latency.

Usage (PostgreSQL; the default size is 1,000,000 records):
    DATABASE_URL=postgres://… .venv/bin/python bench/logchain_logs.py [--entries N] [--runs R]
    scripts/with-postgres.sh .venv/bin/python bench/logchain_logs.py --entries 200000
    .venv/bin/python bench/logchain_logs.py --allow-sqlite --entries 20000   (a smoke run)

1. What a request pays to log a warning through LedgerLogHandler (in-memory buffer only), beside
   logging's own NullHandler, in µs per record.
2. How fast the ledger appender writes buffered records (flush, 500 per batch, under the ledger lock).
3. Records go in through the real append path (append_many, 5,000 per batch); a ledger that already
   holds N records is reused. Then p50/p95 of API lists and the /logs/ viewer, handled in-process by
   Django (no network), and EXPLAIN of the filtered lists. Ratios on one machine mean something;
   absolute numbers across machines do not.
"""

import argparse
import logging
import os
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

# The bench measures the appender itself; it must not also write its own warnings behind our back.
os.environ.setdefault("LOGCHAIN_APPENDER", "buffer")
setup_django()

from django.db import connection  # noqa: E402

from logchain.demo import LINES, NODES, SUBSTRATE, _fill  # noqa: E402
from logchain.handler import LedgerLogHandler  # noqa: E402
from logchain.ledger_appender import LedgerLogChainAppender  # noqa: E402
from logchain.models import LogRecord  # noqa: E402

BATCH = 5000
BENCH_NODE = 999_999  # the flush benchmark's own node, apart from the loaded fleet
LEVEL_WEIGHTS = {"Trace": 5, "Debug": 30, "Info": 55, "Warn": 8, "Error": 2}


def emit_cost(count):
    """µs per logger.warning() through a NullHandler and through LedgerLogHandler (buffer only)."""
    results = {}
    for label, handler in (
        ("NullHandler", logging.NullHandler()),
        ("LedgerLogHandler", LedgerLogHandler(appender=LedgerLogChainAppender(capacity=count, background=False))),
    ):
        logger = logging.getLogger(f"bench.logchain.{label}")
        logger.propagate = False
        logger.handlers = [handler]
        logger.setLevel(logging.WARNING)
        started = time.perf_counter()
        for number in range(count):
            logger.warning("replica %d lagging by %d writes", number % 7, number)
        results[label] = (time.perf_counter() - started) / count * 1e6
    return results


def flush_rate(count):
    appender = LedgerLogChainAppender(capacity=count, node_id=BENCH_NODE, background=False)
    handler = LedgerLogHandler(appender=appender)
    for number in range(count):
        handler.handle(logging.LogRecord("bench", logging.WARNING, __file__, 1, "line %d", (number,), None))
    started = time.perf_counter()
    written = appender.flush()
    elapsed = time.perf_counter() - started
    assert written == count and appender.failures == 0, appender.stats()
    return count / elapsed


def fleet_rows(start, count, nodes, rng, t0, step_ms):
    """Records spread over `nodes` nodes, per-node seq strictly increasing, claimed time ascending."""
    names = [(node_id, daemons) for node_id, (_, daemons) in NODES.items()]
    for offset in range(count):
        number = start + offset
        node_index = number % nodes
        node_id = 1000 + node_index
        _, daemons = names[node_index % len(names)]
        daemon_id = rng.choice(list(daemons)) if rng.random() < 0.9 else None
        choices = SUBSTRATE if daemon_id is None else LINES[daemons[daemon_id]]
        level, template = rng.choices(choices, weights=[LEVEL_WEIGHTS[lvl] for lvl, _ in choices])[0]
        yield {
            "node_id": node_id,
            "node_seq": number // nodes + 1,
            "ts_ms": t0 + number * step_ms,
            "level": level,
            "daemon_id": None if daemon_id is None else daemon_id + 100 * node_index,
            "message": _fill(template, rng),
            "chain_pending": False,
        }


def load(target, nodes, seed):
    have = LogRecord.objects.exclude(node_id=BENCH_NODE).count()
    if have >= target:
        print(f"reusing {have:,} records")
        return
    rng = random.Random(seed + have)
    step_ms = 50
    t0 = int(time.time() * 1000) - target * step_ms
    elapsed = append_in_batches(
        fleet_rows(have, target - have, nodes, rng, t0, step_ms),
        BATCH,
        lambda batch: LogRecord.objects.append_many(batch, recorded_by="bench"),
        done=have,
        noun="records",
        report_every=100_000,
    )
    print(f"loaded {target - have:,} records in {elapsed:.0f}s ({(target - have) / elapsed:,.0f}/s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logchain_logrecord")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--emits", type=int, default=100_000)
    parser.add_argument("--flush", type=int, default=20_000, help="records for the flush-rate measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--allow-sqlite", action="store_true", help="run against SQLite (a smoke test)")
    args = parser.parse_args()
    prepare_database(args.allow_sqlite)

    costs = emit_cost(args.emits)
    print(f"\nlogger.warning() cost over {args.emits:,} records (no database involved):")
    for label, micros in costs.items():
        print(f"    {label:18} {micros:6.2f} µs/record")
    print(f"    ratio LedgerLogHandler / NullHandler: {costs['LedgerLogHandler'] / costs['NullHandler']:.1f}x")
    print(f"appender flush to the ledger: {flush_rate(args.flush):,.0f} records/s ({args.flush:,} records)")

    load(args.entries, args.nodes, args.seed)
    client = logged_in_client("bench", is_superuser=True, is_staff=True)
    rng = random.Random(args.seed)
    total = LogRecord.objects.head().seq
    per_node = args.entries // args.nodes
    now_ms = int(time.time() * 1000)
    print(f"\nledger: {total:,} records over {args.nodes} nodes; {args.runs} runs each")

    def node():
        return 1000 + rng.randrange(args.nodes)

    cases = [
        ("API list by node (100/page)", lambda: f"/api/v1/logs/?node_id={node()}&page_size=100"),
        ("API node + min_level=Warn", lambda: f"/api/v1/logs/?node_id={node()}&min_level=Warn&page_size=100"),
        ("API min_level=Error, all nodes", "/api/v1/logs/?min_level=Error&page_size=100"),
        ("API by daemon", lambda: f"/api/v1/logs/?daemon_id={rng.choice([21, 22, 23]) + 100}&page_size=100"),
        ("API last 10 min window", lambda: f"/api/v1/logs/?since_ms={now_ms - 600_000}&page_size=100"),
        ("API get by (node, seq)", lambda: f"/api/v1/logs/{node()}/{rng.randrange(1, per_node)}/"),
        ("API text search (not indexed)", "/api/v1/logs/?q=checksum%20mismatch&page_size=100"),
        ("viewer /logs/ (500 newest lines)", "/logs/"),
        ("viewer node + Warn", lambda: f"/logs/?node={node()}&min_level=Warn"),
        ("appender health /logs/appender/", "/api/v1/logs/appender/"),
    ]
    print(f"\n{'request':40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, url in cases:
        runs = max(10, args.runs // 10) if "text search" in label else args.runs
        p50, p95, _ = request_latencies(client, url, runs, warm_up=True)
        print(f"{label:40} {p50:8.1f} {p95:8.1f}")

    for queryset, label in (
        (LogRecord.objects.for_node(1001).at_least("Warn").order_by("seq")[:101], "node 1001, min_level Warn"),
        (LogRecord.objects.at_least("Error").order_by("seq")[:101], "min_level Error, all nodes"),
        (LogRecord.objects.order_by("-seq")[:501], "viewer, newest 500"),
    ):
        explain(queryset, label, "logchain_logrecord")


if __name__ == "__main__":
    main()
