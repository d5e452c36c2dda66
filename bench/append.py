"""Append throughput of Ledger under gunicorn (2 workers) beside raw psycopg on the same PostgreSQL.

Run it against a throwaway server:  scripts/with-postgres.sh .venv/bin/python bench/append.py
(or with DATABASE_URL pointing at any PostgreSQL you may create databases on). It creates two
fresh databases (raw baseline and app), migrates the app, starts gunicorn on 127.0.0.1, and prints
rows/s for each shape and the ratio Ledger / raw, measured in the same run (absolute numbers
mean little on a shared machine; the ratios are the result).
"""

import argparse
import time

from harness import (
    APPEND_TARGETS,
    append_shape_rates,
    enhance_body,
    print_ratios,
    recreate_bench_databases,
    require_status,
    running_app,
    session_for,
    timed_threads,
)


def ledger_single(base, token, count, clients, run):
    """Rows/s of single-entry POSTs from `clients` threads."""
    per_client = count // clients

    def work(worker):
        session = session_for(token)
        for i in range(per_client):
            body = enhance_body(worker * per_client + i, run)
            require_status(session.post(f"{base}/api/v1/enhances/", json=body, timeout=30), 201)

    return per_client * clients / timed_threads(work, clients)


def ledger_batches(base, token, requests_count, size):
    """Rows/s of batch POSTs of `size` entries, one after another."""
    session = session_for(token)
    start = time.perf_counter()
    for r in range(requests_count):
        batch = [enhance_body(r * size + i, "batch") for i in range(size)]
        require_status(session.post(f"{base}/api/v1/enhances/batch/", json=batch, timeout=120), 201)
    return requests_count * size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1000, help="appends for the single-append shapes")
    parser.add_argument("--batches", type=int, default=5, help="requests of --batch-size entries")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    raw_url, app_url = recreate_bench_databases("ledger_bench")
    with running_app(app_url) as (_, base, token):
        ledger_single(base, token, 50, 1, "warmup")
        results = append_shape_rates(
            raw_url,
            args.single,
            args.batches,
            args.batch_size,
            lambda count, clients: ledger_single(base, token, count, clients, "one" if clients == 1 else "eight"),
            lambda requests_count, size: ledger_batches(base, token, requests_count, size),
        )
    print_ratios("shape", results, APPEND_TARGETS)
    print(
        "raw baselines: autocommit INSERT; advisory lock + read tip + INSERT from 8 connections; executemany in one transaction"
    )


if __name__ == "__main__":
    main()
