"""/api/v1/ answers an index of the API; /api/docs/ groups operations by ledger and links home."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_each_ledgers_list_routes_the_schema_and_the_docs(reader_api):
    response = reader_api.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert [part["app"] for part in body["ledgers"]] == ["ledger", *settings.LEDGER_APPS]
    routes = {part["app"]: part["routes"] for part in body["ledgers"]}
    assert routes["ledger"]["ledgers"] == "http://testserver/api/v1/ledgers/"
    assert routes["enhancelog"]["enhances"] == "http://testserver/api/v1/enhances/"
    assert routes["runs"]["runs"] == "http://testserver/api/v1/runs/"
    assert routes["logchain"]["logs"] == "http://testserver/api/v1/logs/"
    assert "logs/batch" not in routes["logchain"]  # POST only
    assert body["schema"].endswith("/api/schema/") and body["docs"].endswith("/api/docs/")


def test_every_route_the_index_names_answers_a_reader(reader_api):
    body = reader_api.get("/api/v1/").json()
    for part in body["ledgers"]:
        for name, url in part["routes"].items():
            assert reader_api.get(url).status_code == 200, (part["app"], name, url)
    # Search needs an id: the index names it apart, ready for one.
    assert body["search"].endswith("/api/v1/search/?q=")
    assert reader_api.get(body["search"] + "no-such-id").json()["results"] == []


def test_the_index_needs_a_principal_with_a_role(anon_api, make_user, client_for):
    assert anon_api.get("/api/v1/").status_code == 401
    assert client_for(make_user("nobody")).get("/api/v1/").status_code == 403


def test_the_schema_tags_each_operation_with_its_ledger(reader_api):
    schema = reader_api.get("/api/schema/?format=json").json()
    ordered = [tag["name"] for tag in schema["tags"]]
    assert ordered[0] == "Ledgers and verification"
    tag_of = {path: next(iter(ops.values()))["tags"] for path, ops in schema["paths"].items()}
    assert tag_of["/api/v1/enhances/"] == ["Enhance log"]
    assert tag_of["/api/v1/blueprints/{blueprint_id}/trace/"] == ["Enhance log"]
    assert tag_of["/api/v1/runs/"] == tag_of["/api/v1/blobs/"] == ["Runs, blobs and outputs"]
    assert tag_of["/api/v1/ledgers/"] == ["Ledgers and verification"]
    used = {tag for tags in tag_of.values() for tag in tags} - {"tests"}  # the test-only ledger
    assert used == set(ordered)


def test_the_docs_page_links_home_and_to_the_index(client, bob):
    client.force_login(bob)
    html = client.get("/api/docs/").content.decode()
    assert 'href="/"' in html and 'href="/api/v1/"' in html
