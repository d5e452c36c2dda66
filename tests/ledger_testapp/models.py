"""Note: the test-only ledger (a natural key, a tenant, JSON content, and a state rule)."""

from django.core.exceptions import ValidationError
from django.db import models

from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet


class NoteQuerySet(LedgerQuerySet):
    def for_topic(self, topic):
        return self.filter(topic=topic)


class Note(LedgerEntry):
    ledger_name = "testnotes"
    natural_key_fields = ("key",)
    url_id_fields = ("key",)
    tenant_field = "tenant_id"

    key = models.CharField(max_length=64, unique=True)
    tenant_id = models.CharField(max_length=64, default="", blank=True)
    topic = models.CharField(max_length=64, blank=True)
    body = models.JSONField(default=dict, blank=True)
    count = models.IntegerField(default=0)

    objects = NoteQuerySet.as_manager()

    class Meta(LedgerEntry.Meta):
        # A tenant-bound principal's lists, in append order ("" is no tenant, never in a principal's scope).
        indexes = [models.Index(fields=["tenant_id", "seq"], name="testapp_note_tenant_seq")]

    def validate_append(self):
        if self.count < 0:
            raise ValidationError({"count": ["count must not be negative"]})
