"""Latest-entry state: per key of a ledger, its newest entry and copies of the columns lists filter on, kept on append.

A list of "the current X per key" (a release name's current release) would otherwise find each key's
newest entry at request time: one probe per key, linear in the number of keys, and a filter on the
newest entry's own columns (who promoted it) cannot use an index at all. A LatestEntry model holds one
row per (key, tenant): the newest entry (`entry`, a one-to-one key into the ledger) and copies of the
entry's columns it names, so such a list is an index range of a small table joined to its entries.

append_many() writes the rows of every LatestEntry model of the ledger inside the appending
transaction, under the ledger's lock, after the insert: one UPSERT per model and batch (sent in the
same message as the entry's INSERT where the connection allows it). A batch that rolls back leaves
them as they were; the lock serializes appends, so a row never goes back to an older entry.

Derived state, not ledger entries: the rows are updated in place, and `rebuild()` (`rebuild_rollups`,
and the migration that creates a table, through `backfill()`) replaces them with one INSERT … SELECT
of each key's newest entry; `check()` compares them with that SELECT.
"""

import functools

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections, models, router, transaction

from ledgerproject.ledger.locking import lock_ledger

NO_TENANT = ""


class LatestQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The rows of the tenants `user` may see (the ledgers' tenancy rule, models.within_scope)."""
        from ledgerproject.ledger.models import within_scope

        return within_scope(self, user)


class LatestEntry(models.Model):
    """One key's newest entry of a ledger. A subclass declares

    - `entry = models.OneToOneField(<ledger model>, on_delete=models.PROTECT, related_name=…)`;
    - `latest_key`: the ledger fields that name a key besides the tenant, each a field of the same name here;
    - every other field: a copy of the entry's field of the same name (the filters' columns);
    - a UniqueConstraint on (*latest_key, "tenant"): the UPSERT's conflict target.

    `tenant` is the entry's own tenant column ("" for none; a ledger whose tenant lives on a parent
    has no latest state here).
    """

    latest_key = ()
    replica_reads = True  # read by pages and lists, as their entries are; see ledger/routers.py

    tenant = models.CharField(max_length=256, blank=True)

    objects = LatestQuerySet.as_manager()

    class Meta:
        abstract = True


def problems(latest_model):
    """What keeps a LatestEntry model from being kept on append (the system check ledger.E025): texts, or []."""
    from ledgerproject.ledger.models import LedgerEntry

    label = latest_model._meta.label
    try:
        entry = latest_model._meta.get_field("entry")
    except FieldDoesNotExist:
        return [f"{label} has no `entry` one-to-one key into its ledger"]
    ledger = entry.related_model
    if not (entry.one_to_one and isinstance(ledger, type) and issubclass(ledger, LedgerEntry)):
        return [f"{label}.entry is not a one-to-one key into a ledger model"]
    found = []
    for field in latest_model._meta.concrete_fields:
        if not (field.primary_key or field.name in ("tenant", "entry")):
            try:
                ledger._meta.get_field(field.name)
            except FieldDoesNotExist:
                found.append(f"{label}.{field.name} copies no field of {ledger._meta.label}")
    if ledger.tenant_field and "__" in ledger.tenant_field:
        found.append(f"{label}: {ledger._meta.label} keeps its tenant on a parent ({ledger.tenant_field})")
    key = {*latest_model.latest_key, "tenant"}
    if not any(
        isinstance(constraint, models.UniqueConstraint) and set(constraint.fields) == key and not constraint.condition
        for constraint in latest_model._meta.constraints
    ):
        found.append(f"{label} needs a UniqueConstraint on {sorted(key)}: its UPSERT's conflict target")
    return found


def ledger_of(latest_model):
    return latest_model._meta.get_field("entry").related_model


_KEPT = {}


def latest_models(ledger_model):
    """The LatestEntry models kept for `ledger_model` (looked up once per ledger: every append asks)."""
    found = _KEPT.get(ledger_model)
    if found is None:
        found = [
            model
            for model in apps.get_models()
            if issubclass(model, LatestEntry) and not model._meta.proxy and ledger_of(model) is ledger_model
        ]
        if apps.ready:
            _KEPT[ledger_model] = found
    return found


def _tenant_column(ledger_model):
    field = ledger_model.tenant_field
    if field is None:
        return None
    if "__" in field:
        raise ImproperlyConfigured(
            f"{ledger_model.__name__}: latest-entry state needs the tenant in the entry's own column, not {field!r}"
        )
    return ledger_model._meta.get_field(field)


@functools.cache
def _copied(latest_model):
    """(this model's field, the ledger's field it copies) for the key and every copied column (worked out
    once per model: each append's UPSERT asks for it several times)."""
    ledger = ledger_of(latest_model)
    return tuple(
        (field, ledger._meta.get_field(field.name))
        for field in latest_model._meta.concrete_fields
        if not (field.primary_key or field.name in ("tenant", "entry"))
    )


def _key_columns(latest_model):
    return [latest_model._meta.get_field(name).column for name in (*latest_model.latest_key, "tenant")]


def _rows(latest_model, entries):
    """{key: values in column order} of the entries' newest per key (a later entry of a key replaces an earlier)."""
    tenant_field = _tenant_column(ledger_of(latest_model))
    copied = _copied(latest_model)
    found = {}
    for entry in entries:
        tenant = (getattr(entry, tenant_field.attname) if tenant_field else None) or NO_TENANT
        values = [tenant, entry.pk, *(getattr(entry, source.attname) for _, source in copied)]
        key = (tenant, *(getattr(entry, name) for name in latest_model.latest_key))
        found[key] = values
    return found


def _columns(latest_model):
    entry = latest_model._meta.get_field("entry")
    return ["tenant", entry.column, *(field.column for field, _ in _copied(latest_model))]


def statement(latest_model, entries, connection):
    """(sql, params): the UPSERT that makes these just-inserted entries their keys' newest, or None for none."""
    found = _rows(latest_model, entries)
    if not found:
        return None
    quote = connection.ops.quote_name
    table = quote(latest_model._meta.db_table)
    columns = _columns(latest_model)
    fields = [latest_model._meta.get_field("tenant"), latest_model._meta.get_field("entry")]
    fields += [field for field, _ in _copied(latest_model)]
    rows, params = [], []
    for values in found.values():
        rows.append(f"({', '.join(['%s'] * len(columns))})")
        params += [field.get_db_prep_value(value, connection) for field, value in zip(fields, values, strict=True)]
    entry_column = quote(latest_model._meta.get_field("entry").column)
    updates = ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in columns if column != "tenant")
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(column) for column in columns)}) VALUES {', '.join(rows)} "
        f"ON CONFLICT ({', '.join(quote(column) for column in _key_columns(latest_model))}) DO UPDATE SET {updates} "
        # Appends hold the ledger's lock and seq only grows: the guard only says which entry wins.
        f"WHERE {table}.{entry_column} < excluded.{entry_column}"
    )
    return sql, params


