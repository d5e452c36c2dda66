"""Test helpers for read replicas: replica aliases configured at test time, and queries counted per alias."""

import re
from contextlib import ExitStack, contextmanager

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend

from ledgerproject.ledger import routers

ROUTER = "ledgerproject.ledger.routers.PrimaryReplicaRouter"
MIDDLEWARE = "ledgerproject.ledger.routers.ReplicaRoutingMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


def configure_replicas(settings, configs, sticky=5, down=5):
    """What settings.py does for DATABASE_REPLICA_URLS, done after the test database exists (so a
    replica alias can name it) through pytest-django's `settings` fixture (undone after the test)."""
    for alias, config in configs.items():
        # Django's defaults for the alias, then a connection made for this thread only: the test case
        # admits such "dynamically created" connections (an alias in DATABASES would need declaring
        # before the test database exists, which the replica's settings depend on).
        connections.configure_settings({DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], alias: config})
        connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    settings.LEDGER_REPLICA_DATABASES = list(configs)
    settings.LEDGER_REPLICA_STICKY_SECONDS = sticky
    settings.LEDGER_REPLICA_DOWN_SECONDS = down
    settings.DATABASE_ROUTERS = [ROUTER]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index(SESSIONS) + 1, MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    routers._down_until.clear()
    cache.clear()


def remove_replicas(aliases):
    for alias in aliases:
        try:
            connections[alias].close()
        except Exception:  # noqa: BLE001 - a stopped server's connection may fail to close
            pass
        del connections[alias]
    routers._down_until.clear()
    cache.clear()


class QueryLog:
    """Every statement executed, by alias; `tables(alias)` names the tables each alias read or wrote."""

    def __init__(self):
        self.statements = []

    def record(self, alias, sql):
        self.statements.append((alias, sql))

    def count(self, alias):
        return sum(1 for where, _ in self.statements if where == alias)

    def tables(self, alias):
        found = set()
        for where, sql in self.statements:
            if where == alias:
                found.update(re.findall(r'(?:FROM|INTO|JOIN|UPDATE)\s+"?(\w+)"?', sql, flags=re.IGNORECASE))
        return found


@contextmanager
def logged_queries(*aliases):
    """Log the statements run on each alias, without opening a connection (unlike CaptureQueriesContext)."""
    log = QueryLog()

    def wrapper_for(alias):
        def wrapper(execute, sql, params, many, context):
            log.record(alias, sql)
            return execute(sql, params, many, context)

        return wrapper

    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(connections[alias].execute_wrapper(wrapper_for(alias)))
        yield log
