"""The releases API: list of current releases, current (as of T), history, promote, rollback, and their errors."""

import datetime

import pytest
import time_machine
from django.apps import apps

from releases.models import Release
from releases.tests.conftest import digest

D1, D2, D3 = digest("v1"), digest("v2"), digest("v3")
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
BASE = "/api/v1/releases/"


def promote(api, name, label, **extra):
    body = {"spec_digest": digest(label), "version_label": label, "promoted_by": "ci", **extra}
    return api.post(f"{BASE}{name}/promote/", body, format="json")


def test_promote_appends_a_release_in_the_seeds_shape(writer_api):
    response = promote(writer_api, "agent", "v1", notes="first")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "agent" and body["spec_digest"] == D1
    assert body["metadata"] == {"version_label": "v1", "promoted_by": "ci", "notes": "first"}
    assert body["action"] == "promote" and body["rolled_back_to"] is None and body["supersedes"] is None
    assert body["created_at"] == body["ledger"]["recorded_at"]
    assert body["ledger"]["seq"] == 1 and body["ledger"]["recorded_by"] == "alice"
    assert body["runs"] == f"/api/v1/runs/?spec_digest={D1}"


def test_promote_accepts_the_seeds_nested_metadata(writer_api):
    body = {"spec_digest": D1, "metadata": {"version_label": "v1", "promoted_by": "ci", "notes": None}}

    response = writer_api.post(f"{BASE}agent/promote/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["metadata"] == {"version_label": "v1", "promoted_by": "ci", "notes": None}


def test_promote_refuses_metadata_given_twice(writer_api):
    body = {"spec_digest": D1, "promoted_by": "a", "metadata": {"promoted_by": "b"}}

    response = writer_api.post(f"{BASE}agent/promote/", body, format="json")

    assert response.status_code == 400
    assert "promoted_by" in response.json() and "once" in response.json()["detail"]


def test_promote_lowercases_an_uppercase_digest_as_the_seed_does(writer_api):
    response = writer_api.post(f"{BASE}agent/promote/", {"spec_digest": D1.upper(), "promoted_by": "ci"}, format="json")

    assert response.status_code == 201
    assert response.json()["spec_digest"] == D1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spec_digest": "abc", "promoted_by": "ci"}, "spec_digest"),
        ({"spec_digest": "z" * 64, "promoted_by": "ci"}, "spec_digest"),
        ({"promoted_by": "ci"}, "spec_digest"),
        ({"spec_digest": D1}, "promoted_by"),
        ({"spec_digest": D1, "promoted_by": ""}, "promoted_by"),
        ({"spec_digest": D1, "promoted_by": "ci", "expected_current": "nope"}, "expected_current"),
        ({"spec_digest": D1, "promoted_by": "ci", "version_label": "x" * 129}, "version_label"),
        ({"spec_digest": D1, "promoted_by": "ci", "ledger": {"seq": 9}}, "ledger"),
        ({"spec_digest": D1, "promoted_by": "ci", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"spec_digest": D1, "promoted_by": "ci", "expected_curent": D1}, "expected_curent"),
        ({"spec_digest": D1, "promoted_by": "ci", "name": "other"}, "name"),
    ],
    ids=[
        "short-digest",
        "non-hex",
        "no-digest",
        "no-promoted_by",
        "blank-promoted_by",
        "bad-expectation",
        "long-label",
        "server-owned",
        "server-time",
        "typo",
        "other-name",
    ],
)
def test_promote_rejects_bad_bodies_with_a_400_naming_the_field(writer_api, body, field):
    response = writer_api.post(f"{BASE}agent/promote/", body, format="json")

    assert response.status_code == 400
    assert field in response.json() and response.json()["detail"]
    assert not Release.objects.exists()


def test_promote_accepts_the_urls_name_in_the_body(writer_api):
    body = {"name": "agent", "spec_digest": D1, "promoted_by": "ci"}

    assert writer_api.post(f"{BASE}agent/promote/", body, format="json").status_code == 201


