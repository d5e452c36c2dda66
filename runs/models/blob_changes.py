"""The `blob_changes` ledger: a stored blob's bytes deleted, or stored again after a deletion."""

from django.db import models

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet
from runs.models.blobs import Blob, blobs_of_tenants


class BlobChangeQuerySet(LedgerQuerySet):
    def is_present(self, digest):
        last = self.filter(blob=digest).order_by("-seq").values_list("change", flat=True).first()
        return last in (None, BlobChange.RESTORED)


class BlobChange(LedgerEntry):
    """Bytes of a stored blob were deleted, or stored again after a deletion; the Blob entry itself stays."""

    DELETED, RESTORED = "deleted", "restored"

    ledger_name = "blob_changes"
    trail_fields = ("blob_id",)

    @classmethod
    def tenant_filter(cls, queryset, tenants):
        # A blob's changes are visible with the blob.
        return queryset.filter(blob__in=Blob.objects.filter(blobs_of_tenants(tenants)).values("digest"))

    blob = models.ForeignKey(Blob, to_field="digest", db_column="digest", on_delete=models.PROTECT, related_name="+")
    change = models.CharField(max_length=16, choices=[(DELETED, "deleted"), (RESTORED, "restored")])
    reason = models.CharField(max_length=500, blank=True)

    objects = BlobChangeQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        # Serves presence: the latest change per digest.
        indexes = [models.Index(fields=["blob", "-seq"], name="runs_blobchange_latest")]

    @property
    def digest(self):
        return self.blob_id

    def __str__(self):
        return f"blob {self.blob_id[:12]}… {self.change}"

    def get_absolute_url(self):
        return safe_reverse("runs:blob-detail", args=[self.blob_id])
