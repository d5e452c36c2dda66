"""A principal bound to several tenants has each page's candidates read one tenant at a time (models/tenant_parts.py)
and sees exactly what one read of all its tenants shows: every URL pattern of every ledger (API with its exports,
pages, admin) answers the same bytes either way, at full pages and at one entry a page, and no page of a ledger is read
as one sort of all its tenants' entries."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from ledgerproject.ledger.models import TenantBinding, tenant_parts
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.tenant_world import build_world, make_principal
from ledgerproject.ledger.tests.test_admin_reads import SEARCH_PLANNING, _plans
from ledgerproject.ledger.tests.test_tenancy_routes import ROUTES, _fetch, sample

pytestmark = pytest.mark.django_db

BOTH = ("tnt-blu", "tnt-rdx")
LEDGER_TABLES = {model._meta.db_table for model in ledger_models()}
# Answers that change from one request to the next by themselves (the exposition's clocks and counters).
VARYING = {"metrics"}
COMPARED = [(route, ledger) for route, ledger in ROUTES if route not in VARYING]


@pytest.fixture(scope="module")
def two_tenants_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The red and blue tenants' entries in every ledger, and a principal bound to both (every role, staff)."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        red, blue, _absent, _blue_user = build_world()
        both = make_principal("duo-user", "tnt-rdx")
        TenantBinding.objects.create(user=both, tenant_id="tnt-blu")
        yield red, blue
        transaction.set_rollback(True)


@pytest.fixture
def duo(two_tenants_world, db):
    client = Client()
    client.force_login(get_user_model().objects.get(username="duo-user"))
    return two_tenants_world, client


def _paths(route, ledger, ids):
    """The route's sample, its unfiltered list when the sample filters, and each at one entry a page."""
    path = sample(route, ledger, ids)
    paths = [path] if "?" not in path else [path, path.split("?")[0]]
    return paths + [f"{each}{'&' if '?' in each else '?'}page_size=1" for each in paths]


def _answers(client, path):
    formats = [None, "jsonl", "csv"] if path.startswith("/api/v1/") else [None]
    return {fmt: _fetch(client, path, fmt) for fmt in formats}


# A page's links to its neighbours: the kernel pager's (templates/ledger/_pager.html) and the API's `next`/`previous`.
PAGE_LINK = re.compile(r'<a href="([^"]*cursor=[^"]*)" rel="(?:next|prev)"')
API_LINK = re.compile(r'"(?:next|previous)":"https?://[^/"]+(/[^"]*)"')


def _neighbours(path, body):
    """The paths of the pages next to `path`'s (its next and previous links), from its answer's body."""
    links = API_LINK.findall(body) if path.startswith("/api/v1/") else PAGE_LINK.findall(body)
    base = path.split("?")[0]
    return [html.unescape(link) if link.startswith("/") else base + html.unescape(link) for link in links]


@pytest.mark.parametrize(("route", "ledger"), COMPARED, ids=[f"{r} {ledger or ''}".strip() for r, ledger in COMPARED])
def test_a_principal_of_two_tenants_sees_what_one_read_of_both_shows(duo, route, ledger, monkeypatch):
    (red, _blue), client = duo
    paths = _paths(route, ledger, red)
    for path in paths:
        split = _answers(client, path)
        with monkeypatch.context() as patched:
            patched.setattr(tenant_parts, "MAX_TENANT_PARTS", 1)  # every read of both tenants as one IN (…)
            whole = _answers(client, path)
        assert split == whole, path
        assert all(status != 500 for status, _body, _location in split.values()), path
        if "page_size=1" in path:  # one entry a page: its neighbours too, and theirs once
            paths += [link for link in _neighbours(path, split[None][1]) if link not in paths][:2]


