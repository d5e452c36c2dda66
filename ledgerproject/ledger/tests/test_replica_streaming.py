"""Read replicas against a real PostgreSQL streaming standby (scripts/replica.sh: pg_basebackup -R) on loopback."""

import copy
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connections

from ledgerproject.ledger import routers
from ledgerproject.ledger.tests.replicas import configure_replicas, logged_queries, remove_replicas
from tests.ledger_testapp.models import Note

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "replica.sh"
NOTES = "ledger_testapp_note"
REPLICA = "replica1"
WAIT = 20  # seconds: the most any wait for replication below may take

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _script(*args):
    return subprocess.run([str(SCRIPT), *args], check=True, capture_output=True, text=True, timeout=180).stdout


class Standby:
    def __init__(self, primary_url, directory):
        self.primary_url, self.directory = primary_url, directory
        self.port = None

    def start(self):
        self.port = int(_script("start", self.primary_url, self.directory).strip())

    def stop(self):
        _script("stop", self.directory)

    def remove(self):
        _script("remove", self.directory)


@pytest.fixture(scope="module")
def standby(django_db_setup):
    """A streaming standby of the test run's primary, started once per module and removed after it,
    under scripts/with-postgres.sh's directory when there is one (so it goes even if the run dies)."""
    scratch = os.environ.get("LEDGER_TEST_PG_DIR") or tempfile.gettempdir()
    server = Standby(os.environ["DATABASE_URL"], tempfile.mkdtemp(prefix="replica-", dir=scratch))
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def replica(standby, transactional_db, settings):
    """The alias replica1 on the standby, reading the same (test) database name as the primary."""
    config = copy.deepcopy(connections["default"].settings_dict)
    config.update(HOST="127.0.0.1", PORT=standby.port)
    configure_replicas(settings, {REPLICA: config}, sticky=5, down=1)
    yield REPLICA
    remove_replicas([REPLICA])


def _in_recovery(alias):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return cursor.fetchone()[0]


def _eventually(check, what):
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT} s: {what}")
        time.sleep(0.05)


def _caught_up(count):
    _eventually(lambda: Note.objects.using(REPLICA).count() == count, f"the standby holds {count} notes")


def _post(api, key):
    response = api.post("/api/v1/notes/", {"key": key, "body": {"k": key}}, format="json")
    assert response.status_code == 201, response.content


def _split(log, label):
    """The read/write split of a step, for the record (pytest -s shows it)."""
    print(f"[replica split] {label}: primary {log.count('default')} queries, replica {log.count(REPLICA)} queries")


def test_reads_come_from_the_streaming_standby_and_appends_go_to_the_primary(
    replica, writer_api, reader_api, client, bob
):
    assert _in_recovery(REPLICA) is True and _in_recovery("default") is False

    with logged_queries("default", replica) as log:
        for index in range(5):
            _post(writer_api, f"n{index}")
    _split(log, "5 appends (POST)")
    assert log.count(replica) == 0 and NOTES in log.tables("default")

    _caught_up(5)
    client.force_login(bob)
    with logged_queries("default", replica) as log:
        listed = reader_api.get("/api/v1/notes/")
        one = reader_api.get("/api/v1/notes/n3/")
        exported = reader_api.get("/api/v1/notes/?format=jsonl")
        lines = b"".join(exported.streaming_content).decode().count("\n")
        home = client.get("/")
    _split(log, "API list + detail + JSONL export + home page (GET)")
    assert listed.status_code == one.status_code == home.status_code == 200
    assert len(listed.json()["results"]) == 5 and lines == 5
    assert NOTES in log.tables(replica) and NOTES not in log.tables("default")
    assert log.count(replica) > 0


def test_a_writer_reads_its_own_write_while_the_standby_lags_and_others_see_it_later(replica, writer_api, reader_api):
    _post(writer_api, "before")
    _caught_up(1)
    with connections[replica].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")  # replication lag, made to last
    try:
        with logged_queries("default", replica) as log:
            _post(writer_api, "lagging")
            mine = writer_api.get("/api/v1/notes/lagging/")
            theirs = reader_api.get("/api/v1/notes/lagging/")
        _split(log, "append + the writer's read + another client's read, standby paused")
        assert mine.status_code == 200  # pinned to the primary: the writer sees its write at once
        assert theirs.status_code == 404  # the paused standby does not have it yet
        assert NOTES in log.tables(replica)
    finally:
        with connections[replica].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
    _eventually(lambda: reader_api.get("/api/v1/notes/lagging/").status_code == 200, "the reader sees the note")


def test_a_stopped_standby_falls_back_to_the_primary_with_no_error_to_the_client(
    replica, standby, writer_api, reader_api
):
    for index in range(3):
        _post(writer_api, f"s{index}")
    _caught_up(3)
    assert len(reader_api.get("/api/v1/notes/").json()["results"]) == 3  # a kept connection to the standby

    standby.stop()
    try:
        with logged_queries("default") as log:
            responses = [reader_api.get("/api/v1/notes/") for _ in range(3)]
        _split(log, "3 list reads, standby stopped")
        assert [response.status_code for response in responses] == [200, 200, 200]
        assert all(len(response.json()["results"]) == 3 for response in responses)
        assert NOTES in log.tables("default")
        assert REPLICA in routers._down_until
    finally:
        standby.start()

    # Once the down seconds are over, reads go back to the standby.
    def served_by_replica():
        with logged_queries("default", replica) as log:
            assert reader_api.get("/api/v1/notes/").status_code == 200
        return NOTES in log.tables(replica)

    _eventually(served_by_replica, "reads return to the restarted standby")
