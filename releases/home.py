"""What the release registry puts on the home page: recent rollbacks, and its dashboard."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from ledgerproject.ledger.home import Attention, Card, attention_of, cards_of
from releases.models import Release

RECENT = timedelta(days=14)
SHOWN = 5


def _recent_rollbacks(user):
    since = timezone.now() - RECENT
    rollbacks = list(
        Release.objects.visible_to(user).rollbacks().filter(recorded_at__gte=since).order_by("-seq")[: SHOWN + 1]
    )
    if not rollbacks:
        return None
    return {
        "count": len(rollbacks),
        "more": len(rollbacks) > SHOWN,
        "detail": ", ".join(str(r) for r in rollbacks[:SHOWN]),
        "url": rollbacks[0].get_absolute_url() if len(rollbacks) == 1 else reverse("releases:index"),
    }


attention = attention_of(
    Attention(
        permission="releases.view_release",
        key="recent-rollbacks",
        title="Rollbacks in the last 14 days",
        severity="warn",
        measure=_recent_rollbacks,
    )
)

cards = cards_of(
    Card(
        permission="releases.view_release",
        title="Releases",
        text="Which spec each agent runs, its promotions and rollbacks, and what was live at any moment.",
        url_name="releases:index",
        ledger="releases",
    )
)
