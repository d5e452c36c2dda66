"""Rollups: kept on append in the appending transaction, equal to a count over the table, per tenant."""

import random
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enhancelog.models import EnhanceEntry, Review
from enhancelog.stats import dashboard_stats
from ledgerproject.ledger import rollups
from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError
from ledgerproject.ledger.rollups import Rollup
from runs.models import Run, RunEvent
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db

DAY_MS = 86_400_000
TENANTS = (None, "acme", "globex")
AXES = ("des", "canonical", "noop", "agent-ref")


def enhance_row(rng, n, tenant=None):
    verdicts = [
        {"axis": axis, "status": rng.choice(["pass", "deny"]), "detail": ""}
        for axis in rng.sample(AXES, rng.randint(0, 3))
    ]
    rejected = any(v["status"] == "deny" for v in verdicts) or rng.random() < 0.2
    return {
        "issue_id": f"ISS-roll-{n}",
        "blueprint_id": f"bp-{rng.randint(1, 4)}",
        "prev_hash": "a" * 64,
        "new_hash": "" if rejected else "b" * 64,
        "status": EnhanceEntry.REJECTED if rejected else EnhanceEntry.APPLIED,
        "reasons": ["denied"] if rejected else [],
        "verdicts": verdicts,
        "ts_ms": 1_700_000_000_000 + rng.randint(0, 9) * DAY_MS + rng.randint(0, DAY_MS - 1),
        "tenant_id": tenant,
    }


def new_run(tenant):
    return Run.objects.append(
        run_id=uuid.uuid4(),
        spec_digest="c" * 64,
        agent_name="roll",
        tags={},
        created_at=timezone.now(),
        tenant_id=tenant,
    )


def random_appends(rng):
    """Single appends, batches, a batch rolled back after its insert, a refused batch and a conflict."""
    n = 0
    for _ in range(6):
        tenant = rng.choice(TENANTS)
        size = rng.choice([1, 1, 3, 17])
        EnhanceEntry.objects.append_many([enhance_row(rng, n + i, tenant) for i in range(size)])
        n += size
    with pytest.raises(RuntimeError), transaction.atomic():
        EnhanceEntry.objects.append_many([enhance_row(rng, n + i, "acme") for i in range(9)])
        raise RuntimeError("the surrounding transaction fails after the batch was inserted")
    bad = [enhance_row(rng, n + 100), {**enhance_row(rng, n + 101), "prev_hash": "not hex"}]
    with pytest.raises(BatchValidationError):
        EnhanceEntry.objects.append_many(bad)
    with pytest.raises(ConflictError):
        first = EnhanceEntry.objects.order_by("seq").first()
        repeat = {**enhance_row(rng, 0), "issue_id": first.issue_id, "tenant_id": first.tenant_id}
        EnhanceEntry.objects.append_many([enhance_row(rng, n + 200, "globex"), repeat])
    rejected = list(EnhanceEntry.objects.rejected())
    for entry in rng.sample(rejected, min(4, len(rejected))):
        Review.objects.append_many(
            [{"entry": entry, "decision": Review.ACKNOWLEDGED, "comment": ""}] * rng.randint(1, 2)
        )
    for tenant in TENANTS:
        run = new_run(tenant)
        RunEvent.objects.append_events(run, [{"kind": "step"} for _ in range(rng.randint(1, 5))])
    for i in range(5):
        Note.objects.append(key=f"note-roll-{i}", topic="t", body={}, tenant_id=rng.choice(TENANTS) or "")


