"""/metrics: requests per route, appends and 409s per ledger, ages, appender drops, and who may scrape."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db


def scrape(client=None, **extra):
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def samples(text):
    """{(name, frozenset(labels.items())): value} of every sample in a scrape."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def test_appends_through_the_api_move_the_per_ledger_counters(writer_api, django_capture_on_commit_callbacks):
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert writer_api.post("/api/v1/notes/", {"key": "m1"}, format="json").status_code == 201
        batch = [{"key": f"b{i}"} for i in range(3)]
        assert writer_api.post("/api/v1/notes/batch/", batch, format="json").status_code == 201
    after = scrape()
    appended = "ledger_appended_entries_total"
    assert value(after, appended, ledger="testnotes") - value(before, appended, ledger="testnotes") == 4
    count = "ledger_append_batch_size_count"
    assert value(after, count, ledger="testnotes") - value(before, count, ledger="testnotes") == 2
    # The batch of 3 lands in the le=5 bucket but not in le=2.
    le5 = value(after, "ledger_append_batch_size_bucket", ledger="testnotes", le="5.0") - value(
        before, "ledger_append_batch_size_bucket", ledger="testnotes", le="5.0"
    )
    le2 = value(after, "ledger_append_batch_size_bucket", ledger="testnotes", le="2.0") - value(
        before, "ledger_append_batch_size_bucket", ledger="testnotes", le="2.0"
    )
    assert (le5, le2) == (2, 1)


def test_requests_are_counted_and_timed_per_route_not_per_path(auditor_api):
    name = "ledger_http_requests_total"
    route = "/api/v1/ledgers/<str:ledger>/verify/"
    before = scrape()
    for ledger in ("testnotes", "testnotes", "no-such-ledger"):
        auditor_api.get(f"/api/v1/ledgers/{ledger}/verify/")
    after = scrape()
    ok = value(after, name, route=route, method="GET", status="200") - value(
        before, name, route=route, method="GET", status="200"
    )
    missing = value(after, name, route=route, method="GET", status="404") - value(
        before, name, route=route, method="GET", status="404"
    )
    assert (ok, missing) == (2, 1)
    timed = "ledger_http_request_duration_seconds_count"
    assert value(after, timed, route=route, method="GET") - value(before, timed, route=route, method="GET") == 3
    assert not any("testnotes" in dict(labels).get("route", "") for (_, labels) in samples(after))


def test_conflicts_are_counted_per_ledger_and_kind(writer_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        writer_api.post("/api/v1/notes/", {"key": "c1", "body": {"a": 1}}, format="json")
    before = scrape()
    assert writer_api.post("/api/v1/notes/", {"key": "c1", "body": {"a": 1}}, format="json").status_code == 409
    assert writer_api.post("/api/v1/notes/", {"key": "c1", "body": {"a": 2}}, format="json").status_code == 409
    after = scrape()
    name = "ledger_conflicts_total"
    for kind in ("identical", "duplicate"):
        assert (
            value(after, name, ledger="testnotes", kind=kind) - value(before, name, ledger="testnotes", kind=kind) == 1
        )


def test_a_state_conflict_is_counted_under_the_ledger_of_the_view(writer_api):
    import hashlib

    body = {"spec_digest": hashlib.sha256(b"spec v1").hexdigest(), "version_label": "v1", "promoted_by": "ci"}
    assert writer_api.post("/api/v1/releases/agent/promote/", body, format="json").status_code == 201
    before = scrape()
    assert writer_api.post("/api/v1/releases/agent/rollback/").status_code == 409  # no previous release
    after = scrape()
    name = "ledger_conflicts_total"
    assert (
        value(after, name, ledger="releases", kind="state") - value(before, name, ledger="releases", kind="state") == 1
    )


def test_verification_and_checkpoint_ages_come_from_the_latest_rows(writer_api, django_assert_max_num_queries):
    writer_api.post("/api/v1/notes/", {"key": "a1"}, format="json")
    text = scrape()
    assert value(text, "ledger_chain_verification_age_seconds", ledger="testnotes") == float("inf")
    assert value(text, "ledger_checkpoint_age_seconds", ledger="testnotes") == float("inf")
    call_command("verify_ledgers", "testnotes", "--no-progress", stdout=open("/dev/null", "w"))
    call_command("checkpoint_ledgers", "testnotes", "--no-progress", stdout=open("/dev/null", "w"))
    with django_assert_max_num_queries(2):  # one grouped query per table, not one per ledger
        text = scrape()
    assert 0 <= value(text, "ledger_chain_verification_age_seconds", ledger="testnotes") < 60
    assert 0 <= value(text, "ledger_checkpoint_age_seconds", ledger="testnotes") < 60


def test_the_appenders_dropped_records_are_exposed():
    from logchain.appender import get_appender, set_appender
    from logchain.appenders import BufferingLogChainAppender, NodeLogRecord

    previous = get_appender()
    tiny = BufferingLogChainAppender(capacity=2)
    set_appender(tiny)
    try:
        for n in range(5):
            tiny.append(NodeLogRecord(seq=n, ts_ms=n, level="WARNING", daemon_id=None, node_id=0, message=f"m{n}"))
        assert value(scrape(), "ledger_logchain_appender_dropped_records") == 3
    finally:
        set_appender(previous)


def test_only_allowed_addresses_or_the_bearer_token_may_scrape(settings):
    settings.LEDGER_METRICS_TOKEN = "s3cret-metrics-token"
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    response = outsider.get("/metrics")
    assert response.status_code == 403 and "detail" in response.json()
    assert outsider.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert outsider.get("/metrics", headers={"Authorization": "Token s3cret-metrics-token"}).status_code == 403
    assert "ledger_http_requests_total" in scrape(outsider, headers={"Authorization": "Bearer s3cret-metrics-token"})
    settings.LEDGER_METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    assert outsider.get("/metrics").status_code == 200
    assert Client().get("/metrics").status_code == 403  # loopback is no longer listed


def test_without_a_token_setting_no_bearer_is_accepted(settings):
    settings.LEDGER_METRICS_TOKEN = ""
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert outsider.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


def test_the_metrics_settings_are_checked_at_start(settings_under_env, tmp_path):
    fresh = settings_under_env(LEDGER_METRICS_ALLOWED_IPS="10.0.0.0/8, 192.0.2.7", LEDGER_METRICS_TOKEN="t")
    assert (fresh.LEDGER_METRICS_ALLOWED_IPS, fresh.LEDGER_METRICS_TOKEN) == (["10.0.0.0/8", "192.0.2.7"], "t")
    with pytest.raises(ImproperlyConfigured, match="LEDGER_METRICS_ALLOWED_IPS"):
        settings_under_env(LEDGER_METRICS_ALLOWED_IPS="localhost")
    with pytest.raises(ImproperlyConfigured, match="PROMETHEUS_MULTIPROC_DIR"):
        settings_under_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "missing"))
