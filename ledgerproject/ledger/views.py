"""Kernel pages: the home page, the ledger integrity view, search and the error pages."""

import sys

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.http import require_POST

from ledgerproject.ledger.access import LEDGER_READ, requires_permission
from ledgerproject.ledger.api import _ledger_or_404, ledger_summary, readable_ledgers
from ledgerproject.ledger.chain import record_check, verify_ledger
from ledgerproject.ledger.home import home_context
from ledgerproject.ledger.outage import is_database_unavailable, unavailable_response
from ledgerproject.ledger.search import SearchError, grouped, search
from ledgerproject.ledger.trail import trail


def not_found(request, exception=None):
    """404: JSON with a `detail` under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"Not found: no API endpoint or entry at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500: JSON with a `detail` under /api/, the HTML page elsewhere; 503 when the database is unavailable."""
    # Called while the uncaught exception is being handled: it is still in sys.exc_info(). This
    # covers failures outside views too (a session saved by middleware, a template rendered late).
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


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
    context = {"query": text.strip(), "entries": [], "problem": None, "next": None}
    if not text.strip():
        context["problem"] = "Name an id to follow: /trail/?id=… (a correlation id, run id, blueprint id, issue id, …)."
        return render(request, "ledger/trail.html", context)
    try:
        context["entries"], context["next"] = trail(request.user, text, after=request.GET.get("after"))
    except SearchError as exc:
        context["problem"] = str(exc)
        return render(request, "ledger/trail.html", context, status=400)
    context["paged"] = bool(request.GET.get("after"))
    return render(request, "ledger/trail.html", context)
