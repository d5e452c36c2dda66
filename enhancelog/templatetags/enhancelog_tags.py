"""Template helpers for enhance pages: epoch-ms times, short hashes, list links."""

from datetime import UTC, datetime

from django import template
from django.utils.http import urlencode

register = template.Library()


@register.filter
def ms_datetime(value):
    """Epoch milliseconds as an aware UTC datetime (for the date filter / timesince)."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@register.filter
def short_hash(value, length=12):
    return (value or "")[: int(length)]


@register.simple_tag
def list_query(**params):
    """A query string for the filtered list page, leaving out empty values."""
    return urlencode({key: value for key, value in params.items() if value not in (None, "")})
