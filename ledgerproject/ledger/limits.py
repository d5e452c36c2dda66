"""Brute-force limits shared by every worker: the client address, and the failed-token throttle."""

from django.core.cache import caches
from django.utils.connection import ConnectionProxy
from rest_framework import throttling
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

# Every worker and server sees the same counters here (the database cache, or Redis under REDIS_URL).
shared_cache = ConnectionProxy(caches, "throttle")


def client_ip(request):
    """The client's address as the throttles see it (REMOTE_ADDR, or X-Forwarded-For per NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


class AnonRateThrottle(throttling.AnonRateThrottle):
    """DRF's anonymous throttle ("anon" rate, per client address) on the shared counters."""

    cache = shared_cache


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's per-user throttle ("user" rate) on the shared counters."""

    cache = shared_cache


class FailedTokenThrottle(SimpleRateThrottle):
    """Counts failed `Authorization: Token` attempts per client address in the shared cache.

    Unlike DRF's throttles it is not consulted after authentication: the authenticator asks `blocked()`
    before looking a token up and calls `note_failure()` when the lookup fails, so a client guessing
    tokens is refused without touching the token table, while valid tokens never add to the count.
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

    def blocked(self, request):
        """Seconds to wait when this address is past the limit, else None."""
        if self.rate is None:
            return None
        self._load(request)
        if len(self.history) >= self.num_requests:
            return self.wait()
        return None

    def note_failure(self, request):
        if self.rate is None:
            return
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
