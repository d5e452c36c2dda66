"""What the runs app puts on the home page: runs that failed lately, and its dashboards."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from runs.models import RunOutcome, RunStatus

RECENT = timedelta(days=7)


def attention(user):
    from ledgerproject.ledger.home import bounded_count

    if not user.has_perm("runs.view_runoutcome"):
        return []
    since = timezone.now() - RECENT
    failed = RunOutcome.objects.visible_to(user).filter(status=RunStatus.FAILED, recorded_at__gte=since)
    return [
        {
            "key": "failed-runs",
            "title": "Runs that failed in the last 7 days",
            "count": bounded_count(failed),
            "detail": "the failed runs",
            "url": f"{reverse('runs:run-list')}?status={RunStatus.FAILED}",
            "severity": "bad",
        }
    ]


def cards(user):
    if not user.has_perm("runs.view_run"):
        return []
    return [
        {
            "title": "Runs",
            "text": "Agent runs with their events and outcome; task outputs with their lineage; stored blobs.",
            "url": reverse("runs:run-list"),
            "ledger": "runs",
        }
    ]
