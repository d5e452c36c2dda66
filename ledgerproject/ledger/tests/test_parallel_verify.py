"""A walk cut into runs of seqs, one process each, gives the verdict a single walk gives, to the seq and reason."""

import os

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from ledgerproject.ledger import chain
from ledgerproject.ledger.chain import verify_chain, verify_links, walk_segments
from ledgerproject.ledger.tests.conftest import triggers_lifted
from tests.ledger_testapp.models import Note

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ENTRIES = 12
WALKS = {"full": verify_chain, "links": verify_links}
# Seqs 1–4, 5–8 and 9–12 with three workers: the edges are the first and last seq of each run.
TAMPERING = {
    "a column of the first entry": "UPDATE ledger_testapp_note SET count = 99 WHERE seq = 1",
    "a column at the end of the first run": "UPDATE ledger_testapp_note SET count = 99 WHERE seq = 4",
    "a column at the start of the second run": "UPDATE ledger_testapp_note SET topic = 'x' WHERE seq = 5",
    "a column of the last entry": "UPDATE ledger_testapp_note SET count = 99 WHERE seq = 12",
    "a column in the second and the third run": "UPDATE ledger_testapp_note SET count = 99 WHERE seq IN (7, 10)",
    "the hash that the second run starts from": "UPDATE ledger_testapp_note SET entry_hash = md5('x') WHERE seq = 4",
    "a hash in the last run": "UPDATE ledger_testapp_note SET entry_hash = md5('x') WHERE seq = 10",
    "the canonical form at the start of the last run": (
        "UPDATE ledger_testapp_note SET canonical = replace(canonical, 'n9', 'n0') WHERE seq = 9"
    ),
    "the entry that ends the first run": "DELETE FROM ledger_testapp_note WHERE seq = 4",
    "the entry that starts the third run": "DELETE FROM ledger_testapp_note WHERE seq = 9",
    "the last two entries of the second run": "DELETE FROM ledger_testapp_note WHERE seq IN (7, 8)",
    "the last entry": "DELETE FROM ledger_testapp_note WHERE seq = 12",
}


@pytest.fixture
def notes(make_note, monkeypatch):
    """ENTRIES notes, and runs as short as four entries, so that three workers walk them."""
    monkeypatch.setattr(chain, "MIN_ENTRIES_PER_WORKER", 4)
    return [make_note(f"n{i}", count=i) for i in range(1, ENTRIES + 1)]


def tamper(sql):
    with triggers_lifted(Note), connection.cursor() as cursor:
        cursor.execute(sql)


def test_three_workers_walk_three_runs_that_cover_the_ledger_each_from_the_hash_before_it(notes, tmp_path):
    walked = tmp_path / "walked"

    def recording_walk(model, alias, segment, progress):
        with open(walked, "a") as log:
            log.write(f"{os.getpid()} {segment.after} {segment.upto} {segment.prev}\n")
        return chain._chain_segment(model, alias, segment, progress)

    result = walk_segments(Note, recording_walk, workers=3)

    assert (result.ok, result.checked) == (True, ENTRIES)
    runs = sorted(line.split() for line in walked.read_text().splitlines())
    assert len({pid for pid, *_ in runs}) == 3, "each run is walked by its own process"
    edges = sorted((int(after), int(upto), prev) for _, after, upto, prev in runs)
    hashes = {note.seq: note.entry_hash for note in notes}
    assert edges == [(0, 4, "0" * 64), (4, 8, hashes[4]), (8, 12, hashes[8])]


@pytest.mark.parametrize("walk", WALKS)
def test_an_intact_ledger_passes_with_every_entry_counted_and_shown(notes, walk):
    shown = []
    result = WALKS[walk](Note, progress=shown.append, workers=3)
    assert (result.ok, result.checked, result.first_bad_seq) == (True, ENTRIES, None)
    assert sum(shown) == ENTRIES


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("change", TAMPERING)
def test_a_tampered_ledger_gets_the_verdict_a_single_walk_gives(notes, walk, change):
    tamper(TAMPERING[change])
    alone = WALKS[walk](Note)
    # The links walk does not compare columns; no chain walk misses a removed tail (signed checkpoints do).
    assert alone.ok == (change == "the last entry" or (walk == "links" and "column" in change))
    assert WALKS[walk](Note, workers=3) == alone


