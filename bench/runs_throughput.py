"""Run-event append throughput and blob streaming of Ledger under gunicorn, beside raw psycopg on one PostgreSQL.

Run it against a throwaway server:
    scripts/with-postgres.sh .venv/bin/python bench/runs_throughput.py [--single 1000] [--batches 5] [--blob-mb 200]

Like bench/append.py (with the same harness and raw baselines) it creates fresh databases, starts gunicorn with 2
workers and prints rows/s for run events (one per request from 1 client; one per request from
8 clients, each on its own run; arrays of 1000 per request) with the ratio to the raw psycopg
baseline measured in the same run. Then it uploads and downloads one large blob and reports MB/s
and the gunicorn workers' peak resident memory (VmHWM), which stays flat whatever the blob size.
"""

import argparse
import hashlib
import os
import time
from pathlib import Path

from harness import (
    APPEND_TARGETS,
    ROOT,
    append_shape_rates,
    children,
    print_ratios,
    recreate_bench_databases,
    require_status,
    running_app,
    session_for,
    timed_threads,
)

SPEC = hashlib.sha256(b"bench spec").hexdigest()


def event(i):
    return {
        "kind": "tool_called",
        "payload": {"tool": "read_file", "args": {"path": f"src/module_{i % 97}.py"}, "step": i},
        "timestamp": "2026-01-21T12:00:00Z",
    }


def new_run(session, base, agent):
    response = session.post(
        f"{base}/api/v1/runs/", json={"spec_digest": SPEC, "metadata": {"agent_name": agent, "tags": {}}}, timeout=30
    )
    response.raise_for_status()
    return response.json()["run_id"]


def events_single(base, token, count, clients):
    per_client = count // clients
    runs = [new_run(session_for(token), base, f"bench-{c}") for c in range(clients)]

    def work(worker):
        session = session_for(token)
        url = f"{base}/api/v1/runs/{runs[worker]}/events/"
        for i in range(per_client):
            require_status(session.post(url, json=event(i), timeout=30), 201)

    return per_client * clients / timed_threads(work, clients)


def events_batches(base, token, requests_count, size):
    session = session_for(token)
    run_id = new_run(session, base, "bench-batch")
    url = f"{base}/api/v1/runs/{run_id}/events/"
    start = time.perf_counter()
    for r in range(requests_count):
        require_status(session.post(url, json=[event(r * size + i) for i in range(size)], timeout=300), 201)
    return requests_count * size / (time.perf_counter() - start)


class Body:
    """A generated request body, so the client holds no more than a chunk of it either."""

    def __init__(self, size):
        self.size, self.left, self.hash, self.block = size, size, hashlib.sha256(), os.urandom(1024 * 1024)

    def __len__(self):
        return self.size

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        chunk = (self.block * (1 + n // len(self.block)))[:n] if n > len(self.block) else self.block[:n]
        self.left -= len(chunk)
        self.hash.update(chunk)
        return chunk


def worker_peak_rss(server):
    """Peak RSS (VmHWM, MB) of each gunicorn worker: the master's children."""
    peaks = []
    for pid in children(server.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    return peaks


def blob_round_trip(base, token, megabytes, server):
    session = session_for(token)
    before = worker_peak_rss(server)
    size = megabytes * 1024 * 1024
    body = Body(size)
    start = time.perf_counter()
    response = session.post(
        f"{base}/api/v1/blobs/",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=600,
    )
    upload = time.perf_counter() - start
    response.raise_for_status()
    digest = body.hash.hexdigest()
    assert response.json()["digest"] == digest, "digest mismatch"
    start = time.perf_counter()
    got = hashlib.sha256()
    with session.get(f"{base}/api/v1/blobs/{digest}/", stream=True, timeout=600) as download:
        download.raise_for_status()
        for chunk in download.iter_content(1024 * 1024):
            got.update(chunk)
    fetched = time.perf_counter() - start
    assert got.hexdigest() == digest, "downloaded bytes differ"
    return megabytes / upload, megabytes / fetched, before, worker_peak_rss(server)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1000, help="events for the one-per-request shapes")
    parser.add_argument("--batches", type=int, default=5, help="requests of --batch-size events")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--blob-mb", type=int, default=200)
    args = parser.parse_args()
    raw_url, app_url = recreate_bench_databases("ledger_bench_runs")
    os.environ.setdefault("LEDGER_MEDIA_ROOT", str(ROOT / "var" / "bench" / "media"))
    with running_app(app_url) as (server, base, token):
        events_single(base, token, 50, 1)  # warm-up
        results = append_shape_rates(
            raw_url,
            args.single,
            args.batches,
            args.batch_size,
            lambda count, clients: events_single(base, token, count, clients),
            lambda requests_count, size: events_batches(base, token, requests_count, size),
        )
        up, down, rss_before, rss_after = blob_round_trip(base, token, args.blob_mb, server)
    print_ratios("run events", results, APPEND_TARGETS)
    print(f"blob of {args.blob_mb} MB: upload {up:.0f} MB/s, download {down:.0f} MB/s")
    print(
        "gunicorn workers' peak RSS (MB) before / after: "
        + ", ".join(f"{b:.0f}/{a:.0f}" for b, a in zip(rss_before, rss_after, strict=False))
    )


if __name__ == "__main__":
    main()
