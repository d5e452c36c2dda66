"""The release registry's rules: the seed's ReleaseRegistry tests as behaviour, plus as_of and the append checks."""

import datetime
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from ledgerproject.ledger.exceptions import ImmutableEntryError, StateConflictError
from releases.models import Release, StaleCurrentError
from releases.tests.conftest import digest

D1, D2, D3 = digest("v1"), digest("v2"), digest("v3")
T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)


def history_digests(name):
    return list(Release.objects.history(name).values_list("spec_digest", flat=True))


# --- the seed's registry tests ------------------------------------------------------------------


def test_registry_promote_creates_release(make_release):
    release = make_release("agent", "v1", promoted_by="alice@ops", notes="first cut")

    assert (release.name, release.spec_digest, release.version_label) == ("agent", D1, "v1")
    assert (release.promoted_by, release.notes, release.action) == ("alice@ops", "first cut", "promote")
    assert release.seq == 1 and release.recorded_at is not None
    assert Release.objects.current("agent") == release


def test_registry_current_returns_latest(make_release):
    make_release("agent", "v1")
    latest = make_release("agent", "v2")

    assert Release.objects.current("agent") == latest
    assert Release.objects.current("agent").spec_digest == D2


def test_registry_current_returns_none_for_unknown(db):
    assert Release.objects.current("nobody") is None


def test_registry_history_empty_for_unknown(db):
    assert history_digests("nobody") == []


def test_registry_history_newest_first(make_release):
    for label in ("v1", "v2", "v3"):
        make_release("agent", label)

    assert history_digests("agent") == [D3, D2, D1]


def test_registry_rollback_restores_previous(make_release):
    first = make_release("agent", "v1")
    make_release("agent", "v2")

    restored = Release.objects.rollback("agent")

    assert restored.spec_digest == D1 and restored.version_label == "v1"
    assert restored.rolled_back_to == first
    assert Release.objects.current("agent") == restored


def test_registry_rollback_fails_with_single_release(make_release):
    make_release("agent", "v1")

    with pytest.raises(StateConflictError, match="no previous release"):
        Release.objects.rollback("agent")
    assert Release.objects.count() == 1


def test_registry_rollback_fails_for_unknown(db):
    with pytest.raises(Release.DoesNotExist, match="nothing to roll back"):
        Release.objects.rollback("nobody")
    assert not Release.objects.exists()


def test_registry_history_append_only(make_release):
    for label in ("v1", "v2", "v3"):
        make_release("agent", label)

    restored = Release.objects.rollback("agent")

    assert restored.spec_digest == D2
    assert Release.objects.current("agent").spec_digest == D2
    assert history_digests("agent") == [D2, D3, D2, D1]
    assert list(Release.objects.history("agent").values_list("seq", flat=True)) == [4, 3, 2, 1]


def test_registry_promotes_independent_agents(make_release):
    make_release("alpha", "v1")
    make_release("beta", "v2")
    make_release("alpha", "v3")

    assert Release.objects.current("alpha").spec_digest == D3
    assert Release.objects.current("beta").spec_digest == D2
    assert history_digests("alpha") == [D3, D1]
    assert history_digests("beta") == [D2]
    with pytest.raises(StateConflictError):
        Release.objects.rollback("beta")  # alpha's history is not beta's


# --- beyond the seed ----------------------------------------------------------------------------


def test_repeated_rollbacks_alternate_between_two_releases(make_release):
    for label in ("v1", "v2", "v3"):
        make_release("agent", label)

    assert Release.objects.rollback("agent").spec_digest == D2
    assert Release.objects.rollback("agent").spec_digest == D3
    assert Release.objects.rollback("agent").spec_digest == D2
    assert history_digests("agent") == [D2, D3, D2, D3, D2, D1]


