"""Prometheus metrics: requests per route, appends and 409s per ledger, verification and checkpoint ages."""

import hmac
import ipaddress
import math
import os
import time

from django.conf import settings
from django.db.models import Max
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from ledgerproject.ledger.limits import client_ip

# Under gunicorn with several workers each process counts for itself; with PROMETHEUS_MULTIPROC_DIR set
# (before the app is imported) prometheus_client keeps these values in files there and /metrics sums them.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "ledger_http_requests", "HTTP requests answered, by URL route, method and status", ["route", "method", "status"]
)
LATENCY = Histogram(
    "ledger_http_request_duration_seconds",
    "Time to answer a request, by URL route and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
APPENDS = Counter("ledger_appended_entries", "Entries appended (committed), per ledger", ["ledger"])
APPEND_BATCH = Histogram(
    "ledger_append_batch_size",
    "Entries per committed append (one transaction), per ledger",
    ["ledger"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
CONFLICTS = Counter(
    "ledger_conflicts",
    "409 answers per ledger: kind=duplicate (a key with other content), identical (a replay), state",
    ["ledger", "kind"],
)
APPENDER_DROPPED = Gauge(
    "ledger_logchain_appender_dropped_records",
    "Node-log records the in-memory appender dropped because its buffer was full (summed over processes)",
    multiprocess_mode="sum",
)

UNMATCHED = "<unmatched>"


def count_append(sender, first_seq, last_seq, **kwargs):
    """entries_appended receiver: one committed append of last_seq - first_seq + 1 entries."""
    ledger = getattr(sender, "ledger_name", None) or sender._meta.label_lower
    size = last_seq - first_seq + 1
    APPENDS.labels(ledger).inc(size)
    APPEND_BATCH.labels(ledger).observe(size)


def count_conflict(ledger, kind):
    CONFLICTS.labels(ledger or "", kind).inc()


def note_appender_drops():
    from logchain.appender import appender_stats

    try:
        APPENDER_DROPPED.set(appender_stats().get("dropped") or 0)
    except Exception:  # the metric must never break a request
        pass


class MetricsMiddleware:
    """Times every request and counts it under its URL route pattern (bounded labels, never the raw path)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - start
        match = getattr(request, "resolver_match", None)
        route = ("/" + match.route) if match is not None and match.route is not None else UNMATCHED
        method = request.method if request.method in _METHODS else "other"
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        LATENCY.labels(route, method).observe(elapsed)
        note_appender_drops()
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class LedgerAgeCollector:
    """Seconds since each ledger's last chain verification and last checkpoint, read at scrape time.

    One grouped query per table (latest per ledger), whatever the number of ledgers or entries. A ledger
    never verified or never checkpointed reports +Inf, so an "age above N" alert fires for it too.
    """

    def collect(self):
        from ledgerproject.ledger.checkpoints import Checkpoint
        from ledgerproject.ledger.models import ChainCheck
        from ledgerproject.ledger.registry import ledger_names

        now = timezone.now()
        names = ledger_names()
        for metric, model, field, doc in (
            ("ledger_chain_verification_age_seconds", ChainCheck, "checked_at", "Seconds since the last chain check"),
            ("ledger_checkpoint_age_seconds", Checkpoint, "created_at", "Seconds since the last signed checkpoint"),
        ):
            latest = dict(model.objects.values("ledger").annotate(at=Max(field)).values_list("ledger", "at"))
            family = GaugeMetricFamily(metric, doc, labels=["ledger"])
            for name in names:
                at = latest.get(name)
                family.add_metric([name], (now - at).total_seconds() if at else math.inf)
            yield family

    def describe(self):
        return []


_ages = LedgerAgeCollector()
if not MULTIPROCESS:
    REGISTRY.register(_ages)


def _registry():
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_ages)
    return registry


def _allowed(request):
    token = settings.LEDGER_METRICS_TOKEN
    if token:
        kind, _, given = request.headers.get("Authorization", "").partition(" ")
        if kind.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.LEDGER_METRICS_ALLOWED_IPS)


def metrics_view(request):
    """GET /metrics in Prometheus' text format, for the addresses and bearer token the settings allow."""
    if not _allowed(request):
        return JsonResponse({"detail": "Metrics are not available to this client."}, status=403)
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405, headers={"Allow": "GET"})
    note_appender_drops()
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
