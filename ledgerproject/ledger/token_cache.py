"""A short-lived per-process memory of authenticated API tokens, so an append does not look its token up every time.

What a request needs to know about its token — the token row, its user, the user's model permissions and
tenant scope — is read from the database once per key and reused for LEDGER_TOKEN_CACHE_SECONDS (default
5; 0 turns the memory off). Revoking a token, deactivating its user or changing a role therefore takes
effect within that many seconds in every worker, and at once in the process that made the change (the
signals below forget everything it remembers). Failed lookups are never remembered: a wrong key always
reaches the database, through the failed-token throttle.
"""

import copy
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

# Tests replace it with a fake clock; monotonic, so a wall-clock jump cannot stretch an entry's life.
clock = time.monotonic
_lock = threading.Lock()
# key hash → (expires at, token, user as read with the token)
_entries = {}
# Far above the number of tokens a deployment uses within seconds; past it the memory starts over.
MAX_ENTRIES = 10_000


def lifetime():
    return getattr(settings, "LEDGER_TOKEN_CACHE_SECONDS", 5)


def lookup(key_hash, load):
    """(token, user) for key_hash: remembered if read less than lifetime() seconds ago, else load(key_hash)'s token
    (which raises for an unknown key: nothing is remembered then). Each call gets its own copy of the user, so
    what one request caches on it never leaks into another."""
    seconds = lifetime()
    now = clock()
    entry = _entries.get(key_hash) if seconds > 0 else None
    if entry is None or entry[0] <= now:
        token = load(key_hash)
        user = token.user
        if seconds > 0:
            _prime(user)
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key_hash] = (now + seconds, token, user)
        entry = (None, token, user)
    _, token, user = entry
    user = copy.copy(user)
    token = copy.copy(token)
    token.user = user
    return token, user


def _prime(user):
    """Reads, before the user is remembered, what requests would otherwise read on it every time."""
    from ledgerproject.ledger.models import tenant_scope

    if user.is_active:
        tenant_scope(user)


def forget_all(**kwargs):
    """Forgets every remembered token (this process); connected to every change that could revoke access."""
    with _lock:
        _entries.clear()


def connect_signals():
    """Forget remembered tokens here whenever a token, user, group, permission or tenant grant changes."""
    from django.contrib.auth.models import Group, Permission

    from ledgerproject.ledger.models import AllTenantsGrant, ApiToken, TenantBinding

    user_model = get_user_model()
    for model in (ApiToken, user_model, Group, Permission, TenantBinding, AllTenantsGrant):
        post_save.connect(forget_all, sender=model, dispatch_uid=f"token-cache-save-{model._meta.label}")
        post_delete.connect(forget_all, sender=model, dispatch_uid=f"token-cache-delete-{model._meta.label}")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(forget_all, sender=through, dispatch_uid=f"token-cache-m2m-{through._meta.label}")
