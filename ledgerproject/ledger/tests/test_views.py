"""The integrity view (/ledgers/): every ledger with its size, head hash and chain status; login required."""

import pytest

from ledgerproject.ledger.models import ChainCheck

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_ledgers_page_lists_every_ledger_with_its_head(client, bob, make_note, django_assert_max_num_queries):
    note = make_note()
    client.force_login(bob)
    # 3 per ledger, the session, user and permissions, and one for the principal's tenant scope.
    with django_assert_max_num_queries(41):
        response = client.get("/ledgers/")
    html = response.content.decode()
    assert response.status_code == 200
    assert note.entry_hash[:16] in html
    assert "not yet verified" in html
    assert "Verify now" not in html  # readers cannot verify


def test_an_auditor_verifies_from_the_home_page(client, dave, make_note):
    make_note()
    client.force_login(dave)
    response = client.post("/ledgers/testnotes/verify/", follow=True)
    assert "chain intact, 1 entries checked" in response.content.decode()
    assert ChainCheck.objects.get(ledger="testnotes").ok


def test_a_reader_cannot_trigger_verification(client, bob):
    client.force_login(bob)
    assert client.post("/ledgers/testnotes/verify/").status_code == 403


def test_the_ledgers_page_query_count_does_not_grow_with_entries(client, bob, make_note, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)
    make_note()
    with CaptureQueriesContext(connection) as few:
        client.get("/ledgers/")
    for _ in range(20):
        make_note()
    with CaptureQueriesContext(connection) as many:
        client.get("/ledgers/")
    assert len(many.captured_queries) == len(few.captured_queries)
