"""The release reads that pages and lists run: which rows they give, and that an index serves each on PostgreSQL."""

import datetime
import importlib
import re
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ledgerproject.ledger import rollups
from ledgerproject.ledger.clock import backdated
from ledgerproject.ledger.rollups import ALL_TIME, Rollup
from releases.models import Release
from releases.tests.conftest import digest

pytestmark = pytest.mark.django_db

TABLE = Release._meta.db_table


def test_currents_give_each_tenants_current_of_a_shared_name(make_release):
    make_release("shared", "v1", tenant_id="acme")
    make_release("shared", "v2", tenant_id="acme")
    make_release("shared", "v3", tenant_id="globex")
    make_release("shared", "v4")
    make_release("solo", "v1", tenant_id="acme")
    Release.objects.rollback("shared", tenant_id="acme")

    currents = {(r.tenant_id, r.name): r.version_label for r in Release.objects.currents()}

    assert currents == {
        ("acme", "shared"): "v1",
        ("globex", "shared"): "v3",
        (None, "shared"): "v4",
        ("acme", "solo"): "v1",
    }


def test_currents_combine_with_filters_and_the_tenant_scope(make_release, make_user):
    make_release("alpha", "v1", promoted_by="mira")
    make_release("alpha", "v2", promoted_by="olu")
    make_release("beta", "v1", promoted_by="mira", tenant_id="acme")
    acme = make_user("acme-reader", roles=["reader"], tenants=["acme"])

    assert [r.name for r in Release.objects.currents().filter(promoted_by="mira")] == ["beta"]
    assert [r.name for r in Release.objects.visible_to(acme).currents()] == ["beta"]


def analyze():
    """Fresh planner statistics of the release tables: the planner then prices them from the rows this test
    made, whatever an earlier test on the same database left (a few rows once analyzed make walking every
    entry look cheaper than probing the page's keys)."""
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{TABLE}", "releases_currentrelease"')


def with_history(make_release, names, versions):
    """`versions` promotions of each name, analyzed: a history deep enough that probing a page's keys is
    the cheaper plan, as it is at any real size."""
    for version in range(versions):
        for name in names:
            make_release(name, f"v{version}")
    analyze()


def plans(sqls):
    """EXPLAIN of each SELECT on the release table, with sequential scans priced out (so a Seq Scan
    in a plan means no index can serve the query)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql in sqls:
                if sql.startswith("SELECT") and f'"{TABLE}"' in sql:
                    cursor.execute("EXPLAIN " + sql)
                    found.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        finally:
            cursor.execute("SET enable_seqscan = on")
    return found


def served(path, client, *indexes):
    """The page's release queries plan no Seq Scan, and one of them uses one of `indexes`."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    found = plans(query["sql"] for query in captured.captured_queries)
    assert found, path
    for sql, plan in found:
        assert f"Seq Scan on {TABLE}" not in plan, (sql, plan)
        assert "Seq Scan on releases_currentrelease" not in plan, (sql, plan)
    assert any(index in plan for _, plan in found for index in indexes), (path, [plan for _, plan in found])


@pytest.mark.postgres
def test_the_release_reads_are_index_served_on_postgresql(client, make_user, make_release):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    with_history(make_release, [f"name-{number:02d}" for number in range(12)], 10)
    for name in ("alpha", "beta"):
        make_release(name, "v1", promoted_by="bench")
        make_release(name, "v2", promoted_by="bench")
        Release.objects.rollback(name)
    analyze()
    client.force_login(make_user("plans", roles=["reader"], all_tenants=True))

    # The current release per name: the current-release rows read by an index of theirs (name order, or the
    # filter's column), each joined to its entry by the release table's primary key.
    served("/releases/", client, "releases_current_name_tenant")
    served("/api/v1/releases/?promoted_by=bench", client, "releases_current_promoted_by")
    served(f"/api/v1/releases/?spec_digest={digest('v1')}", client, "releases_current_spec")
    served("/api/v1/releases/?action=rollback", client, "releases_current_action")
    for path in ("/releases/", "/api/v1/releases/?promoted_by=bench"):
        served(path, client, "releases_release_pkey")
    # The recent rollbacks on the home page: a range of the (action, recorded_at) index, or (with a
    # handful of rows the two cost the same to the planner) the primary key walked from the newest.
    served("/", client, "releases_action_recorded", "releases_release_pkey")


