"""What the enhance log puts on the home page: unreviewed rejections (the review queue) and its dashboard."""

from django.urls import reverse

from enhancelog.models import EnhanceEntry


def review_queue_url(user):
    """Staff reviewers triage in the admin's queue; everyone else in the filtered entry list."""
    if user.is_staff and user.has_perm("enhancelog.add_review"):
        return reverse("admin:enhancelog_unreviewedrejection_changelist")
    return f"{reverse('enhancelog:list')}?status=rejected&reviewed=false"


def attention(user):
    from ledgerproject.ledger.home import bounded_count

    if not user.has_perm("enhancelog.view_enhanceentry"):
        return []
    count = bounded_count(EnhanceEntry.objects.visible_to(user).review_queue())
    return [
        {
            "key": "unreviewed-rejections",
            "title": "Rejected enhances nobody has reviewed",
            "count": count,
            "detail": "the review queue",
            "url": review_queue_url(user),
            "severity": "bad",
        }
    ]


def cards(user):
    if not user.has_perm("enhancelog.view_enhanceentry"):
        return []
    return [
        {
            "title": "Enhances",
            "text": "Verifier verdicts per day, the deny rate per axis, the review backlog and blueprint traces.",
            "url": reverse("enhancelog:dashboard"),
            "ledger": "enhancelog",
        }
    ]
