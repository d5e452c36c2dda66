"""Wire shapes of blobs, runs (RunRecord, RunEvent, RunSummary) and task outputs, as the seeds' serde JSON."""

import datetime
import uuid

from django.utils import timezone
from rest_framework import serializers

from ledgerproject.ledger.payloads import PayloadField, Sha256Field
from ledgerproject.ledger.serializers import LedgerSerializer, StrictSerializer
from ledgerproject.ledger.validators import MAX_JSON_INT
from runs.models import Blob, Output, Run, RunEvent, RunStatus
from runs.models.run_outcomes import outcome_summary
from runs.schemas import OutputEvent


class BlobSerializer(LedgerSerializer):
    present = serializers.SerializerMethodField()

    class Meta:
        model = Blob
        fields = ["digest", "size", "media_type", "present", "ledger"]
        read_only_fields = ["digest", "size", "media_type"]

    def get_present(self, blob) -> bool:
        return bool(blob.is_present)


class RunMetadataSerializer(StrictSerializer):
    git_sha = serializers.CharField(max_length=64, allow_null=True, required=False, default=None)
    agent_name = serializers.CharField(max_length=256)
    tags = serializers.JSONField(required=False, default=dict)


class RunSummarySerializer(StrictSerializer):
    total_events = serializers.IntegerField(min_value=0, max_value=MAX_JSON_INT)
    final_state_digest = Sha256Field(allow_null=True, required=False, default=None)
    duration_ms = serializers.IntegerField(min_value=0, max_value=MAX_JSON_INT)
    success = serializers.BooleanField(required=False, allow_null=True, default=None)


def outcome_of(run):
    """A run's outcome, None while it runs: a Run's (its outcome_or_none) or a list page's plain row's."""
    # A Run without an outcome raises RelatedObjectDoesNotExist, an AttributeError: getattr's default.
    return getattr(run, "outcome", None)


class RunSerializer(LedgerSerializer):
    """RunRecord: {run_id, spec_digest, metadata, status, summary, created_at, completed_at}."""

    run_id = serializers.UUIDField(read_only=True)
    spec_digest = Sha256Field()
    metadata = RunMetadataSerializer(source="*")
    status = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    # The seed's name for the run's start as its creator claims it; the trusted time is ledger.recorded_at.
    created_at = serializers.DateTimeField(
        required=False,
        help_text=(
            "The run's start as the client claims it (the server's arrival time when left out); not a trusted"
            " time: when the server recorded the run is `ledger.recorded_at`. (On a release, `created_at` is"
            " the server's time.)"
        ),
    )
    completed_at = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "run_id",
            "spec_digest",
            "metadata",
            "status",
            "summary",
            "created_at",
            "completed_at",
            "tenant_id",
            "ledger",
        ]

    server_owned = {
        "run_id": "The run id is minted by the server and cannot be sent.",
        **dict.fromkeys(("status", "summary", "completed_at"), "Set by complete/fail/cancel, not on creation."),
    }

    # A list page reads runs as plain rows, each with its outcome's columns from the same query (a LEFT
    # JOIN: `outcome` is None while the run is RUNNING); the methods below read only these.
    reads_plain_rows = True
    plain_row_reads = tuple(
        f"outcome__{name}" for name in ("status", "total_events", "final_state_digest", "duration_ms", "success")
    ) + ("outcome__recorded_at",)

    def get_status(self, run) -> str:
        outcome = outcome_of(run)
        return str(outcome.status) if outcome else str(RunStatus.RUNNING)

    def get_summary(self, run) -> RunSummarySerializer(allow_null=True):
        outcome = outcome_of(run)
        return outcome_summary(outcome) if outcome else None

    def get_completed_at(self, run) -> serializers.DateTimeField(allow_null=True):
        # An outcome's completed_at is its recorded_at.
        outcome = outcome_of(run)
        return self.datetime_text(outcome.recorded_at) if outcome else None

    def create(self, validated_data):
        return self._running(super().create(validated_data))

    def append_rows(self, rows):
        return [self._running(run) for run in super().append_rows(rows)]

    @staticmethod
    def _running(run):
        # A run is created running: no outcome can name it yet, so its answer need not ask for one.
        Run.outcome.related.set_cached_value(run, None)
        return run

    def to_append_fields(self, validated_data):
        fields = dict(validated_data)
        fields["run_id"] = uuid.uuid4()
        fields.setdefault("created_at", timezone.now())
        if fields.get("tags") is None:
            fields["tags"] = {}
        return fields


class RunEventSerializer(LedgerSerializer):
    """RunEvent: {seq, kind, payload, timestamp}; seq may be left out (one above the run's highest)."""

    run_id = serializers.UUIDField(read_only=True)
    seq = serializers.IntegerField(source="event_seq", min_value=1, max_value=MAX_JSON_INT, required=False)
    payload = serializers.JSONField(required=False, default=dict)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)

    class Meta:
        model = RunEvent
        fields = ["run_id", "seq", "kind", "payload", "timestamp", "ledger"]

    # Every field is a column: a run's list of events and its exports read plain rows of them.
    reads_plain_rows = True

    def problems_across(self, items):
        first_with, repeats = {}, []
        for index, item in enumerate(items):
            seq = item.get("event_seq")
            if seq is None:
                continue
            if seq in first_with:
                repeats.append((index, {"seq": [f"seq {seq} repeats the seq of item {first_with[seq]} in this array"]}))
            else:
                first_with[seq] = index
        return repeats

    def append_rows(self, rows):
        # The run comes from the URL (the view found it through visible_to()); numbering is the run's.
        return RunEvent.objects.append_events(self.context["run"], rows, recorded_by=self.principal())

    def create(self, validated_data):
        return self.append_rows([self.to_append_fields(validated_data)])[0]

    def to_representation(self, event):
        data = super().to_representation(event)
        if data.get("timestamp") is None:
            # No claimed time: the server's arrival time is the event's time (as the Surreal ledger does),
            # written as a DateTimeField writes it (a plain row holds the database's text of it).
            recorded_at = event.recorded_at
            if isinstance(recorded_at, str):
                recorded_at = datetime.datetime.fromisoformat(recorded_at)
            data["timestamp"] = self.datetime_text(recorded_at)
        return data


def outcome_fields(status, summary):
    """A validated RunSummary as RunOutcome fields; success defaults to what the status means."""
    success = summary.get("success")
    if success is None:
        success = status == RunStatus.COMPLETED
    return {
        "status": status,
        "total_events": summary["total_events"],
        "final_state_digest": summary.get("final_state_digest"),
        "duration_ms": summary["duration_ms"],
        "success": success,
    }


class OutputSerializer(LedgerSerializer):
    """OutputRecord: {id, task_id, attempt, producer_agent, event, parent_refs}; the server mints `id`."""

    id = serializers.CharField(source="output_id", read_only=True)
    attempt = serializers.IntegerField(min_value=0, max_value=2**32 - 1)
    event = PayloadField(OutputEvent)
    parent_refs = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)

    class Meta:
        model = Output
        fields = ["id", "task_id", "attempt", "producer_agent", "event", "parent_refs", "tenant_id", "ledger"]

    # Every field is a column: list pages and exports read plain rows of them.
    reads_plain_rows = True

    server_owned = {"id": "The output id is minted by the server and cannot be sent."}

    def to_append_fields(self, validated_data):
        from runs.models import mint_output_id

        return {**validated_data, "output_id": mint_output_id()}
