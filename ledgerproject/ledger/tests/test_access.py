"""Route declarations: the system check that finds undeclared routes, and what a declaration enforces."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from ledgerproject.ledger import checks
from ledgerproject.ledger.access import LEDGER_READ, PUBLIC, declaration_of, requires_permission, undeclared_routes
from tests.ledger_testapp.models import Note


def test_every_route_of_the_project_declares_its_permission():
    assert undeclared_routes() == []
    assert checks.check_route_declarations() == []


@override_settings(ROOT_URLCONF="ledgerproject.ledger.tests.undeclared_urls")
def test_the_check_fires_for_each_route_that_declares_no_permission():
    errors = checks.check_route_declarations()
    assert {e.id for e in errors} == {"ledger.E020"}
    flagged = sorted(e.msg.split("'")[1] for e in errors)
    # login_required is a login, not a permission; IsAuthenticated and a None permission likewise.
    assert flagged == ["api/authenticated/", "api/none/", "bare/", "signed-in/"]


@override_settings(ROOT_URLCONF="ledgerproject.ledger.tests.undeclared_urls")
def test_declarations_read_from_the_views():
    from ledgerproject.ledger.tests import undeclared_urls as urls

    assert declaration_of(urls.declared) == ("enhancelog.view_enhanceentry",)
    assert declaration_of(urls.open_to_all) == PUBLIC
    assert declaration_of(urls.ReadsALedger.as_view()) == {"GET": LEDGER_READ}


def test_the_project_passes_the_url_id_check():
    assert checks.check_url_id_fields() == []


def test_the_url_id_check_fires_when_a_routed_field_is_not_held_to_the_rule(monkeypatch):
    # /api/v1/notes/<key>/ carries Note.key in its path.
    monkeypatch.setattr(Note, "url_id_fields", ())
    errors = checks.check_url_id_fields()
    assert [(e.id, e.obj) for e in errors] == [("ledger.E021", Note)]
    assert "'key'" in errors[0].msg


def test_the_url_id_check_fires_for_a_field_that_does_not_exist(monkeypatch):
    monkeypatch.setattr(Note, "url_id_fields", ("key", "nope"))
    errors = checks.check_url_id_fields()
    assert [e.id for e in errors] == ["ledger.E021"]
    assert "'nope'" in errors[0].msg


@pytest.fixture
def guarded_view():
    @requires_permission("enhancelog.view_enhanceentry")
    def view(request, **kwargs):
        return HttpResponse("rows")

    return view


@pytest.mark.django_db
def test_a_declared_page_sends_anonymous_callers_to_the_login(guarded_view):
    request = RequestFactory().get("/somewhere/?q=1")
    request.user = AnonymousUser()
    response = guarded_view(request)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/somewhere/%3Fq%3D1"


@pytest.mark.django_db
def test_a_declared_page_refuses_an_account_without_the_permission(guarded_view, make_user):
    request = RequestFactory().get("/somewhere/")
    request.user = make_user("plain", roles=["auditor"])
    request.user.groups.clear()
    with pytest.raises(PermissionDenied):
        guarded_view(request)


@pytest.mark.django_db
def test_a_declared_page_serves_an_account_with_the_permission(guarded_view, make_user):
    request = RequestFactory().get("/somewhere/")
    request.user = make_user("reader-x", roles=["reader"])
    assert guarded_view(request).content == b"rows"


@pytest.mark.django_db
def test_ledger_read_is_the_view_permission_of_the_routed_ledger(make_user, client_for):
    from django.contrib.auth.models import Permission

    user = make_user("one-ledger")
    user.user_permissions.add(Permission.objects.get(codename="view_release"))
    api = client_for(user)
    assert api.get("/api/v1/ledgers/").status_code == 200
    assert api.get("/api/v1/ledgers/releases/checkpoint/").status_code == 404  # readable; no checkpoint yet
    assert api.get("/api/v1/ledgers/enhancelog/checkpoint/").status_code == 403
    assert api.get("/api/v1/ledgers/no-such-ledger/checkpoint/").status_code == 404


def test_a_declaration_needs_a_permission():
    with pytest.raises(ValueError):
        requires_permission()
    with pytest.raises(ValueError):
        requires_permission(PUBLIC)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="ledgerproject.ledger.tests.undeclared_urls")
def test_an_undeclared_route_serves_nobody_at_run_time(make_user, client_for):
    from django.test import Client

    root = make_user("root", superuser=True)
    pages = Client()
    pages.force_login(root)
    assert pages.get("/bare/").status_code == 403
    assert pages.get("/signed-in/").status_code == 403
    assert client_for(root).get("/api/authenticated/").status_code == 403
    assert client_for(root).get("/api/none/").json()["detail"].startswith("The route /api/none/ declares no")
    # Declared routes are untouched.
    assert pages.get("/declared/").status_code == 200
    assert Client().get("/public/").status_code == 200
    assert client_for(root).get("/api/reads/").status_code == 200
