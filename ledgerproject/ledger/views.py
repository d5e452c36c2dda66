"""Kernel pages: the home page listing every ledger with its size, head hash and chain status."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ledgerproject.ledger.api import _ledger_or_404, ledger_summary
from ledgerproject.ledger.chain import record_check, verify_chain
from ledgerproject.ledger.registry import ledger_models


@login_required
def home(request):
    ledgers = [ledger_summary(model) for model in ledger_models()]
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
