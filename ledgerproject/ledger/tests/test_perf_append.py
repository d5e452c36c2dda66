"""The append request's round trips: permissions ride on the token query, lock and tip read share one."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledgerproject.ledger.models import ApiToken
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def _post_note(api, key):
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/notes/", {"key": key, "count": 1}, format="json")
    statements = [q["sql"] for q in captured.captured_queries]
    return response, statements


def test_a_token_append_reads_no_permission_tables_after_the_token(writer_api):
    response, statements = _post_note(writer_api, "k1")
    assert response.status_code == 201
    # Everything ModelBackend needs came with the token row: no separate auth_permission queries.
    assert "auth_permission" in statements[0]
    assert not any("auth_permission" in sql for sql in statements[1:])


def test_a_token_append_takes_at_most_its_round_trips(writer_api, django_assert_max_num_queries):
    writer_api.post("/api/v1/notes/", {"key": "warm", "count": 1}, format="json")
    # token+permissions, tenant bindings, savepoint, lock+conflicts+tip, INSERT, the rollups' UPSERT,
    # release (the lock is SQLite's BEGIN IMMEDIATE there): one query more means a round trip came back.
    with django_assert_max_num_queries(7):
        assert writer_api.post("/api/v1/notes/", {"key": "k2", "count": 1}, format="json").status_code == 201


def test_a_role_taken_away_is_refused_on_the_next_request(alice, client_for):
    api = client_for(alice)
    assert api.post("/api/v1/notes/", {"key": "before", "count": 1}, format="json").status_code == 201
    alice.groups.clear()
    assert api.post("/api/v1/notes/", {"key": "after", "count": 1}, format="json").status_code == 403


def test_a_permission_granted_directly_counts_on_the_next_request(make_user, client_for):
    carla = make_user("carla", roles=[])
    api = client_for(carla)
    assert api.post("/api/v1/notes/", {"key": "k", "count": 1}, format="json").status_code == 403
    carla.user_permissions.add(
        Permission.objects.get(codename="add_note"), Permission.objects.get(codename="view_note")
    )
    assert api.post("/api/v1/notes/", {"key": "k", "count": 1}, format="json").status_code == 201


def test_the_token_user_carries_the_same_permissions_modelbackend_would_load(alice):
    alice.user_permissions.add(Permission.objects.get(codename="view_note"))
    token, key = ApiToken.objects.issue(alice)
    loaded = ApiToken.objects.for_key(key).user
    fresh = type(alice).objects.get(pk=alice.pk)
    assert loaded._user_perm_cache == fresh.get_user_permissions() == {"ledger_testapp.view_note"}
    assert loaded._group_perm_cache == fresh.get_group_permissions()
    assert loaded.get_all_permissions() == fresh.get_all_permissions()
    assert "ledger_testapp.add_note" in loaded.get_all_permissions()


def test_a_superuser_token_keeps_djangos_own_permission_path(make_user):
    root = make_user("root", roles=[])
    root.is_superuser = True
    root.save()
    _, key = ApiToken.objects.issue(root)
    loaded = ApiToken.objects.for_key(key).user
    assert not hasattr(loaded, "_perm_cache")
    assert loaded.get_all_permissions() == {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }


def test_a_user_in_a_group_without_permissions_has_none(make_user):
    lurker = make_user("lurker", roles=[])
    lurker.groups.add(Group.objects.create(name="empty"))
    _, key = ApiToken.objects.issue(lurker)
    assert ApiToken.objects.for_key(key).user.get_all_permissions() == set()


def test_the_tip_read_with_the_conflict_check_chains_after_the_newest_entry(writer_api):
    for key in ("a", "b", "c"):
        assert writer_api.post("/api/v1/notes/", {"key": key, "count": 1}, format="json").status_code == 201
    # "a" is an old key, not the tip: the conflict is found and nothing is appended.
    assert writer_api.post("/api/v1/notes/", {"key": "a", "count": 1}, format="json").status_code == 409
    entry = Note.objects.append(key="d")
    previous = Note.objects.get(key="c")
    assert entry.seq == previous.seq + 1 and entry.prev_entry_hash == previous.entry_hash


def test_a_repeat_of_the_tip_itself_is_the_conflict_not_the_tip(writer_api):
    assert writer_api.post("/api/v1/notes/", {"key": "only", "count": 1}, format="json").status_code == 201
    replay = writer_api.post("/api/v1/notes/", {"key": "only", "count": 1}, format="json")
    assert replay.status_code == 409 and replay.json()["identical"] is True
    assert Note.objects.count() == 1


def test_a_narrowed_token_queryset_still_narrows_the_lookup(alice, bob):
    _, key = ApiToken.objects.issue(alice)
    assert ApiToken.objects.for_key(key).user == alice
    assert ApiToken.objects.filter(user=alice).for_key(key).user == alice
    with pytest.raises(ApiToken.DoesNotExist):
        ApiToken.objects.filter(user=bob).for_key(key)
    with pytest.raises(ApiToken.DoesNotExist):
        ApiToken.objects.for_key("not-a-key")
