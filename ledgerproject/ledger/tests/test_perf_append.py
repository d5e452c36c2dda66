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


# --- every single-append route's round trips -------------------------------------------------------

D1, D2 = "1" * 64, "2" * 64


def _new_run(api):
    body = {"spec_digest": D1, "metadata": {"agent_name": "budget", "tags": {}}}
    response = api.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["run_id"]


def _promoted(api, name):
    for digest in (D1, D2):
        body = {"spec_digest": digest, "promoted_by": "ci"}
        assert api.post(f"/api/v1/releases/{name}/promote/", body, format="json").status_code == 201
    return name


def _enhance(i):
    return {
        "issue_id": f"budget-{i}",
        "blueprint_id": "bp-1",
        "prev_hash": "a" * 64,
        "new_hash": "b" * 64,
        "intent": "tighten the retry policy",
        "verdicts": [{"axis": "des", "status": "pass", "detail": ""}],
        "status": "applied",
        "reasons": [],
        "ts_ms": 1_760_000_000_000 + i,
    }


def _experience(i):
    return {
        "event_id": f"budget-{i}",
        "occurred_at": "2026-01-21T12:00:00Z",
        "tenant_id": "acme",
        "correlation_id": "run-1",
        "event": {
            "type": "OutcomeRecorded",
            "data": {
                "chain_id": "c",
                "step": "Planning",
                "passed": True,
                "stop_reason": None,
                "latency_ms": 1,
                "tokens": 1,
                "cost_microdollars": 1,
                "backend": "local",
            },
        },
    }


def _log(i):
    return {
        "seq": i + 1,
        "ts_ms": 1_760_000_000_000 + i,
        "level": "Info",
        "daemon_id": 7,
        "node_id": 3,
        "message": f"step {i}",
        "chain_pending": False,
    }


def _output(i):
    return {
        "task_id": f"task-{i}",
        "attempt": 1,
        "producer_agent": "ci",
        "event": {"type": "final", "content": {"kind": "inline", "value": "x"}, "ok": True},
        "parent_refs": [],
    }


def _run_summary(i):
    return {"total_events": 0, "duration_ms": 1}


# route (as the URL resolver spells it) → (url for the i-th append given the writer's client, body(i)).
# Each is requested twice after a warm-up, so first-use lookups (content types, caches) are not counted.
SINGLE_APPEND_ROUTES = {
    "api/v1/^enhances/$": (lambda api, i: "/api/v1/enhances/", _enhance),
    "api/v1/^events/$": (lambda api, i: "/api/v1/events/", _experience),
    "api/v1/^runs/$": (
        lambda api, i: "/api/v1/runs/",
        lambda i: {"spec_digest": D1, "metadata": {"agent_name": f"a{i}", "tags": {}}},
    ),
    "api/v1/^runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events/$": (
        lambda api, i: f"/api/v1/runs/{api.budget_run}/events/",
        lambda i: {"kind": "tool_called", "payload": {"step": i}},
    ),
    "api/v1/^runs/(?P<run_id>[^/]+)/complete/$": (
        lambda api, i: f"/api/v1/runs/{_new_run(api)}/complete/",
        _run_summary,
    ),
    "api/v1/^runs/(?P<run_id>[^/]+)/fail/$": (lambda api, i: f"/api/v1/runs/{_new_run(api)}/fail/", _run_summary),
    "api/v1/^runs/(?P<run_id>[^/]+)/cancel/$": (lambda api, i: f"/api/v1/runs/{_new_run(api)}/cancel/", _run_summary),
    "api/v1/^outputs/$": (lambda api, i: "/api/v1/outputs/", _output),
    "api/v1/logs/": (lambda api, i: "/api/v1/logs/", _log),
    "api/v1/^releases/(?P<name>[^/]+)/promote/$": (
        lambda api, i: "/api/v1/releases/budget/promote/",
        lambda i: {"spec_digest": f"{i:064x}", "promoted_by": "ci", "version_label": f"v{i}"},
    ),
    "api/v1/^releases/(?P<name>[^/]+)/rollback/$": (
        lambda api, i: f"/api/v1/releases/{_promoted(api, f'budget-{i}')}/rollback/",
        lambda i: {},
    ),
    "api/v1/^notes/$": (lambda api, i: "/api/v1/notes/", lambda i: {"key": f"budget-{i}", "count": 1}),
}

