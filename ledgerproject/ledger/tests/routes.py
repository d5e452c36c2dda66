"""The project's URL routes as (route text, pattern) pairs, for tests that cover every endpoint."""

from django.urls import URLPattern, URLResolver, get_resolver


def all_routes(patterns=None, prefix=""):
    """Every URL pattern with the full route text leading to it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern
