"""A page's next page is read from its cursor on, at any size: every page route of every ledger, followed to its
second page (one entry a page), reads its ledger through index conditions, not by walking the rows of the pages
before it. A pager whose cursor only filters fails here."""

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client

from ledgerproject.ledger.tests.test_tenancy_routes import ROUTES, sample
from ledgerproject.ledger.tests.test_tenant_reads import _statements, crowded_world, walked_reads  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PAGES = [(route, ledger) for route, ledger in ROUTES if not route.startswith(("api/", "admin/"))]
# The kernel pager's next link (templates/ledger/_pager.html); an entry page's rel="next" names the next entry.
NEXT_LINK = re.compile(r'<a href="([^"]*cursor=[^"]*)" rel="next"')
# The pages that list entries with the kernel's keyset pager: each must show a next link at one entry a page.
KEYSET_PAGES = {
    "enhances/entries/",
    "enhances/blueprints/<str:blueprint_id>/",
    "events/",
    "runs/",
    "logs/",
    "trail/",
    "releases/",
    "releases/<str:name>/",
}


@pytest.fixture(params=["all tenants", "one tenant"])
def reader(request, crowded_world, db):  # noqa: F811
    """A client of a superuser, or of red's own principal (bound to one tenant)."""
    client = Client()
    if request.param == "all tenants":
        client.force_login(get_user_model().objects.create_superuser("pages-admin", password="pw"))
    else:
        client.force_login(get_user_model().objects.get(username="rdx-writer"))
    return crowded_world[0], client


def _second_page(client, path):
    """The path of `path`'s next page at one entry a page, or None when it shows no next link."""
    first = f"{path}{'&' if '?' in path else '?'}page_size=1"
    response = client.get(first)
    links = NEXT_LINK.findall(response.content.decode()) if response.status_code == 200 else []
    if not links:
        return None
    link = unescape(links[0])
    return link if link.startswith("/") else path.split("?")[0] + link


@pytest.mark.parametrize(("route", "ledger"), PAGES, ids=[f"{r} {ledger or ''}".strip() for r, ledger in PAGES])
def test_a_pages_next_page_reads_from_its_cursor_on(reader, route, ledger):
    ids, client = reader
    path = sample(route, ledger, ids)
    problems = []
    for each in dict.fromkeys([path, path.split("?")[0]]):
        second = _second_page(client, each)
        if second is not None:
            problems += [f"GET {second}: {problem}" for problem in walked_reads(_statements(client, second))]
    assert not problems, "\n".join(problems)


def test_every_keyset_pages_second_page_is_shown_and_read_from_its_cursor_on(crowded_world, db):  # noqa: F811
    """At one entry a page, every keyset page of a principal of all tenants has a second page, read through index
    conditions (the blueprint trace: of the blueprint with the most attempts, within its tenant)."""
    from enhancelog.models import EnhanceEntry

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("pages-admin", password="pw"))
    busiest = (
        EnhanceEntry.objects.values("blueprint_id", "tenant_id")
        .annotate(attempts=Count("seq"))
        .order_by("-attempts", "blueprint_id")
        .first()
    )
    ids = crowded_world[0]
    paged, problems = set(), []
    for route, ledger in PAGES:
        if route not in KEYSET_PAGES:
            continue
        path = sample(route, ledger, ids)
        if ids.blueprint in path:
            path = path.replace(ids.blueprint, busiest["blueprint_id"])
            path += f"?tenant_id={busiest['tenant_id']}" if busiest["tenant_id"] else ""
        elif route == "releases/<str:name>/":  # names are per tenant: one of all tenants names which one's
            path += f"?tenant_id={ids.tenant}"
        for each in dict.fromkeys([path, path.split("?")[0]]):
            if (second := _second_page(client, each)) is not None:
                paged.add(route)
                problems += [f"GET {second}: {problem}" for problem in walked_reads(_statements(client, second))]
    assert paged == KEYSET_PAGES
    assert not problems, "\n".join(problems)
