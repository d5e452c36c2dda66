"""The logging.Handler and the ledger appender: never raise, never write in the caller's thread, flush later."""

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from django.apps import apps

from logchain import appender as appender_module
from logchain import ledger_appender as ledger_appender_module
from logchain.appender import build_appender
from logchain.appenders import BufferingLogChainAppender, LogAppendError, LogChainAppender
from logchain.handler import LedgerLogHandler
from logchain.ledger_appender import APPENDER_PRINCIPAL, LedgerLogChainAppender
from logchain.models import LogRecord
from logchain.tests.conftest import fixture_record

REPO = Path(__file__).resolve().parents[2]


def python_record(level=logging.WARNING, msg="disk at %d%%", args=(91,), name="runs.api", exc_info=None):
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def ledger_appender(**overrides):
    options = {"capacity": 100, "node_id": 0, "background": False}
    options.update(overrides)
    return LedgerLogChainAppender(**options)


class BrokenAppender(LogChainAppender):
    def append(self, record):
        raise LogAppendError("the chain is on fire")


def test_it_turns_a_python_record_into_the_seeds_record():
    app = BufferingLogChainAppender()
    handler = LedgerLogHandler(appender=app)
    handler.handle(python_record())
    (record,) = app.captured()
    assert record.level == "Warn"
    assert record.message == "runs.api: disk at 91%"
    assert record.daemon_id == os.getpid()
    assert record.chain_pending is False
    assert record.seq >= 1


@pytest.mark.parametrize(
    ("levelno", "level"),
    [
        (5, "Trace"),
        (logging.DEBUG, "Debug"),
        (logging.INFO, "Info"),
        (logging.WARNING, "Warn"),
        (logging.ERROR, "Error"),
    ],
)
def test_it_maps_python_levels_onto_the_seeds(levelno, level):
    app = BufferingLogChainAppender()
    LedgerLogHandler(appender=app).handle(python_record(level=levelno))
    assert app.captured()[0].level == level


def test_critical_folds_into_error():
    app = BufferingLogChainAppender()
    LedgerLogHandler(appender=app).handle(python_record(level=logging.CRITICAL))
    assert app.captured()[0].level == "Error"


