"""Shared pieces of the bench scripts: scratch databases, a gunicorn app, raw psycopg baselines, timing and reports."""

import argparse
import contextlib
import http.client
import json
import os
import secrets
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# psycopg, requests, orjson and Django are imported where they are used, so a script (and verify_export's per-phase
# peak RSS) carries only what it needs.
ROOT = Path(__file__).resolve().parent.parent
# One per run, so the server checks what the management commands signed with the same key.
SECRET_KEY = secrets.token_hex(32)
# Minimum Ledger / raw ratio per append shape, shared by the HTTP append benchmarks.
APPEND_TARGETS = {"single, 1 client": 0.15, "single, 8 clients": 0.50, "batch of 1000": 0.50}


# --- databases -----------------------------------------------------------------------------------


def require_postgres_url():
    """DATABASE_URL when it names a PostgreSQL server; otherwise exit saying how to get one."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL server (or run through scripts/with-postgres.sh)")
    return url


def database_url(base, name):
    """The URL of database `name` on the server of URL `base`."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def recreate_database(base, name):
    """Drop and create database `name` on the server of URL `base`; return its URL."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(base, name)


def ensure_database(base, name):
    """Create database `name` on the server of URL `base` unless it is there; return its URL (what it holds is kept)."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(base, name)


def recreate_bench_databases(prefix):
    """Drop and create `<prefix>_raw` and `<prefix>_app` on DATABASE_URL's PostgreSQL server; return their URLs."""
    base = require_postgres_url()
    return recreate_database(base, f"{prefix}_raw"), recreate_database(base, f"{prefix}_app")


# --- in-process Django ---------------------------------------------------------------------------


def setup_django(settings=None):
    """Put the project on sys.path and set Django up with `settings` if given, else DJANGO_SETTINGS_MODULE or ours."""
    sys.path.insert(0, str(ROOT))
    # The settings refuse to start without a key; a benchmark's throwaway key is this run's random one.
    os.environ.setdefault("DJANGO_SECRET_KEY", SECRET_KEY)
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerproject.settings")
    import django

    django.setup()


def prepare_database(allow_sqlite):
    """Exit unless Django's database is PostgreSQL (or allow_sqlite, for a smoke run); then migrate it."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql" and not allow_sqlite:
        sys.exit("Point DATABASE_URL at PostgreSQL (or pass --allow-sqlite for a smoke run).")
    call_command("migrate", verbosity=0)


def vacuum_analyze(*models):
    """VACUUM ANALYZE the tables of `models` (PostgreSQL; nothing elsewhere) after a fill, outside any timing.

    A deployment's tables are vacuumed and analyzed: autovacuum does both within about a minute of a bulk load
    (autovacuum_naptime). A table read right after its fill is neither. It has no statistics, so PostgreSQL plans
    a walk in seq order as a sequential scan and an on-disk sort (100,000 enhance entries: an external merge of
    74 MB, six times the primary-key read) instead of reading the primary key in order; and autovacuum then runs
    during the timings, on the same two cores. The throughput benches measure the table a deployment reads."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def run_in_scratch_dir(main):
    """Call main(workdir) with a fresh temporary directory, removed afterwards whatever happens."""
    workdir = tempfile.mkdtemp(prefix="ledger-proofs-bench-")
    try:
        main(workdir)
    finally:
        # The throwaway SQLite file and key live here; a --database-url database is left as it is.
        shutil.rmtree(workdir, ignore_errors=True)


def use_scratch_database(database_url, workdir):
    """Point DATABASE_URL at database_url (default: a fresh SQLite file in workdir) and LEDGER_VAR_DIR at workdir."""
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir}/bench.sqlite3"
    os.environ["LEDGER_VAR_DIR"] = workdir


def logged_in_client(username, **defaults):
    """A Django test client logged in as `username`, created with `defaults` when missing."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username=username, defaults=defaults)
    client = Client()
    client.force_login(user)
    return client


def append_in_batches(rows, size, append, done, noun, report_every):
    """Call append(batch) on `rows` in batches of `size`, printing progress every report_every; return seconds."""
    started = time.perf_counter()
    first, batch = done, []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            append(batch)
            done += len(batch)
            batch = []
            if done % report_every == 0:
                print(f"  {done:,} {noun} ({(done - first) / (time.perf_counter() - started):,.0f}/s)", flush=True)
    if batch:
        append(batch)
    return time.perf_counter() - started


def write_summary(path, rows):
    """Add each (target, figure, goal, met) row to the JSON-lines file `path`, which bench/targets.py gathers from
    every script it runs into one table; nothing when `path` is None (the script was run on its own). `met` is None
    for a target the run could not measure (its baseline missing)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for target, figure, goal, met in rows:
            verdict = None if met is None else bool(met)
            handle.write(json.dumps({"target": target, "figure": figure, "goal": goal, "met": verdict}) + "\n")