@pytest.mark.parametrize("seed", [1, 2])
def test_it_matches_a_count_over_the_table_after_random_appends_batches_and_a_failed_batch(seed):
    random_appends(random.Random(seed))
    for model in (EnhanceEntry, Review, Run, RunEvent, Note):
        assert rollups.check(model) == [], model.ledger_name
    # And the figures pages read are the counts over the table, per tenant.
    for tenant in TENANTS:
        kept = Rollup.objects.filter(ledger="enhancelog", tenant=tenant or "")
        by_status = {s: sum(r.n for r in kept.filter(dimension="status", key=s)) for s in ("applied", "rejected")}
        entries = EnhanceEntry.objects.of_tenant(tenant)
        assert by_status == {s: entries.filter(status=s).count() for s in ("applied", "rejected")}
        assert sum(r.n for r in kept.filter(dimension="entries")) == entries.count()
        events = (
            RunEvent.objects.filter(run__tenant_id=tenant) if tenant else RunEvent.objects.filter(run__tenant_id=None)
        )
        assert sum(r.n for r in Rollup.objects.filter(ledger="run_events", tenant=tenant or "")) == events.count()
    reviewed = EnhanceEntry.objects.filter(reviews__isnull=False).distinct().count()
    assert sum(r.n for r in Rollup.objects.filter(ledger="enhancelog-reviews", dimension="reviewed_entry")) == reviewed
    assert not EnhanceEntry.objects.filter(issue_id__startswith=f"ISS-roll-{10**6}").exists()


