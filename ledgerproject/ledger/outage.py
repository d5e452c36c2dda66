"""Database outages: which errors mean "the database is unavailable", and the 503 + Retry-After answer."""

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

# DB-API's OperationalError covers what is not the program's fault (a lost or refused connection, a
# server shutting down, a lock or statement timeout); InterfaceError a connection already closed.
# Both are worth retrying, so they are a 503, not a 500.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
DETAIL = "The database is unavailable; nothing was stored by this request. Retry later."


def is_database_unavailable(exc):
    return isinstance(exc, UNAVAILABLE_ERRORS)


def retry_after():
    return str(settings.LEDGER_RETRY_AFTER_SECONDS)


def unavailable_response(request):
    """503: JSON `detail` under /api/, the site's page elsewhere; both say when to retry."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DETAIL}, status=503)
    else:
        # Rendered without the request: the context processors (user, messages) would query the
        # database that just failed. The layout then shows no signed-in navigation.
        body = loader.render_to_string("503.html", {"retry_after": settings.LEDGER_RETRY_AFTER_SECONDS})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = retry_after()
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """A view that hits an unavailable database answers 503 instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # A broken connection is closed at the end of the request (Django's close_old_connections),
        # and CONN_HEALTH_CHECKS replaces a stale one before the next request uses it.
        if is_database_unavailable(exception):
            return unavailable_response(request)
        return None