def read_summary(path):
    """The rows write_summary() left in `path`, as (target, figure, goal, met) tuples."""
    with open(path, encoding="utf-8") as handle:
        return [
            tuple(json.loads(line)[key] for key in ("target", "figure", "goal", "met"))
            for line in handle
            if line.strip()
        ]


def p50_p95(samples):
    """Median and 95th percentile (nearest rank, rounded down) of the samples."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def request_latencies(client, url, runs, count_queries=False, warm_up=False):
    """p50 and p95 ms of `runs` GETs of url (a path, or a callable made fresh per request, outside the timing),
    the query count of the last request when count_queries (else None); warm_up sends one untimed GET first."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    if warm_up:
        client.get(url() if callable(url) else url)  # warm caches and connections
    samples, queries = [], None
    for _ in range(runs):
        target = url() if callable(url) else url
        if count_queries:
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(target)
                samples.append((time.perf_counter() - started) * 1000)
            queries = len(captured.captured_queries)
        else:
            started = time.perf_counter()
            response = client.get(target)
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (target, response.status_code, response.content[:300])
    return (*p50_p95(samples), queries)


def timed_with_statements(client, path, runs):
    """(p50 ms, p95 ms, the SQL of the last request) of `runs` GETs of `path`, each answered 200."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return (*p50_p95(samples), [query["sql"] for query in captured.captured_queries])


def slowest_read(statements, table, ordered_only=False):
    """(ms, plan lines) of the slowest SELECT among `statements` that reads `table` (only those with an ORDER BY when
    `ordered_only`), EXPLAIN (ANALYZE, BUFFERS)ed; (0.0, []) when none does."""
    from django.db import connection

    slowest = (0.0, [])
    with connection.cursor() as cursor:
        for sql in statements:
            if sql.startswith("SELECT") and f'"{table}"' in sql and (not ordered_only or "ORDER BY" in sql):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                lines = [row[0] for row in cursor.fetchall()]
                took = float(lines[-1].split()[2]) if lines[-1].startswith("Execution Time") else 0.0
                slowest = max(slowest, (took, lines), key=lambda item: item[0])
    return slowest


def explain(queryset, label, table=None, max_lines=None, require_index_node=False):
    """Print the query plan (EXPLAIN ANALYZE on PostgreSQL) and, given a table, whether an index serves it."""
    from django.db import connection

    plan = queryset.explain(analyze=True) if connection.vendor == "postgresql" else queryset.explain()
    print(f"\nEXPLAIN {label}:\n" + "\n".join("    " + line for line in plan.splitlines()[:max_lines]))
    if table:
        seq_scan = f"Seq Scan on {table}" in plan or f"SCAN {table}\n" in plan + "\n"
        has_index_node = "Index" in plan or "USING INDEX" in plan or "USING COVERING INDEX" in plan
        print(f"    → index-served: {(has_index_node or not require_index_node) and not seq_scan}")


# --- Ledger under gunicorn -----------------------------------------------------------------------


def app_env(app_url):
    """The environment the app (server and management commands) runs with on database app_url."""
    return {
        **os.environ,
        "DATABASE_URL": app_url,
        "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "LEDGER_THROTTLE_USER": "10000000/min",
        "LEDGER_VAR_DIR": str(ROOT / "var" / "bench"),
    }


def manage(app_url, *args, capture=False):
    """Run `manage.py args` on database app_url; return the completed process (with its text output if capture)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=app_env(app_url),
        check=True,
        capture_output=capture,
        text=capture,
    )


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# How the benchmarks serve Ledger: production's command (docs/deployment.md) at 2 workers, as the MLflow
# column is served; threads overlap one request's database round trips with another's Python.
# append.py --gunicorn replaces these to compare worker classes and counts.
GUNICORN_ARGS = ("-w", "2", "-k", "gthread", "--threads", "4")


