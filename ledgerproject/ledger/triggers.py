"""Database triggers that refuse UPDATE, DELETE and TRUNCATE on ledger tables (and, on SQLite, any INSERT
that is not a plain append), installed by migrations."""

from contextlib import contextmanager

from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.operations.base import Operation
from django.db.models import F, UniqueConstraint, Value
from django.db.models.functions import Coalesce

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'ledger table ' || TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END
$body$
"""


def trigger_names(table):
    return {
        "postgresql": [f"{table}_no_update_delete", f"{table}_no_truncate"],
        "sqlite": [f"{table}_no_update", f"{table}_no_delete", f"{table}_insert_guard"],
    }


def unique_column_sets(model, schema_editor=None):
    """The column sets `model`'s table holds unique, as (columns, condition SQL or None).

    Read from the model as it stands (a migration state's model in migrations): the primary key,
    unique fields, unique_together and UniqueConstraints over fields, or over expressions the guard
    can restate (F(name), and the per-tenant keys' Coalesce(F("tenant_id"), Value(""))); a condition
    is kept as the SQL of the partial index, which names only this table's columns, unqualified.
    """
    meta = model._meta
    sets = []
    for field in meta.local_concrete_fields:
        if field.primary_key or field.unique:
            sets.append(((field.column,), None))
    for names in meta.unique_together:
        sets.append((tuple(meta.get_field(name).column for name in names), None))
    for constraint in meta.constraints:
        if not isinstance(constraint, UniqueConstraint):
            continue
        if constraint.fields:
            columns = tuple(meta.get_field(name).column for name in constraint.fields)
        else:
            columns = tuple(_expression_column(meta, expression) for expression in constraint.expressions)
            if None in columns:
                continue  # an expression the guard cannot restate: the unique index alone guards it
        condition = None
        if constraint.condition is not None:
            if schema_editor is None:
                continue
            condition = constraint._get_condition_sql(model, schema_editor)
        sets.append((columns, condition))
    # Sorted: the guard's text is then the same whatever order a migration state lists fields in
    # (the database check compares it with the live model's).
    return sorted(set(sets), key=lambda item: (item[0], item[1] or ""))


class CoalescedColumn(str):
    """A column compared as COALESCE(column, default) — the per-tenant keys' `Coalesce("tenant_id", "")`."""

    def __new__(cls, column, default):
        self = super().__new__(cls, column)
        self.default = default
        return self


def _expression_column(meta, expression):
    """The column of a unique expression the guard can restate (F(name), or Coalesce(F(name), Value(text))), or None."""
    if isinstance(expression, F):
        return meta.get_field(expression.name).column
    if isinstance(expression, Coalesce):
        sources = expression.get_source_expressions()
        if (
            len(sources) == 2
            and isinstance(sources[0], F)
            and isinstance(sources[1], Value)
            and isinstance(sources[1].value, str)
        ):
            return CoalescedColumn(meta.get_field(sources[0].name).column, sources[1].value)
    return None


def _term(column, prefix=""):
    """SQL for one column of a unique key, as the unique index sees it."""
    if isinstance(column, CoalescedColumn):
        literal = "'" + column.default.replace("'", "''") + "'"
        return f"COALESCE({prefix}{_q(column)}, {literal})"
    return f"{prefix}{_q(column)}"


def _q(name):
    return '"' + name.replace('"', '""') + '"'


def sqlite_insert_guard(model, schema_editor=None):
    """BEFORE INSERT trigger: refuse a row unless it is a plain append.

    SQLite's REPLACE / INSERT OR REPLACE deletes the conflicting row without firing DELETE triggers
    (unless recursive_triggers is on, which is a per-connection pragma): so the guard refuses any
    INSERT whose values any existing row already holds in a unique column set, and, for a ledger, any
    seq other than MAX(seq) + 1. `IS` makes NULLs compare equal. Each test is one lookup in the
    primary key or a unique index: O(log n) per row.
    """
    meta = model._meta
    table = meta.db_table
    name = trigger_names(table)["sqlite"][2]
    checks = []
    columns = sorted(field.column for field in meta.local_concrete_fields)
    ledger = meta.pk.column == "seq"
    if ledger:
        # The next seq can never be a stored one, so this also covers the primary key.
        checks.append(
            (
                f"NEW.{_q('seq')} IS NOT (SELECT COALESCE(MAX({_q('seq')}), 0) + 1 FROM {_q(table)})",
                "seq is not the next one",
            )
        )
    nullable = {field.column for field in meta.local_concrete_fields if field.null}
    for key, condition in unique_column_sets(model, schema_editor):
        if ledger and key == ("seq",):
            continue
        match = " AND ".join(f"{_term(column)} IS {_term(column, 'NEW.')}" for column in key)
        coalesced = any(isinstance(column, CoalescedColumn) for column in key)
        if not coalesced and nullable.issuperset(key):
            # A key that is NULL in every column is no key (a nullable one-to-one link, say): like
            # the unique index, let many rows hold it. One NULL among set values still compares equal.
            match = "(" + " OR ".join(f"NEW.{_q(column)} IS NOT NULL" for column in key) + ") AND " + match
        if condition is None:
            test = f"EXISTS (SELECT 1 FROM {_q(table)} WHERE {match})"
        else:
            # The row is only constrained when it meets the condition itself: evaluate it over NEW's values.
            new_row = ", ".join(f"NEW.{_q(column)} AS {_q(column)}" for column in columns)
            test = (
                f"EXISTS (SELECT 1 FROM (SELECT {new_row}) WHERE {condition}) "
                f"AND EXISTS (SELECT 1 FROM {_q(table)} WHERE {match} AND ({condition}))"
            )
        checks.append((test, f"{', '.join(key)} already stored"))
    body = "".join(
        f"SELECT RAISE(ABORT, 'ledger table {table} is append-only: INSERT refused ({why})') WHERE {test}; "
        for test, why in checks
    )
    return f"CREATE TRIGGER {_q(name)} BEFORE INSERT ON {_q(table)} BEGIN {body}END"


def install_sql(vendor, table, model=None, schema_editor=None):
    """The statements that install `table`'s triggers; on SQLite `model` (its state) shapes the insert guard."""
    row, other = trigger_names(table)[vendor][:2]
    if vendor == "postgresql":
        # ENABLE ALWAYS: a session with session_replication_role=replica does not skip them.
        return [
            PG_FUNCTION,
            f'CREATE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON "{table}" FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()',
            f'CREATE TRIGGER "{other}" BEFORE TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()',
            f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{row}"',
            f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER "{other}"',
        ]
    if vendor == "sqlite":
        if model is None:
            raise ValueError("the SQLite triggers need the model, for the insert guard's unique columns")
        return [
            f'CREATE TRIGGER "{row}" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: UPDATE refused'); END",
            f'CREATE TRIGGER "{other}" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: DELETE refused'); END",
            sqlite_insert_guard(model, schema_editor),
        ]
    raise NotImplementedError(f"no append-only triggers for {vendor}")


