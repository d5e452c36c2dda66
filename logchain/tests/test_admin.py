"""The node-log ledger in the admin: browsable and searchable, never editable."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, make_user):
    client.force_login(make_user("root", superuser=True))
    return client


def test_the_admin_lists_and_searches_records(admin_client_logged_in, make_log):
    make_log(seq=1, message="segment 4 compaction done")
    make_log(seq=2, message="heartbeat ok")
    response = admin_client_logged_in.get("/admin/logchain/logrecord/", {"q": "compaction"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "segment 4 compaction done" in html and "heartbeat ok" not in html


def test_the_admin_shows_a_record_read_only(admin_client_logged_in, make_log):
    record = make_log(seq=1)
    response = admin_client_logged_in.get(f"/admin/logchain/logrecord/{record.pk}/change/")
    assert response.status_code == 200
    assert 'name="message"' not in response.content.decode()


def test_the_admin_cannot_add_change_or_delete(admin_client_logged_in, make_log):
    record = make_log(seq=1)
    assert admin_client_logged_in.get("/admin/logchain/logrecord/add/").status_code == 403
    assert admin_client_logged_in.post(f"/admin/logchain/logrecord/{record.pk}/delete/").status_code == 403