def test_rollback_rejects_unknown_fields(writer_api):
    promote(writer_api, "agent", "v1")
    promote(writer_api, "agent", "v2")

    response = writer_api.post(f"{BASE}agent/rollback/", {"expected": D2}, format="json")

    assert response.status_code == 400 and "expected" in response.json()
    assert Release.objects.count() == 2


def test_promote_rejects_a_body_that_is_not_an_object(writer_api):
    response = writer_api.post(f"{BASE}agent/promote/", [D1], format="json")

    assert response.status_code == 400
    assert not Release.objects.exists()


@pytest.mark.parametrize("name", ["has%20space", "x" * 257, "%C3%BC", "semi%3Bcolon", ".."])
def test_bad_names_are_a_400(writer_api, name):
    promoted = writer_api.post(f"{BASE}{name}/promote/", {"spec_digest": D1, "promoted_by": "ci"}, format="json")
    current = writer_api.get(f"{BASE}{name}/")
    history = writer_api.get(f"{BASE}{name}/history/")

    assert [promoted.status_code, current.status_code, history.status_code] == [400, 400, 400]
    assert "name" in promoted.json() and "letters, digits" in promoted.json()["detail"]
    assert not Release.objects.exists()


def test_names_with_dots_work_in_urls(writer_api):
    assert promote(writer_api, "agent.v2-beta_1", "v1").status_code == 201
    assert writer_api.get(f"{BASE}agent.v2-beta_1/").json()["name"] == "agent.v2-beta_1"


def test_current_is_the_newest_entry(writer_api):
    promote(writer_api, "agent", "v1")
    promote(writer_api, "agent", "v2")

    response = writer_api.get(f"{BASE}agent/")

    assert response.status_code == 200
    assert response.json()["spec_digest"] == D2


def test_current_of_an_unknown_name_is_a_404(reader_api):
    response = reader_api.get(f"{BASE}nobody/")

    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_history_is_newest_first_and_empty_for_an_unknown_name(writer_api):
    for label in ("v1", "v2", "v3"):
        promote(writer_api, "agent", label)

    assert [e["spec_digest"] for e in writer_api.get(f"{BASE}agent/history/").json()] == [D3, D2, D1]
    assert writer_api.get(f"{BASE}nobody/history/").json() == []


def test_history_limit_caps_the_newest_entries(writer_api):
    for label in ("v1", "v2", "v3"):
        promote(writer_api, "agent", label)

    assert [e["spec_digest"] for e in writer_api.get(f"{BASE}agent/history/?limit=2").json()] == [D3, D2]
    assert writer_api.get(f"{BASE}agent/history/?limit=0").status_code == 400
    assert writer_api.get(f"{BASE}agent/history/?limit=abc").status_code == 400


def test_rollback_re_appends_the_previous_release(writer_api):
    for label in ("v1", "v2", "v3"):
        promote(writer_api, "agent", label)

    response = writer_api.post(f"{BASE}agent/rollback/")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["action"] == "rollback" and body["spec_digest"] == D2
    assert body["rolled_back_to"]["seq"] == 2 and body["rolled_back_to"]["version_label"] == "v2"
    assert body["supersedes"] == 3
    assert [e["spec_digest"] for e in writer_api.get(f"{BASE}agent/history/").json()] == [D2, D3, D2, D1]
    assert writer_api.get(f"{BASE}agent/").json()["ledger"]["seq"] == 4


def test_rollback_takes_an_optional_claimed_author_and_reason(writer_api):
    promote(writer_api, "agent", "v1")
    promote(writer_api, "agent", "v2")

    body = {"promoted_by": "oncall", "notes": "p95 doubled"}
    response = writer_api.post(f"{BASE}agent/rollback/", body, format="json")

    assert response.json()["metadata"] == {"version_label": "v1", "promoted_by": "oncall", "notes": "p95 doubled"}


def test_rollback_of_an_unknown_name_is_a_404(writer_api):
    response = writer_api.post(f"{BASE}nobody/rollback/")

    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]


