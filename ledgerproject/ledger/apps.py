"""App config of the ledger kernel: wires system checks and the roles."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LedgerConfig(AppConfig):
    name = "ledgerproject.ledger"
    label = "ledger"
    verbose_name = "Ledger kernel"

    def ready(self):
        from ledgerproject.ledger import checks  # noqa: F401  (registers the checks)
        from ledgerproject.ledger.roles import ensure_roles

        post_migrate.connect(ensure_roles, dispatch_uid="ledger.ensure_roles")
