"""The dashboard's numbers: a handful of grouped queries over the rollups of a time window."""

import time

from enhancelog.models import KNOWN_AXES, EnhanceEntry, Review
from ledgerproject.ledger import rollups
from ledgerproject.ledger.rollups import EPOCH, ms_day

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


def dashboard_stats(window=DEFAULT_WINDOW, user=None):
    """Totals, applied/rejected per day, deny rate per axis, most-rejected blueprints, review backlog.

    Read from the rollups kept on append (ledger/rollups.py), never by counting entries: five
    grouped queries over rows per (day, key, tenant), whatever the ledger's size. A window starts
    at the UTC midnight of its first day (the entry list it links to uses the same since_ms).
    """
    window = window if window in WINDOWS else DEFAULT_WINDOW
    since_ms, _ = window_bounds(window)
    since_ms = None if since_ms is None else since_ms - since_ms % DAY_MS
    since = None if since_ms is None else ms_day(since_ms)
    ledger = [EnhanceEntry.ledger_name]

    by_status = rollups.totals(user, ledger, "status", since, by=("key", "day"))
    totals = {"all": 0, EnhanceEntry.APPLIED: 0, EnhanceEntry.REJECTED: 0}
    per_day = {}
    for (status, day), n in by_status.items():
        totals["all"] += n
        totals[status] = totals.get(status, 0) + n
        per_day.setdefault(day, {EnhanceEntry.APPLIED: 0, EnhanceEntry.REJECTED: 0})[status] = n
    totals["reject_rate"] = round(100.0 * totals["rejected"] / totals["all"], 1) if totals["all"] else 0.0
    days = [
        {
            "day_ms": (day - EPOCH).days * DAY_MS,
            "applied": n[EnhanceEntry.APPLIED],
            "rejected": n[EnhanceEntry.REJECTED],
        }
        for day, n in sorted(per_day.items())
    ]

    verdicts = rollups.totals(user, ledger, "axis", since)
    denied = rollups.totals(user, ledger, "denied_axis", since)
    axes = [
        {"axis": axis, "verdicts": verdicts.get(axis, 0), "denied": denied.get(axis, 0)}
        for axis in set(verdicts) | set(denied)
    ]
    axes.sort(key=lambda a: (KNOWN_AXES.index(a["axis"]) if a["axis"] in KNOWN_AXES else 99, a["axis"]))
    for axis in axes:
        axis["rate"] = round(100.0 * axis["denied"] / axis["verdicts"], 1) if axis["verdicts"] else 0.0

    top_blueprints = [
        {"blueprint_id": row["key"], "rejected": row["total"]}
        for row in rollups.key_totals_since(
            user, ledger, "rejected_blueprint", "rejected_blueprint_month", "rejected_blueprint_all", since
        ).order_by("-total", "key")[:10]
    ]

    rejected_all = rollups.totals(user, ledger, "status").get(EnhanceEntry.REJECTED, 0)
    reviewed_all = rollups.sizes(user, [Review.ledger_name], "reviewed_entry")[Review.ledger_name]
    return {
        "window": window,
        "since_ms": since_ms,
        "totals": totals,
        "axes": axes,
        "days": days,
        "top_blueprints": top_blueprints,
        "backlog": {"rejected": rejected_all, "reviewed": reviewed_all, "unreviewed": rejected_all - reviewed_all},
    }