@contextlib.contextmanager
def running_app(app_url, gunicorn_args=GUNICORN_ARGS, env=None):
    """Migrate app_url, issue a writer+reader token, serve it with gunicorn (GUNICORN_ARGS unless gunicorn_args say
    otherwise) on 127.0.0.1 until it answers; yield (server process, base URL, token) and stop the server on the
    way out. `env` adds to the app's environment."""
    manage(app_url, "migrate", "-v", "0")
    issued = manage(app_url, "issue_token", "bench", "--role", "writer", "--role", "reader", capture=True)
    token = issued.stdout.strip().splitlines()[-1]
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "ledgerproject.wsgi", *gunicorn_args, "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env={**app_env(app_url), **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/api/v1/ledgers/", token)
        if wait_until_settled(server.pid) is None:
            print("warning: Ledger's server was still busy 120 s after it answered", file=sys.stderr, flush=True)
        yield server, base, token
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_until_answering(url, token, seconds=120):
    """Poll url until the server answers at all (a loaded machine boots gunicorn slowly); raise after `seconds`."""
    import requests

    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, headers={"Authorization": f"Token {token}"}, timeout=5)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def session_for(token):
    """A requests session that sends the API token."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


class Answer:
    """What KeepAliveClient gives back: the status, the raw body, and the body as text or JSON on demand."""

    __slots__ = ("status_code", "content")

    def __init__(self, status_code, content):
        self.status_code, self.content = status_code, content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        import orjson

        return orjson.loads(self.content)


class KeepAliveClient:
    """An HTTP/1.1 client for one thread (http.client, one kept-alive connection per server) that writes JSON bodies
    with orjson: the load generator append.py drives Ledger and MLflow with, the same for both columns.

    The client shares this machine's two cores with the servers it measures, so its own CPU is taken from theirs:
    a requests session spent 1.1–1.8 ms of it per request and 9–10 µs per batch row (its json.dumps), which capped
    the server that needed less of the machine the most. This client does the same requests for 0.3–0.5 ms and 2
    µs a row (bench/README.md, eleventh round). A connection the server closed while idle (its keep-alive timeout)
    is noticed before a request is written on it and opened again, as urllib3 does; no request is sent twice.
    """

    def __init__(self, headers=None):
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.json_headers = {**self.headers, "Content-Type": "application/json"}
        self.connections = {}

    def post(self, url, json=None, timeout=30):
        import orjson

        return self.request("POST", url, orjson.dumps(json), self.json_headers, timeout)

    def get(self, url, timeout=30):
        return self.request("GET", url, None, self.headers, timeout)

    def request(self, method, url, body, headers, timeout):
        parts = urlsplit(url)
        connection = self._connection(parts.hostname, parts.port, timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            content = response.read()
        except Exception:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        return Answer(response.status, content)

    def _connection(self, host, port, timeout):
        connection = self.connections.get((host, port))
        if connection is None:
            connection = self.connections[(host, port)] = http.client.HTTPConnection(host, port)
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            connection.close()  # an idle connection is readable only once the server has closed it
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection


def keepalive_client_for(token):
    """A KeepAliveClient that sends the API token."""
    return KeepAliveClient({"Authorization": f"Token {token}"})


# append.py --client: the load generator both columns are driven with.
LOAD_CLIENTS = {"keepalive": keepalive_client_for, "requests": session_for}


def require_status(response, expected):
    """Raise with the start of the body unless the response has the expected status."""
    if response.status_code != expected:
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of one process, in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid):
    """Every descendant of `pid` (gunicorn's workers)."""
    found = []
    for task in os.listdir("/proc"):
        if not task.isdigit():
            continue
        try:
            child = parent(int(task)) == pid
        except OSError:
            continue
        if child:
            found += [int(task), *children(int(task))]
    return found


def parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def postgres_pids(url):
    """The processes of the PostgreSQL server at `url` (its postmaster's children: backends, WAL writer, …),
    not those of any other server on the machine."""
    import psycopg

    with psycopg.connect(url) as conn:
        postmaster = parent(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    return [postmaster, *children(postmaster)]


def wait_until_settled(pid, quiet_share=0.05, quiet_seconds=2.0, seconds=120.0):
    """Wait until the processes of server `pid` (it and its descendants) have been quiet for `quiet_seconds`: less
    than `quiet_share` of a core between two looks, half a second apart. Returns the seconds waited, or None when
    they were still busy after `seconds`.

    A server that answers its health check may still be starting work of its own: MLflow 3.17's job consumers
    (huey, eight processes beside gunicorn's) kept both cores of this machine busy for 12–19 s after /health
    answered, and an MLflow measured in that window logged 28–49 single metrics/s from one client against
    125–165/s once they were idle. Every figure in a table is taken from a server that is done starting.
    A process's CPU counts between two looks that both saw it (one that ended in between is not read as quiet)."""
    started = time.monotonic()
    quiet_since, before = None, None
    while True:
        now = time.monotonic()
        spent = {each: cpu_seconds(each) for each in (pid, *children(pid))}
        if before is not None:
            then, seen = before
            ended = any(each not in spent for each in seen)  # a process ended between the looks: not a quiet interval
            used = sum(spent[each] - seen.get(each, 0.0) for each in spent)
            if not ended and used / (now - then) < quiet_share:
                quiet_since = then if quiet_since is None else quiet_since
                if now - quiet_since >= quiet_seconds:
                    return now - started
            else:
                quiet_since = None
        if now - started > seconds:
            return None
        before = (now, spent)
        time.sleep(0.5)


class CpuMeter:
    """CPU seconds spent, between start() and stop(), by the server's processes, PostgreSQL's and this one (the
    client threads), from /proc: per append or per row, where a rate's time went on a machine all three share."""

    def __init__(self, server_pid, database_url):
        self.server_pids, self.database_url = children(server_pid), database_url

    def start(self):
        self.server = sum(cpu_seconds(pid) for pid in self.server_pids)
        self.postgres = {pid: cpu_seconds(pid) for pid in postgres_pids(self.database_url)}
        self.client = time.process_time()

    def stop(self, units):
        """(server, PostgreSQL, client) CPU seconds per unit since start()."""
        client = time.process_time() - self.client
        server = sum(cpu_seconds(pid) for pid in self.server_pids) - self.server
        # Backends that came and went since start() are missed; the ones the measured work used stay open.
        postgres = sum(cpu_seconds(pid) - self.postgres.get(pid, 0.0) for pid in postgres_pids(self.database_url))
        return server / units, postgres / units, client / units


def timed_threads(work, clients):
    """Seconds for `clients` threads to run work(worker) each; raise if any failed."""
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


def print_ratios(title, results, targets, width=20):
    """One row per shape: Ledger rows/s, raw rows/s, their ratio and whether it meets the shape's target."""
    print(f"{title:<{width}} {'ledger rows/s':>14} {'raw rows/s':>12} {'ratio':>7} {'target':>7}")
    for shape, (ledger, raw) in results.items():
        ratio = ledger / raw
        mark = "ok" if ratio >= targets[shape] else "BELOW"
        print(f"{shape:<{width}} {ledger:>14.0f} {raw:>12.0f} {ratio:>7.1%} {targets[shape]:>6.0%} {mark}")


def append_shape_rates(raw_url, single, batches, batch_size, ledger_single, ledger_batches):
    """{shape: (ledger, raw) rows/s} per APPEND_TARGETS shape; ledger_single(count, clients), ledger_batches(n, k)."""
    return {
        "single, 1 client": (
            ledger_single(single, 1),
            raw_single_inserts(raw_url, single, lambda i: enhance_body(i, "raw")),
        ),
        "single, 8 clients": (
            ledger_single(single, 8),
            raw_locked_chain(raw_url, single, 8, lambda i: enhance_body(i, "chain")),
        ),
        "batch of 1000": (
            ledger_batches(batches, batch_size),
            raw_executemany(raw_url, batches * batch_size, lambda i: enhance_body(i, "many")),
        ),
    }


# --- raw psycopg baselines -----------------------------------------------------------------------


def enhance_body(i, run):
    """An enhance entry as the HTTP append benchmarks send it (and store it raw for the baselines)."""
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


def rounds_count(text):
    """argparse type of a number of rounds: a whole number, at least 1."""
    rounds = int(text)
    if rounds < 1:
        raise argparse.ArgumentTypeError(f"at least one round is measured, not {rounds}")
    return rounds


def median_and_spread(rates):
    """(median, lowest, highest) of the rates of several rounds: the median is the figure, the spread printed beside it."""
    ordered = sorted(rates)
    return statistics.median(ordered), ordered[0], ordered[-1]


def steady_rate(measure, rounds):
    """median_and_spread() of `rounds` calls of measure() (rows/s). A raw baseline takes a fraction of a second, so one
    sample is set by whatever else the machine did then (a checkpoint, a WAL segment switched, a neighbour's burst):
    in consecutive runs on one quiet machine raw executemany measured 27k and 77k rows/s, and six rounds in one
    process 32k–95k."""
    return median_and_spread([measure() for _ in range(rounds)])


def raw_single_inserts(url, count, body):
    """Rows/s of autocommit INSERTs of body(i) as jsonb from one connection."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_single (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        start = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO raw_single (body) VALUES (%s)", [json.dumps(body(i))])
        return count / (time.perf_counter() - start)


def raw_locked_chain(url, count, clients, body):
    """Rows/s of `clients` connections each appending to one chain: advisory lock, read the tip, INSERT body(n)."""
    import psycopg

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
                        [seq, secrets.token_hex(32), json.dumps(body(worker * per_client + i))],
                    )

    return per_client * clients / timed_threads(work, clients)


def raw_copy(url, count, body):
    """Rows/s of COPY of body(i) for i < count into a jsonb table, in one transaction (the upper bound)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_copy (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        conn.commit()
        rows = [json.dumps(body(i)) for i in range(count)]
        start = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy("COPY raw_copy (body) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row,))
        conn.commit()
        return count / (time.perf_counter() - start)


def raw_executemany(url, count, body):
    """Rows/s of one executemany INSERT of body(i) for i < count, in one transaction."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_many (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        conn.commit()
        rows = [[json.dumps(body(i))] for i in range(count)]
        start = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO raw_many (body) VALUES (%s)", rows)
        conn.commit()
        return count / (time.perf_counter() - start)