def _page_reads_of_both(client, path):
    """The statements answering GET `path` that read a page (ORDER BY … LIMIT) of a ledger from both tenants' entries.
    A grouping (the tasks page's outputs per task) is not a page of entries: it reads every entry of its principal's
    tenants whether they are one or several, and is not split."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    both = "IN (" + ", ".join(f"'{tenant}'" for tenant in BOTH) + ")"
    found = []
    for query in captured.captured_queries:
        sql = query["sql"]
        table = re.search(r'\bFROM "(\w+)"', sql)
        if (
            both in sql
            and table
            and table.group(1) in LEDGER_TABLES
            and re.search(r"\bORDER BY [^()]*\bLIMIT \d+( OFFSET \d+)?$", sql)
            and " GROUP BY " not in sql
        ):
            found.append(sql)
    return found


# The page read among its candidates: its key among each tenant's first keys (`seq = ANY(ARRAY(SELECT …))`, InitPlans).
# How PostgreSQL reaches those few rows, and their parent's for a ledger whose tenant is its parent's, depends on the
# tables' sizes: on this small world it may read the tenant index and filter by the keys; at a million entries it
# probes the keys' index (bench/several_tenants.py prints that plan). So in such a statement only the candidates' reads
# (its InitPlans) are judged here.
CANDIDATES = "= ANY(ARRAY(SELECT "


def _candidate_reads(plan):
    """The InitPlan subtrees of `plan`, each as a plan of its own."""
    found = []

    def visit(node):
        for child in node.get("Plans", ()):
            if child.get("Parent Relationship") == "InitPlan":
                found.append([{"Plan": child}])
            else:
                visit(child)

    visit(plan[0]["Plan"])
    return found


def sorted_reads_of_several_tenants(plan):
    """The scans in `plan` that read several tenants' entries through a tenant index (an index condition tenant_id =
    ANY) for a sort above them to order. A scan of one tenant, or driven by another condition (an id, an action and
    time) and only filtered by the tenants, is bounded."""
    problems = []

    def visit(node, sorted_above):
        sorted_above = sorted_above or node["Node Type"] == "Sort"  # an Incremental Sort keeps an index's order
        conditions = " ".join(str(node.get(key, "")) for key in ("Index Cond", "Recheck Cond"))
        one_tenant = re.search(r"\btenant_id\)?(::\w+)? = '", conditions)
        if sorted_above and not one_tenant and re.search(r"\btenant_id\)?(::\w+)? = ANY", conditions):
            problems.append(f"{node.get('Index Name') or node.get('Relation Name')} read for a sort: {conditions}")
        for child in node.get("Plans", ()):
            visit(child, sorted_above)

    visit(plan[0]["Plan"], False)
    return problems


def several_tenants_sorted(client, path):
    """How each page read of both tenants' entries at once, planned as on a big table, reads them: the scans that read
    every entry of both tenants through a tenant index for a sort."""
    by_table = {}  # each statement planned once, under the ledger it reads from (its first FROM)
    for sql in _page_reads_of_both(client, path):
        by_table.setdefault(re.search(r'\bFROM "(\w+)"', sql).group(1), []).append(sql)
    problems = []
    for table, statements in by_table.items():
        for sql, plan in _plans(statements, table, SEARCH_PLANNING):
            for judged in _candidate_reads(plan) if CANDIDATES in sql else [plan]:
                # Only the several-tenant sort: whether a one-tenant read walks an index is test_tenant_reads' check,
                # on a world whose statistics it takes; here the plans follow whatever earlier tests left in the tables.
                found = sorted_reads_of_several_tenants(judged)
                problems += [f"{table}: {problem}\n    {sql[:300]}" for problem in found]
    return problems


# Routes whose page is one read of both tenants, and why.
ONE_READ = {
    "api/v1/^releases/$": (
        "ordered by the current release's name alone, which two tenants can share: split, that tie could be broken "
        "otherwise than by the one read. It reads the current releases (one per name and tenant), not every entry."
    ),
    "api/v1/^blobs/$": (
        "a blob is visible through its tenants' holds (a table of its own, Blob.tenant_filter), not a tenant column: "
        "no tenant's index of blobs to read a page from."
    ),
}
# Of those, the reads the plan check below does not hold to the tenants' index (their sort is the one read's).
SORTED_ACROSS_TENANTS = {"api/v1/^releases/$"}


@pytest.mark.postgres
@pytest.mark.parametrize(("route", "ledger"), ROUTES, ids=[f"{r} {ledger or ''}".strip() for r, ledger in ROUTES])
def test_a_principal_of_two_tenants_reads_each_page_one_tenant_at_a_time(duo, route, ledger):
    (red, _blue), client = duo
    if route in ONE_READ:
        for path in _paths(route, ledger, red):
            assert not any(CANDIDATES in sql for sql in _page_reads_of_both(client, path)), (path, ONE_READ[route])
        if route in SORTED_ACROSS_TENANTS:
            return
    problems = [
        f"GET {path}: {problem}"
        for path in _paths(route, ledger, red)
        for problem in several_tenants_sorted(client, path)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("route", "ledger"), ROUTES, ids=[f"{r} {ledger or ''}".strip() for r, ledger in ROUTES])
def test_every_paged_list_of_two_tenants_is_read_through_their_candidates(duo, route, ledger, monkeypatch):
    """On both engines: a list that pages (the kernel's pagers mark the keys they served) reads its page through the
    tenants' candidates, so the comparison above compares two different reads."""
    (red, _blue), client = duo
    calls = []
    read = tenant_parts.page_of_candidates
    monkeypatch.setattr(tenant_parts, "page_of_candidates", lambda *args: calls.append(args) or read(*args))
    for path in _paths(route, ledger, red):
        calls.clear()
        response = client.get(path)
        paged = getattr(response.wsgi_request, "ledger_paged_keys", None)
        if paged is not None and route not in ONE_READ:
            assert calls, f"{path}: its page was read as one IN (…)"


@pytest.fixture
def interleaved(db):
    """Notes of three tenants taking turns (the principal's two and another), `count` cycling so that it ties."""
    from tests.ledger_testapp.models import Note

    user = make_principal("notes-duo", "tnt-a")
    TenantBinding.objects.create(user=user, tenant_id="tnt-b")
    rows = [{"key": f"k{i}", "tenant_id": ("tnt-a", "tnt-b", "tnt-c")[i % 3], "count": i % 4} for i in range(30)]
    Note.objects.append_many(rows, recorded_by=user)
    return Note, user


READS = {
    "first page": lambda qs: qs.order_by("seq")[:4],
    "newest first": lambda qs: qs.order_by("-seq")[:4],
    "an offset": lambda qs: qs.order_by("seq")[5:9],
    "a tie broken by the key": lambda qs: qs.order_by("-count", "pk")[:7],
    "first": lambda qs: [qs.order_by("seq").first()],
    "last": lambda qs: [qs.order_by("seq").last()],
    "reversed": lambda qs: qs.order_by("seq").reverse()[:3],
    "values": lambda qs: qs.order_by("count", "-seq").values("key", "count")[2:6],
    "flat keys": lambda qs: qs.order_by("-seq").values_list("key", flat=True)[:5],
    "narrowed": lambda qs: qs.filter(count__gte=2).order_by("seq")[:5],
}


@pytest.mark.parametrize("name", READS)
def test_a_split_page_holds_the_rows_of_the_one_read(interleaved, name, monkeypatch):
    """Directly on a queryset, both engines: tenants' entries interleaved, pages smaller than a tenant's share, offsets,
    ties in the first order term, both directions, values: the split read (it does run) gives the one read's rows."""
    Note, user = interleaved
    calls = []
    read = tenant_parts.page_of_candidates
    monkeypatch.setattr(tenant_parts, "page_of_candidates", lambda *args: calls.append(args) or read(*args))
    split = list(READS[name](Note.objects.visible_to(user)))
    assert calls, "the page was read as one IN (…)"
    monkeypatch.setattr(tenant_parts, "MAX_TENANT_PARTS", 1)
    whole = list(READS[name](Note.objects.visible_to(user)))
    assert split == whole and split, name
    keys = [row.key if isinstance(row, Note) else row["key"] if isinstance(row, dict) else row for row in split]
    assert "tnt-c" not in set(Note.objects.filter(key__in=keys).values_list("tenant_id", flat=True))


def test_either_side_of_an_or_is_read_as_one(interleaved):
    Note, user = interleaved
    either = Note.objects.visible_to(user) | Note.objects.filter(tenant_id="tnt-c")
    assert either._tenant_parts == ()
    assert {note.tenant_id for note in either.order_by("seq")[:30]} == {"tnt-a", "tnt-b", "tnt-c"}
