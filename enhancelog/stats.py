"""The dashboard's numbers: a handful of grouped queries over a time window, cached per ledger head."""

import hashlib
import time

from django.core.cache import cache
from django.db.models import Count, F

from enhancelog.models import KNOWN_AXES, EnhanceEntry, Review
from ledgerproject.ledger.models import ALL_TENANTS, tenant_scope

DAY_MS = 86_400_000
WINDOWS = {"7": 7, "30": 30, "90": 90, "365": 365, "all": None}
DEFAULT_WINDOW = "30"


def now_ms():
    return int(time.time() * 1000)


def window_bounds(window, now=None):
    """(since_ms, until_ms) for a window name; since is None for "all"."""
    now = now_ms() if now is None else now
    days = WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])
    return (None if days is None else now - days * DAY_MS), None


def _split(marker):
    return [axis for axis in marker.strip(",").split(",") if axis]


def dashboard_stats(window=DEFAULT_WINDOW, user=None):
    """Totals, applied/rejected per day, deny rate per axis, most-rejected blueprints, review backlog.

    Query count does not depend on data size; results are cached until either ledger grows, so
    repeated views of a big ledger cost two head lookups.
    """
    window = window if window in WINDOWS else DEFAULT_WINDOW
    scope = tenant_scope(user)
    tenants = "all" if scope is ALL_TENANTS else hashlib.sha256("\n".join(sorted(scope)).encode()).hexdigest()[:16]
    heads = (
        EnhanceEntry.objects.order_by("-seq").values_list("seq", flat=True).first(),
        Review.objects.order_by("-seq").values_list("seq", flat=True).first(),
    )
    # Day granularity in the key keeps "the last N days" honest without recomputing every request.
    # Per tenant scope: a tenant-bound principal's figures count only what it can see.
    key = f"enhancelog:dashboard:{window}:{tenants}:{heads[0]}:{heads[1]}:{now_ms() // (DAY_MS // 24)}"
    stats = cache.get(key)
    if stats is None:
        stats = _compute(window, user)
        cache.set(key, stats, 300)
    return stats


def _compute(window, user):
    since_ms, until_ms = window_bounds(window)
    visible = EnhanceEntry.objects.visible_to(user)
    entries = visible.between_ms(since_ms, until_ms, until_inclusive=False)

    totals = {"all": 0, "applied": 0, "rejected": 0}
    axes = {}
    for row in entries.values("status", "axes", "denied_axes").annotate(n=Count("seq")).order_by():
        totals["all"] += row["n"]
        totals[row["status"]] = totals.get(row["status"], 0) + row["n"]
        for axis in _split(row["axes"]):
            axes.setdefault(axis, {"axis": axis, "verdicts": 0, "denied": 0})["verdicts"] += row["n"]
        for axis in _split(row["denied_axes"]):
            axes.setdefault(axis, {"axis": axis, "verdicts": 0, "denied": 0})["denied"] += row["n"]
    ordered_axes = sorted(
        axes.values(), key=lambda a: (KNOWN_AXES.index(a["axis"]) if a["axis"] in KNOWN_AXES else 99, a["axis"])
    )
    for axis in ordered_axes:
        axis["rate"] = round(100.0 * axis["denied"] / axis["verdicts"], 1) if axis["verdicts"] else 0.0
    totals["reject_rate"] = round(100.0 * totals["rejected"] / totals["all"], 1) if totals["all"] else 0.0

    per_day = {}
    for row in (
        entries.annotate(day=F("ts_ms") / DAY_MS).values("day", "status").annotate(n=Count("seq")).order_by("day")
    ):
        per_day.setdefault(row["day"], {"applied": 0, "rejected": 0})[row["status"]] = row["n"]
    days = [
        {"day_ms": day * DAY_MS, "applied": counts["applied"], "rejected": counts["rejected"]}
        for day, counts in sorted(per_day.items())
    ]

    top_blueprints = list(
        entries.rejected()
        .values("blueprint_id")
        .annotate(rejected=Count("seq"))
        .order_by("-rejected", "blueprint_id")[:10]
    )

    rejected_all = visible.rejected().count()
    reviewed_all = Review.objects.visible_to(user).values("entry").distinct().count()
    return {
        "window": window,
        "since_ms": since_ms,
        "totals": totals,
        "axes": ordered_axes,
        "days": days,
        "top_blueprints": top_blueprints,
        "backlog": {"rejected": rejected_all, "reviewed": reviewed_all, "unreviewed": rejected_all - reviewed_all},
    }
