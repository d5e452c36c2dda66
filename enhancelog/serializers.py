"""EnhanceEntry and Review serializers: the seed's serde JSON in and out, plus the kernel's ledger block."""

from rest_framework import serializers

from enhancelog.models import EnhanceEntry, Review
from ledgerproject.ledger.serializers import LedgerSerializer, StrictSerializer


class VerdictSerializer(StrictSerializer):
    """One verifier axis's verdict: `detail` is the evidence on pass and the reason on deny."""

    axis = serializers.CharField(max_length=64)
    status = serializers.ChoiceField(choices=["pass", "deny"])
    detail = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EnhanceEntrySerializer(LedgerSerializer):
    """An EnhanceLogEntry exactly as the seed's serde writes it; rules are checked by the append path."""

    prev_hash = serializers.CharField(max_length=64, trim_whitespace=False)
    new_hash = serializers.CharField(max_length=64, allow_blank=True, trim_whitespace=False)
    intent = serializers.CharField(allow_blank=True, required=False, default="", trim_whitespace=False)
    rationale = serializers.CharField(allow_blank=True, required=False, default="", trim_whitespace=False)
    verdicts = VerdictSerializer(many=True, required=False, default=list)
    reasons = serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False, default=list)
    ts_ms = serializers.IntegerField()

    class Meta:
        model = EnhanceEntry
        fields = [
            "issue_id",
            "blueprint_id",
            "prev_hash",
            "new_hash",
            "intent",
            "rationale",
            "verdicts",
            "status",
            "reasons",
            "ts_ms",
            "tenant_id",
            "ledger",
        ]

    # to_representation reads columns only: exports hand it plain rows (ledger/api.py plain_rows).
    reads_plain_rows = True

    def to_representation(self, instance):
        # Lists stream thousands of rows: build the seed's shape directly instead of walking
        # the nested field tree per row (the stored JSON values are already plain JSON).
        return {
            "issue_id": instance.issue_id,
            "blueprint_id": instance.blueprint_id,
            "prev_hash": instance.prev_hash,
            "new_hash": instance.new_hash,
            "intent": instance.intent,
            "rationale": instance.rationale,
            "verdicts": instance.verdicts,
            "status": instance.status,
            "reasons": instance.reasons,
            "ts_ms": instance.ts_ms,
            "tenant_id": instance.tenant_id,
            "ledger": instance.ledger_block,
        }

    def to_append_fields(self, validated_data):
        fields = dict(validated_data)
        # Verdicts come back as OrderedDicts; store plain objects in the seed's key order.
        fields["verdicts"] = [
            {"axis": v["axis"], "status": v["status"], "detail": v["detail"]} for v in fields.get("verdicts", [])
        ]
        fields["reasons"] = list(fields.get("reasons", []))
        return fields


class ReviewSerializer(LedgerSerializer):
    """A review of a rejected entry; the reviewer is the authenticated principal, never sent."""

    issue_id = serializers.CharField(source="entry.issue_id", read_only=True)
    reviewer = serializers.CharField(source="recorded_by_name", read_only=True)
    server_owned = {"reviewer": "The reviewer is the authenticated principal and cannot be sent."}

    class Meta:
        model = Review
        fields = ["issue_id", "decision", "comment", "reviewer", "ledger"]

    def to_append_fields(self, validated_data):
        return {**validated_data, "entry": self.context["entry"]}
