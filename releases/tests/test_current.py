"""The current release per (tenant, name) kept as derived state: it always agrees with the entries, and reads answer from it."""

import importlib
import io
import random
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, isolate_apps

from ledgerproject.ledger import latest
from ledgerproject.ledger.exceptions import StateConflictError
from releases.models import CurrentRelease, Release
from releases.tests.conftest import digest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/releases/"


def from_entries():
    """{(tenant or "", name): (seq, promoted_by, spec_digest, action)} of each pair's newest entry, computed in
    Python from every entry in seq order: what the current-release rows must hold."""
    found = {}
    for entry in Release.objects.order_by("seq"):
        found[(entry.tenant_id or "", entry.name)] = (entry.seq, entry.promoted_by, entry.spec_digest, entry.action)
    return found


def stored():
    return {
        (row.tenant, row.name): (row.entry_id, row.promoted_by, row.spec_digest, row.action)
        for row in CurrentRelease.objects.all()
    }


def assert_agrees():
    expected = from_entries()
    assert stored() == expected
    assert {(r.tenant_id or "", r.name): r.seq for r in Release.objects.currents()} == {
        key: values[0] for key, values in expected.items()
    }
    assert latest.check(CurrentRelease) == []
    for name in {name for _, name in expected}:  # current(name) answers as the newest entry of the name would
        assert Release.objects.current(name) == Release.objects.history(name).first()
        for tenant in (None, "acme", "globex"):
            mine = Release.objects.of_tenant(tenant)
            assert mine.current(name) == mine.history(name).first()


def test_it_keeps_the_current_rows_equal_to_the_entries_through_random_promotes_and_rollbacks():
    rng = random.Random(12)
    names, tenants, promoters = ("alpha", "beta", "gamma"), (None, "acme", "globex"), ("ci", "mira", "olu")
    refused = 0
    for step in range(80):
        name, tenant = rng.choice(names), rng.choice(tenants)
        try:
            if rng.random() < 0.35:
                Release.objects.rollback(name, tenant_id=tenant, promoted_by=rng.choice([None, *promoters]))
            elif rng.random() < 0.1:  # built on a stale current release: refused, nothing written
                Release.objects.promote(
                    name, digest(f"s{step}"), "ci", expected_current=digest("never"), tenant_id=tenant
                )
            else:
                Release.objects.promote(
                    name,
                    digest(f"s{rng.randrange(4)}"),
                    rng.choice(promoters),
                    tenant_id=tenant,
                    version_label=f"v{step}",
                )
        except (Release.DoesNotExist, StateConflictError):
            refused += 1
        assert_agrees()
    assert refused and len(stored()) == 9 and Release.objects.rollbacks().exists()


def test_it_keeps_them_for_a_batch_of_several_names_and_not_for_a_refused_one():
    first = Release.objects.append_many(
        [
            {"name": "alpha", "spec_digest": digest("a1"), "promoted_by": "ci"},
            {"name": "beta", "spec_digest": digest("b1"), "promoted_by": "mira", "tenant_id": "acme"},
        ]
    )
    assert_agrees()
    assert set(stored()) == {("", "alpha"), ("acme", "beta")}
    before = stored()
    with pytest.raises(StateConflictError):  # the second is built on no release, but beta has one: all refused
        Release.objects.append_many(
            [
                {"name": "alpha", "spec_digest": digest("a2"), "promoted_by": "ci", "supersedes": first[0]},
                {"name": "beta", "spec_digest": digest("b2"), "promoted_by": "ci", "tenant_id": "acme"},
            ]
        )
    assert stored() == before
    with pytest.raises(ValidationError):
        Release.objects.promote("alpha", "not-a-digest", "ci")
    assert stored() == before
    assert_agrees()


def test_a_rolled_back_transaction_leaves_the_current_rows_as_they_were(make_release):
    make_release("alpha", "v1")
    before = stored()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_release("alpha", "v2")
        assert stored()[("", "alpha")][2] == digest("v2")
        raise RuntimeError("roll back")
    assert stored() == before
    assert_agrees()


