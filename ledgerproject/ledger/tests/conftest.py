"""Builders for the kernel's tests: notes in the test-only ledger, and rows made behind the ORM's back."""

import uuid
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from ledgerproject.ledger.hashing import GENESIS_HASH, entry_hash
from ledgerproject.ledger.triggers import triggers_lifted as lift
from ledgerproject.ledger.triggers import unique_column_sets
from tests.ledger_testapp.models import Note


@pytest.fixture
def make_note(db):
    def make(key=None, **overrides):
        fields = {"key": key or f"note-{uuid.uuid4().hex[:8]}", "topic": "general", "body": {"text": "hello"}}
        fields.update(overrides)
        return Note.objects.append(**fields)

    return make


def _dummy(field):
    """A value of the right type for a column, for a row inserted with raw SQL."""
    if field.choices:
        return field.choices[0][0]
    kind = field.get_internal_type()
    if kind in ("CharField", "TextField", "SlugField", "EmailField", "URLField"):
        return "x"[: field.max_length or 1]
    if "Integer" in kind or kind in ("FloatField", "DecimalField", "AutoField", "BigAutoField"):
        return 1
    if kind == "BooleanField":
        return False
    if kind == "JSONField":
        return {}
    if kind == "DateTimeField":
        return timezone.now()
    if kind == "DateField":
        return timezone.now().date()
    if kind == "UUIDField":
        return uuid.uuid4()
    if kind == "BinaryField":
        return b""
    return None


def _value_for(field):
    if field.primary_key and field.column == "seq":
        # The next seq: the SQLite insert guard refuses any other (a reused one or a gap).
        top = field.model._base_manager.order_by("-seq").values_list("seq", flat=True).first()
        return (top or 0) + 1
    keyed = any(field.column in columns for columns, _ in unique_column_sets(field.model, connection.schema_editor()))
    if keyed and not field.primary_key and not field.is_relation:
        # A fresh value: the insert guard refuses a unique key some row already holds.
        kind = field.get_internal_type()
        if kind in ("CharField", "TextField"):
            return uuid.uuid4().hex[: field.max_length or 32]
        if "Integer" in kind:
            return uuid.uuid4().int % 2**40 + 1
    if not field.is_relation:
        return _dummy(field)
    if field.null:
        return None
    # A required foreign key needs a real target row: make one the same way.
    target = field.related_model
    if target._meta.label == "auth.User":
        from django.contrib.auth import get_user_model

        return get_user_model().objects.create(username=f"u{uuid.uuid4().hex[:8]}").pk
    pk = insert_raw_row(target)
    # The foreign key may point at another unique column (to_field) than the primary key.
    return target._base_manager.filter(pk=pk).values_list(field.target_field.attname, flat=True).get()


def insert_raw_row(model):
    """Insert one row of `model` with plain SQL (inserts are allowed; foreign keys are checked at commit,
    which a test transaction never reaches). Returns the row's pk."""
    fields = model._meta.concrete_fields
    values = [f.get_db_prep_save(_value_for(f), connection) for f in fields]
    names = [f.attname for f in fields]
    if "entry_hash" in names:
        # Real link hashes (over a dummy canonical text), so Merkle trees and checkpoints can be built.
        prev = model._base_manager.order_by("-seq").values_list("entry_hash", flat=True).first() or GENESIS_HASH
        values[names.index("prev_entry_hash")] = prev
        values[names.index("entry_hash")] = entry_hash(prev, values[names.index("canonical")])
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})", values
        )
    return model._base_manager.order_by("-pk").values_list("pk", flat=True).first()


@contextmanager
def triggers_lifted(model):
    """What someone with the table owner's rights could do: lift a ledger's triggers for a while."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Deferred foreign-key checks pending in the test transaction would block ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with lift(connection, [model._meta.db_table]):
        yield


@pytest.fixture
def settings_under_env(monkeypatch):
    """settings_under_env(NAME=value, …) → a snapshot of ledgerproject.settings read with that environment.

    The module is reloaded again afterwards with the environment as it was; django.conf.settings (the
    test settings, already configured) is never touched.
    """
    import importlib

    import ledgerproject.settings as project_settings

    def load(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            fresh = importlib.reload(project_settings)
            return type("Settings", (), {name: getattr(fresh, name) for name in dir(fresh) if name.isupper()})
        finally:
            for name in env:
                monkeypatch.delenv(name)
            importlib.reload(project_settings)

    return load


@pytest.fixture
def root_api(make_user, client_for):
    """An API client of a superuser."""
    return client_for(make_user("root", superuser=True))