def test_a_batch_costs_one_rollup_statement_whatever_its_size():
    rng = random.Random(3)
    with CaptureQueriesContext(connection) as captured:
        EnhanceEntry.objects.append_many([enhance_row(rng, i, rng.choice(TENANTS)) for i in range(200)])
    touching = [q["sql"] for q in captured.captured_queries if Rollup._meta.db_table in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("INSERT")
    assert rollups.check(EnhanceEntry) == []


def test_run_events_take_their_tenant_from_the_run_passed_in_without_a_query():
    run = new_run("acme")
    with CaptureQueriesContext(connection) as captured:
        RunEvent.objects.append_events(run, [{"kind": "a", "event_seq": 1}, {"kind": "b", "event_seq": 2}])
    tenant_column = f'"{Run._meta.db_table}"."tenant_id"'
    assert not any(tenant_column in q["sql"] for q in captured.captured_queries)
    assert Rollup.objects.get(ledger="run_events", dimension="entries", tenant="acme").n == 2


def test_rebuild_rollups_repairs_what_verify_ledgers_rollups_reports():
    random_appends(random.Random(4))
    Rollup.objects.filter(ledger="enhancelog", dimension="status").delete()
    Rollup.objects.filter(ledger="enhancelog", dimension="entries").update(n=999)
    out = StringIO()
    with pytest.raises(CommandError, match="rollups differ from the table in: enhancelog"):
        call_command("verify_ledgers", "enhancelog", "--rollups", "--no-progress", stdout=out)
    assert "rollup entries/- on" in out.getvalue() and "stored 999" in out.getvalue()
    call_command("rebuild_rollups", "enhancelog", stdout=StringIO())
    assert rollups.check(EnhanceEntry) == []
    out = StringIO()
    call_command("verify_ledgers", "enhancelog", "--rollups", "--no-progress", stdout=out)
    assert "enhancelog: rollups match the table" in out.getvalue()


def test_the_migration_backfills_entries_stored_before_rollups_existed():
    from django.apps import apps

    random_appends(random.Random(5))
    Rollup.objects.all().delete()
    operation = rollups.backfill("enhancelog.EnhanceEntry", "enhancelog.Review", "runs.RunEvent")
    operation.code(apps, connection.schema_editor())
    for model in (EnhanceEntry, Review, RunEvent):
        assert rollups.check(model) == []
        assert Rollup.objects.filter(ledger=model.ledger_name).exists()


def test_a_tenant_bound_principal_sees_only_its_tenants_aggregates(make_user):
    rng = random.Random(6)
    EnhanceEntry.objects.append_many([enhance_row(rng, i, "acme") for i in range(5)])
    EnhanceEntry.objects.append_many([enhance_row(rng, 10 + i, "globex") for i in range(7)])
    EnhanceEntry.objects.append_many([enhance_row(rng, 20 + i, None) for i in range(2)])
    acme = make_user("roll-acme", roles=["reader"], tenants=["acme"])
    everyone = make_user("roll-all", roles=["reader"], all_tenants=True)
    nobody = make_user("roll-none", roles=["reader"], all_tenants=False)
    assert dashboard_stats("all", acme)["totals"]["all"] == 5
    assert dashboard_stats("all", everyone)["totals"]["all"] == 14
    assert dashboard_stats("all", nobody)["totals"]["all"] == 0
    assert rollups.sizes(acme, ["enhancelog"]) == {"enhancelog": 5}
    acme_rejected = EnhanceEntry.objects.of_tenant("acme").rejected().count()
    assert dashboard_stats("all", acme)["backlog"]["rejected"] == acme_rejected


def test_the_integrity_view_shows_a_tenant_bound_principal_its_tenants_size(client, make_user):
    rng = random.Random(7)
    EnhanceEntry.objects.append_many([enhance_row(rng, i, "acme") for i in range(3)])
    EnhanceEntry.objects.append_many([enhance_row(rng, 10 + i, "globex") for i in range(4)])
    client.force_login(make_user("roll-view", roles=["reader"], tenants=["acme"]))
    html = client.get("/ledgers/").content.decode()
    card = html.split('<article data-ledger="enhancelog">')[1].split("</article>")[0]
    assert "3 entries" in card


def test_the_release_pages_counts_per_name_come_from_rollups_and_match_the_table(client, make_user):
    from releases.models import Release, release_stats

    for tenant in (None, "acme"):
        for version in ("1", "2", "3"):
            Release.objects.promote("roll-agent", spec_digest=version * 64, promoted_by="p", tenant_id=tenant)
        Release.objects.rollback("roll-agent", promoted_by="p", tenant_id=tenant)
    Release.objects.promote("other-agent", spec_digest="4" * 64, promoted_by="p", tenant_id="acme")
    everyone = make_user("rel-all", roles=["reader"], all_tenants=True)
    acme = make_user("rel-acme", roles=["reader"], tenants=["acme"])
    table = Release.objects.stats_by_name()
    assert release_stats(everyone, table) == table
    assert release_stats(acme, ["roll-agent"]) == {"roll-agent": {"entries": 4, "rollbacks": 1}}
    assert release_stats(everyone, ["roll-agent"], tenant=None) == {"roll-agent": {"entries": 4, "rollbacks": 1}}
    assert rollups.check(Release) == []
    client.force_login(acme)
    html = client.get("/releases/roll-agent/").content.decode()
    assert "4 entries" in html and "1 rollback" in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_from_separate_connections_lose_no_count():
    import threading

    from django.db import connections

    if connection.vendor != "postgresql":
        pytest.skip("separate connections appending at once: PostgreSQL")
    writers, barrier, errors = 8, threading.Barrier(8), []

    def write(index):
        try:
            barrier.wait(timeout=30)
            for n in range(3):
                Note.objects.append_many(
                    [{"key": f"conc-{index}-{n}-{i}", "tenant_id": ("acme", "")[i % 2]} for i in range(5)]
                )
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r.n for r in Rollup.objects.filter(ledger="testnotes", dimension="entries")) == writers * 15
    assert rollups.check(Note) == []


