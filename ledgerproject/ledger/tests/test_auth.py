"""Authentication (hashed tokens), roles, tenant scoping, throttling, and `issue_token`."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from ledgerproject.ledger.models import ALL_TENANTS, ApiToken, hash_token_key, tenant_scope
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def test_anonymous_requests_are_401_with_a_token_challenge(anon_api):
    response = anon_api.get("/api/v1/notes/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert anon_api.post("/api/v1/notes/", {"key": "x"}, format="json").status_code == 401


def test_an_unknown_token_is_401():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = api.get("/api/v1/notes/")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."


def test_a_token_of_an_inactive_user_is_401(alice, client_for):
    api = client_for(alice)
    alice.is_active = False
    alice.save()
    assert api.get("/api/v1/notes/").status_code == 401


def test_token_keys_are_stored_hashed(alice):
    token, key = ApiToken.objects.issue(alice)
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_token_key(key) != key
    assert key not in {stored.key_hash, stored.key_prefix, stored.name}


def test_a_reader_reads_but_cannot_append(reader_api, make_note):
    make_note("k")
    assert reader_api.get("/api/v1/notes/").status_code == 200
    response = reader_api.post("/api/v1/notes/", {"key": "x"}, format="json")
    assert response.status_code == 403 and response.json()["detail"]
    assert Note.objects.count() == 1


def test_a_writer_appends(writer_api):
    assert writer_api.post("/api/v1/notes/", {"key": "x"}, format="json").status_code == 201


def test_a_principal_without_a_role_sees_nothing(make_user, client_for):
    api = client_for(make_user("nobody"))
    assert api.get("/api/v1/notes/").status_code == 403


@pytest.fixture
def tenant_notes(make_note):
    make_note("acme-1", tenant_id="acme")
    make_note("globex-1", tenant_id="globex")


def test_a_tenant_bound_principal_sees_only_its_tenants(make_user, client_for, tenant_notes):
    api = client_for(make_user("acme-reader", roles=["reader"], tenants=["acme"]))
    assert [e["key"] for e in api.get("/api/v1/notes/").json()["results"]] == ["acme-1"]
    assert api.get("/api/v1/notes/globex-1/").status_code == 404
    lines = api.get("/api/v1/notes/?format=jsonl").getvalue().decode().splitlines()
    assert len(lines) == 1 and "acme-1" in lines[0]


def test_a_tenant_bound_writer_cannot_write_another_tenant(make_user, client_for):
    api = client_for(make_user("acme-writer", roles=["writer"], tenants=["acme"]))
    assert api.post("/api/v1/notes/", {"key": "a", "tenant_id": "acme"}, format="json").status_code == 201
    response = api.post("/api/v1/notes/", {"key": "g", "tenant_id": "globex"}, format="json")
    assert response.status_code == 404
    assert not Note.objects.filter(key="g").exists()


def test_a_principal_with_the_all_tenants_grant_sees_every_tenant(reader_api, tenant_notes, bob):
    assert tenant_scope(bob) is ALL_TENANTS
    assert len(reader_api.get("/api/v1/notes/").json()["results"]) == 2


def test_throttling_answers_429_with_retry_after(writer_api, monkeypatch):
    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    statuses = [writer_api.get("/api/v1/notes/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = writer_api.get("/api/v1/notes/")
    assert int(response["Retry-After"]) >= 1 and "throttled" in response.json()["detail"].lower()
    cache.clear()


def test_issue_token_creates_the_user_with_roles_and_tenants_and_prints_the_key(capsys):
    call_command("issue_token", "integrator", "--role", "writer", "--role", "reader", "--tenant", "acme")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post("/api/v1/notes/", {"key": "a", "tenant_id": "acme"}, format="json").status_code == 201
    assert api.post("/api/v1/notes/", {"key": "b", "tenant_id": "other"}, format="json").status_code == 404
    assert ApiToken.objects.get(key_hash=hash_token_key(key)).user.username == "integrator"


def test_issue_token_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("issue_token", "x", "--role", "emperor")


def test_a_repeated_key_of_another_tenant_shows_nothing_of_that_entry(make_user, client_for, make_note):
    make_note("shared-key", tenant_id="globex", body={"secret": "globex data"})
    api = client_for(make_user("acme-writer", roles=["writer"], tenants=["acme"]))
    response = api.post("/api/v1/notes/", {"key": "shared-key", "tenant_id": "acme"}, format="json")
    assert response.status_code == 404
    assert "globex" not in response.content.decode() and "existing" not in response.json()


def test_a_writer_bound_to_one_tenant_writes_into_it_without_naming_it(make_user, client_for):
    api = client_for(make_user("acme-writer", roles=["writer"], tenants=["acme"]))
    response = api.post("/api/v1/notes/", {"key": "no-tenant"}, format="json")
    assert response.status_code == 201
    assert Note.objects.get(key="no-tenant").tenant_id == "acme"


def test_a_writer_bound_to_several_tenants_must_name_one(make_user, client_for):
    api = client_for(make_user("two-writer", roles=["writer"], tenants=["acme", "globex"]))
    response = api.post("/api/v1/notes/", {"key": "no-tenant"}, format="json")
    assert response.status_code == 400 and "tenant_id" in response.json()
    assert not Note.objects.exists()


@pytest.mark.parametrize("method", ["head", "options"])
def test_head_and_options_need_what_get_needs(reader_api, method):
    from ledgerproject.ledger.models import ChainCheck

    response = getattr(reader_api, method)("/api/v1/ledgers/testnotes/verify/")
    assert response.status_code == 403
    assert not ChainCheck.objects.exists()


def test_a_principal_without_a_role_is_refused_the_ledger_list(make_user, client_for):
    # The list needs the view permission of some ledger (access.LEDGER_READ): no role, no list.
    response = client_for(make_user("nobody")).get("/api/v1/ledgers/")
    assert response.status_code == 403
    assert "detail" in response.json()


def test_a_batch_item_of_another_tenant_is_a_404_naming_the_item(make_user, client_for):
    api = client_for(make_user("acme-writer", roles=["writer"], tenants=["acme"]))
    batch = [{"key": "a", "tenant_id": "acme"}, {"key": "g", "tenant_id": "globex"}]
    response = api.post("/api/v1/notes/batch/", batch, format="json")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("item 1:")
    assert not Note.objects.exists()
