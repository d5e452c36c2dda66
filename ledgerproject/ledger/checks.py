"""System checks: every ledger model is named, and its migrations install the append-only triggers."""

from django.core.checks import Error, Tags, register
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.triggers import InstallLedgerTriggers, installed_triggers, trigger_names


def _migrated_trigger_models():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = set()
    for (app_label, _name), migration in loader.disk_migrations.items():
        for operation in migration.operations:
            if isinstance(operation, InstallLedgerTriggers):
                found.add((app_label, operation.model_name.lower()))
    return found


@register()
def check_ledger_models(app_configs=None, **kwargs):
    errors, names = [], {}
    migrated = None
    for model in ledger_models():
        label = model._meta.label
        if not model.ledger_name:
            errors.append(Error(f"{label} has no ledger_name", id="ledger.E001", obj=model))
        elif model.ledger_name in names:
            errors.append(
                Error(
                    f"{label} and {names[model.ledger_name]} share the ledger name {model.ledger_name!r}",
                    id="ledger.E002",
                    obj=model,
                )
            )
        names[model.ledger_name] = label
        errors.extend(_tenancy_errors(model))
        if migrated is None:
            migrated = _migrated_trigger_models()
        if (model._meta.app_label, model._meta.model_name) not in migrated:
            errors.append(
                Error(
                    f"{label} is a ledger but no migration installs its append-only triggers",
                    hint=f"add InstallLedgerTriggers({model._meta.model_name!r}) to a migration of {model._meta.app_label}",
                    id="ledger.E003",
                    obj=model,
                )
            )
    return errors


def _tenancy_errors(model):
    """A ledger says where its tenant lives (tenant_field) or how tenants see it (tenant_filter):
    a ledger that says neither would be invisible to every tenant-bound principal, or, worse, a
    copy-pasted app filter would decide. Either way the kernel's visible_to() is the one rule."""
    from ledgerproject.ledger.models import LedgerEntry

    label = model._meta.label
    own_filter = model.tenant_filter.__func__ is not LedgerEntry.tenant_filter.__func__
    if model.tenant_field is None and not own_filter:
        return [
            Error(
                f"{label} is a ledger but declares no tenant_field (nor its own tenant_filter)",
                hint='set tenant_field = "tenant_id" (its own column) or "parent__tenant_id" (its parent\'s)',
                id="ledger.E020",
                obj=model,
            )
        ]
    if model.tenant_field is not None:
        try:
            model._meta.get_field(model.tenant_field.split("__")[0])
        except Exception:  # noqa: BLE001 - FieldDoesNotExist, reported as the check's error
            return [Error(f"{label}.tenant_field {model.tenant_field!r} names no field", id="ledger.E021", obj=model)]
    return []


@register(Tags.database)
def check_ledger_triggers_installed(app_configs=None, databases=None, **kwargs):
    """In the database itself: each existing ledger table carries its triggers (manage.py check --database default)."""
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        tables = set(connection.introspection.table_names())
        for model in ledger_models():
            table = model._meta.db_table
            if table not in tables:
                continue
            expected = set(trigger_names(table)[connection.vendor])
            missing = expected - installed_triggers(connection, table)
            if missing:
                errors.append(
                    Error(
                        f"ledger table {table} in database {alias!r} lacks append-only triggers: {', '.join(sorted(missing))}",
                        hint="run migrate; never disable these triggers outside a test database reset",
                        id="ledger.E004",
                        obj=model,
                    )
                )
    return errors