def test_each_entry_records_its_action_who_asked_and_what_it_restored(make_release, alice, bob):
    first = Release.objects.promote("agent", D1, promoted_by="claimed-bot", recorded_by=alice)
    second = Release.objects.promote("agent", D2, promoted_by="claimed-bot", recorded_by=alice)

    back = Release.objects.rollback("agent", promoted_by="oncall", notes="latency regression", recorded_by=bob)

    assert (first.action, first.recorded_by_name, first.promoted_by) == ("promote", "alice", "claimed-bot")
    assert (back.action, back.recorded_by, back.recorded_by_name) == ("rollback", bob, "bob")
    assert (back.promoted_by, back.notes, back.rolled_back_to) == ("oncall", "latency regression", first)
    assert (first.supersedes, second.supersedes, back.supersedes) == (None, first, second)


def test_a_rollback_keeps_the_restored_releases_claims_when_given_none(make_release):
    make_release("agent", "v1", promoted_by="mira", notes="stable")
    make_release("agent", "v2", promoted_by="jonas", notes="shiny")

    back = Release.objects.rollback("agent")

    assert (back.promoted_by, back.notes, back.version_label) == ("mira", "stable", "v1")


def test_currents_gives_one_entry_per_name(make_release):
    make_release("alpha", "v1")
    make_release("alpha", "v2")
    make_release("beta", "v1")
    Release.objects.rollback("alpha")

    currents = {r.name: r.spec_digest for r in Release.objects.currents()}

    assert currents == {"alpha": D1, "beta": D1}


def test_stats_count_entries_and_rollbacks_per_name(make_release):
    make_release("alpha", "v1")
    make_release("alpha", "v2")
    Release.objects.rollback("alpha")
    make_release("beta", "v1")

    assert Release.objects.stats_by_name() == {
        "alpha": {"entries": 3, "rollbacks": 1},
        "beta": {"entries": 1, "rollbacks": 0},
    }


def test_it_refuses_a_promote_whose_expected_current_is_stale(make_release):
    make_release("agent", "v1")
    make_release("agent", "v2")

    with pytest.raises(StaleCurrentError, match="stale") as caught:
        Release.objects.promote("agent", D3, promoted_by="ci", expected_current=D1)
    assert caught.value.extra["current"]["spec_digest"] == D2
    assert Release.objects.count() == 2


def test_it_promotes_when_expected_current_matches(make_release):
    make_release("agent", "v1")

    release = Release.objects.promote("agent", D2, promoted_by="ci", expected_current=D1)

    assert Release.objects.current("agent") == release


def test_an_empty_expected_current_means_no_release_yet(make_release):
    Release.objects.promote("agent", D1, promoted_by="ci", expected_current="")

    with pytest.raises(StaleCurrentError, match="no release yet"):
        Release.objects.promote("agent", D2, promoted_by="ci", expected_current="")


def test_a_rollback_honours_expected_current(make_release):
    make_release("agent", "v1")
    make_release("agent", "v2")

    with pytest.raises(StaleCurrentError):
        Release.objects.rollback("agent", expected_current=D1)
    assert Release.objects.rollback("agent", expected_current=D2).spec_digest == D1


@pytest.mark.parametrize(
    "name", ["", "has space", "slash/name", "ümlaut", "x" * 257, ".", "..", "semi;colon"], ids=repr
)
def test_it_rejects_bad_names(db, name):
    with pytest.raises(ValidationError) as caught:
        Release.objects.promote(name, D1, promoted_by="ci")
    assert "name" in caught.value.message_dict
    assert not Release.objects.exists()


@pytest.mark.parametrize("name", ["a", "agent-1.2_beta", "x" * 256, "...x"])
def test_it_accepts_names_of_letters_digits_dots_dashes_and_underscores(db, name):
    assert Release.objects.promote(name, D1, promoted_by="ci").name == name


@pytest.mark.parametrize("bad", ["", "abc", D1[:-1] + "g", D1 + "0", D1 + "\n"])
def test_it_rejects_a_spec_digest_that_is_not_64_hex(db, bad):
    with pytest.raises(ValidationError) as caught:
        Release.objects.promote("agent", bad, promoted_by="ci")
    assert "spec_digest" in caught.value.message_dict


