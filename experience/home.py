"""What the experience ledger puts on the home page: its dashboards."""

from django.urls import reverse


def cards(user):
    if not user.has_perm("experience.view_experienceevent"):
        return []
    return [
        {
            "title": "Events",
            "text": "The experience timeline: decision chains, correlations, artifacts and replay trace links.",
            "url": reverse("experience:timeline"),
            "ledger": "experience",
        }
    ]