def test_its_migration_fills_the_rows_from_the_entries(make_release):
    from django.apps import apps

    migration = importlib.import_module("releases.migrations.0009_current_release")
    make_release("alpha", "v1")
    make_release("alpha", "v2", promoted_by="mira")
    make_release("alpha", "v1", tenant_id="acme")
    make_release("beta", "v1")
    Release.objects.rollback("alpha")
    CurrentRelease.objects.all().delete()  # as before the migration
    assert latest.check(CurrentRelease) != []

    with transaction.atomic():  # what the migration's RunPython gets: its schema editor's connection
        migration.BACKFILL.forwards(apps, SimpleNamespace(connection=connection))

    assert_agrees()
    assert stored()[("", "alpha")][1:] == ("ci", digest("v1"), "rollback")  # the restored entry's promoter


def test_rebuild_rollups_rebuilds_the_current_rows_and_verify_ledgers_finds_a_drift(make_release):
    make_release("alpha", "v1")
    make_release("alpha", "v2")
    make_release("beta", "v1", tenant_id="acme")
    stale = Release.objects.get(name="alpha", version_label="v1")
    CurrentRelease.objects.filter(name="alpha").update(entry=stale, spec_digest=stale.spec_digest)
    CurrentRelease.objects.filter(name="beta").delete()

    out = io.StringIO()
    with pytest.raises(CommandError, match="releases"):
        call_command("verify_ledgers", "releases", "--rollups", stdout=out)
    assert "current rows" in out.getvalue()

    call_command("rebuild_rollups", "releases", stdout=out)
    assert "2 current rows" in out.getvalue()
    assert_agrees()
    call_command("verify_ledgers", "releases", "--rollups", stdout=io.StringIO())


def test_the_list_filters_answer_as_a_filter_of_the_entries_would(writer_api, make_release):
    make_release("alpha", "v1", promoted_by="mira")
    make_release("alpha", "v2", promoted_by="olu")  # mira's alpha is no longer current
    make_release("beta", "v1", promoted_by="mira")
    make_release("gamma", "v1", promoted_by="olu")
    make_release("gamma", "v2", promoted_by="olu")
    Release.objects.rollback("gamma", promoted_by="mira")
    newest = {key: Release.objects.get(seq=values[0]) for key, values in from_entries().items()}

    def listed(query):
        response = writer_api.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    def expected(keep):
        return sorted(entry.name for entry in newest.values() if keep(entry))

    assert listed("promoted_by=mira") == expected(lambda e: e.promoted_by == "mira") == ["beta", "gamma"]
    assert listed("promoted_by=olu") == expected(lambda e: e.promoted_by == "olu") == ["alpha"]
    assert listed("action=rollback") == expected(lambda e: e.action == "rollback") == ["gamma"]
    assert listed(f"spec_digest={digest('v1').upper()}") == expected(lambda e: e.spec_digest == digest("v1"))
    assert listed("name=alpha") == ["alpha"] and listed("q=MM") == ["gamma"]
    assert listed("promoted_by=nobody") == []


def test_a_tenant_sees_only_its_own_current_releases_through_the_filters(make_user, client_for, make_release):
    make_release("shared", "v1", promoted_by="ci", tenant_id="acme")
    make_release("shared", "v2", promoted_by="ci", tenant_id="globex")
    make_release("shared", "v3", promoted_by="ci")
    make_release("other", "v1", promoted_by="ci", tenant_id="globex")
    acme = client_for(make_user("acme-reader", roles=["reader"], tenants=["acme"]))
    everyone = client_for(make_user("root-reader", roles=["reader"], all_tenants=True))

    rows = acme.get(f"{BASE}?promoted_by=ci").json()["results"]
    assert [(row["name"], row["metadata"]["version_label"]) for row in rows] == [("shared", "v1")]
    rows = everyone.get(f"{BASE}?promoted_by=ci").json()["results"]
    assert sorted(row["metadata"]["version_label"] for row in rows) == ["v1", "v1", "v2", "v3"]
    assert Release.objects.name_window(make_user("nobody", roles=["reader"], tenants=["initech"])) == []
    assert acme.get(f"{BASE}shared/").json()["metadata"]["version_label"] == "v1"


