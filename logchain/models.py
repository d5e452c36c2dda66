"""LogRecord: one per-node log line in the append-only `logchain` ledger, with its read queries."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ledgerproject.ledger.ids import safe_reverse
from ledgerproject.ledger.models import LedgerEntry, LedgerQuerySet, optional_id_index, tenant_unique
from ledgerproject.ledger.search import SearchField
from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.levels import LEVELS, MAX_MESSAGE_CHARS, at_least


class LogRecordQuerySet(LedgerQuerySet):
    def for_node(self, node_id):
        return self.filter(node_id=node_id)

    def for_daemon(self, daemon_id):
        return self.filter(daemon_id=daemon_id)

    def at_least(self, min_level):
        """Records whose level >= min_level (Trace < Debug < Info < Warn < Error)."""
        return self.filter(level__in=at_least(min_level))

    def between_ms(self, since_ms=None, until_ms=None):
        """Records whose claimed ts_ms lies in [since_ms, until_ms]; either bound may be open."""
        return self.claimed_between("ts_ms", since_ms, until_ms)

    def search(self, text):
        return self.filter(message__icontains=text) if text else self

    def pending(self):
        """Records that did not reach a chain on their first attempt."""
        return self.filter(chain_pending=True)


class LogRecord(LedgerEntry):
    """One log line of one node (seed 002's LogRecord); `node_seq` is the seed's per-node `seq`."""

    ledger_name = "logchain"
    search_fields = (
        SearchField(
            "node_id",
            "node id",
            page="logchain:viewer",
            page_query="node",
            api="logchain-api:logrecord-list",
            api_query="node_id",
            kind="int",
        ),
    )
    natural_key_fields = ("tenant_id", "node_id", "node_seq")
    # Left out (the appender's records): one above the node's highest, numbered under the lock.
    scope_counters = {"node_seq": ("node_id",)}
    tenant_field = "tenant_id"
    omit_when_empty = ("tenant_id",)
    append_role = "writer"

    node_id = models.PositiveBigIntegerField(validators=[MaxValueValidator(MAX_JSON_INT)])
    # The seed's `seq`: per node, strictly increasing from 1, the dedup key. The kernel owns `seq`.
    node_seq = models.PositiveBigIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_JSON_INT)])
    daemon_id = models.PositiveBigIntegerField(null=True, blank=True, validators=[MaxValueValidator(MAX_JSON_INT)])
    ts_ms = models.PositiveBigIntegerField(validators=[MaxValueValidator(MAX_JSON_INT)])
    level = models.CharField(max_length=5, choices=[(name, name) for name in LEVELS])
    message = models.TextField(blank=True)
    chain_pending = models.BooleanField(default=False)
    # The entry's tenant (None: no tenant). Added after entries were hashed: omitted from the
    # canonical content when None, so those entries verify unchanged.
    tenant_id = models.CharField(max_length=256, null=True, blank=True)

    objects = LogRecordQuerySet.as_manager()

    class Meta(LedgerEntry.Meta):
        constraints = [
            # The natural key: a repeated (node_id, seq) is a 409; also serves one node's records in seq order.
            # Per tenant: node ids of different tenants never collide nor reveal each other.
            tenant_unique("node_id", "node_seq", name="logchain_node_seq_per_tenant"),
        ]
        indexes = [
            # GET /logs/?node_id= and the viewer's node filter, in append order (cursor on seq).
            models.Index(fields=["node_id", "seq"], name="logchain_node_append"),
            # GET /logs/?daemon_id=, in append order.
            models.Index(fields=["daemon_id", "seq"], name="logchain_daemon_append"),
            # GET /logs/?level= and ?min_level= (an IN over the levels at or above it), in append order.
            models.Index(fields=["level", "seq"], name="logchain_level_append"),
            # GET /logs/?since_ms=&until_ms= and the viewer's time window.
            models.Index(fields=["ts_ms"], name="logchain_ts"),
            # A tenant-bound principal's lists (API, viewer, admin): its tenant's records in append order.
            optional_id_index("tenant_id", "logchain_tenant_seq"),
        ]

    def __str__(self):
        return f"node {self.node_id} #{self.node_seq} {self.level}: {self.message[:60]}"

    def get_absolute_url(self):
        url = safe_reverse("logchain:viewer")
        return f"{url}?node={self.node_id}" if url else None

    def get_api_url(self):
        return safe_reverse("logchain-api:logrecord-detail", args=[self.node_id, self.node_seq])

    def search_id(self):
        return f"node {self.node_id} #{self.node_seq}"

    def validate_append(self):
        if len(self.message) > MAX_MESSAGE_CHARS:
            raise ValidationError(
                {"message": [f"A log message holds at most {MAX_MESSAGE_CHARS} characters; got {len(self.message)}."]}
            )
