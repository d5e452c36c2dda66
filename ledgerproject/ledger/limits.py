"""Throttles on counters every worker shares: client address, a lock per counter, anon/user/failed-token."""

from contextlib import contextmanager

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router, transaction
from django.utils.connection import ConnectionProxy
from rest_framework import throttling
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

# Every worker and server sees the same counters here (the database cache, or Redis under REDIS_URL).
shared_cache = ConnectionProxy(caches, "shared")
# This process's memory of addresses it has seen fail a token (a hint: the count is in shared_cache).
_failed_addresses = LocMemCache("ledger-failed-token-addresses", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


def forget_failed_addresses():
    """Empties this process's memory of failing addresses (tests: it is not rolled back with the database)."""
    _failed_addresses.clear()


# The first key of PostgreSQL's two-key advisory locks for counters (the ledgers' locks use one-key ones).
COUNTER_LOCK_CLASS = 0x4C54


@contextmanager
def counter_lock(key):
    """Makes one counter's read-modify-write atomic across workers and servers.

    DRF reads a client's history, decides, then writes it back; two workers doing that at once both
    let a request through. Under this lock they take turns: PostgreSQL takes a transaction advisory
    lock on the key, SQLite's IMMEDIATE transaction holds its write lock, Redis takes a short lock key.
    """
    cache = caches["shared"]
    if isinstance(cache, DatabaseCache):
        alias = router.db_for_write(cache.cache_model_class)
        with transaction.atomic(using=alias):
            connection = connections[alias]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [COUNTER_LOCK_CLASS, key])
            yield
    elif isinstance(cache, RedisCache):
        lock_key = cache.make_and_validate_key(key) + ":lock"
        lock = cache._cache.get_client(lock_key, write=True).lock(lock_key, timeout=5, blocking_timeout=2)
        # Not getting it in 2 s (a stuck peer) lets this one request be counted unlocked, never refused.
        acquired = lock.acquire()
        try:
            yield
        finally:
            if acquired:
                try:
                    lock.release()
                except Exception:  # expired meanwhile: nothing left to release
                    pass
    else:
        yield


def client_ip(request):
    """The client's address as the throttles see it (REMOTE_ADDR, or X-Forwarded-For per NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


class AnonRateThrottle(throttling.AnonRateThrottle):
    """DRF's anonymous throttle ("anon" rate, per client address) on the shared counters, under a lock."""

    cache = shared_cache

    def allow_request(self, request, view):
        key = self.get_cache_key(request, view) if self.rate is not None else None
        if key is None:
            return True
        with counter_lock(key):
            return super().allow_request(request, view)


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's per-user throttle ("user" rate): on Redis when REDIS_URL is set, else per process.

    It is a high ceiling checked on every authenticated request. On the database cache a read and a
    write there would add five database round trips to every append (whose budget is six), so without
    Redis it counts in each process's memory ("default"): a runaway client is still stopped, at up to
    the rate times the number of workers. Not under counter_lock either: a race lets a few over.
    """

    @property
    def cache(self):
        shared = caches["shared"]
        return caches["default"] if isinstance(shared, DatabaseCache) else shared


class FailedTokenThrottle(SimpleRateThrottle):
    """Counts failed `Authorization: Token` attempts per client address in the shared cache.

    Unlike DRF's throttles it is not consulted after authentication: the authenticator asks `blocked()`
    before looking a token up and calls `note_failure()` when the lookup fails, so a client guessing
    tokens is refused without touching the token table, while valid tokens never add to the count.

    So that valid tokens cost nothing either, each process remembers (in its own memory) the addresses
    it has seen fail, and only for those reads the shared count before the lookup. A process that has
    not seen an address fail yet looks its token up once, finds the shared count past the limit when
    recording the failure, and refuses from then on: at most one lookup per worker per address.
    """

    scope = "failed_token"
    cache = shared_cache

    def get_rate(self):
        # Read now, not at import (DRF's class attribute), so the rate follows the settings.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def _load(self, request):
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def _wait_if_over(self):
        # Until the limit-th newest failure leaves the window (DRF's wait() gives None past the limit).
        if len(self.history) < self.num_requests:
            return None
        if self.num_requests == 0:
            return float(self.duration)
        return max(1.0, self.duration - (self.now - self.history[self.num_requests - 1]))

    def blocked(self, request):
        """Seconds to wait when this address is past the limit, else None."""
        if self.rate is None or not _failed_addresses.get(client_ip(request)):
            return None
        self._load(request)
        return self._wait_if_over()

    def note_failure(self, request):
        """Counts one failure; seconds to wait when the address was already past the limit, else None."""
        if self.rate is None:
            return None
        _failed_addresses.set(client_ip(request), True, self.duration)
        with counter_lock(self.get_cache_key(request)):
            self._load(request)
            wait = self._wait_if_over()
            self.history.insert(0, self.now)
            # The newest `limit` failures are all the decision needs: the entry stays small.
            self.cache.set(self.key, self.history[: max(self.num_requests, 1)], self.duration)
        return wait
