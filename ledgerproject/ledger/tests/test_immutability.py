"""Every registered ledger refuses change in the ORM, in the database, and over the API."""

import pytest
from django.db import DatabaseError, connection, transaction

from ledgerproject.ledger.exceptions import ImmutableEntryError
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.tests.conftest import insert_raw_row
from ledgerproject.ledger.tests.routes import all_routes, sample_path
from ledgerproject.ledger.triggers import installed_triggers, trigger_names

LEDGERS = ledger_models()
ids = [m.ledger_name for m in LEDGERS]

pytestmark = pytest.mark.django_db


def test_every_ledger_app_has_registered_a_ledger():
    names = {m._meta.app_label for m in LEDGERS}
    assert "ledger_testapp" in names


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_it_installs_the_append_only_triggers(model):
    table = model._meta.db_table
    assert installed_triggers(connection, table) == set(trigger_names(table)[connection.vendor])


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_it_refuses_save_of_a_stored_entry(model):
    pk = insert_raw_row(model)
    entry = model._base_manager.get(pk=pk)
    with pytest.raises(ImmutableEntryError, match="cannot be changed"):
        entry.save()


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_it_refuses_save_of_a_new_instance_outside_the_append_path(model):
    with pytest.raises(ImmutableEntryError, match="append"):
        model().save()


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_it_refuses_delete_of_an_entry(model):
    pk = insert_raw_row(model)
    with pytest.raises(ImmutableEntryError, match="cannot be deleted"):
        model._base_manager.get(pk=pk).delete()
    assert model._base_manager.filter(pk=pk).exists()


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
@pytest.mark.parametrize("operation", ["update", "delete", "bulk_update", "bulk_create", "update_or_create"])
def test_it_refuses_queryset_changes(model, operation):
    pk = insert_raw_row(model)
    queryset = model.objects.all()
    calls = {
        "update": lambda: queryset.update(recorded_by_name="mallory"),
        "delete": lambda: queryset.delete(),
        "bulk_update": lambda: queryset.bulk_update(list(queryset), ["recorded_by_name"]),
        "bulk_create": lambda: queryset.bulk_create([model()]),
        "update_or_create": lambda: queryset.update_or_create(pk=pk, defaults={"recorded_by_name": "mallory"}),
    }
    with pytest.raises(ImmutableEntryError):
        calls[operation]()
    assert model._base_manager.get(pk=pk).recorded_by_name == "x"


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET recorded_by_name = 'mallory'", "DELETE FROM {table}"])
def test_the_database_refuses_raw_sql_changes(model, statement):
    pk = insert_raw_row(model)
    table = connection.ops.quote_name(model._meta.db_table)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement.format(table=table))
    assert model._base_manager.get(pk=pk).recorded_by_name == "x"


@pytest.mark.postgres
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_postgres_refuses_truncate_even_for_a_replica_session(model):
    pk = insert_raw_row(model)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses tables with pending FK checks
    for setup in ("", "SET LOCAL session_replication_role = replica"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                if setup:
                    cursor.execute(setup)
                cursor.execute(f"TRUNCATE {table} CASCADE")
    assert model._base_manager.filter(pk=pk).exists()


@pytest.mark.postgres
@pytest.mark.parametrize("model", LEDGERS, ids=ids)
def test_postgres_triggers_fire_for_a_replica_session(model):
    insert_raw_row(model)
    table = connection.ops.quote_name(model._meta.db_table)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(f"DELETE FROM {table}")


def _api_routes_of(model):
    """Detail routes (and, failing those, list routes) of viewsets serving `model` under /api/v1/."""
    found = []
    for route, pattern in all_routes():
        view_class = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        queryset = getattr(view_class, "queryset", None)
        if queryset is None or queryset.model is not model or not route.startswith("api/v1/"):
            continue
        if actions.get("get") in ("retrieve", "list"):
            found.append((route, actions.get("get"), view_class))
    details = [r for r in found if r[1] == "retrieve"]
    return details or found


API_CASES = [
    pytest.param(model, route, view_class, id=f"{model.ledger_name}:{route}")
    for model in LEDGERS
    for route, _action, view_class in _api_routes_of(model)
]


def test_every_ledger_with_an_api_is_covered_by_the_405_test():
    assert {case.values[0] for case in API_CASES} >= {m for m in LEDGERS if _api_routes_of(m)}
    assert any(case.values[0].ledger_name == "testnotes" for case in API_CASES)


@pytest.mark.parametrize(("model", "route", "view_class"), API_CASES)
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_api_refuses_changes_with_405(model, route, view_class, method, make_user, client_for):
    if method == "delete" and "delete" in view_class.http_method_names:
        pytest.skip(f"{view_class.__name__} documents DELETE as its own append (not a removal of entries)")
    insert_raw_row(model)
    api = client_for(make_user("root", superuser=True))
    url = sample_path(route)
    response = getattr(api, method)(url, {}, format="json")
    assert response.status_code == 405, (url, response.status_code, response.content[:200])
    assert "detail" in response.json()


@pytest.mark.parametrize("model", LEDGERS, ids=ids)
@pytest.mark.parametrize("operation", ["bulk_create", "update", "delete"])
def test_the_base_manager_is_no_back_door(model, operation):
    pk = insert_raw_row(model)
    manager = model._base_manager
    calls = {
        "bulk_create": lambda: manager.bulk_create([model()]),
        "update": lambda: manager.filter(pk=pk).update(recorded_by_name="mallory"),
        "delete": lambda: manager.filter(pk=pk).delete(),
    }
    with pytest.raises(ImmutableEntryError):
        calls[operation]()
    assert model._base_manager.get(pk=pk).recorded_by_name == "x"