def test_key_totals_since_reads_either_side_of_a_window_and_both_equal_a_count(make_user):
    # Rejections on about fourteen months of claimed days, in two tenants: every window start (month
    # starts, mid-month, before and after the data) must total each blueprint as a count of its entries
    # does, read forward (rows since), backward (all time minus the rows before) and as chosen.
    rng = random.Random(7)
    start_ms = 1_700_000_000_000
    rows = []
    for n in range(160):
        row = enhance_row(rng, n, rng.choice(["acme", "globex"]))
        row.update(status=EnhanceEntry.REJECTED, new_hash="", reasons=["denied"])
        row["ts_ms"] = start_ms + rng.randint(0, 430) * DAY_MS + rng.randint(0, DAY_MS - 1)
        rows.append(row)
    EnhanceEntry.objects.append_many(rows)
    acme = make_user("since-acme", roles=["reader"], tenants=["acme"])
    everyone = make_user("since-all", roles=["reader"], all_tenants=True)
    first = rollups.ms_day(start_ms)
    starts = [first - timezone.timedelta(days=40), first.replace(day=1), first]
    starts += [first + timezone.timedelta(days=d) for d in (13, 29, 61, 100, 200, 250, 399, 425, 500)]
    starts += [day.replace(day=1) for day in starts[3:8]]
    dimensions = ("rejected_blueprint", "rejected_blueprint_month", "rejected_blueprint_all")
    for user, entries in ((acme, EnhanceEntry.objects.of_tenant("acme")), (everyone, EnhanceEntry.objects.all())):
        for since in starts:
            since_ms = (since - rollups.EPOCH).days * DAY_MS
            counted = {}
            for blueprint in entries.filter(ts_ms__gte=since_ms).values_list("blueprint_id", flat=True):
                counted[blueprint] = counted.get(blueprint, 0) + 1
            for read in (None, "forward", "backward"):
                found = rollups.key_totals_since(user, ["enhancelog"], *dimensions, since, read=read)
                assert {row["key"]: row["total"] for row in found} == counted, (since, read)
    everything = {
        row["key"]: row["total"] for row in rollups.key_totals_since(everyone, ["enhancelog"], *dimensions, None)
    }
    assert sum(everything.values()) == 160


def test_key_totals_since_reads_the_side_of_the_window_with_fewer_months(make_user):
    everyone = make_user("side-all", roles=["reader"], all_tenants=True)
    rng = random.Random(8)
    start_ms = 1_700_000_000_000
    rows = []
    for n, days in enumerate(range(0, 400, 10)):
        row = enhance_row(rng, n)
        row.update(status=EnhanceEntry.REJECTED, new_hash="", reasons=["denied"], ts_ms=start_ms + days * DAY_MS)
        rows.append(row)
    EnhanceEntry.objects.append_many(rows)
    first = rollups.ms_day(start_ms)
    dimensions = ("rejected_blueprint", "rejected_blueprint_month", "rejected_blueprint_all")

    def read_side(since):
        with CaptureQueriesContext(connection) as captured:
            list(rollups.key_totals_since(everyone, ["enhancelog"], *dimensions, since))
        return "backward" if "rejected_blueprint_all" in captured.captured_queries[-1]["sql"] else "forward"

    assert read_side(first + timezone.timedelta(days=30)) == "backward"  # 1 month before it, 12 after
    assert read_side(first + timezone.timedelta(days=370)) == "forward"  # 12 months before it, 1 after


def test_its_dimensions_sharing_a_day_function_compute_each_entrys_day_once():
    import datetime
    from types import SimpleNamespace

    calls = []

    def day(entry):
        calls.append(entry.n)
        return datetime.date(2026, 1, entry.n)

    class Ledger:
        tenant_field = None
        rollups = (
            rollups.Dimension("a", "k", day=day),
            rollups.Dimension("b", lambda entry: [entry.k, "x"], day=day),
            rollups.Dimension("never", lambda entry: None, day=day),
        )

    moment = timezone.now()
    entries = [SimpleNamespace(n=n, k=f"k{n % 2}", recorded_at=moment) for n in (1, 2, 3, 3)]
    found = rollups.counts(Ledger, entries, "default")
    assert calls == [1, 2, 3, 3]  # once per entry, not once per dimension (and never for no key)
    today = moment.astimezone(datetime.UTC).date()
    assert found == {
        ("entries", today, "", ""): 4,
        **{("a", datetime.date(2026, 1, n), "", f"k{n % 2}"): 1 for n in (1, 2)},
        ("a", datetime.date(2026, 1, 3), "", "k1"): 2,
        **{("b", datetime.date(2026, 1, n), "", f"k{n % 2}"): 1 for n in (1, 2)},
        **{("b", datetime.date(2026, 1, n), "", "x"): 1 for n in (1, 2)},
        ("b", datetime.date(2026, 1, 3), "", "k1"): 2,
        ("b", datetime.date(2026, 1, 3), "", "x"): 2,
    }


