"""A tenant-bound principal's reads go through its tenant's entries, at any size: every URL pattern (API and its
exports, pages, admin), for every ledger, asked by a principal of one tenant, reads no ledger by walking an index
whole while other tenants' entries are dropped. A list added without its tenant's index fails here."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from ledgerproject.ledger.management.commands.load_demo import demo_modules
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.tenant_world import build_world
from ledgerproject.ledger.tests.test_admin_reads import SEARCH_PLANNING, _plans, unbounded_reads
from ledgerproject.ledger.tests.test_tenancy_routes import ROUTES, sample

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TABLES = sorted({model._meta.db_table for model in ledger_models()})


@pytest.fixture(scope="module")
def crowded_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The two tenants' entries among every demo set's (hundreds of entries with other tenants or none), the tables'
    statistics taken of it: the planner sees one tenant's entries as the few they are in a big ledger. Built once,
    inside a transaction rolled back after (the statistics with it; the table sizes PostgreSQL keeps beside them stay,
    as after any load); a plan no longer depends on what the tables held
    when an earlier test's statistics were taken."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=str(media)), django_db_blocker.unblock(), transaction.atomic():
        for _app, module in demo_modules():
            module.load(seed=20261201)
        world = build_world()
        with connection.cursor() as cursor:
            # The project's tables only: a database-wide ANALYZE also takes the shared catalogs, which every other
            # worker's database shares, and would hold them until this module ends.
            tables = ", ".join(map(connection.ops.quote_name, connection.introspection.table_names(cursor)))
            cursor.execute(f"ANALYZE {tables}")
        yield world
        transaction.set_rollback(True)


@pytest.fixture
def red(crowded_world, db):
    """The red tenant's ids and a client signed in as red's own principal (every role, bound to red's tenant)."""
    client = Client()
    client.force_login(get_user_model().objects.get(username="rdx-writer"))
    return crowded_world[0], client


def _paths(route, ledger, ids):
    """The route's sample and, when the sample filters, the unfiltered list as well; each export of an API path."""
    path = sample(route, ledger, ids)
    paths = [path] if "?" not in path else [path, path.split("?")[0]]
    if path.startswith("/api/v1/"):
        paths += [f"{each}{'&' if '?' in each else '?'}format={fmt}" for each in paths for fmt in ("jsonl", "csv")]
    return paths


def _statements(client, path):
    """Every statement answering GET `path`, a streamed body read to its end."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    assert response.status_code != 500, path
    return [query["sql"] for query in captured.captured_queries]


def walked_reads(statements):
    """What each statement reading a ledger's table does other than read through an index's conditions or in an
    index's order, planned as on a big table (sequential scans and hash and merge joins priced out)."""
    problems = []
    for table in TABLES:
        for sql, plan in _plans(statements, table, SEARCH_PLANNING):
            problems += [f"{table}: {problem}\n    {sql[:400]}" for problem in unbounded_reads(plan, table)]
    return problems


@pytest.mark.parametrize(("route", "ledger"), ROUTES, ids=[f"{r} {ledger or ''}".strip() for r, ledger in ROUTES])
def test_a_tenant_bound_principals_reads_go_through_its_tenants_entries(red, route, ledger):
    ids, client = red
    problems = [
        f"GET {path}: {problem}"
        for path in _paths(route, ledger, ids)
        for problem in walked_reads(_statements(client, path))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "table", "index"),
    [
        ("/api/v1/logs/", "logchain_logrecord", "logchain_tenant_seq"),
        ("/api/v1/enhances/", "enhancelog_enhanceentry", "enhancelog_tenant_ts"),
        ("/runs/", "runs_run", "runs_run_tenant_newest"),
        ("/admin/runs/output/", "runs_output", "runs_output_tenant_seq"),
        ("/admin/releases/release/", "releases_release", "releases_tenant_seq"),
    ],
)
def test_the_check_fails_for_a_list_without_its_tenants_index(red, path, table, index):
    """Without the tenant's index, the principal's list walks every tenant's entries, and the check says so."""
    _ids, client = red
    assert walked_reads(_statements(client, path)) == []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{index}"')
        problems = walked_reads(_statements(client, path))
        transaction.set_rollback(True)
    # The read named, not the statement printed under it (which names the tenant column anyway).
    found = [problem.split("\n")[0] for problem in problems]
    assert any(line.startswith(f"{table}: ") and "tenant_id" in line for line in found), problems
