"""Results of chain re-walks, and the kernel's own permissions (verify, export, checkpoint)."""

from django.db import models
from django.utils import timezone


class ChainCheck(models.Model):
    """The result of one re-walk of a ledger's hash chain (what the home page shows as chain status)."""

    replica_reads = True  # shown on pages; see ledger/routers.py

    ledger = models.CharField(max_length=64)
    checked_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    checked = models.PositiveBigIntegerField()
    first_bad_seq = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    checked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        # Serves "latest check per ledger" on the home page and /ledgers/.
        indexes = [models.Index(fields=["ledger", "-checked_at"], name="ledger_chaincheck_latest")]

    def __str__(self):
        return f"{self.ledger}: {'ok' if self.ok else 'BROKEN'} at {self.checked_at:%Y-%m-%d %H:%M}"


class LedgerAccess(models.Model):
    """Carries the kernel's own permissions (verify, export, checkpoint); it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("verify_ledger", "Can verify ledger chains"),
            ("export_ledger", "Can export ledgers"),
            ("checkpoint_ledger", "Can make signed checkpoints"),
        ]

    def __str__(self):
        return "ledger access"