def test_its_counts_equal_a_count_entry_by_entry_whatever_the_keys():
    """Text keys, several keys per entry (list, tuple, set), no key, and keys that are not text (stored as text),
    counted per (dimension, day, tenant, key): the batch's groups, as one entry after another would add up."""
    import datetime
    import types

    days = [datetime.date(2026, 1, 1), datetime.date(2026, 1, 2)]
    model = types.SimpleNamespace(
        ledger_name="fake",
        tenant_field=None,
        rollups=(
            rollups.Dimension("text", "k", day=lambda entry: entry.day),
            rollups.Dimension("several", lambda entry: entry.axes, day=lambda entry: entry.day),
            rollups.Dimension("number", lambda entry: entry.n, day=rollups.monthly(lambda entry: entry.day)),
            rollups.Dimension("sometimes", lambda entry: entry.k if entry.n % 3 else None, day=rollups.all_time),
            rollups.Dimension("mixed", lambda entry: entry.k if entry.n % 2 else entry.n),
        ),
    )
    rng = random.Random(7)
    moment = timezone.now()
    entries = [
        types.SimpleNamespace(
            recorded_at=moment,
            day=rng.choice(days),
            k=rng.choice(["a", "b", "ü"]),
            n=rng.randint(0, 5),
            axes=rng.choice([[], ["des"], ("des", "noop"), {"noop", "canonical"}, ["des", "des"]]),
        )
        for _ in range(300)
    ]
    assert rollups.counts(model, entries, "default") == _count_entry_by_entry(model, entries)


def _count_entry_by_entry(model, entries):
    from collections import Counter

    expected = Counter()
    for entry in entries:
        for dim in rollups.dimensions(model):
            key = dim.key(entry)
            if key is None:
                continue
            for one in key if isinstance(key, (list, tuple, set, frozenset)) else [key]:
                expected[(dim.name, dim.day(entry), "", one if type(one) is str else str(one))] += 1
    return expected


@pytest.mark.parametrize(
    "choices",
    [
        [(), ("des",), ("des", "noop"), ("des", "des"), None],  # text tuples: counted a group at a time
        [("des",), (1,), (True,), (1.0, "des"), ("des", "noop")],  # 1, True and 1.0 are one dict key, three texts
    ],
    ids=["text tuples", "tuples of numbers"],
)
def test_entries_with_several_keys_in_tuples_count_as_entry_by_entry(choices):
    import datetime
    import types

    calls = []

    def axes(entry):
        calls.append(entry)
        return entry.axes

    model = types.SimpleNamespace(
        ledger_name="fake",
        tenant_field=None,
        rollups=(
            rollups.Dimension("axis", axes, day=lambda entry: entry.day),
            rollups.Dimension("axis_month", axes, day=rollups.monthly(lambda entry: entry.day)),
        ),
    )
    rng = random.Random(11)
    moment = timezone.now()
    days = [datetime.date(2026, 1, 1), datetime.date(2026, 2, 2)]
    entries = [
        types.SimpleNamespace(recorded_at=moment, day=rng.choice(days), axes=rng.choice(choices)) for _ in range(200)
    ]
    found = rollups.counts(model, entries, "default")
    assert len(calls) == len(entries)  # a key function two dimensions share is called once per entry
    assert found == _count_entry_by_entry(model, entries)
