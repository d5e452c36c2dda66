"""Kernel pages: the home page, the ledger integrity view, search and the error pages."""

import sys

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_POST

from ledgerproject.ledger.access import LEDGER_READ, requires_permission
from ledgerproject.ledger.api import _ledger_or_404, ledger_summary, readable_ledgers
from ledgerproject.ledger.chain import record_check, verify_ledger
from ledgerproject.ledger.home import home_context
from ledgerproject.ledger.outage import is_database_unavailable, unavailable_response
from ledgerproject.ledger.redirects import safe_next
from ledgerproject.ledger.search import SearchError, grouped, search
from ledgerproject.ledger.trail import trail

ERROR_PAGES = {
    400: (
        "Bad request",
        "A value in this address cannot be used: correct it, or start again from the page's first link.",
    ),
    403: ("Not allowed", "Your account does not have the role this page needs. Ask an administrator for it."),
    404: ("Page not found", "There is no page or entry at this address, or it is not one you may see."),
    500: ("Something went wrong", "The server failed to answer this request. Nothing was stored by it; please retry."),
}


def _signed_in_user(request):
    """The request's user when it can be known without failing (no auth middleware ran, or the database is down)."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    try:
        return user if user.is_authenticated else None
    except DatabaseError:
        return None


def _back_url(request):
    try:
        return safe_next(request, request.META.get("HTTP_REFERER"), None)
    except DisallowedHost:
        return None


def error_page(request, status, detail=None, with_user=True):
    """The site's styled error page, within the layout: navigation, the reason, and a way back.

    Rendered with the request (the signed-in navigation) only when its user is known without an
    error; otherwise, like the 503 page, without it: no context processor touches the database.
    """
    title, explanation = ERROR_PAGES[status]
    context = {"error_page": True, "status": status, "title": title, "explanation": explanation, "detail": detail}
    context["back_url"] = _back_url(request)
    user = _signed_in_user(request) if with_user else None
    if user is not None:
        try:
            body = loader.render_to_string("errors/_error.html", context, request=request)
        except DatabaseError:
            body = loader.render_to_string("errors/_error.html", context)
    else:
        body = loader.render_to_string("errors/_error.html", context)
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    """400 (a BadRequest raised by a page, e.g. a cursor it did not write): JSON under /api/, the styled page elsewhere."""
    detail = str(exception) if exception else "Bad request."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=400)
    return error_page(request, 400, detail=detail)


def permission_denied(request, exception=None):
    """403: JSON with a `detail` under /api/, the styled page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    # The declared permission it names is what to ask an administrator for.
    return error_page(request, 403, detail=str(exception) if exception else None)


def not_found(request, exception=None):
    """404: JSON with a `detail` under /api/, the styled page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"Not found: no API endpoint or entry at {request.path}."}, status=404)
    return error_page(request, 404)


def server_error(request):
    """500: JSON with a `detail` under /api/, the HTML page elsewhere; 503 when the database is unavailable."""
    # Called while the uncaught exception is being handled: it is still in sys.exc_info(). This
    # covers failures outside views too (a session saved by middleware, a template rendered late).
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    # Without the request: whatever failed (the database, a template, a context processor) must not
    # fail the error page too. The layout then shows the public navigation.
    return error_page(request, 500, with_user=False)


def home(request):
    """For people: what needs attention, activity per ledger, a card per dashboard. A signed-in
    principal with no role gets a 403 page saying why and whom to ask."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    models = readable_ledgers(user)
    if not models:
        return render(request, "ledger/no_role.html", {"admins": _whom_to_ask()}, status=403)
    return render(request, "ledger/home.html", home_context(user, models))


home.ledger_permissions = (LEDGER_READ,)


def _whom_to_ask():
    """The people who can grant a role: active superusers (usernames only), at most five."""
    from django.contrib.auth import get_user_model

    return list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .order_by("pk")
        .values_list("username", flat=True)[:5]
    )


@requires_permission(LEDGER_READ)
def ledgers(request):
    """The integrity view: every ledger with its size, head hash, last chain check and checkpoint."""
    summaries = [ledger_summary(model, request.user) for model in readable_ledgers(request.user)]
    return render(request, "ledger/ledgers.html", {"ledgers": summaries})


@requires_permission("ledger.verify_ledger")
@require_POST
def verify_now(request, ledger):
    result = verify_ledger(_ledger_or_404(ledger))
    record_check(result, checked_by=request.user.get_username())
    if result.ok:
        messages.success(request, f"{ledger}: chain intact, {result.checked} entries checked.")
    else:
        where = f" at seq {result.first_bad_seq}" if result.first_bad_seq else ""
        messages.error(request, f"{ledger}: BROKEN{where}: {result.reason}")
    return redirect("ledgers")


@requires_permission(LEDGER_READ)
def search_page(request):
    """The navigation's search box: one match → its page; several → listed by ledger; none → say so."""
    text = request.GET.get("q", "")
    context = {"query": text.strip(), "groups": [], "problem": None}
    try:
        results = search(request.user, text)
    except SearchError as exc:
        context["problem"] = str(exc)
        return render(request, "ledger/search.html", context, status=400 if text.strip() else 200)
    if len(results) == 1 and results[0]["url"]:
        return redirect(results[0]["url"])
    context["groups"] = grouped(results)
    context["count"] = len(results)
    return render(request, "ledger/search.html", context)


@requires_permission(LEDGER_READ)
def trail_page(request):
    """Every entry of every ledger that refers to an id (correlation, run, blueprint, …), in time order."""
    text = request.GET.get("id", "")
    context = {"query": text.strip(), "entries": [], "problem": None, "page": None}
    if not text.strip():
        context["problem"] = "Name an id to follow: /trail/?id=… (a correlation id, run id, blueprint id, issue id, …)."
        return render(request, "ledger/trail.html", context)
    try:
        page = trail(request, text)
    except SearchError as exc:
        context["problem"] = str(exc)
        return render(request, "ledger/trail.html", context, status=400)
    context.update(entries=page.rows, page=page)
    return render(request, "ledger/trail.html", context)
