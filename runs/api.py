"""REST endpoints: the blob CAS (raw bytes in and out), the run ledger with its events, and task outputs."""

from django.http import FileResponse, HttpResponse
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ParseError, UnsupportedMediaType
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from ledgerproject.ledger.api import LedgerViewSet, StreamingListMixin
from ledgerproject.ledger.tenancy import named_tenant, visible_or_404
from ledgerproject.ledger.validators import is_sha256
from runs import blobstore
from runs.filters import OutputFilterSet, RunFilterSet
from runs.models import Blob, Output, Run, RunEvent, RunOutcome, RunStatus
from runs.serializers import (
    BlobSerializer,
    OutputSerializer,
    RunEventSerializer,
    RunSerializer,
    RunSummarySerializer,
    outcome_fields,
)

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Blob is too large."


class LengthRequired(APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "A blob upload needs a Content-Length header (chunked bodies are not accepted)."


class IntegrityFailure(APIException):
    # The server's own stored bytes are damaged: not the caller's fault, and never served.
    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "Stored bytes fail verification against their digest."


def _checked_digest(digest):
    if not is_sha256(digest):
        raise DRFValidationError({"digest": [f"{digest!r} is not a SHA-256 digest (64 hexadecimal characters)."]})
    return digest.lower()


class BlobViewSet(StreamingListMixin, viewsets.GenericViewSet):
    """Content-addressed blobs: POST raw bytes, GET/HEAD them by digest, DELETE when nothing refers to them."""

    queryset = Blob.objects.with_presence()
    serializer_class = BlobSerializer
    lookup_field = "digest"
    lookup_value_regex = "[^/]+"
    required_permissions = {
        "GET": "runs.view_blob",
        "HEAD": "runs.view_blob",
        "OPTIONS": "runs.view_blob",
        "POST": "runs.add_blob",
        # Deleting bytes appends a BlobChange; it is the writer's right to append that ledger.
        "DELETE": "runs.add_blobchange",
    }
    http_method_names = ["get", "post", "head", "delete", "options"]

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user)

    @extend_schema(summary="Blob records (metadata and presence), in the order they were first stored")
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if self.wants_stream():
            return self.stream_response(queryset.order_by("seq"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Store the raw request body; 201 when new, 200 when these bytes were already stored",
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={200: BlobSerializer, 201: BlobSerializer},
    )
    def create(self, request, *args, **kwargs):
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.split(";")[0].strip().lower() in FORM_TYPES:
            # A form body would be parsed (and held in memory) by Django; blobs are raw bytes.
            raise UnsupportedMediaType(
                content_type,
                detail="Send the blob as the raw request body (e.g. application/octet-stream), not a form.",
            )
        if (
            not request.META.get("CONTENT_LENGTH")
            and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            # Django reads a body only up to its Content-Length; a chunked body would be stored empty.
            raise LengthRequired()
        try:
            blob, created = blobstore.put_blob(
                request.stream, media_type=content_type, recorded_by=request.user, tenant=named_tenant(request)
            )
        except blobstore.BlobTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except OSError as exc:
            raise ParseError(f"The request body could not be read: {exc}") from None
        blob = Blob.objects.with_presence().get(pk=blob.pk)
        response = Response(
            self.get_serializer(blob).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{blob.digest}/")
        response["ETag"] = quote_etag(blob.digest)
        return response

    def _present_blob(self, digest):
        digest = _checked_digest(digest)
        blob = Blob.objects.visible_to(self.request.user).with_presence().filter(digest=digest).first()
        if blob is None or not blob.present:
            raise NotFound(f"No blob with digest {digest} is stored.")
        return blob

    @extend_schema(
        summary="The exact stored bytes (ETag = digest); 400 for a malformed digest, 404 when absent",
        responses={(200, "*/*"): OpenApiTypes.BINARY},  # the media type the bytes were stored with
    )
    def retrieve(self, request, digest=None, *args, **kwargs):
        blob = self._present_blob(digest)
        etag = quote_etag(blob.digest)
        if request.method == "HEAD":
            # contains(): presence and size, without reading the bytes.
            response = HttpResponse(content_type=blob.media_type)
            response["Content-Length"] = str(blob.size)
            response["ETag"] = etag
            return response
        if etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
            response["ETag"] = etag
            return response
        try:
            handle = blobstore.open_verified(blob.digest)
        except blobstore.BlobIntegrityError as exc:
            raise IntegrityFailure(str(exc)) from None
        if handle is None:
            raise NotFound(f"Blob {blob.digest} is recorded as stored but its bytes are missing from storage.")
        response = FileResponse(handle, content_type=blob.media_type)
        response["Content-Length"] = str(blob.size)
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        response["X-Content-Type-Options"] = "nosniff"
        # Served bytes are data, never a page of this site.
        response["Content-Disposition"] = f'attachment; filename="{blob.digest}"'
        return response

    @extend_schema(summary="Delete the bytes (204, also when absent); 409 while anything refers to the digest")
    def destroy(self, request, digest=None, *args, **kwargs):
        digest = _checked_digest(digest)
        blobstore.delete_blob(
            digest, recorded_by=request.user, reason=request.query_params.get("reason", ""), user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunViewSet(LedgerViewSet):
    """Runs: create (status RUNNING), list newest first, get; complete / fail / cancel append the outcome."""

    queryset = Run.objects.with_status()
    serializer_class = RunSerializer
    filterset_class = RunFilterSet
    lookup_field = "run_id"
    cursor_ordering = ("-created_at", "-seq")

    def _finish(self, request, run_id, status_value):
        run = visible_or_404(Run.objects.all(), request, what="run", run_id=run_id)
        summary = RunSummarySerializer(data=request.data)
        summary.is_valid(raise_exception=True)
        RunOutcome.objects.append(
            recorded_by=request.user, run=run, **outcome_fields(status_value, summary.validated_data)
        )
        run = self.get_queryset().get(pk=run.pk)
        return Response(self.get_serializer(run).data, status=status.HTTP_200_OK)

    @extend_schema(
        summary="Mark the run COMPLETED with its RunSummary; 409 if already finished",
        request=RunSummarySerializer,
        responses=RunSerializer,
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, run_id=None):
        return self._finish(request, run_id, RunStatus.COMPLETED)

    @extend_schema(
        summary="Mark the run FAILED with its RunSummary; 409 if already finished",
        request=RunSummarySerializer,
        responses=RunSerializer,
    )
    @action(detail=True, methods=["post"])
    def fail(self, request, run_id=None):
        return self._finish(request, run_id, RunStatus.FAILED)

    @extend_schema(
        summary="Mark the run CANCELLED with its RunSummary; 409 if already finished",
        request=RunSummarySerializer,
        responses=RunSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, run_id=None):
        return self._finish(request, run_id, RunStatus.CANCELLED)

    def get_permissions(self):
        # Finishing a run appends to the outcome ledger: that is the permission it needs.
        if self.action in ("complete", "fail", "cancel"):
            self.permission_model = RunOutcome
        return super().get_permissions()


@extend_schema_view(
    create=extend_schema(summary="Append one event `{seq?, kind, payload, timestamp?}` or an array of them, atomically")
)
class RunEventViewSet(LedgerViewSet):
    """A run's events ascending by seq; POST one event or an array (atomic)."""

    queryset = RunEvent.objects.all()
    serializer_class = RunEventSerializer
    cursor_ordering = ("event_seq",)
    # GET /runs/{run_id}/events/{seq}/ is the run's event with that seq.
    lookup_field = "event_seq"
    lookup_url_kwarg = "seq"
    lookup_value_regex = "[0-9]+"

    def get_run(self):
        if not hasattr(self, "_run"):
            self._run = visible_or_404(Run.objects.all(), self.request, what="run", run_id=self.kwargs["run_id"])
        return self._run

    def get_queryset(self):
        return super().get_queryset().filter(run=self.get_run())

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "run_id" in getattr(self, "kwargs", {}) and self.request is not None and self.request.method == "POST":
            context["run"] = self.get_run()  # the events' run, found through visible_to() (404 otherwise)
        return context


class OutputViewSet(LedgerViewSet):
    """Task outputs: append (id minted), list in insertion order, get, and latest by producer."""

    queryset = Output.objects.all()
    serializer_class = OutputSerializer
    filterset_class = OutputFilterSet
    lookup_field = "output_id"
    lookup_url_kwarg = "id"

    @extend_schema(
        summary="Newest output of a producer; with task_id and attempt, only within that run (never another's)",
        parameters=[
            OpenApiParameter("producer_agent", str, required=True),
            OpenApiParameter("task_id", str),
            OpenApiParameter("attempt", int),
        ],
        responses=OutputSerializer,
    )
    @action(detail=False, methods=["get"])
    def latest(self, request):
        producer = request.query_params.get("producer_agent")
        task_id = request.query_params.get("task_id")
        attempt = request.query_params.get("attempt")
        if not producer:
            raise DRFValidationError({"producer_agent": ["producer_agent is required."]})
        queryset = self.get_queryset()
        if task_id is None and attempt is None:
            output = queryset.latest_by_name(producer)
            where = ""
        else:
            if task_id is None or attempt is None:
                raise DRFValidationError({"non_field_errors": ["task_id and attempt go together (they name one run)."]})
            try:
                attempt_number = int(attempt)
                if attempt_number < 0:
                    raise ValueError
            except ValueError:
                raise DRFValidationError({"attempt": ["attempt is a non-negative integer."]}) from None
            output = queryset.latest_by_name_in_run(task_id, attempt_number, producer)
            where = f" in task {task_id!r} attempt {attempt_number}"
        if output is None:
            raise NotFound(f"No output of producer {producer!r}{where}.")
        return Response(self.get_serializer(output).data)