def test_it_stores_a_spec_digest_sent_in_uppercase_as_lowercase(db):
    # One digest rule for every ledger (ledger/validators.py), on every write path, not only the API's.
    assert Release.objects.promote("agent", D1.upper(), promoted_by="ci").spec_digest == D1
    assert Release.objects.get(name="agent").spec_digest == D1


def test_it_rejects_a_blank_promoted_by(db):
    with pytest.raises(ValidationError) as caught:
        Release.objects.promote("agent", D1, promoted_by="   ")
    assert "promoted_by" in caught.value.message_dict


def test_the_append_path_refuses_an_entry_not_built_on_the_current_release(make_release):
    first = make_release("agent", "v1")
    make_release("agent", "v2")

    with pytest.raises(StaleCurrentError, match="changed") as caught:
        Release.objects.append(name="agent", spec_digest=D3, promoted_by="x", supersedes=first)
    # The current release as read under the lock (in the lock's own message on PostgreSQL) names the newest.
    assert caught.value.extra["current"] == {"seq": 2, "name": "agent", "spec_digest": D2, "version_label": "v2",
                                             "action": "promote"}  # fmt: skip
    with pytest.raises(StaleCurrentError):
        Release.objects.append(name="agent", spec_digest=D3, promoted_by="x")  # a second "first" release
    assert Release.objects.count() == 2


def test_the_current_release_read_under_the_lock_is_the_entry_the_orm_reads(make_release):
    make_release("agent", "v1")
    make_release("agent", "v2", notes="second\tcut", promoted_by="ops@example")
    Release.objects.rollback("agent", notes="back")
    sql, params = Release.objects.newest_statement("agent", None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()

    [read] = Release.entries_from_rows(rows, "default")

    stored = Release.objects.get(seq=3)
    for field in Release._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(stored, field.attname), field.name
    assert read.recorded_at.tzinfo is not None
    assert read.summary() == stored.summary() and not read._state.adding
    assert Release.entries_from_rows([], "default") == []


def test_the_append_path_refuses_a_rollback_to_anything_but_the_previous_release(make_release):
    first = make_release("agent", "v1")
    second = make_release("agent", "v2")
    third = make_release("agent", "v3")

    with pytest.raises(StateConflictError, match="before the current one"):
        Release.objects.append(
            name="agent", spec_digest=D1, version_label="v1", promoted_by="x", action="rollback",
            rolled_back_to=first, supersedes=third,
        )  # fmt: skip
    with pytest.raises(StateConflictError, match="spec_digest"):
        Release.objects.append(
            name="agent", spec_digest=D1, version_label="v2", promoted_by="x", action="rollback",
            rolled_back_to=second, supersedes=third,
        )  # fmt: skip
    with pytest.raises(ValidationError):
        Release.objects.append(name="agent", spec_digest=D1, promoted_by="x", action="rollback", supersedes=third)
    with pytest.raises(ValidationError):
        Release.objects.append(name="agent", spec_digest=D1, promoted_by="x", rolled_back_to=first, supersedes=third)
    assert Release.objects.count() == 3


def test_a_batch_may_not_hold_two_entries_of_one_name(db):
    with pytest.raises(StateConflictError, match="one release per name"):
        Release.objects.append_many(
            [
                {"name": "agent", "spec_digest": D1, "promoted_by": "x"},
                {"name": "agent", "spec_digest": D2, "promoted_by": "x"},
            ]
        )
    assert not Release.objects.exists()


def test_entries_cannot_be_changed_or_deleted(make_release):
    release = make_release("agent", "v1")
    release.notes = "rewritten"

    with pytest.raises(ImmutableEntryError):
        release.save()
    with pytest.raises(ImmutableEntryError):
        Release.objects.filter(name="agent").update(notes="rewritten")
    with pytest.raises(ImmutableEntryError):
        release.delete()
    assert Release.objects.get().notes == ""


# --- as of T ------------------------------------------------------------------------------------


@pytest.fixture
def timeline(make_release):
    """v1 at T0, v2 a day later, a rollback to v1 two days later: (entries, their recorded_at)."""
    moments = [T0, T0 + datetime.timedelta(days=1), T0 + datetime.timedelta(days=3)]
    with time_machine.travel(moments[0], tick=False):
        first = make_release("agent", "v1")
    with time_machine.travel(moments[1], tick=False):
        second = make_release("agent", "v2")
    with time_machine.travel(moments[2], tick=False):
        back = Release.objects.rollback("agent")
    return [first, second, back], moments


def test_as_of_uses_the_trusted_recorded_at(timeline):
    entries, moments = timeline
    assert [entry.recorded_at for entry in entries] == moments


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (lambda m: m[0] - MICROSECOND, None),
        (lambda m: m[0], 0),
        (lambda m: m[1] - MICROSECOND, 0),
        (lambda m: m[1], 1),
        (lambda m: m[2] - MICROSECOND, 1),
        (lambda m: m[2], 2),
        (lambda m: m[2] + datetime.timedelta(days=365), 2),
    ],
    ids=["before-first", "at-first", "just-before-second", "at-second", "just-before-rollback", "at-rollback", "later"],
)
def test_current_as_of_each_boundary(timeline, at, expected):
    entries, moments = timeline

    found = Release.objects.current_as_of("agent", at(moments))

    assert found == (None if expected is None else entries[expected])


