"""REST API of the enhance log: entries (append, get, list, batch, export), blueprint traces and reviews."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from enhancelog.filters import EnhanceEntryFilterSet
from enhancelog.models import EnhanceEntry, Review, find_breaks
from enhancelog.serializers import EnhanceEntrySerializer, ReviewSerializer
from ledgerproject.ledger.api import LedgerViewSet


class EnhanceEntryViewSet(LedgerViewSet):
    """One entry per enhance attempt, keyed by issue_id; lists ascend by (ts_ms, seq)."""

    queryset = EnhanceEntry.objects.all()
    serializer_class = EnhanceEntrySerializer
    filterset_class = EnhanceEntryFilterSet
    lookup_field = "issue_id"
    lookup_value_regex = "[^/]+"
    cursor_ordering = ("ts_ms", "seq")


class BlueprintTraceView(APIView):
    """A blueprint's history: every attempt ascending by (ts_ms, seq), and the continuity breaks."""

    permission_model = EnhanceEntry

    @extend_schema(summary="A blueprint's enhance history with continuity breaks", responses=None)
    def get(self, request, blueprint_id):
        entries = list(EnhanceEntry.objects.for_blueprint(blueprint_id).in_list_order())
        if not entries:
            raise NotFound(f"No enhance entries for blueprint {blueprint_id!r}.")
        latest = Review.objects.latest_per_entry([e for e in entries if e.status == EnhanceEntry.REJECTED])
        context = {"request": request}
        rows = []
        for entry in entries:
            row = EnhanceEntrySerializer(entry, context=context).data
            review = latest.get(entry.pk)
            if entry.status == EnhanceEntry.REJECTED:
                row["review"] = (
                    {"decision": review.decision, "reviewer": review.recorded_by_name, "seq": review.seq}
                    if review
                    else None
                )
            rows.append(row)
        applied = [e for e in entries if e.status == EnhanceEntry.APPLIED]
        return Response(
            {
                "blueprint_id": blueprint_id,
                "count": len(entries),
                "applied": len(applied),
                "rejected": len(entries) - len(applied),
                "head_hash": applied[-1].new_hash if applied else None,
                "entries": rows,
                "breaks": find_breaks(entries),
            }
        )


class EntryReviewsView(generics.ListCreateAPIView):
    """Reviews of one rejected entry, oldest first; the last one is its review state. POST needs the reviewer role."""

    serializer_class = ReviewSerializer
    permission_model = Review

    def get_entry(self):
        if not hasattr(self, "_entry"):
            self._entry = get_object_or_404(EnhanceEntry, issue_id=self.kwargs["issue_id"])
        return self._entry

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Review.objects.none()
        return Review.objects.for_entry(self.get_entry()).select_related("entry")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "issue_id" in getattr(self, "kwargs", {}) and not getattr(self, "swagger_fake_view", False):
            context["entry"] = self.get_entry()
        return context

    def create(self, request, *args, **kwargs):
        self.get_entry()  # 404 before validation: the entry named in the URL must exist
        return super().create(request, *args, **kwargs)
