"""The styled 403, 404 and 500 pages: within the layout, with navigation and a way back; JSON under /api/."""

from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client

from ledgerproject.ledger.views import not_found, server_error

pytestmark = pytest.mark.django_db


def _down(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


def _assert_layout(html):
    assert 'class="container-fluid site-header"' in html and "ledger/base.css" in html
    assert 'href="/enhances/"' in html and 'href="/logs/"' in html  # the navigation
    assert 'data-testid="error-home"' in html  # a way back


def test_it_shows_a_styled_404_with_navigation_to_a_signed_in_reader(client, bob):
    client.force_login(bob)
    response = client.get("/no-such-page/", HTTP_REFERER="http://testserver/runs/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html
    _assert_layout(html)
    assert "Log out bob" in html
    assert 'href="/runs/"' in html and 'data-testid="error-back"' in html


def test_it_never_offers_a_way_back_to_another_site(client, bob):
    client.force_login(bob)
    response = client.get("/no-such-page/", HTTP_REFERER="https://evil.example/")
    assert response.status_code == 404 and "evil.example" not in response.content.decode()


def test_it_shows_the_404_to_an_anonymous_visitor_with_a_login_link(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404 and "Page not found" in html
    _assert_layout(html)
    assert 'href="/accounts/login/"' in html and "Log out" not in html


def test_it_shows_a_styled_403_naming_the_missing_permission(client, make_user):
    client.force_login(make_user("nobody"))
    response = client.get("/logs/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in html and "Ask an administrator" in html
    _assert_layout(html)


def test_api_routes_keep_their_json_detail_errors(reader_api, client, make_user):
    assert set(reader_api.get("/api/v1/no-such-thing/").json()) == {"detail"}
    client.force_login(make_user("nobody"))
    response = client.get("/api/v1/logs/")
    assert response.status_code == 403 and set(response.json()) == {"detail"}


def test_it_shows_a_styled_500_when_a_page_fails(bob):
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    with mock.patch("ledgerproject.ledger.views.readable_ledgers", side_effect=ValueError("a bug")):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and "a bug" not in html
    _assert_layout(html)


def test_the_500_page_renders_without_a_user_or_the_database(rf, django_assert_num_queries):
    request = rf.get("/logs/")  # no middleware ran: no user, no session
    with connection.execute_wrapper(_down), django_assert_num_queries(0):
        try:
            raise ValueError("a bug")
        except ValueError:
            response = server_error(request)
    assert response.status_code == 500
    _assert_layout(response.content.decode())


def test_the_404_page_renders_while_the_database_is_down(bob):
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    with connection.execute_wrapper(_down):
        response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404 and "Page not found" in html
    _assert_layout(html)
    assert "Log out" not in html  # the user could not be loaded


def test_the_404_handler_renders_for_a_request_without_a_user(rf):
    response = not_found(rf.get("/nowhere/"))
    assert response.status_code == 404
    _assert_layout(response.content.decode())
