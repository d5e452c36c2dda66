"""A batch's stored-key check: one query for the whole array, whatever the tenants, on both engines."""

import pytest
from django.db import connection

from enhancelog.models import EnhanceEntry
from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger.exceptions import ConflictError
from ledgerproject.ledger.models.append import _conflicts_and_tip_sql

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_it_finds_a_stored_key_inside_a_batch_with_and_without_tenants(tenant):
    EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k2", tenant_id="acme")])
    batch = [entry_json(f"n{i}", tenant_id=tenant if i % 2 else None) for i in range(20)]
    stored = entry_json("k2", tenant_id="acme", intent="other") if tenant else entry_json("k1", intent="other")
    batch.insert(7, stored)
    with pytest.raises(ConflictError) as conflict:
        EnhanceEntry.objects.append_many(batch)
    assert conflict.value.index == 7
    assert conflict.value.identical is False  # the same key with another recorded content is not a replay
    assert EnhanceEntry.objects.count() == 2


def test_a_key_stored_under_another_tenant_is_no_conflict():
    EnhanceEntry.objects.append_many([entry_json("k1", tenant_id="acme"), entry_json("k3")])
    appended = EnhanceEntry.objects.append_many([entry_json("k1"), entry_json("k3", tenant_id="acme")])
    assert [entry.seq for entry in appended] == [3, 4]


@pytest.mark.postgres
def test_on_postgresql_each_key_column_is_one_array_parameter():
    tenants = ("acme", "globex", None)
    entries = [EnhanceEntry(**entry_json(f"a{i}", tenant_id=tenants[i % 3])) for i in range(50)]
    sql, params = _conflicts_and_tip_sql(EnhanceEntry, entries, connection)
    # Two key columns, each once in the CASE and once in the WHERE: four arrays, not 2 × 50 placeholders.
    assert sql.count("= ANY(%s)") == 4 and sql.count("%s") == 4
    assert sorted(params[0]) == ["acme", "globex"] and "IS NULL" in sql
    assert sorted(params[1]) == sorted(f"a{i}" for i in range(50))
