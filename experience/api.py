"""REST endpoints: events (append, batch, query, export), artifacts and their transitions, trace links."""

import json

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from experience import schemas
from experience.filters import ArtifactFilterSet, ExperienceEventFilterSet, parse_limit
from experience.models import ExperienceEvent
from experience.serializers import (
    ArtifactSerializer,
    ArtifactTransitionSerializer,
    ExperienceEventSerializer,
)
from ledgerproject.ledger.api import LedgerViewSet, StreamingListMixin
from ledgerproject.ledger.tenancy import one_tenant


def _valid_id_or_404(value, what):
    if schemas.id_problem(value):
        raise NotFound(f"{what} {value!r} not found.")
    return value


class CappedListMixin:
    """The seed's `limit`: caps the whole filtered result, across pages and exports."""

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.action == "list":
            queryset = queryset.capped(parse_limit(self.request.query_params.get("limit")))
        return queryset


class ExperienceEventViewSet(CappedListMixin, LedgerViewSet):
    """Experience events: append one (201; 409 on a repeated event_id), a batch, or query them."""

    queryset = ExperienceEvent.objects.all()
    serializer_class = ExperienceEventSerializer
    filterset_class = ExperienceEventFilterSet
    lookup_field = "event_id"
    lookup_value_regex = "[^/]+"
    cursor_ordering = ("seq",)

    def stream_response(self, queryset, rows=None):
        if rows is None and self.request.accepted_renderer.format == "csv":
            rows = self._csv_rows(queryset)
        return super().stream_response(queryset, rows)

    def get_csv_columns(self):
        # `event` is {type, data}: a column for the kind and one JSON column for the kind's payload.
        columns = super().get_csv_columns()
        at = columns.index("event")
        return [*columns[:at], "event.type", "event.data", *columns[at + 1 :]]

    def _csv_rows(self, queryset):
        """Kinds have different payloads, so CSV keeps `event.data` as one JSON column: every row has the same columns."""
        context = self.get_serializer_context()
        for obj in queryset.iterator(chunk_size=2000):
            row = ExperienceEventSerializer(obj, context=context).data
            row["event"] = {
                "type": obj.kind,
                "data": json.dumps(obj.data, ensure_ascii=False, separators=(",", ":")),
            }
            yield row


class ArtifactViewSet(CappedListMixin, StreamingListMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET /artifacts/: one row per artifact with its current state (derived from its newest transition)."""

    serializer_class = ArtifactSerializer
    filterset_class = ArtifactFilterSet
    permission_model = ExperienceEvent
    cursor_ordering = ("seq",)

    def get_queryset(self):
        return ExperienceEvent.objects.visible_to(self.request.user).current_artifacts()


class ArtifactTransitionsView(APIView):
    """GET an artifact's history (transitions and rollback records); POST a lifecycle transition."""

    permission_model = ExperienceEvent
    serializer_class = ArtifactTransitionSerializer

    def history(self, artifact_id):
        _valid_id_or_404(artifact_id, "Artifact")
        visible = ExperienceEvent.objects.visible_to(self.request.user).for_artifact(artifact_id)
        return one_tenant(visible, self.request)

    @extend_schema(
        responses=inline_serializer(
            "ArtifactTransitions",
            {
                "artifact_id": serializers.CharField(),
                "artifact_kind": serializers.CharField(allow_null=True),
                "state": serializers.CharField(),
                "tenant_id": serializers.CharField(allow_null=True),
                "transitions": ExperienceEventSerializer(many=True),
                "rollbacks": ExperienceEventSerializer(many=True),
            },
        )
    )
    def get(self, request, artifact_id):
        events = list(self.history(artifact_id).order_by("seq"))
        if not events:
            # The same answer whether the artifact is absent or another tenant's.
            raise NotFound(f"Artifact {artifact_id!r} not found.")
        transitions = [e for e in events if e.kind != "ArtifactRollbackRecorded"]
        current = transitions[-1] if transitions else None
        context = {"request": request}
        return Response(
            {
                "artifact_id": artifact_id,
                "artifact_kind": current.data["artifact_kind"] if current else None,
                "state": current.data["event"]["to_state"] if current else "Draft",
                "tenant_id": current.tenant_id if current else events[0].tenant_id,
                "transitions": ExperienceEventSerializer(transitions, many=True, context=context).data,
                "rollbacks": ExperienceEventSerializer(
                    [e for e in events if e.kind == "ArtifactRollbackRecorded"], many=True, context=context
                ).data,
            }
        )

    @extend_schema(request=schemas.ArtifactTransition, responses={201: ExperienceEventSerializer})
    def post(self, request, artifact_id):
        # Artifact ids are per tenant: the transition lands in the writer's tenant (a new artifact
        # there when only another tenant has one of that id), and its state rules are that tenant's.
        _valid_id_or_404(artifact_id, "Artifact")
        serializer = ArtifactTransitionSerializer(
            data=request.data, context={"request": request, "artifact_id": artifact_id, "view": self}
        )
        serializer.is_valid(raise_exception=True)
        entry = serializer.save()
        return Response(
            ExperienceEventSerializer(entry, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    def get_serializer_class(self):
        # The kernel's 409 body serializes the stored entry with this.
        return ExperienceEventSerializer

    def get_serializer_context(self):
        return {"request": self.request, "view": self}


def trace_link_events(user, trace_link_id):
    """Every visible event referencing the trace link (by column), in append order."""
    _valid_id_or_404(trace_link_id, "Trace link")
    return ExperienceEvent.objects.visible_to(user).for_trace_link(trace_link_id).order_by("seq")


def recorded_trace(events):
    """The first ReplayTraceRecorded event among `events`, or None."""
    return next((e for e in events if e.kind == "ReplayTraceRecorded"), None)


class TraceLinkView(APIView):
    """The seed's get_trace_link: the ReplayTrace recorded for an id, plus every event referencing it."""

    permission_model = ExperienceEvent

    @extend_schema(responses=dict)
    def get(self, request, trace_link_id):
        events = list(trace_link_events(request.user, trace_link_id))
        recorded = recorded_trace(events)
        if recorded is None:
            raise Http404(f"No ReplayTrace is recorded for trace link {trace_link_id!r}.")
        context = {"request": request}
        return Response(
            {
                "trace_link_id": trace_link_id,
                "trace_link": recorded.data["trace_link"],
                "recorded": ExperienceEventSerializer(recorded, context=context).data,
                "events": ExperienceEventSerializer(events, many=True, context=context).data,
            }
        )