def drop_sql(vendor, table):
    names = trigger_names(table)[vendor]
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"' for name in names]
    return [f'DROP TRIGGER IF EXISTS "{name}"' for name in names]


@contextmanager
def triggers_lifted(connection, tables):
    """Drop the append-only triggers of `tables`, and put them back afterwards whatever happens.

    Only the test database reset and tests that play an attacker use this: in production the
    application's database role may not alter the tables it writes.
    """
    saved = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite" and tables:
            # Put back exactly what was installed (the insert guard is shaped by the migration state).
            names = [name for table in tables for name in trigger_names(table)["sqlite"]]
            marks = ", ".join(["%s"] * len(names))
            cursor.execute(f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})", names)
            saved = [row[0] for row in cursor.fetchall()]
        for table in tables:
            for statement in drop_sql(connection.vendor, table):
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                for statement in saved:
                    cursor.execute(statement)
            else:
                for table in tables:
                    for statement in install_sql(connection.vendor, table):
                        cursor.execute(statement)


def installed_triggers(connection, table):
    """Names of the append-only triggers present (and, on PostgreSQL, enabled ALWAYS) on a table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema()) AND t.tgenabled = 'A'",
                [table],
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        present = {row[0] for row in cursor.fetchall()}
    return present & set(trigger_names(table)[connection.vendor])


def installed_trigger_sql(connection, name):
    """The stored CREATE TRIGGER text of a SQLite trigger, or None."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else None


class InstallLedgerTriggers(Operation):
    """Migration operation: make a ledger model's table refuse UPDATE/DELETE/TRUNCATE in the database,
    and on SQLite any INSERT that is not a plain append (the insert guard).

    Idempotent: it drops the triggers if present, then creates them from the model's state at this
    point of the migrations. So adding `InstallLedgerTriggers("<model>")` again at the end of a later
    migration that changes the table's unique constraints refreshes the SQLite insert guard.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, state):
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        vendor = schema_editor.connection.vendor
        for statement in drop_sql(vendor, table) + install_sql(vendor, table, model, schema_editor):
            schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        from django.conf import settings

        if not settings.LEDGER_ALLOW_TEST_RESET:
            # Unapplying would let the next operation drop the table and every entry in it.
            raise IrreversibleError(
                f"Refusing to unapply the append-only triggers of {app_label}.{self.model_name}: "
                "migrating a ledger backwards would destroy its entries."
            )
        table = self._table(app_label, from_state)
        for statement in drop_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)

    def describe(self):
        return f"Install append-only triggers on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name.lower()}_append_only"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.model_name], {})
