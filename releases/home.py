"""What the release registry puts on the home page: recent rollbacks, and its dashboard."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from releases.models import Release

RECENT = timedelta(days=14)
SHOWN = 5


def attention(user):
    if not user.has_perm("releases.view_release"):
        return []
    since = timezone.now() - RECENT
    rollbacks = list(
        Release.objects.visible_to(user).rollbacks().filter(recorded_at__gte=since).order_by("-seq")[: SHOWN + 1]
    )
    if not rollbacks:
        return []
    return [
        {
            "key": "recent-rollbacks",
            "title": "Rollbacks in the last 14 days",
            "count": len(rollbacks),
            "more": len(rollbacks) > SHOWN,
            "detail": ", ".join(str(r) for r in rollbacks[:SHOWN]),
            "url": rollbacks[0].get_absolute_url() if len(rollbacks) == 1 else reverse("releases:index"),
            "severity": "warn",
        }
    ]


def cards(user):
    if not user.has_perm("releases.view_release"):
        return []
    return [
        {
            "title": "Releases",
            "text": "Which spec each agent runs, its promotions and rollbacks, and what was live at any moment.",
            "url": reverse("releases:index"),
            "ledger": "releases",
        }
    ]
