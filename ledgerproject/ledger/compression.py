"""Gzip for HTML pages only: the API and downloads are sent as they are (see the BREACH note below)."""

from django.middleware.gzip import GZipMiddleware


class HtmlGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware, applied to `text/html` responses only.

    BREACH recovers a secret from the compressed size of responses that also echo attacker-chosen
    text. Pages carry one secret, the CSRF token, which Django masks afresh in every response; and
    Django's GZipMiddleware pads each gzip stream by a random length ("Heal the Breach"). The API is
    left uncompressed: it answers token-authenticated clients and issues token keys in its bodies,
    and its large lists are paged. Static files come pre-compressed from WhiteNoise.
    """

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
