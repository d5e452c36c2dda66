"""The home page for people: what needs attention, activity per ledger, and a card for each dashboard.

Each ledger app may offer a `home` module with `attention(user)` (items needing a person: a title,
a count, where to act) and `cards(user)` (its dashboards), declared through `Card` / `cards_of` and
`Attention` / `attention_of` below; the kernel adds the integrity items it owns (chains or
checkpoints not verified lately) and the activity per ledger. Every count is
bounded (COUNT over at most ATTENTION_CAP rows) and the number of queries does not grow with the data.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from ledgerproject.ledger import rollups
from ledgerproject.ledger.models import ChainCheck, Checkpoint, sees_all_tenants

ATTENTION_CAP = 100
ACTIVITY_DAYS = 14
# A chain not re-walked, or a ledger not checkpointed, within this long is named on the home page.
STALE_AFTER = timedelta(days=7)


def bounded_count(queryset, cap=ATTENTION_CAP):
    """COUNT over at most `cap` rows (an index range stopped early, never the whole table)."""
    return queryset.order_by().values("pk")[:cap].count()


@dataclass(frozen=True)
class Card:
    """A dashboard card on the home page, shown to those who hold `permission`."""

    permission: str
    title: str
    text: str
    url_name: str  # the dashboard's route name
    ledger: str

    def for_user(self, user):
        if not user.has_perm(self.permission):
            return None
        return {"title": self.title, "text": self.text, "url": reverse(self.url_name), "ledger": self.ledger}


def cards_of(*declared):
    """An app's `cards(user)`: its declared cards this user may see, in order."""

    def cards(user):
        return [card for card in (c.for_user(user) for c in declared) if card is not None]

    return cards


@dataclass(frozen=True)
class Attention:
    """An item needing a person, shown to those who hold `permission`. `measure(user)` answers the
    item's counted part (`count`, `url`, and `detail` unless declared here; `more` when capped), or
    None when there is nothing to show."""

    permission: str
    key: str
    title: str
    severity: str
    measure: Callable
    detail: str | None = None

    def for_user(self, user):
        if not user.has_perm(self.permission):
            return None
        measured = self.measure(user)
        if measured is None:
            return None
        item = {"key": self.key, "title": self.title, "count": measured["count"]}
        if "more" in measured:
            item["more"] = measured["more"]
        item["detail"] = measured["detail"] if self.detail is None else self.detail
        item["url"] = measured["url"]
        item["severity"] = self.severity
        return item


def attention_of(*declared):
    """An app's `attention(user)`: its declared items this user may see, in order."""

    def attention(user):
        return [item for item in (a.for_user(user) for a in declared) if item is not None]

    return attention


def _app_homes():
    for app in settings.LEDGER_APPS:
        try:
            yield import_module(f"{app}.home")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.home":
                raise


def integrity_attention(user, names):
    """Ledgers (of `names`, the non-empty ones) whose chain was not verified, or that were not
    checkpointed, within STALE_AFTER. Only for principals who see every tenant (the integrity view
    is theirs): two grouped queries."""
    if not sees_all_tenants(user) or not names:
        return []
    since = timezone.now() - STALE_AFTER
    checked = dict(
        ChainCheck.objects.filter(ledger__in=names)
        .values("ledger")
        .annotate(last=Max("checked_at"))
        .values_list("ledger", "last")
    )
    signed = dict(
        Checkpoint.objects.filter(ledger__in=names)
        .values("ledger")
        .annotate(last=Max("created_at"))
        .values_list("ledger", "last")
    )
    unverified = sorted(name for name in names if not checked.get(name) or checked[name] < since)
    unsigned = sorted(name for name in names if not signed.get(name) or signed[name] < since)
    url = reverse("ledgers")
    items = []
    if unverified:
        items.append(
            {
                "key": "unverified-chains",
                "title": "Chains not verified in the last 7 days",
                "count": len(unverified),
                "detail": ", ".join(unverified),
                "url": url,
                "severity": "warn",
            }
        )
    if unsigned:
        items.append(
            {
                "key": "unsigned-ledgers",
                "title": "Ledgers without a checkpoint in the last 7 days",
                "count": len(unsigned),
                "detail": ", ".join(unsigned),
                "url": url,
                "severity": "warn",
            }
        )
    return items


def _day_bounds(now):
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=ACTIVITY_DAYS - 1 - i) for i in range(ACTIVITY_DAYS + 1)]


def activity(user, models, now=None):
    """{ledger: [entries per day]} over the last ACTIVITY_DAYS days: one query over the rollups
    (ledger/rollups.py) of every ledger, counting only the tenants this principal may see; and the
    ledgers that hold any entry (all time), in a second.
    """
    now = now or timezone.now()
    bounds = _day_bounds(now)
    first, days = bounds[0].date(), [bound.date() for bound in bounds[:-1]]
    names = [model.ledger_name for model in models]
    counts = rollups.totals(user, names, rollups.ENTRIES, since=first, until=bounds[-1].date(), by=("ledger", "day"))
    result = {name: [counts.get((name, day), 0) for day in days] for name in names}
    sizes = rollups.sizes(user, names)
    nonempty = [name for name in names if sizes[name]]
    return {"days": [day.isoformat() for day in days], "ledgers": result, "nonempty": nonempty}


def home_context(user, models):
    attention, cards = [], []
    for module in _app_homes():
        if hasattr(module, "attention"):
            attention.extend(module.attention(user))
        if hasattr(module, "cards"):
            cards.extend(module.cards(user))
    counts = activity(user, models)
    attention.extend(integrity_attention(user, counts.pop("nonempty")))
    return {
        "attention": [item for item in attention if item["count"]],
        "cards": cards,
        "activity": counts,
        "cap": ATTENTION_CAP,
    }
