"""REST API of the enhance log: entries (append, get, list, batch, export), blueprint traces and reviews."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from enhancelog.filters import EnhanceEntryFilterSet
from enhancelog.models import (
    TRACE_MAX_PAGE_SIZE,
    TRACE_PAGE_SIZE,
    EnhanceEntry,
    Review,
    trace_page,
)
from enhancelog.serializers import EnhanceEntrySerializer, ReviewSerializer
from ledgerproject.ledger.api import AppendMixin, LedgerViewSet
from ledgerproject.ledger.params import parse_int
from ledgerproject.ledger.tenancy import one_tenant, visible_or_404


class EnhanceEntryViewSet(LedgerViewSet):
    """One entry per enhance attempt, keyed by issue_id; lists ascend by (ts_ms, seq)."""

    queryset = EnhanceEntry.objects.all()
    serializer_class = EnhanceEntrySerializer
    filterset_class = EnhanceEntryFilterSet
    lookup_field = "issue_id"
    lookup_value_regex = "[^/]+"
    cursor_ordering = ("ts_ms", "seq")


class BlueprintTraceView(APIView):
    """A blueprint's history, one page at a time: attempts ascending by (ts_ms, seq), and the continuity breaks."""

    permission_model = EnhanceEntry

    @extend_schema(
        summary="A blueprint's enhance history with continuity breaks (paged)",
        parameters=[
            OpenApiParameter("page_size", int, description=f"entries per page, 1–{TRACE_MAX_PAGE_SIZE}"),
            OpenApiParameter("cursor", str, description="the page a `next` or `previous` link names (opaque)"),
            OpenApiParameter(
                "after", str, description="older form of a position: `<ts_ms>.<seq>` of the last entry seen"
            ),
            OpenApiParameter("tenant_id", str, description="the tenant, when the id is used in several of yours"),
        ],
        responses=None,
    )
    def get(self, request, blueprint_id):
        limit = parse_int(
            request.query_params.get("page_size", str(TRACE_PAGE_SIZE)), minimum=1, maximum=TRACE_MAX_PAGE_SIZE
        )
        if limit is None:
            raise ValidationError({"page_size": [f"page_size must be an integer from 1 to {TRACE_MAX_PAGE_SIZE}."]})
        # A blueprint id used in several of the reader's tenants names one with ?tenant_id= (else a 400).
        visible = one_tenant(EnhanceEntry.objects.visible_to(request.user).for_blueprint(blueprint_id), request)
        page = trace_page(visible, blueprint_id, request)
        if page is None:
            raise NotFound(f"No enhance entries for blueprint {blueprint_id!r}.")
        entries = page["entries"]
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
        links = page["page"]
        return Response(
            {
                "blueprint_id": blueprint_id,
                "count": page["count"],
                "applied": page["applied"],
                "rejected": page["rejected"],
                "head_hash": page["head"].new_hash if page["head"] else None,
                "entries": rows,
                "breaks": page["breaks"],
                "next": request.build_absolute_uri(request.path + links.next_query) if links.next_query else None,
                "previous": request.build_absolute_uri(request.path + links.previous_query)
                if links.previous_query
                else None,
                "page_size": limit,
            }
        )


class EntryReviewsView(AppendMixin, generics.ListCreateAPIView):
    """Reviews of one rejected entry, oldest first; the last one is its review state. POST (one review or an
    array, atomically) needs the reviewer role."""

    serializer_class = ReviewSerializer
    permission_model = Review

    def get_entry(self):
        if not hasattr(self, "_entry"):
            self._entry = visible_or_404(
                EnhanceEntry.objects.all(), self.request, what="enhance entry", issue_id=self.kwargs["issue_id"]
            )
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
