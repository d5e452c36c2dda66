"""Every paged page and every paged API route follows the kernel's one convention (`cursor` + `page_size`).

The routes come from the URL configuration and the stored demo world, so a new route is checked
without anyone listing it here: a route that reads a paging parameter (its own `before`, `after`,
`page`, `offset`, …) without the kernel's pager fails; one that uses the pager must round-trip its
links (next, then previous, lands on the same rows), keep every other query parameter URL-encoded,
and answer a cursor it did not write with a 400.
"""

import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.db import transaction
from django.test import Client

from ledgerproject.ledger.tests.test_query_fuzz import list_routes, recording  # noqa: F401 (a fixture)
from ledgerproject.ledger.tests.test_route_walk import real_path, store_world

pytestmark = pytest.mark.django_db

# Names that page a list by hand: reading one without the kernel's pager is the defect this test catches.
PAGING_NAMES = {"cursor", "before", "after", "page", "offset", "p", "start", "from", "last", "next_after"}
# Kept through every link, and spelled so that a link joined without URL-encoding would break it.
KEPT = {"keep": "a b&c=d/é%"}
# A route that lists nothing without a query names what it lists here.
LISTS_WITH = {"trail/": lambda values: {"id": values["correlation_id"]}}
NEXT_LINK = re.compile(r'<a href="([^"]*)" rel="next"')
PREVIOUS_LINK = re.compile(r'<a href="([^"]*)" rel="prev"')

ROUTES = [(kind, route) for kind, route, _pattern in list_routes() if kind in ("page", "api")]


@pytest.fixture(scope="module")
def stored(django_db_setup, django_db_blocker):
    """The route walk's world, built once for every route here and rolled back after the last one."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        block.__enter__()
        try:
            yield store_world()
        finally:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)


@pytest.fixture
def superuser(make_user):
    return make_user("pager-root", roles=["reader", "writer", "reviewer", "auditor", "admin"], superuser=True)


def _client(kind, superuser):
    from ledgerproject.ledger.models import ApiToken

    if kind == "api":
        _, token = ApiToken.objects.issue(superuser)
        return Client(HTTP_AUTHORIZATION=f"Token {token}")
    client = Client()
    client.force_login(superuser)
    return client


def _links(kind, response):
    """(next, previous) as given by the response: absolute or `?…` URLs, or None."""
    if kind == "api":
        body = response.json()
        return body.get("next"), body.get("previous")
    html = response.content.decode()
    found = [NEXT_LINK.search(html), PREVIOUS_LINK.search(html)]
    return tuple(unescape(match.group(1)) if match else None for match in found)


def _follow(client, base, link):
    parts = urlsplit(link)
    return client.get((parts.path or urlsplit(base).path) + "?" + parts.query)


def _keys(response):
    return response.wsgi_request.ledger_paged_keys


@pytest.mark.parametrize(("kind", "route"), ROUTES, ids=[f"{kind}:{route}" for kind, route in ROUTES])
def test_it_pages_every_list_by_the_one_cursor_with_links_that_round_trip(
    kind,
    route,
    stored,
    superuser,
    recording,  # noqa: F811
):
    client = _client(kind, superuser)
    base = real_path(route, stored["values"])
    query = {"page_size": "1", **KEPT}
    for prefix, extra in LISTS_WITH.items():
        if route == prefix:
            query.update(extra(stored["values"]))
    recording.clear()
    first = client.get(base, query)
    assert first.status_code < 500, f"{base} → {first.status_code}"
    paged = hasattr(first.wsgi_request, "ledger_paged_keys")
    by_hand = (set(recording) & PAGING_NAMES) - {"cursor"}
    if not paged:
        assert not by_hand, f"{base} reads {sorted(by_hand)} but does not page through ledgerproject.ledger.pagination"
        return
    assert first.status_code == 200, f"{base} → {first.status_code}"

    refused = client.get(base, {**query, "cursor": "not-a-cursor"})
    assert refused.status_code == 400, f"{base}?cursor=not-a-cursor → {refused.status_code}"
    if kind == "api":
        assert refused.json()["detail"] and "cursor" in refused.json()

    following, _ = _links(kind, first)
    if following is None:
        assert len(_keys(first)) <= 1, f"{base}: a full page of one row, and no next link"
        return
    assert " " not in following and "é" not in following, f"{base}: next link not URL-encoded: {following}"
    params = parse_qs(urlsplit(following).query, keep_blank_values=True)
    assert params.get("keep") == [KEPT["keep"]], f"{base}: next link dropped or mangled a parameter: {following}"
    assert params.get("page_size") == ["1"] and params.get("cursor"), following
    assert not (set(params) & PAGING_NAMES - {"cursor"}), f"{base}: next link pages by another name: {following}"

    second = _follow(client, base, following)
    assert second.status_code == 200 and _keys(second) and _keys(second) != _keys(first)
    _, previous = _links(kind, second)
    assert previous is not None, f"{base}: the second page links no previous page"
    assert parse_qs(urlsplit(previous).query).get("keep") == [KEPT["keep"]]
    back = _follow(client, base, previous)
    assert back.status_code == 200 and _keys(back) == _keys(first), f"{base}: previous does not return to page one"
    assert _links(kind, back)[1] is None, f"{base}: page one links a page before it"


def test_every_paged_kind_is_covered():
    """The walk reaches the pages and API lists that page (a URL configuration change cannot silently empty it)."""
    routes = {route for _kind, route in ROUTES}
    for route in ("enhances/entries/", "events/", "runs/", "logs/", "releases/", "trail/"):
        assert route in routes, route
    for name in ("enhances", "events", "runs", "logs", "releases"):
        assert any(r.startswith("api/") and name in r for r in routes), name
    assert quote(KEPT["keep"], safe="") != KEPT["keep"]