def test_a_run_whose_process_fails_is_walked_again_here(notes, caplog):
    parent = os.getpid()
    shown = []

    def failing_elsewhere(model, alias, segment, progress):
        if os.getpid() != parent:
            progress(2)  # shown once only: the walk here does not tell these again
            raise ValueError("the disk went away")
        return chain._chain_segment(model, alias, segment, progress)

    result = walk_segments(Note, failing_elsewhere, progress=shown.append, workers=3)

    assert result == verify_chain(Note)
    assert sum(shown) == ENTRIES
    failures = [r.getMessage() for r in caplog.records if "failed in its process" in r.getMessage()]
    assert len(failures) == 2 and "seqs 5–8 failed in its process (ValueError: the disk went away)" in failures[0]


def test_a_run_whose_process_dies_is_walked_again_here(notes, caplog):
    parent = os.getpid()

    def dying_elsewhere(model, alias, segment, progress):
        if os.getpid() != parent and segment.after == 4:
            os._exit(3)  # no verdict, no exception: as the OOM killer leaves it
        return chain._chain_segment(model, alias, segment, progress)

    tamper("UPDATE ledger_testapp_note SET count = 99 WHERE seq = 6")
    result = walk_segments(Note, dying_elsewhere, workers=3)

    assert result == verify_chain(Note) and result.first_bad_seq == 6
    assert any(
        "seqs 5–8 failed in its process (the process ended with exit code 3)" in r.getMessage() for r in caplog.records
    )


def test_a_failure_here_is_raised_as_it_came(notes):
    parent = os.getpid()

    def failing_here(model, alias, segment, progress):
        if os.getpid() == parent:
            raise ValueError("the disk went away")
        return chain._chain_segment(model, alias, segment, progress)

    with pytest.raises(ValueError, match="the disk went away"):
        walk_segments(Note, failing_here, workers=3)


def test_the_callers_session_is_kept_and_its_connection_still_works(notes):
    # The processes open their own connections: this one keeps its session (advisory locks, settings).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_advisory_lock(4242)")
        (backend, _) = cursor.fetchone()
    try:
        assert verify_chain(Note, workers=3).ok
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone() == (backend,)
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted")
            assert cursor.fetchone() == (1,)
        assert Note.objects.count() == ENTRIES
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(4242)")


def test_inside_a_transaction_the_walk_stays_in_this_process(notes):
    # Another process would not see the transaction's rows.
    with transaction.atomic():
        notes.append(Note.objects.append(key="uncommitted", count=13))
        assert chain._segments(Note, "default", 3) == [chain._Segment()]
        result = verify_chain(Note, workers=3)
    assert (result.ok, result.checked) == (True, ENTRIES + 1)


def test_a_daemonic_process_walks_alone(notes, monkeypatch):
    # A pool's worker may not start processes.
    class Daemonic:
        daemon = True

    monkeypatch.setattr(chain.multiprocessing, "current_process", Daemonic)
    assert chain._segments(Note, "default", 3) == [chain._Segment()]
    assert verify_chain(Note, workers=3).checked == ENTRIES


def test_a_small_ledger_is_walked_by_this_process_alone(notes, monkeypatch):
    monkeypatch.setattr(chain, "MIN_ENTRIES_PER_WORKER", ENTRIES)
    assert chain._segments(Note, "default", 3) == [chain._Segment()]
    monkeypatch.setattr(chain, "MIN_ENTRIES_PER_WORKER", ENTRIES // 2)
    assert [(s.after, s.upto) for s in chain._segments(Note, "default", 3)] == [(0, 6), (6, 12)]


def test_the_command_walks_with_the_workers_asked_for(notes, capsys):
    call_command("verify_ledgers", "testnotes", "--workers", "3", "--no-progress")
    assert f"testnotes: ok, {ENTRIES} entries" in capsys.readouterr().out
    tamper("UPDATE ledger_testapp_note SET count = 99 WHERE seq = 10")
    with pytest.raises(Exception, match="broken chain in: testnotes"):
        call_command("verify_ledgers", "testnotes", "--workers", "3", "--no-progress")
    assert "testnotes: BROKEN at seq 10" in capsys.readouterr().out
    with pytest.raises(Exception, match="--workers must be at least 1"):
        call_command("verify_ledgers", "testnotes", "--workers", "0", "--no-progress")
