"""What the application records about itself in logchain: no server error from a reader's request, no
traceback, no unbounded caller-chosen text, and no more than a rate limit allows."""

import logging

import pytest
from django.test import RequestFactory

from logchain import appender as appender_module
from logchain.appenders import BufferingLogChainAppender
from logchain.handler import LedgerLogHandler, TokenBucket
from logchain.ledger_appender import LedgerLogChainAppender
from logchain.models import LogRecord
from tests.ledger_testapp.api import NoteViewSet

SECRET_HOST = "db-primary.internal.example"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def ledger_appender():
    """The real ledger appender as the process-wide one, flushed by the test (no background thread)."""
    fresh = LedgerLogChainAppender(capacity=10_000, node_id=0, background=False)
    previous = appender_module.set_appender(fresh)
    yield fresh
    appender_module.set_appender(previous)


@pytest.fixture
def failing_view(monkeypatch):
    def explode(self, request, *args, **kwargs):
        raise RuntimeError(f'connection to server at "{SECRET_HOST}" (10.0.0.7), port 5432 failed')

    monkeypatch.setattr(NoteViewSet, "list", explode)


@pytest.mark.django_db(transaction=True)
def test_a_server_error_from_a_readers_request_appends_nothing_to_the_ledger(
    ledger_appender, failing_view, make_user, client_for, caplog
):
    api = client_for(make_user("reader", roles=["reader"]))
    api.raise_request_exception = False
    chosen = "/api/v1/notes/?q=" + "CALLER-CHOSEN-TEXT-" * 200
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = api.get(chosen)
    assert response.status_code == 500
    assert "Traceback" not in response.content.decode() and SECRET_HOST not in response.content.decode()
    # Operators still see it where they read logs (the console handler on the root logger).
    assert any(record.name == "django.request" and record.exc_info for record in caplog.records)
    ledger_appender.flush()
    stored = " ".join(LogRecord.objects.values_list("message", flat=True))
    assert "CALLER-CHOSEN-TEXT" not in stored
    assert "Traceback" not in stored and SECRET_HOST not in stored and "notes" not in stored


def test_a_request_record_keeps_a_bounded_path_without_its_query_string():
    app = BufferingLogChainAppender()
    request = RequestFactory().get("/a/" + "p" * 5000 + "\n forged line?token=secret")
    record = logging.LogRecord("django.security.SuspiciousOperation", logging.WARNING, __file__, 1, "%s", ("x",), None)
    record.request = request
    record.status_code = 400
    LedgerLogHandler(appender=app, bucket=TokenBucket(10, 0)).handle(record)
    message = app.captured()[0].message
    assert message.startswith("django.security.SuspiciousOperation: 400 GET /a/ppp")
    assert "\n" not in message and "secret" not in message
    assert len(message) < appender_module.REQUEST_PATH_CHARS + 60


def test_a_flood_of_errors_appends_at_most_the_rate_limit():
    app = BufferingLogChainAppender(capacity=100_000)
    clock = FakeClock()
    handler = LedgerLogHandler(appender=app, bucket=TokenBucket(capacity=5, per_minute=60, clock=clock))
    before = appender_module.appender_stats()["rate_limited"]
    for _ in range(1000):
        handler.handle(logging.LogRecord("runs.api", logging.ERROR, __file__, 1, "boom", (), None))
    assert len(app.captured()) == 5
    assert appender_module.appender_stats()["rate_limited"] == before + 995
    clock.now += 3  # one record a second comes back
    for _ in range(10):
        handler.handle(logging.LogRecord("runs.api", logging.ERROR, __file__, 1, "boom", (), None))
    assert len(app.captured()) == 8


def test_the_rate_limit_comes_from_the_settings(settings):
    settings.LOGCHAIN_RATE_BURST = 3
    settings.LOGCHAIN_RATE_PER_MINUTE = 0
    app = BufferingLogChainAppender()
    handler = LedgerLogHandler(appender=app)
    for _ in range(20):
        handler.handle(logging.LogRecord("runs.api", logging.WARNING, __file__, 1, "w", (), None))
    assert len(app.captured()) == 3
