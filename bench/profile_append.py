"""Where an append's time goes: cProfile on a gunicorn worker serving bench/append.py's enhance shapes.

    scripts/with-postgres.sh .venv/bin/python bench/profile_append.py --single 500 --batches 3

Serves Ledger with one sync gunicorn worker whose requests run under cProfile (bench/gunicorn_profile.py),
sends single appends, then (on a fresh worker) batches of 1000, and prints the cost of each step of the
append path per request and per row (cumulative time of the step's function, profiler overhead included:
read the shares, not the absolute figures). --dump DIR keeps the raw .prof files.
"""

import argparse
import os
import pstats
import shutil
import tempfile
import time

from append import SINGLE_SHAPES, Ledger
from harness import ROOT, recreate_bench_databases, running_app

# (label, [(path suffix, function name), ...]): the step's time is the sum of those functions' cumulative time.
STEPS = [
    ("whole request (WSGIHandler)", [("django/core/handlers/wsgi.py", "__call__")]),
    ("authentication (token lookup)", [("rest_framework/views.py", "perform_authentication")]),
    ("permissions", [("rest_framework/views.py", "check_permissions")]),
    ("throttles", [("rest_framework/views.py", "check_throttles")]),
    ("parse JSON (request.data)", [("rest_framework/request.py", "_parse")]),
    ("serializer is_valid (DRF fields)", [("rest_framework/serializers.py", "is_valid")]),
    ("append_many (all of it)", [("ledger/models/entries.py", "append_many")]),
    ("  full_clean", [("django/db/models/base.py", "full_clean")]),
    (
        "  hashing (canonical JSON, entry hash)",
        [
            ("ledger/hashing.py", "canonical_json"),
            ("ledger/hashing.py", "entry_canonical"),
            ("ledger/hashing.py", "entry_hash"),
        ],
    ),
    (
        "  lock + conflicts + tip (1 query) + state rules",
        [("ledger/models/append.py", "_refuse_conflicts_and_read_tip")],
    ),
    (
        "  INSERT (bulk_create) / COPY / one entry's INSERT + rollups",
        [
            ("django/db/models/query.py", "bulk_create"),
            ("ledger/bulk_insert.py", "insert_entries"),
            ("ledger/models/append.py", "_insert_one_with_rollups"),
        ],
    ),
    ("  COMMIT", [("django/db/backends/base/base.py", "commit")]),
    ("render (serializer.data)", [("rest_framework/serializers.py", "data")]),
    ("render (JSON bytes)", [("rest_framework/response.py", "rendered_content")]),
    ("all SQL round trips (psycopg execute)", [("psycopg/cursor.py", "execute"), ("psycopg/cursor.py", "executemany")]),
]


def step_costs(stats, steps=STEPS):
    """{label: seconds} of every step of `steps` [(label, [(path suffix, function name), …])] in a pstats.Stats."""
    costs = {}
    for label, functions in steps:
        total = 0.0
        for (path, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
            if any(path.endswith(suffix) and name == function for suffix, function in functions):
                total += cumulative
        costs[label] = total
    return costs


def profiled(app_url, shape, profile_dir):
    """Serve app_url with one profiled worker, run shape(ledger) and return (its stats, the request count)."""
    for name in os.listdir(profile_dir):
        os.remove(os.path.join(profile_dir, name))
    config = str(ROOT / "bench" / "gunicorn_profile.py")
    with running_app(app_url, ("-w", "1", "-c", config), env={"LEDGER_PROFILE_DIR": profile_dir}) as (
        server,
        base,
        token,
    ):
        requests_count = shape(Ledger(base, token))
    for _ in range(100):  # the worker writes its stats as it exits
        files = [os.path.join(profile_dir, name) for name in os.listdir(profile_dir)]
        if files:
            break
        time.sleep(0.1)
    return pstats.Stats(*files), requests_count


def report(title, stats, requests_count, rows):
    costs = step_costs(stats)
    print(f"\n{title}: {requests_count} requests, {rows} rows")
    print(f"{'step':<56} {'ms / request':>13} {'µs / row':>10} {'share':>7}")
    whole = costs["whole request (WSGIHandler)"] or 1
    for label, seconds in costs.items():
        print(
            f"{label:<56} {seconds * 1000 / requests_count:>13.2f} {seconds * 1e6 / rows:>10.1f} {seconds / whole:>7.0%}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument(
        "--shape",
        action="append",
        choices=[*SINGLE_SHAPES, "create run"],
        help="single-append shape to profile (repeatable; default: enhance entry)",
    )
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--dump", help="keep the .prof files in this directory")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    args = parser.parse_args()
    _, app_url = recreate_bench_databases("ledger_profile")
    profile_dir = tempfile.mkdtemp(prefix="ledger-profile-")
    try:
        # Warm-up requests (imports, first queries) are in the profile too: kept small beside the runs.
        for shape in args.shape or ["enhance entry"]:

            def single(ledger, shape=shape):
                ledger.single_rate(shape, args.single)
                return args.single

            stats, count = profiled(app_url, single, profile_dir)
            report(f"single {shape} / request", stats, count, args.single)
            if args.dump:
                os.makedirs(args.dump, exist_ok=True)
                stats.dump_stats(os.path.join(args.dump, f"single-{shape.replace(' ', '-')}.prof"))
            if args.top:
                stats.sort_stats("tottime").print_stats(args.top)
        if not args.batches:
            return

        def batches(ledger):
            ledger.batch_rate("enhance entries", args.batches, args.batch_size)
            return args.batches

        stats, count = profiled(app_url, batches, profile_dir)
        report(f"batch of {args.batch_size} enhance entries", stats, count, args.batches * args.batch_size)
        if args.dump:
            stats.dump_stats(os.path.join(args.dump, "batch.prof"))
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
