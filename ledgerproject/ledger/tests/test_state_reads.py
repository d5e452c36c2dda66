"""What a ledger declares in state_reads() reaches its rules under the lock: a values_list() QuerySet's rows as
iterating it gives them, a (sql, params) pair's as the database answers, a read that can match nothing unsent."""

import pytest
from django.db import connection

from experience.models import ExperienceEvent
from ledgerproject.ledger.models.append import _compiled_state_read

pytestmark = pytest.mark.django_db


def test_a_values_list_read_comes_back_as_the_queryset_gives_it():
    from experience.tests.conftest import envelope, fields_of

    ExperienceEvent.objects.append(**fields_of(envelope("OutcomeRecorded", correlation_id="compiled")))
    read = ExperienceEvent._base_manager.filter(correlation_id="compiled").values_list("correlation_id", "data", "seq")
    sql, params, convert = _compiled_state_read(ExperienceEvent, "read", read, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    assert convert(rows) == list(read)
    assert isinstance(convert(rows)[0][1], dict)


def test_a_distinct_read_ordered_by_a_column_it_does_not_select_comes_back_as_the_queryset_gives_it():
    from experience.tests.conftest import envelope, fields_of

    for _ in range(2):
        ExperienceEvent.objects.append(**fields_of(envelope("OutcomeRecorded", correlation_id="distinct")))
    read = (
        ExperienceEvent._base_manager.filter(correlation_id="distinct")
        .values_list("correlation_id", "kind")
        .distinct()
        .order_by("correlation_id", "-seq")
    )
    sql, params, convert = _compiled_state_read(ExperienceEvent, "read", read, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    assert convert(rows) == list(read)
    assert {len(row) for row in convert(rows)} == {2}


def test_a_sql_read_comes_back_as_the_database_answers():
    sql, params, convert = _compiled_state_read(ExperienceEvent, "raw", ("SELECT %s", [1]), connection)
    assert (sql, params, convert([(1,)])) == ("SELECT %s", [1], [(1,)])


def test_a_read_that_can_match_nothing_is_not_sent():
    read = ExperienceEvent._base_manager.filter(artifact_id__in=[]).values_list("seq")
    assert _compiled_state_read(ExperienceEvent, "none", read, connection) is None


def test_a_read_of_whole_entries_is_refused_with_what_to_declare():
    with pytest.raises(TypeError, match=r"ExperienceEvent.state_reads\(\)\['entries'\].*values_list"):
        _compiled_state_read(ExperienceEvent, "entries", ExperienceEvent._base_manager.all(), connection)


def _ledger_models():
    from ledgerproject.ledger.registry import ledger_models

    return sorted(ledger_models(), key=lambda model: model.ledger_name)


@pytest.mark.parametrize("model", _ledger_models(), ids=lambda model: model.ledger_name)
def test_every_ledgers_rules_take_what_was_read_under_the_lock(model):
    # The kernel always calls check_append_allowed(entries, using=…, read=…): a ledger's rules that do not take
    # `read` would fail the first append that reaches them.
    import inspect

    parameters = inspect.signature(model.check_append_allowed).parameters
    assert "read" in parameters and parameters["read"].default is None, model.check_append_allowed
