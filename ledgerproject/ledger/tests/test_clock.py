"""The append path's clock: demo data may record a past moment, never one before the chain's last entry."""

import datetime

import pytest
from django.utils import timezone

from ledgerproject.ledger import clock
from ledgerproject.ledger.chain import verify_chain
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db


def test_appends_inside_a_backdated_block_record_that_moment_and_still_verify(make_note):
    weeks_ago = timezone.now().replace(microsecond=0) - datetime.timedelta(weeks=6)
    with clock.backdated(weeks_ago):
        old = make_note()
    new = make_note()
    assert old.recorded_at == weeks_ago
    assert new.recorded_at > weeks_ago + datetime.timedelta(weeks=5)
    assert verify_chain(Note).ok


def test_a_backdated_append_before_the_last_entry_is_refused(make_note):
    make_note()
    with pytest.raises(ValueError, match="before the last entry"):
        with clock.backdated(timezone.now() - datetime.timedelta(days=1)):
            make_note()
    assert Note.objects.count() == 1


def test_a_moment_in_the_future_or_without_a_zone_is_refused():
    with pytest.raises(ValueError):
        with clock.backdated(timezone.now() + datetime.timedelta(days=1)):
            pass
    with pytest.raises(ValueError):
        with clock.backdated(datetime.datetime(2026, 1, 1)):
            pass
