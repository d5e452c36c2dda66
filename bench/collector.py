"""What Python's cycle collector costs a served worker while arrays are appended: its passes, its pauses, the memory.

    scripts/with-postgres.sh .venv/bin/python bench/collector.py [--batches 40] [--shape "enhance entries"]

Ledger under gunicorn (the documented command) takes --batches arrays of 1000 entries from one client while a
second client appends single entries to the same ledger. Printed: the arrays' rows/s; the single appends' latency
(p50, p99, max), which a collector pass in the worker serving them stalls, since a pass holds the interpreter for
every thread of the worker; and, per worker, from a gunicorn config that records them, the collector's passes per
generation and their time, its longest pass after startup, and the worker's peak resident memory.
"""

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from append import BATCH_SHAPES, Ledger
from harness import GUNICORN_ARGS, keepalive_client_for, recreate_bench_databases, require_status, running_app

# A gunicorn config: each worker records its collector's passes and writes them, with its peak memory, on exit.
WORKER_HOOKS = """
import gc, json, resource, time

_written = None


def post_fork(server, worker):
    global _written
    passes, seconds, longest, started = [0, 0, 0], [0.0, 0.0, 0.0], [0.0], {}

    def timed(phase, info):
        if phase == "start":
            started["at"] = time.perf_counter()
            return
        generation, spent = info["generation"], time.perf_counter() - started["at"]
        passes[generation] += 1
        seconds[generation] += spent
        if gc.get_freeze_count():  # after startup: wsgi.py freezes the heap once the application is loaded
            longest[0] = max(longest[0], spent)

    gc.callbacks.append(timed)

    def written():
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        record = {"passes": passes, "seconds": seconds, "longest": longest[0], "peak_mib": peak}
        with open(OUT, "a") as out:
            out.write(json.dumps(record) + "\\n")

    _written = written


def worker_exit(server, worker):
    if _written is not None:
        _written()
"""


def percentile(samples, share):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="arrays of --batch-size entries")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--shape", default="enhance entries", choices=BATCH_SHAPES)
    parser.add_argument("--gunicorn", default=" ".join(GUNICORN_ARGS))
    args = parser.parse_args()

    _raw_url, app_url = recreate_bench_databases("ledger_collector")
    workdir = Path(tempfile.mkdtemp(prefix="ledger-collector-"))
    records = workdir / "workers.jsonl"
    config = workdir / "gunicorn_hooks.py"
    config.write_text(f"OUT = {str(records)!r}\n" + WORKER_HOOKS)
    gunicorn_args = (*shlex.split(args.gunicorn), "-c", str(config))
    with running_app(app_url, gunicorn_args) as (_server, base, token):
        ledger = Ledger(base, token, keepalive_client_for)
        ledger.single_rate("enhance entry", 40, 2)  # warm both workers
        url, body = ledger.batch_route(args.shape)
        arrays = [[body(r * args.batch_size + i) for i in range(args.batch_size)] for r in range(args.batches)]
        single_url, single_body = ledger.single_routes("enhance entry", 1)[0]
        done, latencies = threading.Event(), []

        def single_appends():
            session = keepalive_client_for(token)
            i = 0
            while not done.is_set():
                started = time.perf_counter()
                require_status(session.post(base + single_url, json=single_body(i), timeout=60), 201)
                latencies.append(time.perf_counter() - started)
                i += 1

        singles = threading.Thread(target=single_appends)
        session = keepalive_client_for(token)
        singles.start()
        started = time.perf_counter()
        try:
            for array in arrays:
                require_status(session.post(base + url, json=array, timeout=300), 201)
        finally:
            elapsed = time.perf_counter() - started
            done.set()
            singles.join(60)
    workers = [json.loads(line) for line in records.read_text().splitlines()]
    print(
        f"{args.batches} arrays of {args.batch_size} {args.shape}: {args.batches * args.batch_size / elapsed:,.0f} rows/s"
    )
    print(
        f"single enhance entries meanwhile: {len(latencies)}, p50 {statistics.median(latencies) * 1e3:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms"
    )
    for number, worker in enumerate(workers, 1):
        passes = "/".join(map(str, worker["passes"]))
        spent = "/".join(f"{seconds * 1e3:.0f}" for seconds in worker["seconds"])
        print(
            f"worker {number}: collector passes {passes} (generations 0/1/2) taking {spent} ms, longest after startup "
            f"{worker['longest'] * 1e3:.0f} ms; peak memory {worker['peak_mib']} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
