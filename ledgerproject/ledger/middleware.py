"""Refuses request bodies above the configured size with 413 before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


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
