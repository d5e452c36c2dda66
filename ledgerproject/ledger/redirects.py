"""Redirect targets taken from a request (`next`): followed or rendered only when they stay on this site."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, target, fallback):
    """`target` when it is a URL on this host (https-only when the request is), else `fallback`.

    Every `next` a page follows or renders goes through here: "/\\evil.example/", "//evil.example",
    "https://evil.example" and "javascript:…" all give the fallback.
    """
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
