"""Dashboard pages: run list and detail, task attempts with their output lineage, and blob pages."""

import json

from django.db.models import Count, Max, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from ledgerproject.ledger.access import requires_permission
from ledgerproject.ledger.filters import page_filterset, page_rows, page_status
from ledgerproject.ledger.pagination import KeysetPager
from ledgerproject.ledger.tenancy import visible_or_404
from ledgerproject.ledger.validators import is_sha256
from runs import blobstore, lineage
from runs.filters import RunFilterSet
from runs.models import Blob, BlobChange, Output, Run, RunStatus, blob_references, release_model_or_none

PAGE_SIZE = 50
EVENT_LIMIT = 1000
PREVIEW_BYTES = 32 * 1024
PREVIEWABLE = ("text/", "application/json", "application/x-ndjson", "application/yaml", "application/xml")


def _duration_ms(run, now):
    outcome = run.outcome_or_none
    if outcome is not None:
        return outcome.duration_ms
    return max(0, int((now - run.created_at).total_seconds() * 1000))


def format_duration(ms):
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 1:
        return f"{ms} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


PAGER = KeysetPager(("-created_at", "-seq"), PAGE_SIZE)


@requires_permission("runs.view_run")
def run_list(request):
    runs = Run.objects.visible_to(request.user).with_status().with_event_count()
    filterset = page_filterset(RunFilterSet, request, runs)
    page = PAGER.paginate(request, page_rows(filterset))
    now = timezone.now()
    for run in page.rows:
        run.duration = format_duration(_duration_ms(run, now))
    return render(
        request,
        "runs/run_list.html",
        {
            "runs": page.rows,
            "page": page,
            "filters": {name: filterset.form[name].value() or "" for name in RunFilterSet.base_filters},
            "filter_errors": filterset.errors,
            "statuses": RunStatus.values,
        },
        status=page_status(filterset),
    )


def _event_view(event, started):
    payload = event.payload
    moment = event.effective_timestamp
    offset = (moment - started).total_seconds() if moment and started else None
    return {
        "seq": event.event_seq,
        "kind": event.kind,
        "timestamp": moment,
        "claimed": event.timestamp is not None,
        "offset": f"+{offset:.3f} s" if offset is not None and offset >= 0 else "",
        "payload": json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True)
        if payload not in ({}, None)
        else "",
        "digests": event.blob_refs.split() if event.blob_refs else [],
        "recorded_by": event.recorded_by_name,
        "ledger_seq": event.seq,
        "entry_hash": event.entry_hash,
    }


def _releases_of(run, user):
    """The release of the run's agent that was live when the run started (a release's name is its
    agent's), and releases that ship the run's spec digest; visible ones only, two indexed reads."""
    model = release_model_or_none()
    if model is None or not user.has_perm("releases.view_release"):
        return None, []
    releases = model._default_manager.visible_to(user)
    live = releases.current_as_of(run.agent_name, run.created_at)
    return live, list(releases.filter(spec_digest=run.spec_digest).order_by("-seq")[:10])


@requires_permission("runs.view_run")
def run_detail(request, run_id):
    run = visible_or_404(Run.objects.with_status(), request, what="run", run_id=run_id)
    outcome = run.outcome_or_none
    events = list(run.events.defer("canonical").order_by("event_seq")[: EVENT_LIMIT + 1])
    truncated = len(events) > EVENT_LIMIT
    events = events[:EVENT_LIMIT]
    timeline = [_event_view(event, run.created_at) for event in events]
    kinds = {}
    for event in events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    release_at_start, spec_releases = _releases_of(run, request.user)
    return render(
        request,
        "runs/run_detail.html",
        {
            "run": run,
            "release_at_start": release_at_start,
            "spec_releases": spec_releases,
            "outcome": outcome,
            "timeline": timeline,
            "truncated": truncated,
            "event_limit": EVENT_LIMIT,
            "kinds": sorted(kinds.items()),
            "duration": format_duration(_duration_ms(run, timezone.now())),
            "tags": json.dumps(run.tags, indent=2, ensure_ascii=False, sort_keys=True) if run.tags else "",
        },
    )


