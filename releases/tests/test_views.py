"""Release pages: the index of agent names and one name's history timeline with its as-of picker."""

import datetime

import pytest
import time_machine

from releases.models import Release
from releases.tests.conftest import digest

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def reader_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def story(make_release):
    """planner: v1, v2, v3 then a rollback to v2 (days apart); reviewer: a single release."""
    for day, label in enumerate(("v1", "v2", "v3")):
        with time_machine.travel(T0 + datetime.timedelta(days=day), tick=False):
            make_release("planner", label, promoted_by="mira")
    with time_machine.travel(T0 + datetime.timedelta(days=5), tick=False):
        Release.objects.rollback("planner", promoted_by="oncall", notes="loops on tool plans")
    make_release("reviewer", "r1", promoted_by="jonas")


def test_pages_need_a_login(client):
    for url in ("/releases/", "/releases/planner/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_pages_need_read_access(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get("/releases/").status_code == 403
    assert client.get("/releases/planner/").status_code == 403


def test_the_index_lists_each_name_with_its_current_release(reader_client, story, django_assert_max_num_queries):
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(9):
        response = reader_client.get("/releases/")

    assert response.status_code == 200
    rows = {row.name: row for row in response.context["rows"]}
    assert list(rows) == ["planner", "reviewer"]
    assert (rows["planner"].version_label, rows["planner"].promoted_by) == ("v2", "oncall")
    assert rows["planner"].stats == {"entries": 4, "rollbacks": 1}
    assert rows["reviewer"].stats == {"entries": 1, "rollbacks": 0}
    html = response.content.decode()
    assert 'href="/releases/planner/"' in html
    assert f'href="/runs/?spec_digest={digest("v2")}"' in html


def test_the_index_query_count_does_not_grow_with_the_number_of_names(
    reader_client, make_release, django_assert_max_num_queries
):
    for index in range(30):
        make_release(f"agent-{index:02d}", "v1")
        make_release(f"agent-{index:02d}", "v2")

    # One more than before tenancy covered every ledger: the principal's tenant scope.

    with django_assert_max_num_queries(9):
        response = reader_client.get("/releases/")

    assert len(response.context["rows"]) == 30


def test_the_index_filters_by_name(reader_client, story):
    response = reader_client.get("/releases/?q=review")

    assert [row.name for row in response.context["rows"]] == ["reviewer"]


def test_the_index_says_when_there_are_no_releases(reader_client):
    response = reader_client.get("/releases/")

    assert response.status_code == 200
    assert "No releases yet" in response.content.decode()


def test_the_history_is_a_timeline_where_rollbacks_point_to_what_they_restored(
    reader_client, story, django_assert_max_num_queries
):
    # One more than before tenancy covered every ledger: the principal's tenant scope.
    with django_assert_max_num_queries(9):
        response = reader_client.get("/releases/planner/")

    assert response.status_code == 200
    entries = response.context["entries"]
    assert [(e.seq, e.action, e.version_label) for e in entries] == [
        (4, "rollback", "v2"),
        (3, "promote", "v3"),
        (2, "promote", "v2"),
        (1, "promote", "v1"),
    ]
    assert [e.is_current for e in entries] == [True, False, False, False]
    html = response.content.decode()
    assert 'class="release-entry release-rollback is-current"' in html
    assert 'href="#entry-2"' in html and 'data-target="2"' in html
    assert "loops on tool plans" in html and "rolled back by" in html


def test_the_history_as_of_a_time_marks_what_was_current_then(reader_client, story):
    response = reader_client.get("/releases/planner/?as_of=2026-01-06T12:00")

    assert response.status_code == 200
    assert response.context["current_at"].seq == 2
    flags = {e.seq: (e.is_current_at, e.after_as_of) for e in response.context["entries"]}
    assert flags == {4: (False, True), 3: (False, True), 2: (True, False), 1: (False, False)}
    assert 'value="2026-01-06T12:00:00"' in response.content.decode()


def test_the_history_as_of_before_the_first_release_says_so(reader_client, story):
    response = reader_client.get("/releases/planner/?as_of=2026-01-01T00:00")

    assert response.status_code == 200
    assert response.context["current_at"] is None
    assert "No release of planner was current at 2026-01-01 00:00:00 UTC" in response.content.decode()


def test_a_malformed_as_of_is_a_400_page_that_says_why(reader_client, story):
    response = reader_client.get("/releases/planner/?as_of=last-tuesday")

    assert response.status_code == 400
    assert "is not an ISO 8601 time" in response.content.decode()


def test_an_unknown_or_invalid_name_is_a_404(reader_client, story):
    assert reader_client.get("/releases/nobody/").status_code == 404
    assert reader_client.get("/releases/bad%20name/").status_code == 404


def test_the_history_pages_back_through_older_entries(reader_client, make_release):
    for label in ("v1", "v2", "v3"):
        make_release("agent", label)

    first = reader_client.get("/releases/agent/?page_size=2")
    next_query = first.context["page"].next_query
    older = reader_client.get("/releases/agent/" + next_query)

    assert [e.seq for e in first.context["entries"]] == [3, 2]
    assert f'href="{next_query.replace("&", "&amp;")}"' in first.content.decode()
    assert [e.seq for e in older.context["entries"]] == [1]
    assert older.context["latest"].seq == 3


def test_pages_link_a_stored_spec_blob_and_the_runs_of_each_digest(reader_client, story, monkeypatch):
    monkeypatch.setattr("releases.views.blob_digests", lambda digests, user: {digest("v2")} & set(digests))

    html = reader_client.get("/releases/planner/").content.decode()

    assert f'href="/runs/blobs/{digest("v2")}/"' in html
    assert f'href="/runs/blobs/{digest("v3")}/"' not in html
    assert f'href="/runs/?spec_digest={digest("v3")}"' in html


def _walk(client, path, rows_of):
    """Every page of `path` forward through its next links, then back from the last through its previous
    links: (rows forward, rows backward in page order, pages)."""
    pages = [client.get(path)]
    while pages[-1].context["page"].next_query:
        pages.append(client.get("/releases/" + pages[-1].context["page"].next_query))
    back = [pages[-1]]
    while back[-1].context["page"].previous_query:
        back.append(client.get("/releases/" + back[-1].context["page"].previous_query))
    forward = [rows_of(row) for page in pages for row in page.context["rows"]]
    backward = [rows_of(row) for page in reversed(back) for row in page.context["rows"]]
    return forward, backward, len(pages)


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
def test_the_index_pages_through_every_current_release_by_name_both_ways(client, make_user, make_release, page_size):
    # Names shared by tenants (one current each), names with several versions and a rollback, and names
    # a tenant-bound reader may not see: each page reads only its own names' current releases.
    for name in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"):
        make_release(name, "v1")
    for name in ("bravo", "delta", "hotel"):
        make_release(name, "t1", tenant_id="acme")
        make_release(name, "t2", tenant_id="acme")
    make_release("charlie", "v2")
    make_release("charlie", "v3")
    Release.objects.rollback("charlie")
    make_release("delta", "g1", tenant_id="globex")

    def rows_of(row):
        return (row.name, row.tenant_id, row.version_label)

    for reader in (
        make_user("everyone", roles=["reader"], all_tenants=True),
        make_user("acme-only", roles=["reader"], tenants=["acme"]),
    ):
        client.force_login(reader)
        currents = Release.objects.visible_to(reader).currents()
        expected = [rows_of(row) for row in sorted(currents, key=lambda row: (row.name, row.seq))]
        forward, backward, pages = _walk(client, f"/releases/?page_size={page_size}", rows_of)
        assert forward == expected
        assert backward == expected
        assert pages == -(-len(expected) // page_size)
        if reader.username == "everyone":
            assert ("charlie", None, "v2") in expected  # the rollback's target is charlie's current release
        filtered, _, _ = _walk(client, f"/releases/?page_size={page_size}&q=ELT", rows_of)
        assert filtered == [row for row in expected if "elt" in row[0]]
