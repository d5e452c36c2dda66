"""Read replicas: the database router, and the middleware that scopes its choices to one request.

Installed only when DATABASE_REPLICA_URLS names replicas (settings.py). Then, inside a request:

- a GET/HEAD/OPTIONS request reads the models that allow it (`replica_reads = True`: ledger entries,
  checkpoints, Merkle nodes, chain checks) from one replica, chosen once per request;
- everything else reads the primary: users, sessions, tokens, tenant bindings and permissions (so a
  revoked role or token takes effect at once), every unsafe request, every read after the request
  wrote a ledger model (an append, a checkpoint, a verification), every read inside a transaction on
  the primary, and every request of a client that wrote within LEDGER_REPLICA_STICKY_SECONDS (a
  "pinned to primary" marker in the shared cache, keyed by the client's credential), so a writer always
  reads its own writes;
- a replica that cannot be reached (or whose kept connection died) is skipped for
  LEDGER_REPLICA_DOWN_SECONDS, and the request reads the primary instead.

Outside a request (management commands, background threads) nothing is routed: every query goes to
the primary, so verification, checkpoints and exports by command are exact.
"""

import contextvars
import hashlib
import logging
import random
import time

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import FileResponse

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PIN_KEY_PREFIX = "ledger:replica-pin:"
_END = object()

# alias -> time.monotonic() before which the replica is not tried again (per process; cheap, no I/O).
_down_until = {}


class RequestRouting:
    """Where one request may read: set up by the middleware, updated by the router as the request runs."""

    __slots__ = ("replicas", "primary_only", "replica", "wrote")

    def __init__(self, replicas, primary_only=False):
        self.replicas = tuple(replicas)
        # An unsafe method, a client pinned after its own recent write, or no replica reachable.
        self.primary_only = primary_only
        self.replica = None  # chosen on the first read that may use one, then kept for the request
        self.wrote = False  # set by the first write of a replica-readable model: read the primary after it


_current = contextvars.ContextVar("ledger_request_routing", default=None)


def replica_readable(model):
    return getattr(model, "replica_reads", False)


class PrimaryReplicaRouter:
    """Sends a request's page, list, search and export reads to a replica; the rest to the primary."""

    def db_for_read(self, model, **hints):
        state = _current.get()
        if state is None:
            return None  # not in a request: Django's default, the primary
        if (
            state.primary_only
            or state.wrote
            or not replica_readable(model)
            or connections[DEFAULT_DB_ALIAS].in_atomic_block  # read-after-write inside a transaction
        ):
            return DEFAULT_DB_ALIAS
        instance = hints.get("instance")
        if instance is not None and instance._state.db in (DEFAULT_DB_ALIAS, *state.replicas):
            return instance._state.db  # related rows come from where the row itself came from
        return _replica_for(state)

    def db_for_write(self, model, **hints):
        state = _current.get()
        if state is not None and replica_readable(model):
            state.wrote = True
        # Explicitly the primary: never the database a (replica-read) instance came from.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        aliases = {DEFAULT_DB_ALIAS, *settings.LEDGER_REPLICA_DATABASES}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True  # one database, seen through several connections
        return None

    def allow_migrate(self, db, app_label, **hints):
        if db in settings.LEDGER_REPLICA_DATABASES:
            return False  # a standby is read-only: it gets the schema from the primary's WAL
        return None


def _replica_for(state):
    if state.replica is None:
        candidates = list(state.replicas)
        random.shuffle(candidates)
        state.replica = next((alias for alias in candidates if replica_usable(alias)), None)
        if state.replica is None:
            state.primary_only = True
            return DEFAULT_DB_ALIAS
    return state.replica


def replica_usable(alias):
    """Whether the replica answers: its kept connection still works, or a new one opens.

    One `SELECT 1` on a kept connection (nothing on a new one), once per request; a failure marks
    the replica down for LEDGER_REPLICA_DOWN_SECONDS, during which it is not tried at all.
    """
    now = time.monotonic()
    if _down_until.get(alias, 0.0) > now:
        return False
    connection = connections[alias]
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # the server went away under a kept connection: try a new one
        connection.ensure_connection()
    except DatabaseError as exc:
        try:
            connection.close()
        except DatabaseError:  # pragma: no cover - closing a dead connection
            pass
        _down_until[alias] = now + settings.LEDGER_REPLICA_DOWN_SECONDS
        logger.warning(
            "read replica %s is unreachable (%s); reading the primary for %s s",
            alias,
            exc,
            settings.LEDGER_REPLICA_DOWN_SECONDS,
        )
        return False
    _down_until.pop(alias, None)
    return True


def _pin_key(kind, credential):
    return PIN_KEY_PREFIX + hashlib.sha256(f"{kind}:{credential}".encode()).hexdigest()


def _client_keys(request):
    """Keys naming the client by its credential (the Authorization header, the session cookie),
    available before authentication and without a query; only their hashes are stored."""
    keys = set()
    if authorization := request.META.get("HTTP_AUTHORIZATION"):
        keys.add(_pin_key("authorization", authorization))
    if session := request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        keys.add(_pin_key("session", session))
    return keys


def _pinned(keys):
    if not keys or not settings.LEDGER_REPLICA_STICKY_SECONDS:
        return False
    try:
        return bool(caches["shared"].get_many(list(keys)))
    except Exception:  # the cache is down: reading the primary is always correct
        logger.warning("cannot read the replica pin markers; this request reads the primary", exc_info=True)
        return True


def _pin(request, keys):
    seconds = settings.LEDGER_REPLICA_STICKY_SECONDS
    if not seconds:
        return
    session = getattr(request, "session", None)
    if session is not None and session.session_key:  # a session made or renewed by this request
        keys = {*keys, _pin_key("session", session.session_key)}
    if not keys:
        return
    try:
        caches["shared"].set_many(dict.fromkeys(keys, 1), timeout=seconds)
    except Exception:
        logger.warning("cannot store the replica pin markers; the next read may lag this write", exc_info=True)


def _within(state, content):
    """Iterate a streamed body inside the request's routing state (it is read after the view returned)."""
    iterator = iter(content)
    while True:
        token = _current.set(state)
        try:
            chunk = next(iterator, _END)
        finally:
            _current.reset(token)
        if chunk is _END:
            return
        yield chunk


class ReplicaRoutingMiddleware:
    """Gives each request its routing state, and pins a client that wrote to the primary for a few seconds."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        replicas = settings.LEDGER_REPLICA_DATABASES
        if not replicas:
            return self.get_response(request)
        keys = _client_keys(request)
        state = RequestRouting(replicas, primary_only=request.method not in SAFE_METHODS or _pinned(keys))
        token = _current.set(state)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if state.wrote:
            _pin(request, keys)
        elif (
            response.streaming
            and not response.is_async
            and not state.primary_only
            and not isinstance(response, FileResponse)
        ):
            response.streaming_content = _within(state, response.streaming_content)
        return response
