"""The ledger entry page: when and by whom it was recorded, and links only to neighbours that exist."""

import re

import pytest
from django.urls import reverse

from ledgerproject.ledger.tests.test_checkpoint_support import append_notes

pytestmark = pytest.mark.django_db


def test_it_says_when_and_by_whom_the_entry_was_recorded(client, bob):
    notes = append_notes(2)
    client.force_login(bob)
    html = client.get(reverse("ledger-entry", args=["testnotes", 1])).content.decode()
    recorded = re.search(r'data-testid="recorded">(.*?)\.\s', html, re.S).group(1)
    assert recorded != "Recorded "
    assert notes[0].ledger_block["recorded_at"] in recorded


def test_the_last_entry_has_no_next_link_and_the_first_no_previous(client, bob):
    append_notes(3)
    client.force_login(bob)
    last = client.get(reverse("ledger-entry", args=["testnotes", 3])).content.decode()
    first = client.get(reverse("ledger-entry", args=["testnotes", 1])).content.decode()
    assert 'data-testid="entry-next"' not in last
    assert 'href="/ledgers/testnotes/entries/2/"' in last and 'rel="prev"' in last
    assert 'data-testid="entry-prev"' not in first
    assert 'href="/ledgers/testnotes/entries/2/"' in first and 'rel="next"' in first


def test_every_neighbour_link_leads_to_a_page(client, bob):
    append_notes(3)
    client.force_login(bob)
    for seq in (1, 2, 3):
        html = client.get(reverse("ledger-entry", args=["testnotes", seq])).content.decode()
        for href in re.findall(r'href="(/ledgers/testnotes/entries/\d+/)"', html):
            assert client.get(href).status_code == 200, href


def test_the_canonical_form_can_be_reached_by_keyboard(client, bob):
    append_notes(1)
    client.force_login(bob)
    html = client.get(reverse("ledger-entry", args=["testnotes", 1])).content.decode()
    assert re.search(r'<pre data-testid="canonical"[^>]*tabindex="0"', html)
