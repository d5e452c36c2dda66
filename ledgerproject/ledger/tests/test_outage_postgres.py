"""PostgreSQL stopped and restarted under an append load: nothing acknowledged is lost or doubled, no 500s.

The test starts its own throwaway PostgreSQL (as scripts/with-postgres.sh does) and serves Ledger
from gunicorn with two workers on loopback, so it can kill that server without touching the
suite's database. Clients append log records singly and in batches and retry a 503 with the same
body, as a well-behaved client does.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[3]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
CLIENTS, SINGLES, BATCH_EVERY, BATCH_SIZE = 4, 50, 10, 5
DEADLINE_SECONDS = 60  # the whole load, outage included; a client past it reports a hang
REQUEST_TIMEOUT = (3, 15)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """initdb + pg_ctl in a temp dir, as an unprivileged user when run as root, on 127.0.0.1."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-outage-pg."))
        self.dir.chmod(0o755)
        self.port = _free_port()
        self.run_as = []
        if os.geteuid() == 0:
            user = "postgres"
            if subprocess.run(["id", user], capture_output=True).returncode != 0:
                user = "nobody"
            shutil.chown(self.dir, user)
            self.run_as = ["runuser", "-u", user, "--"]
        self.url = f"postgres://ledger@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args, check=True):
        return subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=60, check=check)

    def init(self):
        self._pg(str(PG_BIN / "initdb"), "-D", f"{self.dir}/data", "-U", "ledger", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8")  # fmt: skip

    def start(self):
        # fsync=off only spares the disk: an immediate stop kills processes, not the OS page cache.
        # synchronous_commit stays on: an acknowledged commit is in the WAL before the client hears of it.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._pg(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log", "-w", "-t", "60",
                 "-o", options, "start")  # fmt: skip

    def stop_immediately(self):
        self._pg(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop")

    def remove(self):
        self._pg(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def throwaway_postgres():
    server = ThrowawayPostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def _app_env(database_url, var_dir):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "outage-test-" + "s" * 50,
        "DJANGO_DEBUG": "0",
        "LEDGER_VAR_DIR": str(var_dir),
        "LEDGER_THROTTLE_USER": "1000000/min",
        "LEDGER_RETRY_AFTER_SECONDS": "1",
        "DATABASE_CONN_MAX_AGE": "60",
    }


def _manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


@contextmanager
def gunicorn(env):
    port = _free_port()
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ledgerproject.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--timeout", "30", "--graceful-timeout", "5"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still importing
                pass
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _record(node_id, seq):
    return {"seq": seq, "ts_ms": 1_700_000_000_000 + seq, "level": "Info", "daemon_id": 1, "node_id": node_id,
            "message": f"load {node_id}/{seq}", "chain_pending": False}  # fmt: skip


class Client(threading.Thread):
    """Appends its records in order; a 503 is retried with the same body after a short pause."""

    def __init__(self, number, base, token, deadline):
        super().__init__(daemon=True)
        self.number, self.base, self.deadline = number, base, deadline
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.acknowledged = []  # lists of (node_id, seq): one list per acknowledged request
        self.sent = []  # every request's records, acknowledged or not
        self.bad = []  # anything a client must never see: 500s, other errors, a 409 that is not identical
        self.statuses = []

    def requests_to_send(self):
        batch_seq = 0
        for seq in range(1, SINGLES + 1):
            yield [_record(1000 + self.number, seq)]
            if seq % BATCH_EVERY == 0:
                yield [_record(2000 + self.number, batch_seq + k) for k in range(1, BATCH_SIZE + 1)]
                batch_seq += BATCH_SIZE

    def append(self, records):
        body = records[0] if len(records) == 1 else records
        keys = [(record["node_id"], record["seq"]) for record in records]
        self.sent.append(keys)
        retried = False
        while time.monotonic() < self.deadline:
            try:
                response = self.session.post(f"{self.base}/api/v1/logs/", json=body, timeout=REQUEST_TIMEOUT)
            except requests.RequestException as exc:
                # gunicorn stays up while PostgreSQL is down: a timeout or a dropped connection is a hang
                # or a crashed worker, never an answer.
                self.bad.append((type(exc).__name__, keys))
                return False
            self.statuses.append(response.status_code)
            if response.status_code in (200, 201):
                self.acknowledged.append(keys)
                return True
            if response.status_code == 409 and retried and response.json().get("identical") is True:
                self.acknowledged.append(keys)  # the earlier attempt was committed, its answer lost
                return True
            if response.status_code == 503 and response.headers.get("Retry-After"):
                retried = True
                time.sleep(0.2)
                continue
            self.bad.append((response.status_code, response.text[:300], keys))
            return False
        self.bad.append(("hang: deadline passed", keys))
        return False

    def run(self):
        for records in self.requests_to_send():
            if not self.append(records):
                return


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"PostgreSQL binaries not found in {PG_BIN}")
def test_it_loses_and_doubles_no_acknowledged_append_when_postgresql_restarts_under_load(tmp_path):
    started = time.monotonic()
    with throwaway_postgres() as server:
        env = _app_env(server.url, tmp_path / "var")
        _manage(env, "migrate", "--no-input", "-v", "0")
        token = _manage(env, "issue_token", "loader", "--role", "writer").strip().splitlines()[-1]
        with gunicorn(env) as base:
            deadline = time.monotonic() + DEADLINE_SECONDS
            clients = [Client(number, base, token, deadline) for number in range(CLIENTS)]
            for client in clients:
                client.start()
            # Stop the server mid-load, hard, once a quarter of the appends are acknowledged.
            total = CLIENTS * (SINGLES + SINGLES // BATCH_EVERY)
            while sum(len(c.acknowledged) for c in clients) < total // 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            server.stop_immediately()
            time.sleep(2)
            server.start()
            for client in clients:
                client.join(timeout=max(1, deadline - time.monotonic() + 20))
            assert not any(client.is_alive() for client in clients), "a client hung"

            # Restart again while idle: every worker's kept connection is dead, and is replaced before use.
            server.stop_immediately()
            server.start()
            after_restart = [
                requests.get(f"{base}/api/v1/ledgers/", headers={"Authorization": f"Token {token}"}, timeout=10)
                for _ in range(8)
            ]

        bad = [item for client in clients for item in client.bad]
        statuses = [status for client in clients for status in client.statuses]
        assert not bad, bad
        assert set(statuses) <= {201, 409, 503}
        assert 503 in statuses, "the outage was never seen: the test did not test anything"
        assert [response.status_code for response in after_restart] == [200] * 8

        with psycopg.connect(server.url) as db:
            rows = db.execute("SELECT seq, node_id, node_seq FROM logchain_logrecord ORDER BY seq").fetchall()
        seqs = [row[0] for row in rows]
        assert seqs == list(range(1, len(rows) + 1)), "seq has a gap"
        stored = [(node_id, node_seq) for _, node_id, node_seq in rows if node_id >= 1000]
        assert len(stored) == len(set(stored)), "a record is stored twice"
        stored = set(stored)
        acknowledged = [key for client in clients for keys in client.acknowledged for key in keys]
        assert set(acknowledged) <= stored, "an acknowledged append was lost"
        assert len(acknowledged) == CLIENTS * (SINGLES + SINGLES // BATCH_EVERY * BATCH_SIZE)
        for keys in (keys for client in clients for keys in client.sent):
            present = [key in stored for key in keys]
            assert all(present) or not any(present), f"partial batch {keys}"

        print(
            f"outage load: {len(acknowledged)} records acknowledged in {len(statuses)} responses "
            f"({statuses.count(201)} × 201, {statuses.count(503)} × 503, {statuses.count(409)} × 409 identical)"
        )
        verified = _manage(env, "verify_ledgers", "--no-progress")
        assert "all chains intact" in verified
    assert time.monotonic() - started < 120
