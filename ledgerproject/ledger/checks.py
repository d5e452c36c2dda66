"""System checks: every ledger model is named, its migrations install the append-only triggers, every
route declares its permission, and ids carried in URLs follow the URL id rule."""

from django.core.checks import Error, Tags, register
from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.models import CharField
from django.urls.converters import StringConverter
from django.urls.resolvers import RoutePattern

from ledgerproject.ledger.access import iter_routes, undeclared_routes
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
