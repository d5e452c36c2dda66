"""System checks: every ledger model is named, its migrations install (and keep current) the append-only
triggers and the SQLite insert guard, every latest-entry model can be kept on append, every route declares
its permission, and ids carried in URLs follow the URL id rule."""

from django.apps import apps
from django.core.checks import Error, Tags, register
from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.models import CharField
from django.urls.converters import StringConverter
from django.urls.resolvers import RoutePattern

from ledgerproject.ledger import latest
from ledgerproject.ledger.access import iter_routes, undeclared_routes
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.reset import append_only_models
from ledgerproject.ledger.triggers import (
    InstallLedgerTriggers,
    installed_trigger_sql,
    installed_triggers,
    sqlite_insert_guard,
    trigger_names,
)

# Operations after which a table's columns or unique constraints may differ from what its insert guard checks.
_SCHEMA_OPERATIONS = (
    ops.CreateModel,
    ops.AddField,
    ops.AlterField,
    ops.RemoveField,
    ops.RenameField,
    ops.AlterUniqueTogether,
    ops.AddConstraint,
    ops.RemoveConstraint,
    ops.RenameModel,
    ops.AlterModelTable,
)


def _operation_model(operation):
    if isinstance(operation, InstallLedgerTriggers):
        return operation.model_name.lower()
    if isinstance(operation, ops.RenameModel):
        return operation.new_name_lower
    if isinstance(operation, ops.CreateModel | ops.AlterUniqueTogether | ops.AlterModelTable):
        return operation.name_lower
    return getattr(operation, "model_name_lower", None)


def _migration_plan():
    """Every migration on disk, in an order that applies each after its dependencies."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in plan:
                plan.append(node)
    return [loader.graph.nodes[node] for node in plan]


def _migrated_trigger_models(migrations=None):
    """{(app_label, model): whether its triggers were (re)installed after its last schema change}."""
    current = {}
    for migration in _migration_plan() if migrations is None else migrations:
        for operation in migration.operations:
            model = _operation_model(operation)
            if model is None:
                continue
            key = (migration.app_label, model)
            if isinstance(operation, InstallLedgerTriggers):
                current[key] = True
            elif isinstance(operation, _SCHEMA_OPERATIONS) and key in current:
                current[key] = False
    return current


@register()
def check_ledger_models(app_configs=None, **kwargs):
    errors, names = [], {}
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
        errors.extend(_scope_counter_errors(model))
    for model in apps.get_models():
        if issubclass(model, latest.LatestEntry):
            errors += [Error(problem, id="ledger.E025", obj=model) for problem in latest.problems(model)]
    # Ledgers and the kernel's other append-only tables (checkpoints) alike.
    migrated = _migrated_trigger_models()
    for model in append_only_models():
        errors += _trigger_migration_errors(model, migrated)
    return errors


def _trigger_migration_errors(model, migrated):
    """E003: no migration installs the model's triggers, or a later one changed its keys without refreshing them."""
    label = model._meta.label
    state = migrated.get((model._meta.app_label, model._meta.model_name))
    if state is False:
        return [
            Error(
                f"{label}'s columns or unique constraints change in a migration after the one that last "
                "installed its append-only triggers: the SQLite insert guard would check the old keys",
                hint=f"add InstallLedgerTriggers({model._meta.model_name!r}) at the end of that migration "
                "(it drops and re-creates the triggers)",
                id="ledger.E003",
                obj=model,
            )
        ]
    if state is None:
        return [
            Error(
                f"{label} is append-only but no migration installs its append-only triggers",
                hint=f"add InstallLedgerTriggers({model._meta.model_name!r}) to a migration of {model._meta.app_label}",
                id="ledger.E003",
                obj=model,
            )
        ]
    return []


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
                id="ledger.E022",
                obj=model,
            )
        ]
    if model.tenant_field is not None:
        try:
            model._meta.get_field(model.tenant_field.split("__")[0])
        except Exception:  # noqa: BLE001 - FieldDoesNotExist, reported as the check's error
            return [Error(f"{label}.tenant_field {model.tenant_field!r} names no field", id="ledger.E023", obj=model)]
    return []


