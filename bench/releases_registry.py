"""Release registry under gunicorn (2 workers): promote throughput beside raw psycopg, and read latency at scale.

Run it against a throwaway server:
    scripts/with-postgres.sh .venv/bin/python bench/releases_registry.py [--entries 100000 --names 1000]
It creates two fresh databases (raw baseline and app), migrates the app, starts gunicorn on 127.0.0.1
and prints, measured in the same run:
  - promote per HTTP request from 1 client, and from 8 clients (8 names), as rows/s and as a ratio of
    raw psycopg (autocommit INSERT; advisory lock + read tip + INSERT from 8 connections);
  - 8 clients promoting the SAME name (each promote is compare-and-append on the current release, so
    losers re-read and retry): rows/s and how many stored;
  - after seeding --entries entries over --names names, p50/p95 client-side latency of the reads:
    current, current as_of, history (newest 20), the list of names, and both pages.
"""

import argparse
import hashlib
import time

import requests
from harness import (
    manage,
    p50_p95,
    print_ratios,
    raw_locked_chain,
    raw_single_inserts,
    recreate_bench_databases,
    require_status,
    running_app,
    session_for,
    timed_threads,
)

TARGETS = {"promote, 1 client": 0.15, "promote, 8 clients": 0.50}


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def body(i, run):
    return {"spec_digest": digest(f"{run}-{i}"), "version_label": f"v{i}", "promoted_by": "bench", "notes": "bench"}


# --- the registry over HTTP ----------------------------------------------------------------------


def promotes(base, token, count, clients, run, same_name=False):
    """rows/s of promotes; on one shared name a 409 (a client lost every retry) is counted, not fatal."""
    per_client = count // clients
    refused = []

    def work(worker):
        session = session_for(token)
        name = f"{run}-shared" if same_name else f"{run}-{worker}"
        for i in range(per_client):
            response = session.post(f"{base}/api/v1/releases/{name}/promote/", json=body(i, run), timeout=30)
            if same_name and response.status_code == 409:
                refused.append(i)
            else:
                require_status(response, 201)

    rate = per_client * clients / timed_threads(work, clients)
    return (rate, len(refused)) if same_name else rate


def seed(app_url, entries, names):
    """entries over names, appended in batches of one entry per name (the registry's batch rule)."""
    code = f"""
from releases.models import Release
heads = {{}}
rounds = -(-{entries} // {names})
for r in range(rounds):
    rows = []
    for n in range(min({names}, {entries} - r * {names})):
        name = f"agent-{{n:05d}}"
        rows.append({{"name": name, "spec_digest": "{"0" * 56}" + f"{{r:08x}}", "version_label": f"v{{r}}",
                     "promoted_by": "seed", "supersedes_id": heads.get(name)}})
    for entry in Release.objects.append_many(rows, recorded_by="seed"):
        heads[entry.name] = entry.seq
"""
    start = time.perf_counter()
    manage(app_url, "shell", "-c", code)
    return time.perf_counter() - start


def latencies(session, url, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return p50_p95(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promotes", type=int, default=800, help="promotes for each write shape")
    parser.add_argument("--entries", type=int, default=100_000, help="entries seeded before the reads")
    parser.add_argument("--names", type=int, default=1000, help="agent names the seeded entries spread over")
    parser.add_argument("--repeat", type=int, default=200, help="requests per read shape")
    args = parser.parse_args()
    raw_url, app_url = recreate_bench_databases("releases_bench")
    with running_app(app_url) as (_, base, token):
        promotes(base, token, 40, 1, "warmup")
        writes = {
            "promote, 1 client": (
                promotes(base, token, args.promotes, 1, "one"),
                raw_single_inserts(raw_url, args.promotes, lambda i: body(i, "raw")),
            ),
            "promote, 8 clients": (
                promotes(base, token, args.promotes, 8, "eight"),
                raw_locked_chain(raw_url, args.promotes, 8, lambda i: body(i, "chain")),
            ),
        }
        contended, refused = promotes(base, token, args.promotes, 8, "same", same_name=True)
        session = session_for(token)
        stored = len(session.get(f"{base}/api/v1/releases/same-shared/history/?limit=1000", timeout=30).json())
        seconds = seed(app_url, args.entries, args.names)
        name = f"agent-{args.names // 2:05d}"
        reads = {
            "GET current": f"/api/v1/releases/{name}/",
            "GET current ?as_of": f"/api/v1/releases/{name}/?as_of=2999-01-01T00:00:00Z",
            "GET history ?limit=20": f"/api/v1/releases/{name}/history/?limit=20",
            "GET list (100 names)": "/api/v1/releases/",
            "page /releases/": "/releases/",
            "page /releases/<name>/": f"/releases/{name}/",
        }
        # Pages need the session login; the token is an API credential only.
        page_session = requests.Session()
        manage(app_url, "shell", "-c", _superuser_code())
        page_session.get(f"{base}/accounts/login/")
        page_session.post(
            f"{base}/accounts/login/",
            data={
                "username": "bench-admin",
                "password": "bench-password",
                "csrfmiddlewaretoken": page_session.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/accounts/login/"},
        )
        measured = {}
        for label, path in reads.items():
            use = page_session if label.startswith("page") else session
            measured[label] = latencies(use, f"{base}{path}", args.repeat)

    print_ratios("shape", writes, TARGETS, width=22)
    print(f"{'promote, 8 on 1 name':<22} {contended:>14.0f}   ({stored} stored, {refused} refused with 409)")
    print(f"seeded {args.entries} entries over {args.names} names in {seconds:.1f}s ({args.entries / seconds:.0f}/s)")
    print(f"{'read':<26} {'p50 ms':>8} {'p95 ms':>8}   (client side, over HTTP, {args.repeat} requests)")
    for label, (p50, p95) in measured.items():
        print(f"{label:<26} {p50:>8.1f} {p95:>8.1f}")


def _superuser_code():
    return (
        "from django.contrib.auth import get_user_model\n"
        "U = get_user_model()\n"
        "U.objects.filter(username='bench-admin').exists() or "
        "U.objects.create_superuser('bench-admin', 'bench@example.com', 'bench-password')\n"
    )


if __name__ == "__main__":
    main()
