"""The release reads that pages and lists run: which rows they give, and that an index serves each on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from releases.models import Release

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
    assert any(index in plan for _, plan in found for index in indexes), (path, [plan for _, plan in found])


@pytest.mark.postgres
def test_the_release_reads_are_index_served_on_postgresql(client, make_user, make_release):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    for name in ("alpha", "beta"):
        make_release(name, "v1", promoted_by="bench")
        make_release(name, "v2", promoted_by="bench")
        Release.objects.rollback(name)
    client.force_login(make_user("plans", roles=["reader"], all_tenants=True))

    # The current release per name: one probe of the newest entry per name the rollups list.
    served("/releases/", client, "releases_name_seq")
    served("/api/v1/releases/", client, "releases_name_seq")
    served("/api/v1/releases/?promoted_by=bench", client, "releases_name_seq")
    # The recent rollbacks on the home page: a range of the (action, recorded_at) index, or (with a
    # handful of rows the two cost the same to the planner) the primary key walked from the newest.
    served("/", client, "releases_action_recorded", "releases_release_pkey")
