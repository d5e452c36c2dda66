"""Dashboard pages: the event timeline, chain/correlation views, artifacts and trace links."""

from django.http import Http404
from django.shortcuts import render

from experience import schemas
from experience.api import recorded_trace
from experience.filters import ArtifactFilterSet, ExperienceEventFilterSet
from experience.models import ROLLBACK, ExperienceEvent, step_summary
from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.filters import page_filterset, page_rows, page_status
from ledgerproject.ledger.models import tenant_scope
from ledgerproject.ledger.pagination import KeysetPager
from ledgerproject.ledger.tenancy import one_tenant, visible_or_404

PAGE_SIZE = 50
GROUP_CAP = 2000  # a chain page shows at most this many events; the API has them all
VIEW = "experience.view_experienceevent"


def _visible(request):
    return ExperienceEvent.objects.visible_to(request.user)


def _id_or_404(value):
    if schemas.id_problem(value):
        raise Http404("not found")
    return value


PAGER = KeysetPager(("-seq",), PAGE_SIZE)


@requires_permission(VIEW)
def timeline(request):
    """Newest first, filtered like GET /api/v1/events/ (the same FilterSet), one keyset page at a time."""
    filterset = page_filterset(ExperienceEventFilterSet, request, _visible(request))
    page = PAGER.paginate(request, page_rows(filterset))
    chosen = set(request.GET.getlist("kind"))
    return render(
        request,
        "experience/timeline.html",
        {
            "events": page.rows,
            "page": page,
            "errors": filterset.errors,
            "kinds": [(kind, kind in chosen) for kind in schemas.KINDS],
            "params": request.GET,
            "tenants": sorted(tenant_scope(request.user) or []),
        },
        status=page_status(filterset),
    )


@requires_permission(VIEW)
def event_detail(request, event_id):
    event = visible_or_404(ExperienceEvent.objects.all(), request, what="event", event_id=_id_or_404(event_id))
    return render(request, "experience/event.html", {"event": event})


def _grouped_page(request, title, subtitle, events, extra=None):
    events = events[:GROUP_CAP]
    if not events:
        raise Http404(f"{title} has no visible events.")
    context = {"title": title, "subtitle": subtitle, "summary": step_summary(events), "events": events}
    context.update(extra or {})
    return render(request, "experience/chain.html", context)


@requires_permission(VIEW)
def chain(request, chain_id):
    """A chain's events grouped by decision step, with outcome, latency, tokens and cost totals."""
    # A chain id used in several of the reader's tenants names one with ?tenant_id= (else a 400).
    events = list(one_tenant(_visible(request).for_chain(_id_or_404(chain_id)), request).order_by("seq")[:GROUP_CAP])
    proposals = {e.proposal_id for e in events if e.proposal_id}
    if proposals:
        # Promotions carry only the proposal id; they belong to the chain (and tenant) that made the proposal.
        promoted = (
            _visible(request)
            .of_tenant(events[0].tenant_id)
            .filter(kind="FactPromoted", proposal_id__in=proposals)
            .order_by("seq")
        )
        events = sorted([*events, *promoted], key=lambda e: e.seq)
    correlations = sorted({e.correlation_id for e in events if e.correlation_id})
    return _grouped_page(request, f"Chain {chain_id}", "chain", events, {"correlations": correlations})


@requires_permission(VIEW)
def correlation(request, correlation_id):
    """Every event of one correlation (a run), grouped by decision step."""
    correlated = _visible(request).filter(correlation_id=_id_or_404(correlation_id))
    events = list(one_tenant(correlated, request).order_by("seq")[:GROUP_CAP])
    chains = sorted({e.chain_id for e in events if e.chain_id})
    # The correlation's own trail: every entry of every ledger that refers to it, not only its events.
    extra = {"chains": chains, "correlations": [correlation_id]}
    return _grouped_page(request, f"Correlation {correlation_id}", "correlation", events, extra)


@requires_permission(VIEW)
def artifacts(request):
    """Every artifact with its current state, filterable by tenant, kind and state."""
    filterset = ArtifactFilterSet(request.GET or None, queryset=_visible(request).current_artifacts())
    rows, errors = [], None
    if filterset.is_bound and not filterset.is_valid():
        errors = filterset.errors
    else:
        qs = filterset.qs if filterset.is_bound else filterset.queryset
        rows = list(qs.order_by("-seq")[:200])
    return render(
        request,
        "experience/artifacts.html",
        {"rows": rows, "errors": errors, "params": request.GET, "states": schemas.STATES},
    )


@requires_permission(VIEW)
def artifact_detail(request, artifact_id):
    """An artifact's lifecycle as a state timeline, with its rollback records."""
    history = list(one_tenant(_visible(request).for_artifact(_id_or_404(artifact_id)), request).order_by("seq"))
    if not history:
        raise Http404(f"Artifact {artifact_id!r} not found.")
    transitions = [e for e in history if e.kind != ROLLBACK]
    rollbacks = [e for e in history if e.kind == ROLLBACK]
    state = transitions[-1].data["event"]["to_state"] if transitions else "Draft"
    return render(
        request,
        "experience/artifact.html",
        {
            "artifact_id": artifact_id,
            "artifact_kind": transitions[-1].data["artifact_kind"] if transitions else None,
            "tenant_id": history[-1].tenant_id,
            "state": state,
            "next_states": schemas.TRANSITIONS[state],
            "transitions": transitions,
            "rollbacks": rollbacks,
            "states": schemas.STATES,
            "reached": {e.data["event"]["to_state"] for e in transitions} | {"Draft"},
        },
    )


@requires_permission(VIEW)
def trace_link(request, trace_link_id):
    """A recorded ReplayTrace and every event that references it."""
    events = list(_visible(request).for_trace_link(_id_or_404(trace_link_id)).order_by("seq"))
    recorded = recorded_trace(events)
    if recorded is None:
        raise Http404(f"No ReplayTrace is recorded for trace link {trace_link_id!r}.")
    return render(
        request,
        "experience/trace_link.html",
        {"trace_link_id": trace_link_id, "recorded": recorded, "trace": recorded.data["trace_link"], "events": events},
    )