def test_current_as_of_for_an_unknown_name_is_none(timeline):
    assert Release.objects.current_as_of("other", T0 + datetime.timedelta(days=30)) is None


# --- races (PostgreSQL: real connections, one per thread) ----------------------------------------


def _race(monkeypatch, calls):
    """Run `calls` in threads that all read the current release before any of them appends."""
    barrier = threading.Barrier(len(calls), timeout=30)
    real_append = type(Release.objects.all()).append
    waited = threading.local()

    def append_after_everyone_read(self, *args, **kwargs):
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()
        return real_append(self, *args, **kwargs)

    monkeypatch.setattr(type(Release.objects.all()), "append", append_after_everyone_read)
    results = [None] * len(calls)

    def run(index, call):
        try:
            results[index] = call()
        except Exception as exc:  # the outcome under test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_promotes_with_the_same_expectation_let_exactly_one_win(make_release, monkeypatch):
    make_release("agent", "v1")

    results = _race(
        monkeypatch,
        [
            lambda: Release.objects.promote("agent", D2, promoted_by="a", expected_current=D1),
            lambda: Release.objects.promote("agent", D3, promoted_by="b", expected_current=D1),
        ],
    )

    winners = [r for r in results if isinstance(r, Release)]
    losers = [r for r in results if isinstance(r, StaleCurrentError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert Release.objects.current("agent").spec_digest == winners[0].spec_digest
    assert Release.objects.count() == 2
    assert losers[0].extra["current"]["spec_digest"] == winners[0].spec_digest


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_promotes_without_expectation_all_land_in_one_chain(make_release, monkeypatch):
    make_release("agent", "v1")

    results = _race(
        monkeypatch,
        [lambda label=label: Release.objects.promote("agent", digest(label), promoted_by=label) for label in "abcd"],
    )

    assert all(isinstance(r, Release) for r in results), results
    history = list(Release.objects.history("agent"))
    assert len(history) == 5
    # Each entry supersedes the one appended just before it: no two were built on the same release.
    assert [entry.supersedes_id for entry in history] == [entry.seq for entry in history[1:]] + [None]


def test_a_batch_of_different_names_is_checked_against_each_names_current_release(make_release):
    alpha = make_release("alpha", "v1")
    make_release("beta", "v1")

    stored = Release.objects.append_many(
        [
            {"name": "alpha", "spec_digest": D2, "promoted_by": "x", "supersedes": alpha},
            {"name": "gamma", "spec_digest": D3, "promoted_by": "x"},
        ]
    )

    assert [entry.supersedes for entry in stored] == [alpha, None]
    with pytest.raises(StaleCurrentError):
        Release.objects.append_many(
            [
                {"name": "gamma", "spec_digest": D1, "promoted_by": "x", "supersedes": stored[1]},
                {"name": "beta", "spec_digest": D1, "promoted_by": "x"},  # beta already has a release
            ]
        )
    assert Release.objects.count() == 4
