"""The project's URL routes as (route text, pattern) pairs, for tests that cover every endpoint."""

import re

from django.urls import URLPattern, URLResolver, get_resolver


def all_routes(patterns=None, prefix=""):
    """Every URL pattern with the full route text leading to it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


UUID = "00000000-0000-0000-0000-000000000001"
CONVERTER_SAMPLES = {"int": "1", "uuid": UUID}


def _sample(regex):
    """A path segment that a converter's regex accepts (a UUID, a number, or a word)."""
    if "a-f" in regex or "A-F" in regex:
        return UUID
    if regex.startswith("[0-9]") or regex.startswith("\\d"):
        return "1"
    return "x"


def sample_path(route):
    """A URL path for a route, each converter filled with a value it accepts."""
    route = route.replace("^", "").replace("$", "").replace("\\.(?P<format>[a-z0-9]+)/?", "")
    route = re.sub(r"\(\?P<\w+>([^)]*)\)", lambda group: _sample(group.group(1)), route)
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda group: CONVERTER_SAMPLES.get(group.group(1), "x"), route)
    return "/" + route
