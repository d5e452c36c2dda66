"""While the database is unavailable: 503 with Retry-After (JSON under /api/, the site's page elsewhere)."""

import socket
from contextlib import contextmanager

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client

from ledgerproject.ledger.outage import unavailable_response
from ledgerproject.ledger.views import server_error

pytestmark = pytest.mark.django_db


@contextmanager
def database_down(error=None):
    def fail(execute, sql, params, many, context):
        raise error or OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(fail):
        yield


def test_it_answers_503_with_retry_after_to_an_api_append(writer_api, settings):
    settings.LEDGER_RETRY_AFTER_SECONDS = 7
    with database_down():
        response = writer_api.post("/api/v1/notes/", {"key": "k-1", "topic": "t", "body": {}}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert "unavailable" in response.json()["detail"]


def test_it_answers_503_to_an_api_read_when_the_connection_is_closed(reader_api):
    with database_down(InterfaceError("connection already closed")):
        response = reader_api.get("/api/v1/ledgers/")
    assert response.status_code == 503 and response["Retry-After"]
    assert set(response.json()) == {"detail"}


def test_it_answers_503_to_an_unknown_api_token_lookup(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    with database_down():
        response = anon_api.get("/api/v1/ledgers/")
    assert response.status_code == 503 and response["Retry-After"]


def test_it_shows_the_styled_page_with_retry_after_to_a_signed_in_reader(client, bob):
    client.force_login(bob)
    with database_down():
        response = client.get("/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    html = response.content.decode()
    assert "Temporarily unavailable" in html
    assert 'class="container-fluid site-header"' in html and "ledger/base.css" in html  # the site layout
    assert "Log out" not in html  # rendered without the user, which would need the database


def test_it_shows_the_page_for_a_failing_app_page_too(client, bob):
    client.force_login(bob)
    with database_down():
        response = client.get("/logs/")
    assert response.status_code == 503 and "Temporarily unavailable" in response.content.decode()


def test_it_renders_the_unavailable_page_without_the_database(rf, django_assert_num_queries):
    with database_down(), django_assert_num_queries(0):
        page = unavailable_response(rf.get("/runs/"))
        api = unavailable_response(rf.get("/api/v1/runs/"))
    assert page.status_code == api.status_code == 503
    assert page["Content-Type"].startswith("text/html") and api["Content-Type"] == "application/json"


def test_it_turns_a_database_error_outside_a_view_into_503(rf):
    # The 500 handler sees failures in middleware (a session saved late, for example).
    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        page, api = server_error(rf.get("/logs/")), server_error(rf.get("/api/v1/logs/"))
    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] and api["Retry-After"]


def test_it_still_answers_500_to_other_errors(rf):
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(rf.get("/api/v1/logs/")).status_code == 500


def test_it_answers_503_to_a_logout_while_the_database_is_down(bob):
    # Logging out deletes the session row; as a real server, the client does not re-raise.
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    with database_down():
        response = client.post("/accounts/logout/")
    assert response.status_code == 503 and response["Retry-After"]


@pytest.fixture
def cut_database(tmp_path):
    """cut_database() reopens the default connection against a database that cannot be reached; restored after."""
    original = dict(connection.settings_dict)

    def cut():
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(tmp_path / "missing-directory" / "ledger.sqlite3")
        else:
            with socket.socket() as probe:  # a loopback port nobody listens on: connection refused
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))

    yield cut
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(original)


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_cannot_be_connected_to(bob, client_for, cut_database):
    api = client_for(bob)
    page = Client(raise_request_exception=False)
    page.force_login(bob)
    cut_database()
    api_response = api.get("/api/v1/ledgers/")
    page_response = page.get("/")
    assert api_response.status_code == 503 and api_response["Retry-After"]
    assert page_response.status_code == 503 and page_response["Retry-After"]
    assert "Temporarily unavailable" in page_response.content.decode()
