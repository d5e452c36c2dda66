"""App config of the ledger kernel: wires system checks, the roles and the append metrics."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LedgerConfig(AppConfig):
    name = "ledgerproject.ledger"
    label = "ledger"
    verbose_name = "Ledger kernel"

    def ready(self):
        from ledgerproject.ledger import (
            checkpoints,  # noqa: F401  (Merkle integration on entries_appended)
            checks,  # noqa: F401  (registers the checks)
        )
        from ledgerproject.ledger.roles import ensure_roles

        post_migrate.connect(ensure_roles, dispatch_uid="ledger.ensure_roles")

        from ledgerproject.ledger.metrics import count_append
        from ledgerproject.ledger.signals import entries_appended

        # Every ledger's appends, counted once here rather than in each app.
        entries_appended.connect(count_append, dispatch_uid="ledger.metrics.count_append")

        from ledgerproject.ledger.serializers import connect_field_set_reuse

        # A ledger serializer's field set serves the next request of its thread (LedgerSerializer.fields).
        connect_field_set_reuse()

        from ledgerproject.ledger import token_cache

        # A change made in this process revokes at once here; other workers within the cache's lifetime.
        token_cache.connect_signals()
