"""LogRecordViewSet (append one or an array, query, export) and the appender's health endpoint."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from ledgerproject.ledger.api import LedgerViewSet
from ledgerproject.ledger.tenancy import visible_or_404
from logchain.appender import appender_stats
from logchain.filters import LogRecordFilterSet
from logchain.models import LogRecord
from logchain.serializers import LogRecordSerializer


@extend_schema_view(create=extend_schema(summary="Append one LogRecord, or an array of them atomically"))
class LogRecordViewSet(LedgerViewSet):
    """Per-node log records in append order; POST takes one record or an array (atomic)."""

    queryset = LogRecord.objects.all()
    serializer_class = LogRecordSerializer
    filterset_class = LogRecordFilterSet
    cursor_ordering = ("seq",)

    def get_object(self):
        node_id, seq = self.kwargs["node_id"], self.kwargs["seq"]
        if not (node_id.isdecimal() and seq.isdecimal()):
            raise NotFound(f"No log record of node {node_id!r} with seq {seq!r}: both are whole numbers.")
        queryset = self.filter_queryset(LogRecord.objects.all())
        obj = visible_or_404(queryset, self.request, what="log record", node_id=int(node_id), node_seq=int(seq))
        self.check_object_permissions(self.request, obj)
        return obj


class AppenderStatsSerializer(serializers.Serializer):
    """The shape of GET /logs/appender/ (documentation only; the view returns appender_stats())."""

    kind = serializers.ChoiceField(choices=["ledger", "buffer", "noop"], help_text="Which appender this process uses.")
    capacity = serializers.IntegerField(allow_null=True, help_text="Most records the buffer holds (null: no buffer).")
    buffered = serializers.IntegerField(help_text="Records waiting in the buffer now.")
    dropped = serializers.IntegerField(help_text="Records dropped because the buffer was full; never decreases.")
    pending = serializers.IntegerField(help_text="Buffered records whose first write to the ledger failed.")
    appended = serializers.IntegerField(help_text="Records this process wrote to the ledger.")
    failures = serializers.IntegerField(help_text="Failed writes (each retried later).")
    rejected = serializers.IntegerField(help_text="Records the ledger refused as invalid (dropped).")
    last_error = serializers.CharField(allow_blank=True)
    last_flush_at_ms = serializers.IntegerField(allow_null=True)
    node_id = serializers.IntegerField(allow_null=True, help_text="The node id of this application's own records.")
    flush_interval_s = serializers.FloatField(allow_null=True)
    pid = serializers.IntegerField(help_text="The worker process these figures belong to.")
    handler_errors = serializers.IntegerField(help_text="Log records the handler could not pass on.")
    last_handler_error = serializers.CharField(allow_blank=True)
    rate_limited = serializers.IntegerField(
        help_text="This application's own records dropped over the rate limit (they still reach the console)."
    )
    config_error = serializers.CharField(
        allow_blank=True, help_text="Always empty: a bad LOGCHAIN_* setting stops the server at start instead."
    )


class AppenderStatsView(APIView):
    """The application's own log appender in this worker process: capacity, buffered, dropped, pending."""

    permission_model = LogRecord

    @extend_schema(
        summary="The project's own log appender: capacity, buffered, dropped and pending counts",
        responses=AppenderStatsSerializer,
    )
    def get(self, request):
        return Response(appender_stats())
