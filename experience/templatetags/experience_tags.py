"""Small formatting filters for experience pages (artifact kinds, money, state badges)."""

import functools

from django import template
from django.urls import reverse

from experience import schemas

register = template.Library()

STATE_BADGES = {
    "Draft": "badge-muted",
    "Approved": "badge-pass",
    "Active": "badge-ok",
    "Quarantined": "badge-warn",
    "Deprecated": "badge-muted",
    "RolledBack": "badge-bad",
}


@register.filter
def artifact_kind(value):
    return schemas.artifact_kind_label(value)


@register.filter
def state_badge(state):
    return STATE_BADGES.get(state, "badge-muted")


@register.filter
def dollars(microdollars):
    """Cost in microdollars as dollars: 1234 → $0.001234."""
    if microdollars in (None, ""):
        return "—"
    return f"${microdollars / 1_000_000:,.6f}".rstrip("0").rstrip(".")


@register.filter
def short(value, length=12):
    value = "" if value is None else str(value)
    return value if len(value) <= int(length) else value[: int(length)] + "…"


@register.filter
def get(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None


@functools.lru_cache(maxsize=16)
def _page_pattern(name):
    return reverse(f"experience:{name}", args=["__ID__"])


@register.filter
def page_url(value, name):
    """`{{ id|page_url:"artifact" }}`: the page of an experience id, without a full reverse() per row.

    Ids follow the upstream rule ([A-Za-z0-9._-]), so they need no quoting in a path.
    """
    return _page_pattern(name).replace("__ID__", str(value))
