"""The kernel's one order for several ledgers' locks (locking.lock_ledgers)."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from ledgerproject.ledger import locking
from runs.models import Output, Run

SPEC = "b" * 64


def test_it_takes_the_locks_in_one_sorted_order_whatever_order_they_are_named(monkeypatch):
    taken = []
    monkeypatch.setattr(locking, "lock_ledger", lambda conn, name: taken.append(name))
    locking.lock_ledgers(connection, ["runs", "outputs", "blobs", "runs"])
    locking.lock_ledgers(connection, ["blobs", "runs", "outputs"])
    assert taken == ["blobs", "outputs", "runs"] * 2


def test_it_refuses_to_take_a_lock_that_sorts_before_one_already_held(monkeypatch):
    taken = []
    monkeypatch.setattr(locking, "lock_ledger", lambda conn, name: taken.append(name))
    with pytest.raises(RuntimeError, match="come before it"):
        locking.lock_ledgers(connection, ["blobs", "runs"], holding="outputs")
    assert taken == []
    locking.lock_ledgers(connection, ["runs"], holding="outputs")
    assert taken == ["runs"]


def test_the_advisory_keys_of_ledgers_trees_and_jobs_are_distinct_and_stable():
    keys = {locking.advisory_key(kind, "runs") for kind in ("ledger", "merkle", "job")}
    assert len(keys) == 3
    assert locking.job_key("runs") == locking.advisory_key("job", "runs")
    # The ledger lock's key is what every deployed server derives: changing it would let two versions both append.
    assert locking.advisory_key("ledger", "runs") == 7138009300119178788


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_multi_ledger_appends_naming_their_ledgers_in_opposite_orders_do_not_deadlock(monkeypatch):
    run = Run.objects.create_run(spec_digest=SPEC, agent_name="coder")
    real_lock = locking.lock_ledger
    first_taken = threading.Barrier(2)

    def slow_lock(conn, name):
        real_lock(conn, name)
        if not getattr(conn, "_test_first_lock_taken", False):
            conn._test_first_lock_taken = True
            try:  # let the other writer take its first lock too, as an unlucky schedule would
                first_taken.wait(timeout=1)
            except threading.BrokenBarrierError:
                pass  # it is waiting for this one's lock: the order already keeps them apart

    monkeypatch.setattr(locking, "lock_ledger", slow_lock)
    errors = []

    def write(names, index):
        try:
            with transaction.atomic():
                locking.lock_ledgers(connection, names)
                time.sleep(0.2)
                Run.objects.create_run(spec_digest=SPEC, agent_name=f"writer-{index}")
                Output.objects.emit(f"task-{index}", 1, "coder", {"type": "progress", "stage": "s"})
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=write, args=(["runs", "outputs"], 1)),
        threading.Thread(target=write, args=(["outputs", "runs"], 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Run.objects.exclude(pk=run.pk).count() == 2 and Output.objects.count() == 2