def test_it_keeps_one_rollup_row_per_tenant_and_name_whatever_the_days(make_release, client, make_user):
    start = timezone.now() - datetime.timedelta(days=3)
    for day in range(3):  # three recorded days: three daily rows, one all-time row
        with backdated(start + datetime.timedelta(days=day)):
            make_release("alpha", f"v{day}")
    make_release("alpha", "v3", tenant_id="acme")
    Release.objects.rollback("alpha")

    names = Rollup.objects.filter(ledger="releases", dimension="name_all")
    assert sorted(names.values_list("tenant", "key", "day", "n")) == [
        ("", "alpha", ALL_TIME, 4),
        ("acme", "alpha", ALL_TIME, 1),
    ]
    assert Rollup.objects.filter(ledger="releases", dimension="name", tenant="").count() == 4
    assert rollups.check(Release) == []
    currents = {(r.tenant_id, r.name): r.version_label for r in Release.objects.currents()}
    assert currents == {(None, "alpha"): "v1", ("acme", "alpha"): "v3"}
    client.force_login(make_user("stats", roles=["reader"], all_tenants=True))
    row = next(r for r in client.get("/releases/").context["rows"] if r.tenant_id is None)
    assert row.stats == {"entries": 5, "rollbacks": 1}  # the page counts the name over the tenants it may see


def test_its_migration_sums_the_daily_rows_into_one_row_per_name(make_release):
    from django.apps import apps

    migration = importlib.import_module("releases.migrations.0008_name_totals")
    start = timezone.now() - datetime.timedelta(days=2)
    for day in range(2):
        with backdated(start + datetime.timedelta(days=day)):
            make_release("alpha", f"v{day}")
            make_release("beta", f"v{day}")
    Rollup.objects.filter(ledger="releases", dimension="name_all").delete()  # as before the migration
    assert rollups.check(Release) != []

    with transaction.atomic():  # what the migration's RunPython gets: its schema editor's connection
        migration.SUM_DAYS.forwards(apps, SimpleNamespace(connection=connection))

    assert rollups.check(Release) == []
    assert dict(Rollup.objects.filter(dimension="name_all").values_list("key", "n")) == {"alpha": 2, "beta": 2}


def entry_probes(sql):
    """How many entries EXPLAIN ANALYZE of `sql` (sequential scans priced out) reads by their key."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("SET enable_seqscan = on")
    reads = re.findall(r"(?:using|Bitmap Index Scan on) releases_release_pkey\b[^\n]*rows=(\d+) loops=(\d+)\)", plan)
    assert reads, plan
    return max(int(rows) * int(loops) for rows, loops in reads), plan


@pytest.mark.postgres
@pytest.mark.parametrize(
    "path", ["/releases/?page_size=3", "/api/v1/releases/?page_size=3", "/api/v1/releases/?page_size=3&promoted_by=ci"]
)
def test_a_page_of_current_releases_reads_only_the_entries_it_can_hold(path, client, make_user, make_release):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    with_history(make_release, [f"agent-{number:02d}" for number in range(12)], 10)
    client.force_login(make_user("probes", roles=["reader"], all_tenants=True))
    first = client.get(path)
    following = (
        "/releases/" + first.context["page"].next_query if path.startswith("/releases/") else first.json()["next"]
    )
    for url in (path, following):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        [sql] = [
            q["sql"]
            for q in captured.captured_queries
            if '"releases_currentrelease"' in q["sql"] and f'"{TABLE}"' in q["sql"]
        ]
        # One read of an entry per row of the page (3, + 1 to see more, + the cursor's own name on the index
        # page), not one per name of the ledger: the current-release rows are read in name order first.
        probes, plan = entry_probes(sql)
        assert probes <= 5, plan
