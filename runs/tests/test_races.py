"""PostgreSQL: races between writers of one run (event vs completion, concurrent numbering) stay closed."""

import threading
import time

import pytest
from django.db import connection, connections

from ledgerproject.ledger.exceptions import ConflictError, StateConflictError
from runs.models import Run, RunEvent, RunOutcome, RunStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(target, results, name):
    def run():
        try:
            results[name] = target()
        except Exception as exc:  # reported to the main thread, which asserts on it
            results[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for_a_lock_waiter(expected=1, safety_seconds=30):
    """Block until `expected` sessions wait on an advisory lock (proof that one writer holds another back)."""
    deadline = time.monotonic() + safety_seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0] >= expected:
                return True
        time.sleep(0.02)
    return False


def _complete(run):
    return RunOutcome.objects.append(
        run=Run.objects.get(pk=run.pk), status=RunStatus.COMPLETED, total_events=1, duration_ms=5, success=True
    )


def test_a_completion_waits_for_an_event_append_that_already_checked_the_run(make_run, monkeypatch):
    run = make_run()
    checked, go = threading.Event(), threading.Event()
    original = RunEvent.check_append_allowed.__func__

    def paused(cls, entries, using, read=None):
        original(cls, entries, using, read)
        checked.set()  # "the run is still RUNNING", and the insert has not happened yet
        go.wait(30)

    monkeypatch.setattr(RunEvent, "check_append_allowed", classmethod(paused))
    results = {}
    appender = _in_thread(
        lambda: RunEvent.objects.append_events(Run.objects.get(pk=run.pk), [{"kind": "late"}]), results, "event"
    )
    assert checked.wait(30)
    completer = _in_thread(lambda: _complete(run), results, "outcome")
    waiting = _wait_for_a_lock_waiter()
    go.set()
    appender.join(60)
    completer.join(60)

    assert waiting, "the completion did not wait for the event append holding the run's outcome lock"
    assert not isinstance(results["event"], Exception), results["event"]
    assert not isinstance(results["outcome"], Exception), results["outcome"]
    event = RunEvent.objects.get(run=run)
    outcome = RunOutcome.objects.get(run=run)
    assert event.recorded_at <= outcome.recorded_at


def test_an_event_append_after_a_completion_is_refused_even_when_they_race(make_run):
    for _ in range(5):
        run = make_run()
        barrier = threading.Barrier(2)
        results = {}

        def append(run=run, barrier=barrier):
            barrier.wait()
            return RunEvent.objects.append_events(Run.objects.get(pk=run.pk), [{"kind": "racing"}])

        def complete(run=run, barrier=barrier):
            barrier.wait()
            return _complete(run)

        threads = [_in_thread(append, results, "event"), _in_thread(complete, results, "outcome")]
        for thread in threads:
            thread.join(60)
        assert not isinstance(results["outcome"], Exception), results["outcome"]
        outcome = RunOutcome.objects.get(run=run)
        if isinstance(results["event"], Exception):
            assert isinstance(results["event"], StateConflictError)
            assert not RunEvent.objects.filter(run=run).exists()
        else:
            assert RunEvent.objects.get(run=run).recorded_at <= outcome.recorded_at


def test_concurrent_appends_without_seq_get_distinct_gapless_numbers(make_run):
    run = make_run()
    workers, per_worker = 6, 5
    barrier = threading.Barrier(workers)
    results = {}

    def append(index):
        barrier.wait()
        stored = []
        for n in range(per_worker):
            stored += RunEvent.objects.append_events(Run.objects.get(pk=run.pk), [{"kind": f"w{index}-{n}"}])
        return stored

    threads = [_in_thread(lambda i=i: append(i), results, i) for i in range(workers)]
    for thread in threads:
        thread.join(120)
    errors = [r for r in results.values() if isinstance(r, Exception)]
    assert not errors, errors
    seqs = sorted(RunEvent.objects.filter(run=run).values_list("event_seq", flat=True))
    assert seqs == list(range(1, workers * per_worker + 1))


def test_two_writers_of_the_same_seq_one_wins_one_gets_a_conflict(make_run):
    run = make_run()
    barrier = threading.Barrier(2)
    results = {}

    def append(kind):
        barrier.wait()
        return RunEvent.objects.append_events(Run.objects.get(pk=run.pk), [{"event_seq": 1, "kind": kind}])

    threads = [_in_thread(lambda: append("a"), results, "a"), _in_thread(lambda: append("b"), results, "b")]
    for thread in threads:
        thread.join(60)
    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["ConflictError", "list"], results
    assert RunEvent.objects.filter(run=run).count() == 1
    assert isinstance(next(r for r in results.values() if isinstance(r, Exception)), ConflictError)
