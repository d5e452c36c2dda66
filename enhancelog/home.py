"""What the enhance log puts on the home page: unreviewed rejections (the review queue) and its dashboard."""

from django.urls import reverse

from enhancelog.models import EnhanceEntry
from ledgerproject.ledger.home import Attention, Card, attention_of, bounded_count, cards_of


def review_queue_url(user):
    """Staff reviewers triage in the admin's queue; everyone else in the filtered entry list."""
    if user.is_staff and user.has_perm("enhancelog.add_review"):
        return reverse("admin:enhancelog_unreviewedrejection_changelist")
    return f"{reverse('enhancelog:list')}?status=rejected&reviewed=false"


def _review_queue(user):
    return {"count": bounded_count(EnhanceEntry.objects.visible_to(user).review_queue()), "url": review_queue_url(user)}


attention = attention_of(
    Attention(
        permission="enhancelog.view_enhanceentry",
        key="unreviewed-rejections",
        title="Rejected enhances nobody has reviewed",
        severity="bad",
        detail="the review queue",
        measure=_review_queue,
    )
)

cards = cards_of(
    Card(
        permission="enhancelog.view_enhanceentry",
        title="Enhances",
        text="Verifier verdicts per day, the deny rate per axis, the review backlog and blueprint traces.",
        url_name="enhancelog:dashboard",
        ledger="enhancelog",
    )
)
