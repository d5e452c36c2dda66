"""checkpoint_ledgers as a scheduled job on several servers: one run at a time holds the job's advisory lock."""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from ledgerproject.ledger.checkpoints import Checkpoint
from ledgerproject.ledger.locking import job_key
from ledgerproject.ledger.tests.test_checkpoint_support import append_notes, signing_key  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("signing_key")]
JOB = "checkpoint_ledgers"


def _run():
    out = io.StringIO()
    call_command(JOB, "testnotes", "--no-progress", stdout=out)
    return out.getvalue()


@pytest.fixture
def other_server():
    """A second connection to the primary, as another app server would hold one."""
    connection = connections.create_connection("default")
    yield connection
    connection.close()


def _try_lock(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [job_key(JOB)])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_run_that_finds_the_job_lock_held_elsewhere_skips_its_round(other_server):
    append_notes(5)
    assert _try_lock(other_server) is True
    assert "this round skipped" in _run()
    assert not Checkpoint.objects.filter(ledger="testnotes").exists()

    with other_server.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [job_key(JOB)])
    assert "signed checkpoint @5" in _run()


@pytest.mark.postgres
def test_a_run_releases_the_job_lock_when_it_ends(other_server):
    append_notes(2)
    _run()
    assert _try_lock(other_server) is True


@pytest.mark.postgres
def test_concurrent_runs_sign_one_checkpoint_per_ledger_growth():
    outputs, errors = [], []

    def run():
        try:
            outputs.append(_run())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    for start, grown_to in ((0, 30), (30, 45)):
        append_notes(grown_to - start, start=start)
        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        sizes = sorted(Checkpoint.objects.filter(ledger="testnotes").values_list("tree_size", flat=True))
        assert sizes[-1] == grown_to
    assert sizes == [30, 45]  # one checkpoint per growth, however many servers ran the job
    assert sum("signed checkpoint" in out for out in outputs) == 2


def test_a_single_run_signs_every_grown_ledger_on_either_engine():
    append_notes(3)
    assert "signed checkpoint @3" in _run()
    assert "unchanged checkpoint @3" in _run()
