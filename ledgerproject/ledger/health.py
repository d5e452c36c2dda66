"""Liveness (/healthz) and readiness (/readyz) for load balancers: anonymous, unthrottled, JSON."""

import logging
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ledgerproject.ledger import signing
from ledgerproject.ledger.outage import UNAVAILABLE_ERRORS, retry_after

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request):
    """The process answers: nothing else is touched (no database, no session, no user)."""
    return JsonResponse({"status": "ok"})


@lru_cache(maxsize=1)
def _expected_migrations():
    """The migrations on disk as {(app, name): replaced keys}; read once, they do not change while running."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return {key: tuple(graph.nodes[key].replaces or ()) for key in graph.nodes}


@contextmanager
def _probe_transaction(connection):
    """One short transaction; on PostgreSQL its statements give up after LEDGER_READY_TIMEOUT_MS.

    The timeout is local to the transaction, so it ends with it, even when a statement failed.
    """
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(settings.LEDGER_READY_TIMEOUT_MS)]
                )
        yield


def _check_database(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_migrations(connection):
    applied = set(MigrationRecorder(connection).applied_migrations())
    missing = sorted(
        f"{app}.{name}"
        for (app, name), replaces in _expected_migrations().items()
        if (app, name) not in applied and not (replaces and all(tuple(key) in applied for key in replaces))
    )
    if missing:
        # A count only: the names would tell anonymous callers which code version runs here.
        logger.info("readiness: unapplied migrations: %s", ", ".join(missing))
        return {"ok": False, "detail": f"{len(missing)} unapplied migration(s)"}
    return {"ok": True}


def _check_signing_key():
    """The checkpoint key can be read and parsed now (never generated here)."""
    try:
        signing.read_signing_key_now()
    except (OSError, ImproperlyConfigured) as exc:
        logger.info("readiness: signing key unreadable: %s", exc)
        return {"ok": False, "detail": "the signing key cannot be read"}
    return {"ok": True}


@require_safe
@never_cache
def readyz(request):
    """Ready when the database answers within a short timeout, every migration is applied and the key reads."""
    connection = connections[DEFAULT_DB_ALIAS]
    checks = {}
    try:
        with _probe_transaction(connection):
            checks["database"] = _check_database(connection)
            checks["migrations"] = _check_migrations(connection)
    except UNAVAILABLE_ERRORS as exc:
        logger.info("readiness: database unavailable: %s", exc)
        checks["database"] = {"ok": False, "detail": "the database cannot be reached"}
        checks["migrations"] = {"ok": False, "detail": "not checked: the database cannot be reached"}
    checks["signing_key"] = _check_signing_key()
    failed = [name for name, result in checks.items() if not result["ok"]]
    if not failed:
        return JsonResponse({"status": "ok", "checks": checks})
    response = JsonResponse(
        {
            "status": "unavailable",
            "detail": f"Not ready: {', '.join(failed)} check failed.",
            "failed": failed,
            "checks": checks,
        },
        status=503,
    )
    response["Retry-After"] = retry_after()
    return response