# The POST routes of ledger viewsets that append no single entry here (arrays, or no append at all).
NOT_SINGLE_APPENDS = {"api/v1/^releases/$"}

# Queries per append, counted in a test transaction (SAVEPOINT / RELEASE stand for BEGIN / COMMIT) with
# the token and tenant lookups that a server's token memory (token_cache.py) usually answers. On
# PostgreSQL statements sent in one message count once (lock + tip read; INSERT + rollup UPSERT).
# One more than its budget means a round trip came back: find it before raising the number.
QUERY_BUDGETS = {
    # route: (SQLite, PostgreSQL). token, tenant scope, savepoint, lock + conflicts + tip, INSERT, rollups, release:
    "api/v1/^enhances/$": (7, 6),
    "api/v1/^events/$": (7, 6),
    "api/v1/^outputs/$": (7, 6),
    "api/v1/logs/": (7, 6),
    "api/v1/^notes/$": (7, 6),
    # … and the new run's outcome (none) for the answer's status.
    "api/v1/^runs/$": (8, 7),
    # … and the run (404 if not yours); under the lock its outcome (with the outcome lock) and the next seq.
    "api/v1/^runs/(?P<run_id>[0-9a-fA-F-]{32,36})/events/$": (10, 9),
    # … the run before; under the lock its outcome (none yet); the run with its status for the answer.
    "api/v1/^runs/(?P<run_id>[^/]+)/complete/$": (10, 9),
    "api/v1/^runs/(?P<run_id>[^/]+)/fail/$": (10, 9),
    "api/v1/^runs/(?P<run_id>[^/]+)/cancel/$": (10, 9),
    # … the name's current release before; under the lock the same again (in the lock's message on PostgreSQL:
    # Release.state_reads); the spec's blob for the answer; and the current-release row's UPSERT
    # (ledger/latest.py): in the INSERT's message on PostgreSQL, its own on SQLite.
    "api/v1/^releases/(?P<name>[^/]+)/promote/$": (11, 8),
    "api/v1/^releases/(?P<name>[^/]+)/rollback/$": (11, 8),
}


def _post_routes():
    from ledgerproject.ledger.api import LedgerViewSet
    from ledgerproject.ledger.tests.routes import all_routes

    for route, pattern in all_routes():
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if cls is not None and issubclass(cls, LedgerViewSet) and "post" in actions and actions["post"] != "batch":
            yield route


def test_every_single_append_route_has_a_query_budget():
    routes = set(_post_routes())
    assert routes - NOT_SINGLE_APPENDS - set(QUERY_BUDGETS) == set(), "a single-append route without a budget"
    assert set(QUERY_BUDGETS) <= routes, "a budget for a route that no longer exists"


@pytest.mark.parametrize("route", sorted(SINGLE_APPEND_ROUTES))
def test_a_single_append_takes_at_most_its_budget_of_queries(route, alice, client_for):
    api = client_for(alice)
    api.budget_run = _new_run(api)
    url_for, body = SINGLE_APPEND_ROUTES[route]
    for i in range(3):
        url = url_for(api, i)
        with CaptureQueriesContext(connection) as captured:
            response = api.post(url, body(i), format="json")
        assert response.status_code in (200, 201), response.content
    counted = len(captured.captured_queries)
    statements = "\n".join(query["sql"][:120] for query in captured.captured_queries)
    sqlite, postgres = QUERY_BUDGETS.get(route, (0, 0))
    budget = postgres if connection.vendor == "postgresql" else sqlite
    assert counted <= budget, f"{route}: {counted} queries, budget {budget}:\n{statements}"


