"""Enhance log pages: dashboard, filtered entry list, entry detail with reviews, blueprint trace."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from enhancelog.filters import EnhanceEntryFilterSet
from enhancelog.forms import ReviewForm
from enhancelog.models import EnhanceEntry, Review, trace_page
from enhancelog.stats import WINDOWS, dashboard_stats
from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.exceptions import StateConflictError
from ledgerproject.ledger.filters import page_filterset, page_rows, page_status
from ledgerproject.ledger.pagination import CURSOR_PARAM, PAGE_SIZE_PARAM, KeysetPager
from ledgerproject.ledger.redirects import safe_next
from ledgerproject.ledger.tenancy import one_tenant, visible_or_404

PAGE_SIZE = 50
VIEW = "enhancelog.view_enhanceentry"


@requires_permission(VIEW)
def dashboard(request):
    stats = dashboard_stats(request.GET.get("window", "30"), request.user)
    return render(request, "enhancelog/dashboard.html", {"stats": stats, "windows": list(WINDOWS)})


PAGER = KeysetPager(("-ts_ms", "-seq"), PAGE_SIZE)


@requires_permission(VIEW)
def entry_list(request):
    filterset = page_filterset(
        EnhanceEntryFilterSet, request, EnhanceEntry.objects.visible_to(request.user).with_review_state()
    )
    page = PAGER.paginate(request, page_rows(filterset))
    export = request.GET.copy()
    for name in (CURSOR_PARAM, PAGE_SIZE_PARAM):
        export.pop(name, None)
    return render(
        request,
        "enhancelog/list.html",
        {"filter": filterset, "entries": page.rows, "page": page, "export_query": export.urlencode()},
        status=page_status(filterset),
    )


@requires_permission(VIEW)
def entry_detail(request, issue_id, form=None):
    entry = visible_or_404(EnhanceEntry.objects.all(), request, what="enhance entry", issue_id=issue_id)
    reviews = list(Review.objects.for_entry(entry).order_by("seq"))
    can_review = entry.status == EnhanceEntry.REJECTED and request.user.has_perm("enhancelog.add_review")
    return render(
        request,
        "enhancelog/detail.html",
        {
            "entry": entry,
            "reviews": reviews,
            "review_state": reviews[-1] if reviews else None,
            "form": form or (ReviewForm() if can_review else None),
            "can_review": can_review,
        },
    )


@requires_permission("enhancelog.add_review")
@require_POST
def record_review(request, issue_id):
    entry = visible_or_404(EnhanceEntry.objects.all(), request, what="enhance entry", issue_id=issue_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return entry_detail(request, issue_id, form=form)
    try:
        Review.objects.append(recorded_by=request.user, entry=entry, **form.cleaned_data)
    except StateConflictError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, f"Review recorded for {entry.issue_id}: {form.cleaned_data['decision']}.")
    # HttpResponseRedirect, not redirect(): a bare word is a relative URL here, never a view name to reverse.
    fallback = reverse("enhancelog:detail", args=[entry.issue_id])
    return HttpResponseRedirect(safe_next(request, request.POST.get("next"), fallback))


@requires_permission(VIEW)
def trace(request, blueprint_id):
    # One page at a time like every list (a blueprint may hold thousands of attempts).
    # A blueprint id used in several of the reader's tenants names one with ?tenant_id= (else a 400).
    page = trace_page(
        one_tenant(EnhanceEntry.objects.visible_to(request.user).for_blueprint(blueprint_id), request),
        blueprint_id,
        request,
    )
    if page is None:
        raise Http404(f"No enhance entries for blueprint {blueprint_id!r}.")
    entries = page["entries"]
    broken = {b["seq"]: b for b in page["breaks"]}
    latest = Review.objects.latest_per_entry([e for e in entries if e.status == EnhanceEntry.REJECTED])
    steps = [{"entry": e, "break": broken.get(e.seq), "review": latest.get(e.pk)} for e in entries]
    return render(
        request,
        "enhancelog/trace.html",
        {
            "blueprint_id": blueprint_id,
            "steps": steps,
            "breaks": page["breaks"],
            "applied": page["applied"],
            "rejected": page["rejected"],
            "count": page["count"],
            "head": page["head"],
            "page": page["page"],
        },
    )
