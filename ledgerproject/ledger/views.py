"""Kernel pages: the home page listing every ledger with its size, head hash and chain status."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.http import require_POST

from ledgerproject.ledger.api import _ledger_or_404, ledger_summary, readable_ledgers
from ledgerproject.ledger.chain import record_check, verify_chain


def not_found(request, exception=None):
    """404: JSON with a `detail` under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"Not found: no API endpoint or entry at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500: JSON with a `detail` under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


@login_required
def home(request):
    ledgers = [ledger_summary(model, request.user) for model in readable_ledgers(request.user)]
    return render(request, "ledger/home.html", {"ledgers": ledgers})


@require_POST
@permission_required("ledger.verify_ledger", raise_exception=True)
def verify_now(request, ledger):
    result = verify_chain(_ledger_or_404(ledger))
    record_check(result, checked_by=request.user.get_username())
    if result.ok:
        messages.success(request, f"{ledger}: chain intact, {result.checked} entries checked.")
    else:
        messages.error(request, f"{ledger}: chain BROKEN at seq {result.first_bad_seq}: {result.reason}")
    return redirect("home")
