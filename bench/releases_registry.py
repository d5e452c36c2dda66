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
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"promote, 1 client": 0.15, "promote, 8 clients": 0.50}


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def database_url(base, name):
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def recreate_database(base, name):
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(base, name)


def body(i, run):
    return {"spec_digest": digest(f"{run}-{i}"), "version_label": f"v{i}", "promoted_by": "bench", "notes": "bench"}


def timed_threads(work, clients):
    errors = []

    def guarded(worker):
        try:
            work(worker)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed, first: {errors[0]!r}")
    return time.perf_counter() - start


# --- raw psycopg baselines -----------------------------------------------------------------------


def raw_single_inserts(url, count):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_single (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        start = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO raw_single (body) VALUES (%s)", [json.dumps(body(i, "raw"))])
        return count / (time.perf_counter() - start)


def raw_locked_chain(url, count, clients):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_chain (seq bigint PRIMARY KEY, hash text, body jsonb)")
    per_client = count // clients

    def work(worker):
        with psycopg.connect(url) as conn:
            for i in range(per_client):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(42)")
                    tip = conn.execute("SELECT seq FROM raw_chain ORDER BY seq DESC LIMIT 1").fetchone()
                    conn.execute(
                        "INSERT INTO raw_chain (seq, hash, body) VALUES (%s, %s, %s)",
                        [(tip[0] if tip else 0) + 1, secrets.token_hex(32), json.dumps(body(i, f"chain{worker}"))],
                    )

    return per_client * clients / timed_threads(work, clients)


# --- the registry over HTTP ----------------------------------------------------------------------


def session_for(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


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
            elif response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

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
    env = {**os.environ, "DATABASE_URL": app_url, "DJANGO_SETTINGS_MODULE": "ledgerproject.settings"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def latencies(session, url, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = session.get(url, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(app_url):
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "LEDGER_THROTTLE_USER": "10000000/min",
        "LEDGER_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    issued = subprocess.run(
        [python, "manage.py", "issue_token", "bench", "--role", "writer", "--role", "reader"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = issued.stdout.strip().splitlines()[-1]
    port = free_port()
    gunicorn = Path(python).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "ledgerproject.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine boots gunicorn slowly
    while True:
        try:
            requests.get(f"{base}/api/v1/ledgers/", timeout=5)
            return server, base, token
        except requests.RequestException:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promotes", type=int, default=800, help="promotes for each write shape")
    parser.add_argument("--entries", type=int, default=100_000, help="entries seeded before the reads")
    parser.add_argument("--names", type=int, default=1000, help="agent names the seeded entries spread over")
    parser.add_argument("--repeat", type=int, default=200, help="requests per read shape")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL server (or run through scripts/with-postgres.sh)")

    raw_url = recreate_database(base_url, "releases_bench_raw")
    app_url = recreate_database(base_url, "releases_bench_app")
    server, base, token = start_app(app_url)
    try:
        promotes(base, token, 40, 1, "warmup")
        writes = {
            "promote, 1 client": (
                promotes(base, token, args.promotes, 1, "one"),
                raw_single_inserts(raw_url, args.promotes),
            ),
            "promote, 8 clients": (
                promotes(base, token, args.promotes, 8, "eight"),
                raw_locked_chain(raw_url, args.promotes, 8),
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
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", _superuser_code()],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": app_url, "DJANGO_SETTINGS_MODULE": "ledgerproject.settings"},
            check=True,
        )
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
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"{'shape':<22} {'ledger rows/s':>14} {'raw rows/s':>12} {'ratio':>7} {'target':>7}")
    for shape, (ledger, raw) in writes.items():
        ratio = ledger / raw
        mark = "ok" if ratio >= TARGETS[shape] else "BELOW"
        print(f"{shape:<22} {ledger:>14.0f} {raw:>12.0f} {ratio:>7.1%} {TARGETS[shape]:>6.0%} {mark}")
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
