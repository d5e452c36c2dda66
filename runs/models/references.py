"""Who refers to a blob's digest: runs, outcomes, run events, outputs and (if installed) releases."""

from django.apps import apps

from runs.models.outputs import Output
from runs.models.run_events import RunEvent
from runs.models.run_outcomes import RunOutcome
from runs.models.runs import Run


def blob_references(digest, limit=20, user=None):
    """Who refers to a digest, among the entries `user` may see: {kind: [objects]} for runs,
    outcomes, run events, outputs and releases."""
    refs = {
        "runs": list(Run.objects.visible_to(user).filter(spec_digest=digest).order_by("-seq")[:limit]),
        "outcomes": list(
            RunOutcome.objects.visible_to(user).filter(final_state_digest=digest).select_related("run")[:limit]
        ),
        "events": list(RunEvent.objects.visible_to(user).referring_to(digest).select_related("run")[:limit]),
        "outputs": list(Output.objects.visible_to(user).filter(blob_digest=digest)[:limit]),
        "releases": [],
    }
    release_model = release_model_or_none()
    if release_model is not None:
        refs["releases"] = list(release_model._default_manager.visible_to(user).filter(spec_digest=digest)[:limit])
    return refs


def release_model_or_none():
    # The releases app is optional from here: found by name, never imported.
    try:
        return apps.get_model("releases", "Release")
    except LookupError:
        return None


def referrer_summary(digest, tenants=None):
    """A sentence naming what still refers to a digest, or "" when nothing does; with `tenants`,
    only those tenants' entries count (another tenant's references are never named to them)."""

    def mine(queryset):
        return queryset if tenants is None else queryset.model.tenant_filter(queryset, tenants)

    parts = []
    if mine(Run.objects.filter(spec_digest=digest)).exists():
        parts.append("a run's spec_digest")
    if mine(RunOutcome.objects.filter(final_state_digest=digest)).exists():
        parts.append("a run summary's final_state_digest")
    if mine(RunEvent.objects.referring_to(digest)).exists():
        parts.append("a run event's payload")
    if mine(Output.objects.filter(blob_digest=digest)).exists():
        parts.append("a task output's content")
    release_model = release_model_or_none()
    if release_model is not None and mine(release_model._default_manager.filter(spec_digest=digest)).exists():
        parts.append("a release's spec_digest")
    return ", ".join(parts)