def statements(ledger_model, entries, db):
    """The UPSERTs of every latest-entry model of the ledger for these entries (a list of (sql, params))."""
    connection = connections[db]
    found = (statement(model, entries, connection) for model in latest_models(ledger_model))
    return [item for item in found if item is not None]


def record(ledger_model, entries, db):
    """Make these just-inserted entries their keys' newest: inside the appending transaction, under the lock."""
    found = statements(ledger_model, entries, db)
    if not found:
        return
    with connections[db].cursor() as cursor:
        for sql, params in found:
            cursor.execute(sql, params)


def newest_select(latest_model, connection, ledger_table=None):
    """SELECT of the rows the table should hold, from the ledger (each key's entry of highest seq), in
    _columns() order. `ledger_table`: the ledger's table name (a migration's historical one)."""
    quote = connection.ops.quote_name
    ledger = ledger_of(latest_model)
    table = quote(ledger_table or ledger._meta.db_table)
    tenant_field = _tenant_column(ledger)
    tenant = f"COALESCE({quote(tenant_field.column)}, '')" if tenant_field else "''"
    seq = quote(ledger._meta.pk.column)
    copied = [quote(source.column) for _, source in _copied(latest_model)]
    keys = [quote(ledger._meta.get_field(name).column) for name in latest_model.latest_key]
    return (
        f"SELECT {tenant}, {seq}, {', '.join(copied)} FROM {table} WHERE {seq} IN "
        f"(SELECT MAX({seq}) FROM {table} GROUP BY {', '.join([*keys, tenant])})"
    )


def rebuild(latest_model, using=None, ledger_table=None):
    """Replace the rows with each key's newest entry, read from the ledger in one INSERT … SELECT, under the
    ledger's lock (no append in between). Returns the number of rows."""
    db = using or router.db_for_write(latest_model)
    connection = connections[db]
    quote = connection.ops.quote_name
    table = quote(latest_model._meta.db_table)
    columns = ", ".join(quote(column) for column in _columns(latest_model))
    with transaction.atomic(using=db):
        lock_ledger(connection, ledger_of(latest_model).ledger_name)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} ({columns}) {newest_select(latest_model, connection, ledger_table)}")
            return cursor.rowcount


def rebuild_all(ledger_model, using=None):
    """rebuild() every latest-entry model of the ledger; {model: rows}."""
    return {model: rebuild(model, using) for model in latest_models(ledger_model)}


def _normal(latest_model, values):
    fields = [latest_model._meta.get_field("tenant"), latest_model._meta.get_field("entry").target_field]
    fields += [field for field, _ in _copied(latest_model)]
    return tuple(field.to_python(value) for field, value in zip(fields, values, strict=True))


def check(latest_model, using=None):
    """The differences between the stored rows and each key's newest entry in the ledger: a list of
    (stored row or None, expected row or None), each a tuple in column order; empty when they agree."""
    db = using or router.db_for_read(latest_model)
    connection = connections[db]
    quote = connection.ops.quote_name
    columns = _columns(latest_model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(latest_model._meta.db_table)}"  # noqa: S608
        )
        kept = {row[1]: _normal(latest_model, row) for row in cursor.fetchall()}
        cursor.execute(newest_select(latest_model, connection))
        expected = {row[1]: _normal(latest_model, row) for row in cursor.fetchall()}
    return [
        (kept.get(seq), expected.get(seq))
        for seq in sorted(set(kept) | set(expected))
        if kept.get(seq) != expected.get(seq)
    ]


def backfill(label):
    """The migration operation that fills the latest-entry model `label` ("app.Model") from its ledger:
    one INSERT … SELECT under the ledger's lock (the live model's columns; the historical ledger's table)."""
    from django.db import migrations

    def forwards(migration_apps, schema_editor):
        from django.apps import apps as live

        model = live.get_model(label)
        ledger_table = migration_apps.get_model(label)._meta.get_field("entry").related_model._meta.db_table
        rebuild(model, using=schema_editor.connection.alias, ledger_table=ledger_table)

    operation = migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)
    operation.forwards = forwards  # tests call it directly
    return operation
