"""What the runs app puts on the home page: runs that failed lately, and its dashboards."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from ledgerproject.ledger.home import Attention, Card, attention_of, bounded_count, cards_of
from runs.models import RunOutcome, RunStatus

RECENT = timedelta(days=7)


def _failed_runs(user):
    since = timezone.now() - RECENT
    failed = RunOutcome.objects.visible_to(user).filter(status=RunStatus.FAILED, recorded_at__gte=since)
    return {"count": bounded_count(failed), "url": f"{reverse('runs:run-list')}?status={RunStatus.FAILED}"}


attention = attention_of(
    Attention(
        permission="runs.view_runoutcome",
        key="failed-runs",
        title="Runs that failed in the last 7 days",
        severity="bad",
        detail="the failed runs",
        measure=_failed_runs,
    )
)

cards = cards_of(
    Card(
        permission="runs.view_run",
        title="Runs",
        text="Agent runs with their events and outcome; task outputs with their lineage; stored blobs.",
        url_name="runs:run-list",
        ledger="runs",
    )
)
