"""Database triggers that refuse UPDATE, DELETE and TRUNCATE on ledger tables, installed by migrations."""

from contextlib import contextmanager

from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.operations.base import Operation

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
        "sqlite": [f"{table}_no_update", f"{table}_no_delete"],
    }


def install_sql(vendor, table):
    row, other = trigger_names(table)[vendor]
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
        return [
            f'CREATE TRIGGER "{row}" BEFORE UPDATE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: UPDATE refused'); END",
            f'CREATE TRIGGER "{other}" BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, 'ledger table {table} is append-only: DELETE refused'); END",
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
    with connection.cursor() as cursor:
        for table in tables:
            for statement in drop_sql(connection.vendor, table):
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
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


class InstallLedgerTriggers(Operation):
    """Migration operation: make a ledger model's table refuse UPDATE/DELETE/TRUNCATE in the database."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, state):
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(app_label, to_state)
        # Idempotent: a later migration re-adds the triggers after a change that remade the table
        # (SQLite copies a table to alter a unique constraint, and the copy has no triggers).
        vendor = schema_editor.connection.vendor
        for statement in [*drop_sql(vendor, table), *install_sql(vendor, table)]:
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
