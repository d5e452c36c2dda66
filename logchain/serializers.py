"""LogRecordSerializer: the seed's LogRecord JSON (`seq` is the per-node seq) plus the kernel's ledger block."""

from rest_framework import serializers

from ledgerproject.ledger.serializers import LedgerSerializer
from ledgerproject.ledger.validators import MAX_JSON_INT
from logchain.levels import LEVELS, MAX_MESSAGE_CHARS
from logchain.models import LogRecord


class LogRecordSerializer(LedgerSerializer):
    # The seed's own `seq` (per node, from 1); declared writable so the kernel does not refuse it.
    seq = serializers.IntegerField(source="node_seq", min_value=1, max_value=MAX_JSON_INT)
    node_id = serializers.IntegerField(
        min_value=0,
        max_value=MAX_JSON_INT,
        help_text="The node that logged the record; it scopes `seq`, so it is required.",
    )
    daemon_id = serializers.IntegerField(min_value=0, max_value=MAX_JSON_INT, allow_null=True, required=False)
    ts_ms = serializers.IntegerField(min_value=0, max_value=MAX_JSON_INT, help_text="The node's wall clock, epoch ms.")
    level = serializers.ChoiceField(choices=LEVELS)
    message = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_MESSAGE_CHARS)
    chain_pending = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = LogRecord
        fields = ["seq", "ts_ms", "level", "daemon_id", "node_id", "message", "chain_pending", "tenant_id", "ledger"]

    # Every field is a column: list pages and exports read plain rows of them.
    reads_plain_rows = True
