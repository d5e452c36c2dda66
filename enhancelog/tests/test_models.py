"""The enhance log's append path and queries: the seed's store tests plus the entry rules."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from enhancelog.models import EnhanceEntry, Review, find_breaks
from enhancelog.tests.conftest import entry_json
from ledgerproject.ledger.exceptions import ConflictError, ImmutableEntryError, StateConflictError

pytestmark = pytest.mark.django_db

SEED_FIELDS = ["issue_id", "blueprint_id", "prev_hash", "new_hash", "intent", "rationale", "verdicts", "status", "reasons", "ts_ms"]  # fmt: skip


def as_seed(entry):
    return {name: getattr(entry, name) for name in SEED_FIELDS}


def test_it_returns_the_same_entry_after_append_then_get(make_enhance):
    sent = entry_json("i1", "bp-1", 100)
    EnhanceEntry.objects.append(**sent)
    assert as_seed(EnhanceEntry.objects.get(issue_id="i1")) == sent


def test_it_finds_nothing_for_a_missing_issue():
    with pytest.raises(EnhanceEntry.DoesNotExist):
        EnhanceEntry.objects.get(issue_id="nope")


def test_it_refuses_a_second_append_with_the_same_issue_id_and_keeps_the_first(make_enhance):
    first = make_enhance(issue_id="i2", ts_ms=200)
    with pytest.raises(ConflictError) as caught:
        EnhanceEntry.objects.append(**entry_json("i2", ts_ms=200))
    assert caught.value.identical is True
    with pytest.raises(ConflictError) as caught:
        EnhanceEntry.objects.append(**entry_json("i2", ts_ms=999, intent="something else"))
    assert caught.value.identical is False
    stored = EnhanceEntry.objects.get(issue_id="i2")
    assert (stored.ts_ms, stored.intent, stored.entry_hash) == (200, "test intent", first.entry_hash)
    assert EnhanceEntry.objects.count() == 1


def test_it_lists_one_blueprint_sorted_by_ts(make_enhance):
    make_enhance(issue_id="ib1", blueprint_id="bp-a", ts_ms=300)
    make_enhance(issue_id="ib2", blueprint_id="bp-a", ts_ms=100)
    make_enhance(issue_id="ib3", blueprint_id="bp-b", ts_ms=200)
    a_only = list(EnhanceEntry.objects.for_blueprint("bp-a").in_list_order().values_list("issue_id", flat=True))
    b_only = list(EnhanceEntry.objects.for_blueprint("bp-b").in_list_order().values_list("issue_id", flat=True))
    assert a_only == ["ib2", "ib1"]
    assert b_only == ["ib3"]


def test_it_lists_everything_sorted_by_ts_then_seq(make_enhance):
    make_enhance(issue_id="a", blueprint_id="bp-x", ts_ms=500)
    make_enhance(issue_id="b", blueprint_id="bp-y", ts_ms=100)
    make_enhance(issue_id="c", blueprint_id="bp-z", ts_ms=300)
    make_enhance(issue_id="d", blueprint_id="bp-z", ts_ms=300)
    assert list(EnhanceEntry.objects.in_list_order().values_list("issue_id", flat=True)) == ["b", "c", "d", "a"]


def test_a_rejected_entry_carries_its_reasons_and_an_empty_new_hash(make_enhance):
    make_enhance(
        issue_id="ir",
        blueprint_id="bp-r",
        ts_ms=400,
        status="rejected",
        reasons=["des: blueprint.id missing", "noop: ..."],
    )
    got = EnhanceEntry.objects.get(issue_id="ir")
    assert got.status == "rejected"
    assert len(got.reasons) == 2
    assert got.new_hash == ""
    assert [axis for axis in got.denied_axes.split(",") if axis] == ["des"]


@pytest.mark.django_db(transaction=True)
def test_entries_survive_closing_every_database_connection(make_enhance):
    make_enhance(issue_id="durable", blueprint_id="bp-d", ts_ms=7)
    connections.close_all()
    stored = EnhanceEntry.objects.get(issue_id="durable")
    assert (stored.blueprint_id, stored.ts_ms, stored.seq) == ("bp-d", 7, 1)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"new_hash": "ab" * 31}, "new_hash", "64 lowercase hex"),
        ({"new_hash": "ab" * 31 + "a\n"}, "new_hash", "64 lowercase hex"),
        ({"ts_ms": 2**53}, "ts_ms", "epoch milliseconds"),
        ({"prev_hash": "zz" * 32}, "prev_hash", "64 lowercase hex"),
        (
            {"status": "rejected", "new_hash": "", "verdicts": [], "reasons": []},
            "__all__",
            "deny verdict or one reason",
        ),
        ({"status": "rejected", "new_hash": "ff" * 32, "reasons": ["des: x"]}, "new_hash", 'new_hash must be ""'),
        ({"verdicts": [{"axis": "des", "status": "maybe", "detail": ""}]}, "verdicts", "pass or deny"),
        ({"verdicts": [{"axis": "des", "status": "pass"}]}, "verdicts", "exactly axis, status and detail"),
        (
            {"verdicts": [{"axis": "des", "status": "pass", "detail": ""}] * 2},
            "verdicts",
            "more than one verdict",
        ),
        ({"reasons": ["", "x"]}, "reasons", "non-empty strings"),
        ({"ts_ms": -1}, "ts_ms", "epoch milliseconds"),
        ({"status": "done"}, "status", "not a valid choice"),
    ],
)
def test_it_rejects_entries_that_break_the_rules(overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        EnhanceEntry.objects.append(**entry_json("bad", **overrides))
    assert message in " ".join(caught.value.message_dict[field])
    assert not EnhanceEntry.objects.exists()


def test_it_stores_hashes_sent_in_uppercase_as_lowercase_hex():
    # One digest rule for every ledger (ledger/validators.py): either case in, lowercase stored.
    entry = EnhanceEntry.objects.append(**entry_json("upper", prev_hash="AB" * 32, new_hash="CD" * 32))
    assert (entry.prev_hash, entry.new_hash) == ("ab" * 32, "cd" * 32)
    assert EnhanceEntry.objects.get(issue_id="upper").new_hash == "cd" * 32


def test_it_derives_the_axis_columns_from_the_verdicts_not_from_the_caller(make_enhance):
    entry = make_enhance(
        status="rejected",
        axes=",lies,",
        verdicts=[
            {"axis": "des", "status": "pass", "detail": "ok"},
            {"axis": "agent-ref", "status": "deny", "detail": "missing agent"},
        ],
    )
    assert (entry.axes, entry.denied_axes) == (",des,agent-ref,", ",agent-ref,")
    assert list(EnhanceEntry.objects.denied_on("agent-ref")) == [entry]
    assert list(EnhanceEntry.objects.denied_on("des")) == []
    assert list(EnhanceEntry.objects.with_axis("des")) == [entry]


def test_it_refuses_to_change_an_entry(make_enhance):
    entry = make_enhance()
    entry.intent = "rewritten"
    with pytest.raises(ImmutableEntryError):
        entry.save()
    with pytest.raises(ImmutableEntryError):
        EnhanceEntry.objects.filter(pk=entry.pk).update(intent="rewritten")


def test_the_review_state_is_the_latest_review(make_enhance, make_review):
    entry = make_enhance(status="rejected")
    assert EnhanceEntry.objects.with_review_state().get().review_decision is None
    make_review(entry, Review.NEEDS_FOLLOWUP)
    make_review(entry, Review.WONT_FIX, recorded_by="erin")
    annotated = EnhanceEntry.objects.with_review_state().get()
    assert (annotated.review_decision, annotated.review_by) == ("wont_fix", "erin")
    assert list(EnhanceEntry.objects.reviewed(True)) == [entry]
    assert list(EnhanceEntry.objects.review_queue()) == []


def test_the_review_queue_holds_unreviewed_rejections_newest_first(make_enhance, make_review):
    old = make_enhance(status="rejected", ts_ms=100)
    new = make_enhance(status="rejected", ts_ms=300)
    done = make_enhance(status="rejected", ts_ms=200)
    make_enhance(ts_ms=400)
    make_review(done)
    assert list(EnhanceEntry.objects.review_queue()) == [new, old]


def test_it_refuses_a_review_of_an_applied_entry(make_enhance, make_review):
    applied = make_enhance(issue_id="ok-1")
    with pytest.raises(StateConflictError, match="ok-1 was applied"):
        make_review(applied)
    assert not Review.objects.exists()


def test_it_flags_an_applied_entry_that_does_not_start_from_the_previous_version(make_enhance):
    h = [f"{n:064x}" for n in range(1, 6)]
    make_enhance(issue_id="v1", blueprint_id="bp", ts_ms=1, prev_hash=h[0], new_hash=h[1])
    make_enhance(issue_id="r1", blueprint_id="bp", ts_ms=2, status="rejected", prev_hash=h[1])
    make_enhance(issue_id="v2", blueprint_id="bp", ts_ms=3, prev_hash=h[1], new_hash=h[2])
    make_enhance(issue_id="v3", blueprint_id="bp", ts_ms=4, prev_hash=h[3], new_hash=h[4])
    breaks = find_breaks(EnhanceEntry.objects.for_blueprint("bp").in_list_order())
    assert [(b["issue_id"], b["expected_prev_hash"], b["after_issue_id"]) for b in breaks] == [("v3", h[2], "v2")]


def test_the_demo_loads_once_with_rejections_on_every_axis_and_some_reviews():
    from enhancelog import demo

    summary = demo.load(seed=7)
    assert "rejected" in summary
    total = EnhanceEntry.objects.count()
    rejected = EnhanceEntry.objects.rejected().count()
    assert total >= 300
    assert 0.08 < rejected / total < 0.25
    assert EnhanceEntry.objects.values("blueprint_id").distinct().count() >= 24
    for axis in ("des", "canonical", "noop", "agent-ref"):
        assert EnhanceEntry.objects.denied_on(axis).exists(), axis
    assert Review.objects.exists() and EnhanceEntry.objects.review_queue().exists()
    assert demo.load(seed=7).startswith("enhance log already has entries")
    assert EnhanceEntry.objects.count() == total


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_of_one_issue_store_it_once():
    import threading

    outcomes, barrier = [], threading.Barrier(4)

    def attempt(n):
        barrier.wait()
        try:
            EnhanceEntry.objects.append(**entry_json("race", ts_ms=n))
            outcomes.append("stored")
        except ConflictError:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "stored"]
    assert EnhanceEntry.objects.filter(issue_id="race").count() == 1
    assert list(EnhanceEntry.objects.values_list("seq", flat=True)) == [1]


def test_the_unreviewed_floor_follows_reviews_and_new_entries_without_skipping_any(make_enhance, make_review):
    from enhancelog.models import EMPTY, unreviewed_floor

    assert unreviewed_floor() == EMPTY
    a = make_enhance(issue_id="a", ts_ms=100, status="rejected")
    b = make_enhance(issue_id="b", ts_ms=200, status="rejected")
    make_enhance(issue_id="ok", ts_ms=50)
    assert unreviewed_floor() == (100, a.seq)
    make_review(a)
    assert unreviewed_floor() == (200, b.seq)
    late = make_enhance(issue_id="late", ts_ms=150, status="rejected")  # claimed time older than the floor
    assert unreviewed_floor() == (150, late.seq)
    make_review(late)
    make_review(b)
    assert unreviewed_floor() == EMPTY
    assert list(EnhanceEntry.objects.unreviewed_rejections()) == []
    c = make_enhance(issue_id="c", ts_ms=10, status="rejected")
    assert list(EnhanceEntry.objects.unreviewed_rejections()) == [c]


def test_the_unreviewed_floor_never_outlives_the_history_it_was_found_in(make_enhance):
    from django.core.cache import cache
    from django.db import transaction

    from enhancelog.models import EMPTY, unreviewed_floor

    cache.clear()
    with transaction.atomic():
        make_enhance(issue_id="kept-1", ts_ms=10)
        make_enhance(issue_id="kept-2", ts_ms=20)
        assert unreviewed_floor() == EMPTY
        transaction.set_rollback(True)  # that history is gone (a reset or restored database)
    # Another history with the same head seq: its rejections are listed, not hidden by a stale floor.
    first = make_enhance(issue_id="denied-1", ts_ms=30, status="rejected")
    make_enhance(issue_id="denied-2", ts_ms=40, status="rejected")
    assert unreviewed_floor() == (first.ts_ms, first.seq)
    assert list(EnhanceEntry.objects.unreviewed_rejections().values_list("issue_id", flat=True)) == [
        "denied-1",
        "denied-2",
    ]
