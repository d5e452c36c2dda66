"""Refuses request bodies above the configured size (413) and input no view can read (411, 400) early."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    # Blob uploads stream to storage and have their own, larger limit.
    large_body_prefixes = ("/api/v1/blobs/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        limit = (
            settings.LEDGER_MAX_BLOB_BYTES
            if request.path.startswith(self.large_body_prefixes)
            else settings.LEDGER_MAX_REQUEST_BYTES
        )
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body of {length} bytes is larger than the limit of {limit} bytes."}, status=413
            )
        return self.get_response(request)


def _refusal(request, status, detail):
    """A refusal in the caller's language: JSON with a `detail` under /api/, a plain page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class UnreadableInputMiddleware:
    """Refuses, with a 4xx, input no view can read correctly, before any view sees it.

    - A chunked body (no Content-Length): Django reads a body only up to its Content-Length, so the
      view would see an empty body and answer a misleading 400. 411 says what to send instead.
    - NUL in the path or a query parameter: PostgreSQL cannot hold it in text, so a lookup with it
      fails in the driver (a 500); no id or filter value can contain it.
    - A value outside what Python's dates or the database's integers can hold (OverflowError, e.g.
      `0001-01-01T00:00:00+14:00`, whose UTC instant falls before year 1): a 400, from any view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return _refusal(
                request, 411, "A request body needs a Content-Length header (chunked bodies are not accepted)."
            )
        if "\x00" in request.path:
            return _refusal(request, 400, "The path contains a NUL character, which no id may hold.")
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                name = key.replace("\x00", "\\0")
                return _refusal(request, 400, f"Invalid input: {name}: a NUL character, which no filter may hold.")
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OverflowError):
            return _refusal(request, 400, f"Invalid input: a value is out of range ({exception}).")
        return None


class RenderedContentTypeMiddleware:
    """An API answer always names its media type, an empty one too.

    DRF drops Content-Type when a renderer produces no bytes — an empty `?format=jsonl` list — so a
    client could not tell the (valid, empty) JSON Lines document from an error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        renderer = getattr(response, "accepted_renderer", None)
        if renderer is not None and "Content-Type" not in response and response.status_code != 204:
            charset = getattr(renderer, "charset", None)
            response["Content-Type"] = renderer.media_type + (f"; charset={charset}" if charset else "")
        return response