def test_rollback_with_a_single_release_is_a_409(writer_api):
    promote(writer_api, "agent", "v1")

    response = writer_api.post(f"{BASE}agent/rollback/")

    assert response.status_code == 409
    assert "no previous release" in response.json()["detail"]
    assert response.json()["current"]["spec_digest"] == D1
    assert Release.objects.count() == 1


def test_a_stale_expected_current_is_a_409_naming_the_current_release(writer_api):
    promote(writer_api, "agent", "v1")
    promote(writer_api, "agent", "v2")

    response = promote(writer_api, "agent", "v3", expected_current=D1)

    assert response.status_code == 409
    assert "stale" in response.json()["detail"]
    assert response.json()["current"]["spec_digest"] == D2
    assert Release.objects.count() == 2


def test_a_matching_expected_current_promotes(writer_api):
    promote(writer_api, "agent", "v1")

    assert promote(writer_api, "agent", "v2", expected_current=D1.upper()).status_code == 201
    assert promote(writer_api, "fresh", "v1", expected_current="").status_code == 201


def test_the_list_gives_every_name_with_its_current_release(writer_api, django_assert_max_num_queries):
    for name in ("gamma", "alpha", "beta"):
        promote(writer_api, name, "v1")
        promote(writer_api, name, "v2")
    writer_api.post(f"{BASE}beta/rollback/")

    with django_assert_max_num_queries(8):
        response = writer_api.get(BASE)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["name"], r["spec_digest"], r["action"]) for r in results] == [
        ("alpha", D2, "promote"),
        ("beta", D1, "rollback"),
        ("gamma", D2, "promote"),
    ]


def test_the_list_filters_by_name_and_digest(writer_api):
    promote(writer_api, "planner", "v1")
    promote(writer_api, "reviewer", "v2")

    assert [r["name"] for r in writer_api.get(f"{BASE}?q=plan").json()["results"]] == ["planner"]
    assert [r["name"] for r in writer_api.get(f"{BASE}?spec_digest={D2}").json()["results"]] == ["reviewer"]


def test_the_list_streams_as_jsonl(writer_api):
    promote(writer_api, "alpha", "v1")
    promote(writer_api, "beta", "v1")

    response = writer_api.get(f"{BASE}?format=jsonl")

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [line.split('"name":"')[1].split('"')[0] for line in lines] == ["alpha", "beta"]


def test_spec_blob_links_to_a_stored_blob(writer_api, monkeypatch):
    monkeypatch.setattr("releases.api.page_blob_digests", lambda items, user: {D1})
    promote(writer_api, "agent", "v1")
    promote(writer_api, "other", "v2")

    results = {r["name"]: r["spec_blob"] for r in writer_api.get(BASE).json()["results"]}

    assert results == {"agent": f"/api/v1/blobs/{D1}/", "other": None}


def test_spec_blob_links_to_a_blob_stored_by_the_runs_app(writer_api):
    try:
        blob = apps.get_model("runs", "Blob")
    except LookupError:
        pytest.skip("the runs app has no Blob model")
    blob.objects.append(digest=D1, size=3)
    promote(writer_api, "agent", "v1")
    promote(writer_api, "other", "v2")

    results = {r["name"]: r["spec_blob"] for r in writer_api.get(BASE).json()["results"]}

    assert results == {"agent": f"/api/v1/blobs/{D1}/", "other": None}


def test_blob_lookup_is_empty_without_the_runs_blob_model(db, monkeypatch):
    from releases import serializers

    def no_model(app_label, model_name):
        raise LookupError(model_name)

    monkeypatch.setattr(serializers.apps, "get_model", no_model)

    assert serializers.blob_digests([D1], None) == set()


# --- as of T ------------------------------------------------------------------------------------