def _scope_counter_errors(model):
    """E024: a scope counter (scope_counters) is an integer column, and it and its scope are part of
    the natural key: the number assigned under the lock is then new for its key by construction."""
    from django.core.exceptions import FieldDoesNotExist
    from django.db import models

    label, meta, errors = model._meta.label, model._meta, []

    def field(name):
        try:
            return meta.get_field(name)
        except FieldDoesNotExist:
            return None

    key = {found.name for name in model.natural_key_fields if (found := field(name)) is not None}
    for counter, scope in model.scope_counters.items():
        target = field(counter)
        if not isinstance(target, models.IntegerField) or target.is_relation:
            errors.append(Error(f"{label}.scope_counters: {counter!r} is not an integer field", id="ledger.E024"))
        outside = [name for name in (counter, *scope) if field(name) is None or field(name).name not in key]
        if outside:
            errors.append(
                Error(
                    f"{label}.scope_counters: {', '.join(outside)} not in natural_key_fields",
                    hint="a counter and its scope must be part of the natural key, so an assigned number is new",
                    id="ledger.E024",
                    obj=model,
                )
            )
    return errors


@register(Tags.database)
def check_ledger_triggers_installed(app_configs=None, databases=None, **kwargs):
    """In the database itself: each existing ledger table carries its triggers (manage.py check --database default)."""
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        tables = set(connection.introspection.table_names())
        for model in append_only_models():
            table = model._meta.db_table
            if table not in tables:
                continue
            expected = set(trigger_names(table)[connection.vendor])
            missing = expected - installed_triggers(connection, table)
            if not missing and connection.vendor == "sqlite":
                guard = trigger_names(table)["sqlite"][2]
                if installed_trigger_sql(connection, guard) != sqlite_insert_guard(model, connection.schema_editor()):
                    # Present but built for other columns or keys: run the migration that refreshes it.
                    missing = {f"{guard} (out of date with the model's unique keys)"}
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


@register(Tags.urls)
def check_route_declarations(app_configs=None, **kwargs):
    """Every route outside the admin declares the permission it needs, or that it is public (access.py)."""
    return [
        Error(
            f"route {route!r} ({view}) declares no permission",
            hint=(
                "decorate a page with access.requires_permission('app.codename') (or access.public), give an API "
                "view LedgerRolePermission with a model or required_permissions naming a permission for each method"
            ),
            id="ledger.E020",
        )
        for route, view in undeclared_routes()
    ]


def _routed_str_arguments():
    """(route text, argument name) for every route argument that is one path segment of any text."""
    for route, pattern, in_admin in iter_routes():
        if in_admin:
            continue
        if isinstance(pattern.pattern, RoutePattern):
            for name, converter in pattern.pattern.converters.items():
                if type(converter) is StringConverter:  # not PathConverter, which carries "/"
                    yield route, name
        else:  # a router's regex: (?P<name>[^/]+) and the like
            for name in pattern.pattern.regex.groupindex:
                yield route, name


@register(Tags.urls)
def check_url_id_fields(app_configs=None, **kwargs):
    """A ledger field that a route carries as a path segment is held to the URL id rule (ids.py)."""
    errors = []
    char_fields = {}
    for model in ledger_models():
        for name in model.url_id_fields:
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                errors.append(Error(f"{model._meta.label}.url_id_fields names no field {name!r}", id="ledger.E021"))
        for field in model._meta.concrete_fields:
            if isinstance(field, CharField):
                char_fields.setdefault(field.name, []).append(model)
    reported = set()
    for route, name in _routed_str_arguments():
        for model in char_fields.get(name, []):
            if name not in model.url_id_fields and (model, name) not in reported:
                reported.add((model, name))
                errors.append(
                    Error(
                        f"route {route!r} carries {name!r} in its path, but {model._meta.label}.url_id_fields "
                        "does not list it: a stored value with '/' would be stored and then never routable",
                        hint=f"add {name!r} to {model.__name__}.url_id_fields",
                        id="ledger.E021",
                        obj=model,
                    )
                )
    return errors