def test_the_list_pages_through_the_current_releases_in_name_order(writer_api, make_release):
    for number in range(7):
        make_release(f"agent-{number}", "v1", promoted_by="ci")
        make_release(f"agent-{number}", "v2", promoted_by="ci" if number % 2 else "mira")
    seen, url = [], f"{BASE}?promoted_by=ci&page_size=2"
    while url:
        body = writer_api.get(url).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]
    assert seen == ["agent-1", "agent-3", "agent-5"]
    # A cursor this list did not write is a 400 naming it, never a database error.
    assert writer_api.get(f"{BASE}?cursor=cD0lMDA%3D").status_code == 400


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_promotes_and_rollbacks_of_several_names_leave_each_names_newest_entry_current(monkeypatch):
    from releases.tests.test_models import _race

    for name in ("alpha", "beta"):
        for label in ("v1", "v2"):
            Release.objects.promote(name, digest(label), "ci", tenant_id="acme")

    calls = [
        lambda name=name, label=label: Release.objects.promote(name, digest(label), label, tenant_id="acme")
        for name in ("alpha", "beta")
        for label in ("x", "y")
    ]
    calls += [lambda: Release.objects.rollback("alpha", tenant_id="acme")]
    results = _race(monkeypatch, calls)

    assert all(isinstance(r, Release) for r in results), results
    assert_agrees()
    assert {row.name: row.entry_id for row in CurrentRelease.objects.all()} == {
        name: Release.objects.filter(name=name).order_by("-seq").first().seq for name in ("alpha", "beta")
    }


def test_its_upsert_keeps_a_batchs_last_entry_per_key_and_never_goes_back_to_an_older_one(make_release):
    first, second = make_release("alpha", "v1"), make_release("alpha", "v2")
    other = make_release("beta", "v1", tenant_id="acme")

    sql, params = latest.statement(CurrentRelease, [second, other, first], connection)
    assert sql.count("(%s, %s, %s, %s, %s, %s)") == 2  # one row per (name, tenant): alpha's last is `first`
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # an older entry than the stored one: the row stays
    assert CurrentRelease.objects.get(name="alpha").entry_id == second.seq
    assert_agrees()


@isolate_apps("releases")
def test_the_system_check_refuses_a_latest_entry_model_that_could_not_be_kept_on_append():
    from django.db import models

    from ledgerproject.ledger.checks import check_ledger_models

    assert [error for error in check_ledger_models() if error.id == "ledger.E025"] == []

    class NoConflictTarget(latest.LatestEntry):
        latest_key = ("name",)
        entry = models.OneToOneField(Release, on_delete=models.PROTECT, related_name="+")
        name = models.CharField(max_length=256)
        colour = models.CharField(max_length=8)

    class NotALedger(latest.LatestEntry):
        entry = models.OneToOneField(CurrentRelease, on_delete=models.PROTECT, related_name="+")

    assert latest.problems(NoConflictTarget) == [
        "releases.NoConflictTarget.colour copies no field of releases.Release",
        "releases.NoConflictTarget needs a UniqueConstraint on ['name', 'tenant']: its UPSERT's conflict target",
    ]
    assert latest.problems(NotALedger) == ["releases.NotALedger.entry is not a one-to-one key into a ledger model"]
    assert latest.problems(CurrentRelease) == []


def test_a_tenants_list_narrows_the_current_rows_to_its_tenants_before_reading_entries(
    make_user, client_for, make_release
):
    make_release("shared", "v1", tenant_id="acme")
    make_release("shared", "v2", tenant_id="globex")
    acme = client_for(make_user("acme-lister", roles=["reader"], tenants=["acme"]))

    with CaptureQueriesContext(connection) as captured:
        rows = acme.get(f"{BASE}?promoted_by=ci").json()["results"]
    assert [row["metadata"]["version_label"] for row in rows] == ["v1"]
    [sql] = [q["sql"] for q in captured.captured_queries if '"releases_currentrelease"' in q["sql"]]
    assert '"releases_currentrelease"."tenant" IN' in sql
