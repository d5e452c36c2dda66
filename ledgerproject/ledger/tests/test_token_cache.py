"""The per-worker token memory: appends skip the token query, revocation still lands within its lifetime."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from ledgerproject.ledger import token_cache
from ledgerproject.ledger.models import ApiToken, hash_token_key

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def fake_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(token_cache, "clock", clock)
    token_cache.forget_all()
    yield clock
    token_cache.forget_all()


@pytest.fixture
def remembering(settings, fake_clock):
    settings.LEDGER_TOKEN_CACHE_SECONDS = 5
    return fake_clock


def post(api, key):
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/notes/", {"key": key, "count": 1}, format="json")
    return response.status_code, [q["sql"] for q in captured.captured_queries]


def reads_token(statements):
    return any("ledger_apitoken" in sql for sql in statements)


def test_it_reads_a_token_once_per_lifetime(remembering, writer_api):
    status, statements = post(writer_api, "a")
    assert status == 201 and reads_token(statements)
    remembering.now += 4.9
    status, statements = post(writer_api, "b")
    assert status == 201 and not reads_token(statements)
    remembering.now += 0.2  # 5.1 s after the first read: read again
    status, statements = post(writer_api, "c")
    assert status == 201 and reads_token(statements)


def test_a_remembered_append_skips_the_token_and_tenant_queries(remembering, writer_api):
    post(writer_api, "warm")
    status, statements = post(writer_api, "k")
    assert status == 201
    assert not any("ledger_apitoken" in sql or "ledger_tenantbinding" in sql for sql in statements), statements
    # savepoint, lock+conflicts+tip, INSERT, the rollups' UPSERT, release (the test's transaction
    # wraps the request).
    assert len(statements) <= 5, statements


def test_a_revocation_elsewhere_takes_effect_within_the_lifetime(remembering, alice, client_for):
    api = client_for(alice)
    assert post(api, "a")[0] == 201
    # Another worker revokes: this process gets no signal (a queryset delete/update here sends none to it).
    ApiToken.objects.filter(user=alice)._raw_delete(ApiToken.objects.db)
    remembering.now += 4.9
    assert post(api, "b")[0] == 201  # the documented window: still remembered
    remembering.now += 0.2
    assert post(api, "c")[0] == 401


def test_a_user_deactivated_elsewhere_is_refused_within_the_lifetime(remembering, alice, client_for):
    api = client_for(alice)
    assert post(api, "a")[0] == 201
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    remembering.now += 5.1
    assert post(api, "b")[0] == 401


def test_a_token_deleted_in_this_process_is_refused_at_once(remembering, alice, client_for):
    api = client_for(alice)
    assert post(api, "a")[0] == 201
    ApiToken.objects.filter(user=alice).delete()
    assert post(api, "b")[0] == 401


def test_a_role_taken_away_in_this_process_is_refused_at_once(remembering, alice, client_for):
    api = client_for(alice)
    assert post(api, "a")[0] == 201
    alice.groups.clear()
    assert post(api, "b")[0] == 403


def test_an_unknown_key_is_never_remembered(remembering):
    calls = []

    def load(key_hash):
        calls.append(key_hash)
        raise ApiToken.DoesNotExist

    for _ in range(2):
        with pytest.raises(ApiToken.DoesNotExist):
            token_cache.lookup(hash_token_key("nope"), load)
    assert len(calls) == 2


def test_each_request_gets_its_own_copy_of_the_user(remembering, alice):
    _, key = ApiToken.objects.issue(alice)
    first_token, first = token_cache.lookup(hash_token_key(key), ApiToken.objects.for_key_hash)
    first.something_a_request_cached = True
    second_token, second = token_cache.lookup(hash_token_key(key), ApiToken.objects.for_key_hash)
    assert second is not first and not hasattr(second, "something_a_request_cached")
    assert second_token.user is second and second.has_perm("ledger_testapp.add_note")


@override_settings(LEDGER_TOKEN_CACHE_SECONDS=0)
def test_a_lifetime_of_zero_reads_the_token_every_time(fake_clock, writer_api):
    assert reads_token(post(writer_api, "a")[1])
    assert reads_token(post(writer_api, "b")[1])
