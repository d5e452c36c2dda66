"""Append throughput of Ledger under gunicorn (2 workers) beside raw psycopg on the same PostgreSQL.

Run it against a throwaway server:  scripts/with-postgres.sh .venv/bin/python bench/append.py
(or with DATABASE_URL pointing at any PostgreSQL you may create databases on). It creates two
fresh databases (raw baseline and app), migrates the app, starts gunicorn on 127.0.0.1, and prints
rows/s for each shape and the ratio Ledger / raw, measured in the same run (absolute numbers
mean little on a shared machine; the ratios are the result).
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"single, 1 client": 0.15, "single, 8 clients": 0.50, "batch of 1000": 0.50}


def database_url(base, name):
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(base, name):
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(base, name)


def enhance(i, run):
    return {
        "issue_id": f"bench-{run}-{i}",
        "blueprint_id": f"bp-{i % 50}",
        "prev_hash": secrets.token_hex(32),
        "new_hash": secrets.token_hex(32),
        "intent": "tighten the retry policy of the fetch step",
        "rationale": "p95 latency regression after the last rollout",
        "verdicts": [{"axis": "des", "status": "pass", "detail": ""}, {"axis": "noop", "status": "pass", "detail": ""}],
        "status": "applied",
        "reasons": [],
        "ts_ms": 1_760_000_000_000 + i,
    }


# --- raw psycopg baselines -----------------------------------------------------------------------


def raw_single_inserts(url, count):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_single (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        start = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO raw_single (body) VALUES (%s)", [json.dumps(enhance(i, "raw"))])
        return count / (time.perf_counter() - start)


def raw_locked_chain(url, count, clients):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_chain (seq bigint PRIMARY KEY, hash text NOT NULL, body jsonb NOT NULL)"
        )
    per_client = count // clients

    def work(worker):
        with psycopg.connect(url) as conn:
            for i in range(per_client):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(42)")
                    tip = conn.execute("SELECT seq, hash FROM raw_chain ORDER BY seq DESC LIMIT 1").fetchone()
                    seq = (tip[0] if tip else 0) + 1
                    conn.execute(
                        "INSERT INTO raw_chain (seq, hash, body) VALUES (%s, %s, %s)",
                        [seq, secrets.token_hex(32), json.dumps(enhance(worker * per_client + i, "chain"))],
                    )

    return _timed_threads(work, clients, per_client * clients)


def raw_executemany(url, count):
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_many (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        conn.commit()
        rows = [[json.dumps(enhance(i, "many"))] for i in range(count)]
        start = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO raw_many (body) VALUES (%s)", rows)
        conn.commit()
        return count / (time.perf_counter() - start)


# --- Ledger over HTTP ----------------------------------------------------------------------------


def _timed_threads(work, clients, total):
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
    return total / (time.perf_counter() - start)


def ledger_single(base, token, count, clients, run):
    per_client = count // clients

    def work(worker):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        for i in range(per_client):
            response = session.post(f"{base}/api/v1/enhances/", json=enhance(worker * per_client + i, run), timeout=30)
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

    return _timed_threads(work, clients, per_client * clients)


def ledger_batches(base, token, requests_count, size):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    start = time.perf_counter()
    for r in range(requests_count):
        batch = [enhance(r * size + i, "batch") for i in range(size)]
        response = session.post(f"{base}/api/v1/enhances/batch/", json=batch, timeout=120)
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    return requests_count * size / (time.perf_counter() - start)


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
    token = (
        subprocess.run(
            [python, "manage.py", "issue_token", "bench", "--role", "writer", "--role", "reader"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    gunicorn = Path(python).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "ledgerproject.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/api/v1/ledgers/", headers={"Authorization": f"Token {token}"}, timeout=5)
            return server, base, token
        except requests.RequestException:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1000, help="appends for the single-append shapes")
    parser.add_argument("--batches", type=int, default=5, help="requests of --batch-size entries")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL server (or run through scripts/with-postgres.sh)")

    raw_url = recreate_database(base_url, "ledger_bench_raw")
    app_url = recreate_database(base_url, "ledger_bench_app")
    server, base, token = start_app(app_url)
    try:
        ledger_single(base, token, 50, 1, "warmup")
        results = {
            "single, 1 client": (
                ledger_single(base, token, args.single, 1, "one"),
                raw_single_inserts(raw_url, args.single),
            ),
            "single, 8 clients": (
                ledger_single(base, token, args.single, 8, "eight"),
                raw_locked_chain(raw_url, args.single, 8),
            ),
            "batch of 1000": (
                ledger_batches(base, token, args.batches, args.batch_size),
                raw_executemany(raw_url, args.batches * args.batch_size),
            ),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{'shape':<20} {'ledger rows/s':>14} {'raw rows/s':>12} {'ratio':>7} {'target':>7}")
    for shape, (ledger, raw) in results.items():
        ratio = ledger / raw
        mark = "ok" if ratio >= TARGETS[shape] else "BELOW"
        print(f"{shape:<20} {ledger:>14.0f} {raw:>12.0f} {ratio:>7.1%} {TARGETS[shape]:>6.0%} {mark}")
    print(
        "raw baselines: autocommit INSERT; advisory lock + read tip + INSERT from 8 connections; executemany in one transaction"
    )


if __name__ == "__main__":
    main()
