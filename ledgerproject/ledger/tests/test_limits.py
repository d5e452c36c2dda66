"""Brute-force control: login lockout on both login pages, and throttled failed token attempts."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def _fail(client, url, username, times):
    return [client.post(url, {"username": username, "password": "wrong"}).status_code for _ in range(times)]


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_it_locks_a_username_and_address_out_after_the_failure_limit(client, make_user, settings, url):
    make_user("rita", superuser=True)
    limit = settings.AXES_FAILURE_LIMIT
    statuses = _fail(client, url, "rita", limit)
    # The limit-th failure is the one that locks; the ones before it are the page's ordinary refusal.
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[-1] == 429
    # Even the right password is refused now, with the lockout page, not the login form.
    response = client.post(url, {"username": "rita", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_it_counts_failures_per_username_and_address(client, make_user, settings, url):
    make_user("rita", superuser=True)
    make_user("sam", superuser=True)
    _fail(client, url, "rita", settings.AXES_FAILURE_LIMIT)
    # Another username from the same address, and the same username from another address, still log in.
    assert client.post(url, {"username": "sam", "password": PASSWORD}).status_code == 302
    elsewhere = type(client)(REMOTE_ADDR="10.9.8.7")
    assert elsewhere.post(url, {"username": "rita", "password": PASSWORD}).status_code == 302


def test_a_success_before_the_limit_clears_the_count(client, make_user, settings):
    make_user("rita")
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, "/accounts/login/", "rita", limit - 1)
    assert client.post("/accounts/login/", {"username": "rita", "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    assert _fail(client, "/accounts/login/", "rita", limit - 1) == [200] * (limit - 1)


def test_axes_reset_lifts_a_lockout(client, make_user, settings):
    make_user("rita")
    _fail(client, "/accounts/login/", "rita", settings.AXES_FAILURE_LIMIT)
    assert client.post("/accounts/login/", {"username": "rita", "password": PASSWORD}).status_code == 429
    call_command("axes_reset_username", "rita", stdout=open("/dev/null", "w"))
    assert client.post("/accounts/login/", {"username": "rita", "password": PASSWORD}).status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_failure_limit_is_a_setting(client, make_user):
    make_user("rita")
    assert _fail(client, "/accounts/login/", "rita", 2) == [200, 429]


def test_the_lockout_settings_come_from_the_environment(settings_under_env):
    fresh = settings_under_env(LEDGER_LOGIN_FAILURE_LIMIT="7", LEDGER_LOGIN_COOLOFF_MINUTES="0")
    assert fresh.AXES_FAILURE_LIMIT == 7
    assert fresh.AXES_COOLOFF_TIME is None  # locked until axes_reset
    assert settings_under_env(LEDGER_LOGIN_COOLOFF_MINUTES="30").AXES_COOLOFF_TIME.total_seconds() == 1800
    with pytest.raises(ImproperlyConfigured, match="LEDGER_LOGIN_FAILURE_LIMIT"):
        settings_under_env(LEDGER_LOGIN_FAILURE_LIMIT="many")


def test_the_failed_token_rate_comes_from_the_environment(settings_under_env):
    fresh = settings_under_env(LEDGER_THROTTLE_FAILED_TOKEN="25/hour")
    assert fresh.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["failed_token"] == "25/hour"
    for bad in ("", "ten/min", "10", "10/fortnight"):
        with pytest.raises(ImproperlyConfigured, match="LEDGER_THROTTLE_FAILED_TOKEN"):
            settings_under_env(LEDGER_THROTTLE_FAILED_TOKEN=bad)


# --- failed token attempts -------------------------------------------------------------------------


def _token_client(key, addr="127.0.0.1"):
    api = APIClient(REMOTE_ADDR=addr)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_it_throttles_failed_token_attempts_per_address_before_the_lookup(
    settings, writer_api, django_assert_max_num_queries
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_token": "3/min"},
    }
    guesser = _token_client("not-a-token")
    assert [guesser.get("/api/v1/notes/").status_code for _ in range(3)] == [401, 401, 401]
    # Past the limit: 429 with Retry-After and a detail, and the token table is not read.
    with django_assert_max_num_queries(1) as captured:
        response = guesser.get("/api/v1/notes/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "failed token attempts" in response.json()["detail"]
    assert not any("apitoken" in query["sql"].lower() for query in captured.captured_queries)
    # Other addresses are not held back, with a valid token or a guess; the blocked address is, whatever
    # it sends, since telling a valid token from a guess would take the lookup the block is there to save.
    writer_api.defaults["REMOTE_ADDR"] = "10.1.2.4"
    assert writer_api.get("/api/v1/notes/").status_code == 200
    assert _token_client("another-guess", addr="10.1.2.3").get("/api/v1/notes/").status_code == 401
    assert guesser.get("/api/v1/notes/").status_code == 429


def test_an_address_another_worker_saw_fail_is_refused_after_one_lookup(settings, django_assert_max_num_queries):
    from ledgerproject.ledger.limits import forget_failed_addresses

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_token": "3/min"},
    }
    guesser = _token_client("not-a-token")
    assert [guesser.get("/api/v1/notes/").status_code for _ in range(3)] == [401, 401, 401]
    # A worker that saw none of those failures: its memory of failing addresses is empty.
    forget_failed_addresses()
    response = guesser.get("/api/v1/notes/")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    with django_assert_max_num_queries(1) as captured:
        assert guesser.get("/api/v1/notes/").status_code == 429
    assert not any("apitoken" in query["sql"].lower() for query in captured.captured_queries)


def test_a_valid_token_from_an_address_that_never_failed_reads_no_counter(writer_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert writer_api.get("/api/v1/notes/").status_code == 200
    assert not any("ledger_cache" in query["sql"] for query in captured.captured_queries)


def test_valid_tokens_never_count_as_failures(settings, writer_api):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "failed_token": "2/min"},
    }
    assert {writer_api.get("/api/v1/notes/").status_code for _ in range(6)} == {200}
    # One failure from the same address is still under the limit: valid requests went uncounted.
    assert _token_client("a-guess").get("/api/v1/notes/").status_code == 401
    assert writer_api.get("/api/v1/notes/").status_code == 200
