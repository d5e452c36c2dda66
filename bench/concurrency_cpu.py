"""What limits concurrent single appends: CPU per append (server, PostgreSQL, client) against the ledger lock.

    scripts/with-postgres.sh .venv/bin/python bench/concurrency_cpu.py --appends 400

Serves Ledger as `make bench` does (gunicorn, the documented options), sends single enhance appends from 1 and
then 8 clients on one ledger, and reports for each: appends/s; the CPU time one append costs in the gunicorn
workers, in PostgreSQL's processes and in the client (from /proc, so Linux only); the ceiling those give on this
machine's cores (cores ÷ CPU per append); and how often an append waited for the ledger's lock (pg_locks sampled
every 20 ms from another connection: the mean number of backends waiting on an advisory lock). When the rate sits
near the CPU ceiling and hardly anyone waits on the lock, CPU is the limit, not the lock or group commit.
"""

import argparse
import os
import shlex
import threading
import time

from append import Ledger
from harness import (
    GUNICORN_ARGS,
    children,
    cpu_seconds,
    postgres_pids,
    recreate_bench_databases,
    running_app,
    timed_threads,
)


class LockSampler:
    """Samples, from its own connection, how many backends wait on an advisory lock."""

    def __init__(self, url, every=0.02):
        self.url, self.every = url, every
        self.samples, self.stop = [], threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
                self.samples.append(row[0])
                time.sleep(self.every)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def mean_waiting(self):
        return sum(self.samples) / len(self.samples) if self.samples else 0.0


def measure(ledger, server, app_url, appends, clients):
    workers = children(server.pid)
    # Per process, so the backends that open during the run (a gunicorn thread's first connection) count too.
    postgres_before = {pid: cpu_seconds(pid) for pid in postgres_pids(app_url)}
    server_before, client_before = sum(cpu_seconds(pid) for pid in workers), time.process_time()
    routes = ledger.single_routes("enhance entry", clients)
    per_client = appends // clients

    def work(worker):
        session = ledger.client_for(ledger.token)
        url, body = routes[worker]
        for i in range(per_client):
            response = session.post(ledger.base + url, json=body(i), timeout=30)
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    with LockSampler(app_url) as sampler:
        seconds = timed_threads(work, clients)
    done = per_client * clients
    server_cpu = sum(cpu_seconds(pid) for pid in workers) - server_before
    client_cpu = time.process_time() - client_before
    # The sampler's backend is gone by now; the short-lived one that lists the processes costs next to nothing.
    postgres_cpu = sum(cpu_seconds(pid) - postgres_before.get(pid, 0.0) for pid in postgres_pids(app_url))
    total = (server_cpu + postgres_cpu + client_cpu) / done
    cores = os.cpu_count() or 1
    print(
        f"{clients} client(s): {done / seconds:7.1f} appends/s | CPU per append: server {server_cpu / done * 1e3:5.2f} ms, "
        f"PostgreSQL {postgres_cpu / done * 1e3:5.2f} ms, client {client_cpu / done * 1e3:5.2f} ms, "
        f"total {total * 1e3:5.2f} ms → ceiling on {cores} cores {cores / total:6.1f}/s | "
        f"mean backends waiting on the ledger lock {sampler.mean_waiting:4.2f}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=400, help="appends for each client count")
    parser.add_argument("--gunicorn", default=" ".join(GUNICORN_ARGS), help="gunicorn options serving Ledger")
    args = parser.parse_args()
    _, app_url = recreate_bench_databases("ledger_cpu")
    with running_app(app_url, tuple(shlex.split(args.gunicorn))) as (server, base, token):
        ledger = Ledger(base, token)
        ledger.single_rate("enhance entry", 40, 2)  # warm both workers
        for clients in (1, 8):
            measure(ledger, server, app_url, args.appends, clients)


if __name__ == "__main__":
    main()