@pytest.mark.postgres
def test_it_sends_a_single_entrys_insert_and_its_rollups_in_one_message(writer_api):
    from ledgerproject.ledger import rollups

    writer_api.post("/api/v1/notes/", {"key": "first", "count": 1}, format="json")
    response, statements = _post_note(writer_api, "second")
    assert response.status_code == 201
    inserts = [sql for sql in statements if 'INSERT INTO "ledger_testapp_note"' in sql]
    assert len(inserts) == 1 and 'INSERT INTO "ledger_rollup"' in inserts[0]
    assert not any(sql.startswith('INSERT INTO "ledger_rollup"') for sql in statements)
    # Both statements ran: the stored counts are a count over the table.
    assert rollups.stored(Note.ledger_name) == rollups.count_table(Note)


@pytest.mark.postgres
def test_it_sends_a_promotions_insert_its_rollups_and_its_current_row_in_one_message(writer_api):
    from ledgerproject.ledger import latest
    from releases.models import CurrentRelease

    _promoted(writer_api, "one-message")
    with CaptureQueriesContext(connection) as captured:
        body = {"spec_digest": "3" * 64, "promoted_by": "ci"}
        assert writer_api.post("/api/v1/releases/one-message/promote/", body, format="json").status_code == 201
    statements = [q["sql"] for q in captured.captured_queries]
    [insert] = [sql for sql in statements if 'INSERT INTO "releases_release"' in sql]
    assert 'INSERT INTO "ledger_rollup"' in insert and 'INSERT INTO "releases_currentrelease"' in insert
    assert not any(sql.startswith('INSERT INTO "releases_currentrelease"') for sql in statements)
    # All three ran: the current row is the new entry.
    assert CurrentRelease.objects.get(name="one-message").spec_digest == "3" * 64
    assert latest.check(CurrentRelease) == []


@pytest.mark.postgres
def test_it_reads_a_promotions_current_release_under_the_lock_in_the_locks_own_message(writer_api):
    _promoted(writer_api, "lock-message")
    with CaptureQueriesContext(connection) as captured:
        body = {"spec_digest": "3" * 64, "promoted_by": "ci"}
        response = writer_api.post("/api/v1/releases/lock-message/promote/", body, format="json")
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in captured.captured_queries]
    [locked] = [sql for sql in statements if "pg_advisory_xact_lock" in sql]
    # The lock, the tip and the name's newest release: one message, the read a statement after the lock.
    assert locked.index("pg_advisory_xact_lock") < locked.index('FROM "releases_release" WHERE "name" = ')
    newest_reads = [sql for sql in statements if 'FROM "releases_release" WHERE "name" = ' in sql]
    assert len(newest_reads) == 2  # before the lock (to build on), and under it (to check it is still current)
    assert response.json()["supersedes"] == 2


def _transition_body(artifact_id, from_state, to_state):
    from experience.tests.conftest import envelope, transition_data

    return envelope("ArtifactStateTransitioned", data=transition_data(artifact_id, from_state, to_state, "acme"))


@pytest.mark.postgres
def test_it_reads_an_artifacts_transitions_under_the_lock_in_the_locks_own_message(writer_api):
    first = writer_api.post("/api/v1/events/", _transition_body("lock-message", "Draft", "Approved"), format="json")
    assert first.status_code == 201, first.content
    with CaptureQueriesContext(connection) as captured:
        body = _transition_body("lock-message", "Approved", "Active")
        response = writer_api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in captured.captured_queries]
    [locked] = [sql for sql in statements if "pg_advisory_xact_lock" in sql]
    # The lock, the tip and the artifact's transitions: one message, the read a statement after the lock.
    assert locked.index("pg_advisory_xact_lock") < locked.index('"artifact_id" IN (')
    assert not any('"artifact_id" IN (' in sql for sql in statements if sql != locked)
    # And the stale claim is refused from that read, naming the state it found.
    stale = writer_api.post("/api/v1/events/", body, format="json")
    assert stale.status_code == 409 and stale.json()["current_state"] == "Active", stale.content