@requires_permission("runs.view_output")
def task_list(request):
    producer = request.GET.get("producer_agent", "").strip()
    task = request.GET.get("task_id", "").strip()
    outputs = Output.objects.visible_to(request.user)
    if producer:
        outputs = outputs.filter(producer_agent=producer)
    if task:
        outputs = outputs.filter(task_id=task)
    attempts = (
        outputs.order_by()
        .values("task_id", "attempt")
        .annotate(
            outputs=Count("seq"),
            last_seq=Max("seq"),
            finals=Count("seq", filter=Q(event_type="final")),
            last_at=Max("recorded_at"),
        )
        .order_by("-last_seq")[:PAGE_SIZE]
    )
    return render(
        request,
        "runs/task_list.html",
        {"attempts": list(attempts), "filters": {"producer_agent": producer, "task_id": task}},
    )


def _output_view(output):
    event = output.event or {}
    ref = output.content_ref
    content = None
    if isinstance(ref, dict) and ref.get("kind") == "inline":
        value = ref.get("value")
        content = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return {
        "output": output,
        "event": event,
        "content": content,
        "blob": ref if isinstance(ref, dict) and ref.get("kind") == "blob" else None,
    }


@requires_permission("runs.view_output")
def task_attempt(request, task_id, attempt):
    visible = Output.objects.visible_to(request.user)
    outputs = list(visible.for_attempt(task_id, attempt).defer("canonical"))
    if not outputs:
        raise Http404(f"No outputs for task {task_id!r} attempt {attempt}.")
    own = {output.output_id for output in outputs}
    outside = {ref for output in outputs for ref in output.parent_refs if ref not in own}
    external = list(visible.filter(output_id__in=outside).order_by("seq")) if outside else []
    graph = lineage.layout(outputs, external)
    children = {}
    for output in outputs:
        for ref in output.parent_refs:
            children.setdefault(ref, []).append(output.output_id)
    views = [_output_view(output) for output in outputs]
    for view in views:
        view["children"] = children.get(view["output"].output_id, [])
    other_attempts = list(
        visible.filter(task_id=task_id)
        .exclude(attempt=attempt)
        .order_by()
        .values_list("attempt", flat=True)
        .distinct()[:50]
    )
    return render(
        request,
        "runs/task_attempt.html",
        {
            "task_id": task_id,
            "attempt": attempt,
            "outputs": views,
            "graph": graph,
            "external": external,
            "other_attempts": sorted(other_attempts),
            "final": next((o for o in reversed(outputs) if o.event_type == "final"), None),
        },
    )


def _indented_json(text):
    """JSON text indented for reading; the text as stored when it is not JSON, is nested deeper than
    the parser recurses, or decodes to a lone surrogate that the page could not encode."""
    try:
        indented = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        indented.encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError):
        return text
    return indented


@requires_permission("runs.view_blob")
def blob_detail(request, digest):
    if not is_sha256(digest):
        raise Http404("Not a SHA-256 digest.")
    digest = digest.lower()
    blob = visible_or_404(Blob.objects.with_presence(), request, what="blob", digest=digest)
    changes = list(BlobChange.objects.visible_to(request.user).filter(blob=digest).order_by("seq")[:50])
    refs = blob_references(digest, user=request.user)
    preview = None
    if blob.present and blob.size <= PREVIEW_BYTES and blob.media_type.startswith(PREVIEWABLE):
        try:
            raw = blobstore.read_bytes(digest)
            preview = raw.decode("utf-8") if raw is not None else None
        except (blobstore.BlobIntegrityError, UnicodeDecodeError):
            preview = None
        if preview is not None and blob.media_type == "application/json":
            preview = _indented_json(preview)
    return render(
        request,
        "runs/blob_detail.html",
        {
            "blob": blob,
            "changes": changes,
            "refs": refs,
            "referenced": any(refs.values()),
            "preview": preview,
        },
    )