@pytest.fixture
def timeline(writer_api):
    moments = [T0, T0 + datetime.timedelta(days=1), T0 + datetime.timedelta(days=3)]
    with time_machine.travel(moments[0], tick=False):
        promote(writer_api, "agent", "v1")
    with time_machine.travel(moments[1], tick=False):
        promote(writer_api, "agent", "v2")
    with time_machine.travel(moments[2], tick=False):
        writer_api.post(f"{BASE}agent/rollback/")
    return moments


@pytest.mark.parametrize(
    ("as_of", "seq"),
    [
        ("2026-01-05T09:00:00Z", 1),
        ("2026-01-05T09:00:00.000001Z", 1),
        ("2026-01-06T08:59:59.999999Z", 1),
        ("2026-01-06T09:00:00Z", 2),
        ("2026-01-06T11:00:00%2B02:00", 2),
        ("2026-01-06T11:00:00+02:00", 2),  # an unencoded "+" arrives as a space
        ("2026-01-08T08:59:59.999999Z", 2),
        ("2026-01-08T09:00:00Z", 3),
        ("2026-01-07", 2),
        ("2026-01-08T09:00", 3),
        ("2030-01-01T00:00:00Z", 3),
    ],
)
def test_as_of_gives_the_release_current_at_that_time(writer_api, timeline, as_of, seq):
    response = writer_api.get(f"{BASE}agent/?as_of={as_of}")

    assert response.status_code == 200, response.json()
    assert response.json()["ledger"]["seq"] == seq


def test_as_of_before_the_first_release_is_a_404_saying_when_it_began(writer_api, timeline):
    response = writer_api.get(f"{BASE}agent/?as_of=2026-01-05T08:59:59.999999Z")

    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "No release of 'agent' was current at 2026-01-05T08:59:59.999999Z" in detail
    assert "first release was recorded at 2026-01-05T09:00:00.000000Z" in detail


@pytest.mark.parametrize("as_of", ["yesterday", "2026-13-01T00:00:00Z", "2026-02-30", ""])
def test_a_malformed_as_of_is_a_400(writer_api, timeline, as_of):
    response = writer_api.get(f"{BASE}agent/?as_of={as_of}")

    assert response.status_code == 400
    assert "as_of" in response.json() and "ISO 8601" in response.json()["detail"]


def test_history_as_of_leaves_out_later_entries(writer_api, timeline):
    response = writer_api.get(f"{BASE}agent/history/?as_of=2026-01-06T12:00:00Z")

    assert [e["ledger"]["seq"] for e in response.json()] == [2, 1]


# --- permissions and methods --------------------------------------------------------------------


def test_a_reader_reads_but_cannot_promote_or_roll_back(writer_api, reader_api):
    promote(writer_api, "agent", "v1")
    promote(writer_api, "agent", "v2")

    assert reader_api.get(BASE).status_code == 200
    assert reader_api.get(f"{BASE}agent/").status_code == 200
    assert reader_api.get(f"{BASE}agent/history/").status_code == 200
    assert promote(reader_api, "agent", "v3").status_code == 403
    assert reader_api.post(f"{BASE}agent/rollback/").status_code == 403
    assert Release.objects.count() == 2


def test_anonymous_callers_are_refused(anon_api):
    assert anon_api.get(BASE).status_code == 401
    assert promote(anon_api, "agent", "v1").status_code == 401


def test_a_user_without_a_role_cannot_read(make_user, client_for):
    assert client_for(make_user("nobody")).get(BASE).status_code == 403


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_entries_cannot_be_changed_over_the_api(writer_api, method):
    promote(writer_api, "agent", "v1")

    response = getattr(writer_api, method)(f"{BASE}agent/", {"notes": "x"}, format="json")

    assert response.status_code == 405
    assert Release.objects.get().notes == ""


def test_the_generic_append_is_closed_in_favour_of_promote(writer_api):
    response = writer_api.post(BASE, {"name": "agent", "spec_digest": D1, "promoted_by": "ci"}, format="json")

    assert response.status_code == 405
    assert "promote" in response.json()["detail"]
    assert not Release.objects.exists()
