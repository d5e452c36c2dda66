"""The release admin: browsable and searchable, never addable, changeable or deletable."""

import pytest

from releases.models import Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("root", superuser=True))
    return client


def test_the_admin_lists_and_searches_releases(admin_client, make_release):
    make_release("planner", "v1")
    make_release("reviewer", "r1")

    response = admin_client.get("/admin/releases/release/?q=planner")

    assert response.status_code == 200
    assert [r.name for r in response.context["cl"].result_list] == ["planner"]


def test_the_admin_shows_an_entry_read_only(admin_client, make_release):
    release = make_release("planner", "v1")

    response = admin_client.get(f"/admin/releases/release/{release.seq}/change/")

    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert admin_client.post(f"/admin/releases/release/{release.seq}/change/", {"notes": "x"}).status_code == 403
    assert Release.objects.get().notes == ""


def test_the_admin_cannot_add_or_delete(admin_client, make_release):
    release = make_release("planner", "v1")

    assert admin_client.get("/admin/releases/release/add/").status_code == 403
    assert admin_client.post(f"/admin/releases/release/{release.seq}/delete/", {"post": "yes"}).status_code == 403
    assert Release.objects.count() == 1
