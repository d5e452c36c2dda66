"""The API's single JSON error shape: every error body has a human-readable `detail`."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404, RawPostDataException
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledgerproject.ledger.exceptions import BatchValidationError, ConflictError, ImmutableEntryError, StateConflictError
from ledgerproject.ledger.hashing import CanonicalizationError
from ledgerproject.ledger.metrics import count_conflict
from ledgerproject.ledger.outage import DETAIL as UNAVAILABLE_DETAIL
from ledgerproject.ledger.outage import is_database_unavailable, retry_after


def _summarize(data, prefix=""):
    """One readable sentence out of DRF's nested per-field messages."""
    if isinstance(data, dict):
        parts = [
            _summarize(value, f"{prefix}{key}." if key != "non_field_errors" else prefix) for key, value in data.items()
        ]
        return "; ".join(part for part in parts if part)
    if isinstance(data, list):
        if all(isinstance(item, str) for item in data):
            label = prefix.rstrip(".")
            return (f"{label}: " if label else "") + " ".join(str(item) for item in data)
        parts = [_summarize(item, f"{prefix}{index}.") for index, item in enumerate(data) if item]
        return "; ".join(part for part in parts if part)
    label = prefix.rstrip(".")
    return (f"{label}: " if label else "") + str(data)


def validation_payload(detail):
    """DRF-style per-field messages plus a `detail` sentence naming what is wrong."""
    if isinstance(detail, dict):
        body = dict(detail)
        summary = _summarize(detail)
    elif isinstance(detail, list):
        body = {"errors": detail}
        summary = _summarize(detail)
    else:
        body = {}
        summary = str(detail)
    body["detail"] = f"Invalid input: {summary}" if summary else "Invalid input."
    return body


def batch_payload(items):
    """A rejected batch: nothing was stored; each rejected item with its index and reasons."""
    reasons = "; ".join(f"item {index}: {_summarize(messages)}" for index, messages in items)
    return {
        "detail": f"Batch rejected, nothing was stored: {reasons}",
        "items": [{"index": index, "errors": messages} for index, messages in items],
    }


def _django_validation_detail(exc):
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): list(messages)
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def _visible_to(request, entry):
    if request is None:
        return False
    return type(entry)._base_manager.visible_to(getattr(request, "user", None)).filter(pk=entry.pk).exists()


def _count_conflict(exc, view):
    if isinstance(exc, ConflictError):
        ledger = exc.existing.ledger_name
        kind = "identical" if exc.identical else "duplicate"
    else:
        model = getattr(getattr(view, "queryset", None), "model", None)
        ledger, kind = getattr(model, "ledger_name", None), "state"
    count_conflict(ledger, kind)


def exception_handler(exc, context):
    response = _error_response(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        # An error is JSON whatever `?format=` asked for: a CSV or JSON Lines renderer would turn the
        # `detail` into a row, and clients (and the schema) read every error the same way.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response


def _error_response(exc, context):
    view = context.get("view")
    if isinstance(exc, (ConflictError, StateConflictError)):
        _count_conflict(exc, view)
    if isinstance(exc, ConflictError):
        existing = exc.existing
        if not _visible_to(context.get("request"), existing):
            # Another tenant's entry holds the key: neither its content nor its likeness is shown.
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        serializer_class = getattr(view, "conflict_serializer_class", None) or (
            view.get_serializer_class() if view is not None and hasattr(view, "get_serializer_class") else None
        )
        body = {"detail": exc.message, "identical": exc.identical}
        if serializer_class is not None:
            body["existing"] = serializer_class(existing, context=view.get_serializer_context()).data
        if exc.index is not None:
            body["index"] = exc.index
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, StateConflictError):
        return Response({"detail": exc.message, **exc.extra}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ImmutableEntryError):
        return Response({"detail": str(exc)}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": f"Request body too large: {exc}"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, CanonicalizationError):
        return Response(validation_payload({"non_field_errors": [str(exc)]}), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, BatchValidationError):
        return Response(batch_payload(exc.items), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ValidationError):
        return Response(validation_payload(_django_validation_detail(exc)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError):
        return Response(validation_payload(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    if is_database_unavailable(exc):
        response = Response({"detail": UNAVAILABLE_DETAIL}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = retry_after()
        return response
    if isinstance(exc, RawPostDataException):
        return Response({"detail": "The request body could not be read."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None:
        if not isinstance(response.data, dict) or "detail" not in response.data:
            response.data = {"detail": _summarize(response.data) or response.status_text}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    return response
