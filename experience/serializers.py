"""Envelope JSON in and out (the seed's serde shape), artifact transitions and artifact rows."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from experience import schemas
from experience.models import OCCURRED_AT_MAX, TRANSITION, ExperienceEvent, envelope_of, parse_occurred_at
from ledgerproject.ledger.payloads import PayloadError, PayloadField, type_name, validate_payload
from ledgerproject.ledger.serializers import LedgerSerializer

ENVELOPE_FIELDS = ("event_id", "occurred_at", "tenant_id", "correlation_id", "event")


@extend_schema_field(
    {"type": "string", "pattern": schemas.ID_PATTERN_TEXT, "minLength": 1, "maxLength": schemas.ID_MAX}
)
class SeedIdField(serializers.CharField):
    """An id under the seed's rule (documented; the model enforces it)."""


@extend_schema_field({"type": "string", "format": "date-time", "maxLength": OCCURRED_AT_MAX})
class ZonedTimestampField(serializers.CharField):
    """A zoned ISO 8601 timestamp kept as the client wrote it (documented; the model enforces it)."""


def _shape_error(path, message):
    return serializers.ValidationError({path: [message]})


class ExperienceEventSerializer(LedgerSerializer):
    """ExperienceEventEnvelope `{event_id?, occurred_at, tenant_id?, correlation_id?, event: {type, data}}`.

    Only the envelope's shape is checked here; the kind's schema, ids and time are checked by the
    model on the append path, so every writer (API, batch, demo) gets the same rules.
    """

    # Declared for the schema (the kernel's id and time rules, the twelve kinds); to_internal_value
    # reads the body itself and the model validates it on the append path.
    event_id = SeedIdField(required=False, help_text="minted (ULID) when absent")
    occurred_at = ZonedTimestampField(help_text="ISO 8601 with a zone (Z or ±hh:mm), kept as claimed")
    tenant_id = SeedIdField(required=False, allow_null=True)
    correlation_id = SeedIdField(required=False, allow_null=True)
    event = PayloadField(schemas.ExperienceEventBody)
    tenant_path = "tenant_id"

    class Meta:
        model = ExperienceEvent
        fields = ["event_id", "occurred_at", "tenant_id", "correlation_id", "event", "ledger"]

    def accepted_fields(self):
        # The envelope is parsed by hand below.
        return ENVELOPE_FIELDS

    # A list page and an export read plain rows of the envelope's columns (envelope_of() reads only these).
    reads_plain_rows = True
    plain_row_reads = ("kind", "data")

    def to_representation(self, obj):
        # The envelope is already plain JSON; skipping DRF's per-field machinery halves list and export time.
        return {**envelope_of(obj), "ledger": obj.ledger_block}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise _shape_error("non_field_errors", f"expected an event envelope object, got {type(data).__name__}")
        self.refuse_fields(data)
        errors = {}
        fields = {}
        for name in ("event_id", "tenant_id", "correlation_id"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                errors[name] = [f"expected a string or null, got {type_name(value)}"]
            elif value is not None:
                fields[name] = value
        occurred_at = data.get("occurred_at")
        if occurred_at is None:
            errors["occurred_at"] = ["this field is required (ISO 8601, e.g. 2026-01-21T12:00:00Z)"]
        elif not isinstance(occurred_at, str):
            errors["occurred_at"] = [f"expected an ISO 8601 string, got {type_name(occurred_at)}"]
        else:
            fields["occurred_at"] = occurred_at
        event = data.get("event")
        if event is None:
            errors["event"] = ['this field is required: {"type": <kind>, "data": {...}}']
        else:
            try:
                # Shape and kind only; the data's schema is the model's job (see class docstring).
                schemas.check_event_shape(event)
            except PayloadError as exc:
                errors.update(exc.errors)
            else:
                fields["kind"] = event["type"]
                fields["data"] = event["data"]
        if errors:
            raise serializers.ValidationError(errors)
        return fields

    def validate(self, attrs):
        # The kernel gives the entry the writer's tenant (artifact ids, like event ids, are per
        # tenant: a transition never needs to know whether another tenant used the same id).
        return super().validate(attrs)


class ArtifactTransitionSerializer(ExperienceEventSerializer):
    """POST /artifacts/{id}/transitions/ `{artifact_kind, event: LifecycleEvent, event_id?, correlation_id?}`.

    The seed's write_artifact_state_transition: becomes an ArtifactStateTransitioned event whose
    occurred_at is the lifecycle event's timestamp and whose tenant is the lifecycle event's tenant_id.
    """

    tenant_path = "event.tenant_id"

    def accepted_fields(self):
        return ("artifact_kind", "event", "event_id", "correlation_id")

    def to_internal_value(self, data):
        self.refuse_fields(data)
        try:
            body = validate_payload(schemas.ArtifactTransition, data)
        except PayloadError as exc:
            raise serializers.ValidationError(exc.errors) from None
        lifecycle = body["event"]
        try:
            parse_occurred_at(lifecycle["timestamp"])
        except ValueError as exc:
            raise _shape_error("event.timestamp", str(exc)) from None
        fields = {
            "occurred_at": lifecycle["timestamp"],
            "tenant_id": lifecycle["tenant_id"],
            "correlation_id": body["correlation_id"],
            "kind": TRANSITION,
            "data": {
                "artifact_id": self.context["artifact_id"],
                "artifact_kind": body["artifact_kind"],
                "event": lifecycle,
            },
        }
        if body["event_id"] is not None:
            fields["event_id"] = body["event_id"]
        return fields


class _LastTransitionSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    from_state = serializers.CharField(allow_null=True)
    to_state = serializers.CharField()
    timestamp = serializers.CharField()
    actor = serializers.CharField()
    reason = serializers.CharField(allow_null=True)
    seq = serializers.IntegerField()


class ArtifactSerializer(serializers.Serializer):
    """One artifact with its current state, derived from its newest ArtifactStateTransitioned event.

    The fields are declared for the schema and the CSV columns; to_representation builds the row.
    """

    artifact_id = serializers.CharField(read_only=True)
    artifact_kind = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    tenant_id = serializers.CharField(read_only=True, allow_null=True)
    last_transition = _LastTransitionSerializer(read_only=True)

    def to_representation(self, obj):
        lifecycle = obj.data["event"]
        return {
            "artifact_id": obj.artifact_id,
            "artifact_kind": obj.data["artifact_kind"],
            "state": lifecycle["to_state"],
            "tenant_id": obj.tenant_id,
            "last_transition": {
                "event_id": obj.event_id,
                "from_state": lifecycle["from_state"],
                "to_state": lifecycle["to_state"],
                "timestamp": lifecycle["timestamp"],
                "actor": lifecycle["actor"],
                "reason": lifecycle["reason"],
                "seq": obj.seq,
            },
        }
