"""Every ledger's admin list reads through an index, at any size: its default order, each column it sorts by, its
search by id and by word. A ledger added without an admin, or an admin that sorts or searches by a column no index
serves, fails here."""

import json
import uuid

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db import connection, models, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledgerproject.ledger.admin import ReadOnlyLedgerAdmin, index_ordered_fields, search_help
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.test_route_walk import stored, stored_world  # noqa: F401 (fixtures)

LEDGERS = ledger_models()
# Every ledger's admin and every admin of a view of a ledger (a proxy: enhancelog's review queue).
ADMINS = sorted(
    (model for model, model_admin in admin.site._registry.items() if isinstance(model_admin, ReadOnlyLedgerAdmin)),
    key=lambda model: model._meta.label,
)


def _admin_of(model):
    model_admin = admin.site._registry.get(model)
    assert isinstance(model_admin, ReadOnlyLedgerAdmin), f"{model._meta.label} has no read-only ledger admin"
    return model_admin


# What a big table's plan does, made the planner's choice on a small one: sequential scans, hash and merge joins
# priced out (a page of a big ledger is read in index order, each row's relation probed by its index); sorting
# too, except under a search (whose matches, found through index conditions, are sorted).
LIST_PLANNING = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin", "enable_sort")
SEARCH_PLANNING = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")


def _plans(sqls, table, planning):
    """The JSON plan of each SELECT that reads `table`, with the `planning` settings off."""
    found = []
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in planning:
            cursor.execute(f"SET LOCAL {setting} = off")
        for sql in sqls:
            if sql.startswith("SELECT") and f'"{table}"' in sql:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                plan = cursor.fetchone()[0]
                found.append((sql, plan if isinstance(plan, list) else json.loads(plan)))
        transaction.set_rollback(True)
    return found


def unbounded_reads(plan, table):
    """What in `plan` reads `table` other than through an index's conditions or in an index's order (which a page's
    LIMIT stops): a sequential scan, or an index walked without a condition while a filter drops rows or a sort
    waits for all of them."""
    problems = []

    def visit(node, sorted_above):
        kind = node["Node Type"]
        if kind == "Sort":  # an Incremental Sort keeps the index's order and stops with the LIMIT
            sorted_above = True
        if node.get("Relation Name") == table:
            walked = kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
            if kind == "Seq Scan":
                problems.append("a sequential scan")
            elif walked and "Filter" in node:
                problems.append(f"{node['Index Name']} walked whole, rows dropped by {node['Filter']}")
            elif walked and sorted_above:
                problems.append(f"{node['Index Name']} walked whole and sorted")
        for child in node.get("Plans", ()):
            visit(child, sorted_above)

    visit(plan[0]["Plan"], False)
    return problems


def _absent_value(model, path):
    """A value of `path`'s kind that no entry holds."""
    field = get_fields_from_path(model, path)[-1]
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.IntegerField):
        return 987_654_321
    return "absent-id"


def _stored_value(model, path):
    """A stored value of `path`, the one the fewest entries hold (as most ids are in a big ledger)."""
    held = model._base_manager.exclude(**{f"{path}__isnull": True}).values(path).annotate(entries=Count("pk"))
    fewest = held.order_by("entries", path).first()
    return fewest[path] if fewest else None


def test_every_ledger_has_a_read_only_admin():
    assert [model for model in LEDGERS if model not in ADMINS] == []


@pytest.mark.postgres
@pytest.mark.parametrize("model", ADMINS, ids=[model._meta.label for model in ADMINS])
def test_every_ledger_admin_list_reads_through_an_index(stored, client, make_user, model, monkeypatch):  # noqa: F811
    from ledgerproject.ledger import admin as ledger_admin

    model_admin = _admin_of(model)
    client.force_login(make_user("admin-reads", superuser=True))
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    default = client.get(changelist)
    sortable, columns = default.context["cl"].sortable_by, default.context["cl"].list_display
    cases = {"": ({}, (), LIST_PLANNING)}
    # Every column, sortable or not: a URL may ask any (the changelist's "o" counts its columns from 0, the actions'
    # checkbox included), and only the sortable ones may sort the list.
    for number, name in enumerate(columns):
        which = "sorted by" if name in sortable else "asked to sort by"
        cases[f"{which} {name}"] = ({"o": str(number)}, (), LIST_PLANNING)
        cases[f"{which} {name}, descending"] = ({"o": f"-{number}"}, (), LIST_PLANNING)
    for field in model_admin.search_fields:  # each search field alone: every branch of a search is index-served
        # An id no entry holds: the planner then sees it as rare, as one id among a big ledger's is.
        value = _absent_value(model, field.removeprefix("=")) if field.startswith("=") else "a"
        cases[f"searched by {field}"] = ({"q": str(value)}, (field,), SEARCH_PLANNING)
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{model._meta.db_table}"')
    monkeypatch.setattr(ledger_admin, "TEXT_SEARCH_WINDOW", 2)  # the newest entries, as in a big ledger: a few
    table = model._meta.db_table
    for label, (query, search_fields, planning) in cases.items():
        if search_fields:
            monkeypatch.setattr(model_admin, "search_fields", search_fields)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(changelist, query)
        assert response.status_code == 200, (label, response.status_code)
        plans = _plans([captured_query["sql"] for captured_query in captured.captured_queries], table, planning)
        assert plans, (label, "the list read nothing from its table")
        for sql, plan in plans:
            problems = unbounded_reads(plan, table)
            assert not problems, (model.ledger_name, label, problems, sql)