def test_it_numbers_records_strictly_increasing_in_this_process():
    app = BufferingLogChainAppender()
    handler = LedgerLogHandler(appender=app)
    for _ in range(5):
        handler.handle(python_record())
    seqs = [record.seq for record in app.captured()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5


def test_it_keeps_the_exception_class_but_never_the_traceback():
    app = BufferingLogChainAppender()
    try:
        raise ValueError("bad digest")
    except ValueError:
        LedgerLogHandler(appender=app).handle(python_record(level=logging.ERROR, exc_info=sys.exc_info()))
    message = app.captured()[0].message
    assert message == "runs.api: disk at 91% (ValueError)"
    assert "Traceback" not in message and __file__ not in message


def test_it_truncates_a_huge_message_to_a_bounded_size():
    app = BufferingLogChainAppender()
    LedgerLogHandler(appender=app).handle(python_record(msg="x" * 100_000, args=()))
    message = app.captured()[0].message
    assert len(message) == appender_module.SELF_MESSAGE_CHARS and message.endswith("…[truncated]")


def test_it_never_raises_when_the_appender_fails_and_counts_it():
    before = appender_module.appender_stats()["handler_errors"]
    handler = LedgerLogHandler(appender=BrokenAppender())
    handler.handle(python_record())
    stats = appender_module.appender_stats()
    assert stats["handler_errors"] == before + 1
    assert "the chain is on fire" in stats["last_handler_error"]


def test_it_never_raises_on_a_record_whose_arguments_do_not_format():
    app = BufferingLogChainAppender()
    before = appender_module.appender_stats()["handler_errors"]
    LedgerLogHandler(appender=app).handle(python_record(msg="%d items", args=("many",)))
    assert app.captured() == []
    assert appender_module.appender_stats()["handler_errors"] == before + 1


def test_it_ignores_the_appenders_own_warnings():
    app = BufferingLogChainAppender()
    LedgerLogHandler(appender=app).handle(python_record(name="logchain.appender"))
    assert app.captured() == []


def test_it_uses_the_process_wide_appender_when_given_none(process_appender):
    logger = logging.getLogger("handler_under_test")
    handler = LedgerLogHandler(level=logging.WARNING)
    logger.addHandler(handler)
    logger.propagate = False  # only this handler, not the ones LOGGING wires
    try:
        logger.info("not at the handler's level")
        logger.warning("replica lagging by %d writes", 12)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert [record.message for record in process_appender.captured()] == [
        "handler_under_test: replica lagging by 12 writes"
    ]


def test_the_wired_loggers_reach_the_process_wide_appender(process_appender):
    logging.getLogger("runs.api").warning("blob store at %d%%", 93)
    logging.getLogger("django.request").warning("Not Found: /nothing/")
    # Server errors go to the console only: a reader's request never appends to the audit ledger.
    logging.getLogger("django.request").error("Internal Server Error: /runs/")
    assert [record.message for record in process_appender.captured()] == ["runs.api: blob store at 93%"]


def test_the_ledger_appender_does_not_touch_the_database_on_append(django_db_blocker):
    app = ledger_appender()
    with django_db_blocker.block():
        LedgerLogHandler(appender=app).handle(python_record())
    assert app.stats()["buffered"] == 1
    assert app.stats()["appended"] == 0


@pytest.mark.django_db
def test_a_flush_writes_the_buffer_to_the_ledger_in_order():
    app = ledger_appender(node_id=9)
    handler = LedgerLogHandler(appender=app)
    for number in range(3):
        handler.handle(python_record(msg="line %d", args=(number,)))
    assert app.flush() == 3
    stored = list(LogRecord.objects.for_node(9).order_by("seq"))
    assert [record.message for record in stored] == ["runs.api: line 0", "runs.api: line 1", "runs.api: line 2"]
    assert [record.node_seq for record in stored] == [1, 2, 3]
    assert {record.recorded_by_name for record in stored} == {APPENDER_PRINCIPAL}
    assert app.stats()["buffered"] == 0 and app.stats()["appended"] == 3


@pytest.mark.django_db
def test_a_restarted_process_continues_the_nodes_seq(make_log):
    make_log(node_id=9, seq=41)
    app = ledger_appender(node_id=9)  # a new process: its own counter starts again at 1
    app.append(fixture_record(1, node_id=9))
    app.flush()
    assert LogRecord.objects.for_node(9).order_by("-seq").first().node_seq == 42


@pytest.mark.django_db
def test_the_handler_never_raises_when_the_database_is_unavailable_and_counts_it(django_db_blocker):
    app = ledger_appender()
    handler = LedgerLogHandler(appender=app)
    handler.handle(python_record(msg="first", args=()))
    handler.handle(python_record(msg="second", args=()))
    with django_db_blocker.block():
        handler.handle(python_record(msg="third", args=()))
        assert app.flush() == 0
    stats = app.stats()
    assert stats["failures"] == 1
    assert stats["pending"] == 3 and stats["buffered"] == 3
    assert stats["last_error"]
    assert all(record.chain_pending for record in app.buffer.captured())
    assert not LogRecord.objects.exists()

    # The database is back: the pending records reach the ledger, still marked as late.
    assert app.flush() == 3
    stored = list(LogRecord.objects.order_by("seq"))
    assert [record.message for record in stored] == ["runs.api: first", "runs.api: second", "runs.api: third"]
    assert all(record.chain_pending for record in stored)
    assert app.stats()["pending"] == 0 and app.stats()["failures"] == 1


@pytest.mark.django_db
def test_pending_records_past_capacity_drop_the_oldest_and_count_it(django_db_blocker):
    app = ledger_appender(capacity=3)
    for seq in range(1, 4):
        app.append(fixture_record(seq))
    with django_db_blocker.block():
        app.flush()
    app.append(fixture_record(4))
    assert [record.seq for record in app.buffer.captured()] == [2, 3, 4]
    assert app.stats()["dropped"] == 1


@pytest.mark.django_db
def test_a_record_the_ledger_refuses_is_dropped_and_counted_without_blocking_the_rest():
    app = ledger_appender()
    app.append(fixture_record(1, level="Fatal"))  # not a level the ledger knows
    app.append(fixture_record(2))
    app.flush()
    assert app.stats()["rejected"] == 1
    app.flush()
    assert list(LogRecord.objects.values_list("message", flat=True)) == ["message 2"]


def test_a_flush_before_the_apps_are_ready_does_nothing(monkeypatch):
    app = ledger_appender()
    app.append(fixture_record(1))
    monkeypatch.setattr(apps, "ready", False)
    assert app.flush() == 0
    assert app.stats()["failures"] == 0 and app.stats()["buffered"] == 1


def test_it_registers_a_flush_at_exit_when_its_thread_starts(monkeypatch):
    registered = []
    monkeypatch.setattr(ledger_appender_module.atexit, "register", registered.append)
    app = ledger_appender(background=True, interval=3600)
    try:
        app.append(fixture_record(1))
        assert registered == [app.shutdown]
    finally:
        app._stop.set()
        app._wake.set()


def test_the_test_settings_get_a_buffer_not_a_background_writer():
    assert isinstance(build_appender(), BufferingLogChainAppender)


def test_the_appender_is_the_one_the_settings_name(settings, monkeypatch):
    # The environment is read once, by settings.py: a variable set later changes nothing.
    monkeypatch.setenv("LOGCHAIN_APPENDER", "noop")
    settings.LOGCHAIN_APPENDER = "ledger"
    settings.LOGCHAIN_NODE_ID = 12
    settings.LOGCHAIN_APPENDER_CAPACITY = 3
    settings.LOGCHAIN_FLUSH_INTERVAL = 0.5
    app = build_appender()
    assert isinstance(app, LedgerLogChainAppender)
    assert (app.node_id, app.capacity, app.interval) == (12, 3, 0.5)
    settings.LOGCHAIN_APPENDER = "noop"
    assert build_appender().kind == "noop"


SHUTDOWN_SCRIPT = textwrap.dedent(
    """
    import logging, logging.config, sys
    # Wired as kernel-requests.md asks, and used before Django has loaded a single app.
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"logchain": {"class": "logchain.appender.LedgerLogHandler", "level": "WARNING"}},
        "loggers": {"runs": {"handlers": ["logchain"]}},
    })
    logging.getLogger("runs").warning("before the apps are ready")
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    logging.getLogger("runs").info("below the handler's level")
    logging.getLogger("runs").warning("worker %s shutting down with a full queue", "w-1")
    logging.getLogger("runs").error("last words")
    sys.exit(0)  # long before the hour-long flush interval: only the exit flush can write these
    """
)


def test_buffered_records_are_flushed_at_shutdown(tmp_path):
    database = tmp_path / "shutdown.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ledgerproject.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "LEDGER_VAR_DIR": str(tmp_path),
        "LOGCHAIN_APPENDER": "ledger",
        "LOGCHAIN_NODE_ID": "5",
        "LOGCHAIN_FLUSH_INTERVAL": "3600",
    }
    result = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT node_id, node_seq, level, message FROM logchain_logrecord ORDER BY seq").fetchall()
    assert rows == [
        (5, 1, "Warn", "runs: before the apps are ready"),
        (5, 2, "Warn", "runs: worker w-1 shutting down with a full queue"),
        (5, 3, "Error", "runs: last words"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_flushing_at_once_share_one_gapless_node_seq():
    from django.db import connections

    # Many small batches, so the two workers interleave under the ledger lock.
    workers = [ledger_appender(node_id=3, batch_size=7) for _ in range(2)]
    for number, app in enumerate(workers):
        for seq in range(1, 41):
            app.append(fixture_record(seq, node_id=3, message=f"worker {number} line {seq}"))
    barrier = threading.Barrier(len(workers))

    def flush(app):
        barrier.wait()
        try:
            app.flush()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flush, args=(app,)) for app in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [app.stats()["failures"] for app in workers] == [0, 0]
    seqs = list(LogRecord.objects.for_node(3).order_by("seq").values_list("node_seq", flat=True))
    assert seqs == list(range(1, 81))
    for number in range(2):
        lines = LogRecord.objects.for_node(3).filter(message__startswith=f"worker {number} ").order_by("seq")
        assert [m.split()[-1] for m in lines.values_list("message", flat=True)] == [str(n) for n in range(1, 41)]