def test_a_list_sorts_only_by_columns_an_index_reads_in_order(db, rf):
    from experience.models import ExperienceEvent

    sortable = set(_admin_of(ExperienceEvent).get_sortable_by(rf.get("/")))
    # The primary key, the event id's unique index, the tenant's, the kind's and the recorded time's serve a sort;
    # the optional ids' partial indexes leave out the events without one, and the claimed time as sent has none.
    assert sortable == {"seq", "event_id", "kind", "tenant_id", "recorded_at"}
    assert "correlation_id" not in index_ordered_fields(ExperienceEvent)


def test_a_relation_or_a_proxy_sorts_as_its_ledgers_indexes_allow(db):
    from enhancelog.models import EnhanceEntry, UnreviewedRejection
    from runs.models import RunEvent

    # The run's column leads the unique (run, event_seq) index, but sorting by a relation sorts by the related row.
    assert "run" not in index_ordered_fields(RunEvent) and "event_seq" not in index_ordered_fields(RunEvent)
    assert index_ordered_fields(UnreviewedRejection) == index_ordered_fields(EnhanceEntry)
    assert {"issue_id", "blueprint_id", "ts_ms"} <= index_ordered_fields(EnhanceEntry)


@pytest.mark.parametrize("model", ADMINS, ids=[model._meta.label for model in ADMINS])
def test_a_column_that_may_not_sort_the_list_is_not_sorted_by_even_when_asked(stored, client, make_user, model):  # noqa: F811
    _admin_of(model)
    client.force_login(make_user("admin-order", superuser=True))
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    default = client.get(changelist)
    sortable, columns = default.context["cl"].sortable_by, default.context["cl"].list_display
    shown = [entry.pk for entry in default.context["cl"].result_list]
    for number, name in enumerate(columns):
        if name not in sortable:
            for order in (str(number), f"-{number}"):
                response = client.get(changelist, {"o": order})
                assert response.status_code == 200
                assert [entry.pk for entry in response.context["cl"].result_list] == shown, (name, order)


@pytest.mark.parametrize("model", ADMINS, ids=[model._meta.label for model in ADMINS])
def test_a_search_finds_exactly_the_entries_of_an_id(stored, client, make_user, model):  # noqa: F811
    model_admin = _admin_of(model)
    client.force_login(make_user("admin-search", superuser=True))
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(changelist).context["cl"].search_help_text == search_help(model, model_admin.search_fields)
    ids = [field.removeprefix("=") for field in model_admin.search_fields if field.startswith("=")]
    assert ids, f"{model.ledger_name}'s admin finds no entry by an id"
    for path in ids:
        value = _stored_value(model, path)
        response = client.get(changelist, {"q": f" {value} "})
        shown = {entry.pk for entry in response.context["cl"].result_list}
        holding = set(model._base_manager.filter(**{path: value}).values_list("pk", flat=True))
        if len(holding) <= model_admin.list_per_page:
            assert shown == holding, (path, value)
        else:  # a full first page of them
            assert shown <= holding and len(shown) == model_admin.list_per_page, (path, value)
        assert client.get(changelist, {"q": f"{value}x"}).status_code == 200


def test_words_are_looked_for_in_the_newest_entries_and_ids_in_all(db, client, make_user, monkeypatch):
    from ledgerproject.ledger import admin as ledger_admin
    from tests.ledger_testapp.models import Note

    for key, topic in (("note-old", "ancient scroll"), ("note-mid", "plain"), ("note-new", "fresh scroll")):
        Note.objects.append(recorded_by="tester", key=key, topic=topic)
    client.force_login(make_user("admin-words", superuser=True))
    changelist = reverse("admin:ledger_testapp_note_changelist")

    def found(term):
        return sorted(note.key for note in client.get(changelist, {"q": term}).context["cl"].result_list)

    assert found("scroll") == ["note-new", "note-old"]
    assert found('"fresh scroll"') == ["note-new"] and found("SCROLL fresh") == ["note-new"]
    monkeypatch.setattr(ledger_admin, "TEXT_SEARCH_WINDOW", 2)
    assert found("scroll") == ["note-new"]  # the oldest note is outside the two newest
    assert found("note-old") == ["note-old"]  # an id is found wherever it is
    assert found("NOTE-OLD") == [] and found("note-ol") == []  # exactly


@pytest.mark.parametrize("model", ADMINS, ids=[model._meta.label for model in ADMINS])
def test_a_list_sorts_by_one_column_at_a_time(stored, client, make_user, model):  # noqa: F811
    """A header clicked after another keeps the first in Django's links (`?o=4.3`); two columns sorted together are
    an order no single index reads, so the list sorts by the column clicked last, alone."""
    client.force_login(make_user("admin-one-column", superuser=True))
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    cl = client.get(changelist).context["cl"]
    numbers = [number for number, name in enumerate(cl.list_display) if name in cl.sortable_by]
    if len(numbers) < 2:
        pytest.skip("fewer than two sortable columns")
    first, second = numbers[:2]
    both = client.get(changelist, {"o": f"{second}.-{first}"}).context["cl"]
    alone = client.get(changelist, {"o": str(second)}).context["cl"]
    assert list(both.get_ordering_field_columns()) == [second]
    assert [entry.pk for entry in both.result_list] == [entry.pk for entry in alone.result_list]
