"""PostgreSQL's COPY paths of verification, exports and Merkle integration: the same rows, verdicts,
bytes and tiles as the cursor and row-by-row paths, on values that need COPY's escapes."""

import hashlib
from contextlib import contextmanager

import pytest
from django.db import connection

from enhancelog.models import EnhanceEntry
from ledgerproject.ledger import chain, checkpoints, merkle
from ledgerproject.ledger.chain import raw_rows, verify_chain, verify_links
from ledgerproject.ledger.models import MerkleTile
from ledgerproject.ledger.tests.conftest import triggers_lifted
from ledgerproject.ledger.tests.test_checkpoint_support import signing_key  # noqa: F401  (fixture)
from tests.ledger_testapp.models import Note

pytestmark = pytest.mark.django_db

# Text that COPY's text format escapes (backslash, tab, newline, CR, \b \f \v), spells like its NULL
# marker, or passes through raw (other control characters, non-ASCII).
TRICKY = [
    "tab\there",
    "new\nline",
    "cr\rlf\r\n",
    "back\\slash",
    "\\N",
    "\\\\N",
    "N\\",
    "\b\f\v",
    "bell\x07\x01\x1f",
    "é漢🙂 \u2028",
    "",
    'quote"s',
]


@contextmanager
def statements():
    """The SQL statements run on the default connection (COPY included: it starts through the wrappers)."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def copied(seen):
    return [sql for sql in seen if sql.lstrip().upper().startswith("COPY")]


@pytest.fixture
def tricky_notes(make_note):
    return [
        make_note(
            f"k{i}",
            topic=text[:64],
            tenant_id="t\\" if i % 2 else "",
            count=i,
            body={"text": text, "list": [text, 1, 2.5, None, True], "nested": {"b": text, "aa": -(2**53 - 1)}},
        )
        for i, text in enumerate(TRICKY)
    ]


def enhance(n, tenant=None, text="intent"):
    return {
        "issue_id": f"ISS-copy-{n}",
        "blueprint_id": "bp-copy",
        "prev_hash": "a" * 64,
        "new_hash": "b" * 64,
        "intent": text,
        "rationale": f"why\t{n}",
        "status": EnhanceEntry.APPLIED,
        "verdicts": [{"axis": "des", "status": "pass", "detail": text}],
        "reasons": [f"des: {text}"],
        "ts_ms": 1_700_000_000_000 + n,
        "tenant_id": tenant,
    }


@pytest.fixture
def tricky_enhances(db):
    return EnhanceEntry.objects.append_many(
        [enhance(n, tenant="acme" if n % 3 == 0 else None, text=text) for n, text in enumerate(TRICKY)],
        recorded_by="copier",
    )


# --- the COPY reader --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_it_reads_by_copy_the_rows_the_orm_reads(tricky_notes, tricky_enhances):
    for model in (Note, EnhanceEntry):
        columns = ["seq", "recorded_by_id", "recorded_by_name", "canonical"] + [
            f.attname for f in model.content_fields()
        ]
        queryset = model._base_manager.order_by("seq").values_list(*columns)
        with statements() as seen:
            rows = [tuple(row) for row in raw_rows(queryset, "default")]
        assert len(copied(seen)) == 1, seen
        assert rows == list(queryset)
        assert any(None in row for row in rows) or model is Note  # enhance entries hold NULLs


@pytest.mark.postgres
def test_it_binds_a_filter_s_parameters_into_the_copy_statement(tricky_notes):
    queryset = (
        Note._base_manager.filter(topic__contains="\\", count__gte=1)
        .order_by("-seq")
        .values_list("seq", "topic", "body")
    )
    with statements() as seen:
        rows = [tuple(row) for row in raw_rows(queryset, "default")]
    assert copied(seen) and rows == list(queryset) and len(rows) >= 3


@pytest.mark.postgres
def test_it_reads_columns_copy_does_not_parse_from_the_cursor(tricky_notes):
    queryset = Note._base_manager.order_by("seq").values_list("seq", "recorded_at", "topic")
    with statements() as seen:
        rows = [tuple(row) for row in raw_rows(queryset, "default")]
    assert not copied(seen)
    assert rows == list(queryset)


@pytest.mark.postgres
def test_it_reads_a_distinct_query_ordered_by_an_unselected_column_from_the_cursor(tricky_notes):
    # DISTINCT selects the ordering column too, after the asked ones: COPY would send it along.
    queryset = Note._base_manager.values_list("tenant_id").distinct().order_by("-count")
    with statements() as seen:
        rows = [tuple(row) for row in raw_rows(queryset, "default")]
    assert not copied(seen)
    assert rows == list(queryset)


def test_it_reads_nothing_for_a_query_no_row_can_match(tricky_notes):
    assert list(raw_rows(Note._base_manager.none().values_list("seq"), "default")) == []


# --- full verification ------------------------------------------------------------------------------------


def behind_the_triggers_back(model, sql, params=()):
    with triggers_lifted(model), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_it_verifies_an_intact_chain_of_values_that_need_escapes(tricky_notes, tricky_enhances):
    for model in (Note, EnhanceEntry):
        with statements() as seen:
            result = verify_chain(model)
        assert (result.ok, result.checked) == (True, len(TRICKY)), result
        assert bool(copied(seen)) == (connection.vendor == "postgresql")
        assert verify_links(model).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("key", "k3\\"),
        ("topic", "back\\slash\t"),
        ("tenant_id", "t\\\\"),
        ("count", 30),
        ("body", '{"text": "N\\\\", "list": [], "nested": {}}'),
        ("recorded_by_name", "someone\\else"),
        ("canonical", None),
    ],
)
def test_it_catches_a_change_behind_the_triggers_in_every_column(tricky_notes, column, value):
    table = Note._meta.db_table
    if column == "canonical":
        sql, params = (
            f"UPDATE {table} SET canonical = REPLACE(canonical, '\"count\":3', '\"count\":33') WHERE seq = 4",
            [],
        )
    elif column == "body" and connection.vendor == "postgresql":
        sql, params = f"UPDATE {table} SET body = %s::jsonb WHERE seq = 4", [value]
    else:
        sql, params = f"UPDATE {table} SET {column} = %s WHERE seq = 4", [value]
    behind_the_triggers_back(Note, sql, params)
    result = verify_chain(Note)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 4, 3), result


@pytest.mark.parametrize(("seq", "value"), [(2, "acme"), (1, None), (2, "")])
def test_it_catches_an_optional_column_filled_or_emptied_behind_the_triggers(tricky_enhances, seq, value):
    # Entry 1 holds tenant "acme", entry 2 none (NULL, left out of the hash): both ways are a change.
    behind_the_triggers_back(
        EnhanceEntry, f"UPDATE {EnhanceEntry._meta.db_table} SET tenant_id = %s WHERE seq = %s", [value, seq]
    )
    result = verify_chain(EnhanceEntry)
    assert (result.ok, result.first_bad_seq) == (False, seq), result


@pytest.mark.postgres
def test_the_copy_path_and_the_cursor_path_give_the_same_verdicts(tricky_notes, monkeypatch):
    behind_the_triggers_back(Note, f"UPDATE {Note._meta.db_table} SET topic = %s WHERE seq = 6", ["forged\\"])
    by_copy = verify_chain(Note).as_dict()
    monkeypatch.setattr(chain, "_copy_parsers", lambda columns, converters: None)
    with statements() as seen:
        by_cursor = verify_chain(Note).as_dict()
    assert not copied(seen)
    assert by_copy == by_cursor and by_copy["first_bad_seq"] == 6


# --- exports ----------------------------------------------------------------------------------------------


def jsonl_export(api):
    """The enhance log's JSON Lines export as `api` downloads it (a 200), and the statements it ran."""
    with statements() as seen:
        response = api.get("/api/v1/enhances/?format=jsonl")
        body = b"".join(response.streaming_content)
    assert response.status_code == 200
    return body, seen


@pytest.mark.postgres
def test_the_copy_path_and_the_cursor_path_export_the_same_bytes(tricky_enhances, auditor_api, monkeypatch):
    def export():
        body, seen = jsonl_export(auditor_api)
        return body, copied(seen)

    by_copy, copies = export()
    assert len(copies) == 1 and by_copy.count(b"\n") == len(TRICKY)
    monkeypatch.setattr(chain, "_copy_parsers", lambda columns, converters: None)
    by_cursor, copies = export()
    assert not copies
    assert by_copy == by_cursor


def test_an_export_reads_only_the_columns_its_serializer_shows(tricky_enhances, auditor_api, monkeypatch):
    from ledgerproject.ledger import api

    def export():
        body, seen = jsonl_export(auditor_api)
        reads = [sql for sql in seen if EnhanceEntry._meta.db_table in sql and "ORDER BY" in sql]
        return body, reads[-1]

    shown, sql = export()
    assert '"canonical"' not in sql and '"reasons_text"' not in sql and '"issue_id"' in sql
    monkeypatch.setattr(api, "_PLAIN_READS", {})
    monkeypatch.setattr(api, "plain_reads", lambda serializer, model=None: (None, {}))  # every column, as before
    every, sql = export()
    assert '"canonical"' in sql
    assert shown == every and shown.count(b"\n") == len(TRICKY)


# --- Merkle integration -----------------------------------------------------------------------------------


def test_pushing_raw_entry_hashes_stores_each_tile_level_node_push_makes_once():
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)]
    for start in (0, 1, 2, 3, 7, 8, 13, 15, 16, 17, 31, 32, 255, 256, 257):
        one, many = merkle.Frontier(), merkle.Frontier()
        for entry_hash in hashes[:start]:
            one.push(merkle.leaf_hash(entry_hash))
            many.push(merkle.leaf_hash(entry_hash))
        made = {}
        for entry_hash in hashes[start:]:
            made.update(one.push(merkle.leaf_hash(entry_hash)))
        runs = many.push_runs(b"".join(bytes.fromhex(h) for h in hashes[start:]))
        # The nodes of the tile levels the growth made, each in one run, runs cut where a tile ends.
        stored = {
            (level, index + k): hashes[32 * k : 32 * k + 32]
            for level, index, hashes in runs
            for k in range(len(hashes) // 32)
        }
        assert stored == {node: value for node, value in made.items() if node[0] % merkle.TILE_HEIGHT == 0}
        assert sum(len(hashes) for _, _, hashes in runs) == 32 * len(stored)
        assert all(
            index // merkle.TILE_WIDTH == (index + len(h) // 32 - 1) // merkle.TILE_WIDTH for _, index, h in runs
        )
        assert (many.size, many.edge, many.root()) == (one.size, one.edge, one.root())
    with pytest.raises(ValueError):
        merkle.Frontier().push_runs(b"\x00" * 33)


def stored_runs():
    rows = MerkleTile.objects.filter(ledger="testnotes").values_list("level", "index", "hashes")
    return sorted((level, index, bytes(hashes)) for level, index, hashes in rows)


def leaves():
    return [merkle.leaf_hash(h) for h in Note._base_manager.order_by("seq").values_list("entry_hash", flat=True)]


def test_it_integrates_in_batches_to_the_tiles_and_root_of_the_row_by_row_path(make_note, monkeypatch):
    for i in range(37):
        make_note(f"m{i}", body={"i": i})
    with statements() as seen:
        assert checkpoints.integrate(Note, batch=8) == 37
    assert any("string_agg" in sql for sql in seen) == (connection.vendor == "postgresql")
    fast = stored_runs()
    assert checkpoints.tree("testnotes", 37).root() == merkle.root_from_leaves(leaves())
    monkeypatch.setattr(checkpoints, "_entry_hashes_joined", lambda *args: None)
    MerkleTile.objects.filter(ledger="testnotes")._raw_delete(MerkleTile.objects.db)
    assert checkpoints.integrate(Note, batch=8) == 37
    assert stored_runs() == fast


def test_it_stores_a_batch_even_when_one_of_its_runs_is_already_stored(make_note):
    for i in range(40):
        make_note(f"c{i}")
    assert checkpoints.integrate(Note, upto=16) == 16
    # The run of level 4 the next batch makes (node (4, 1), leaves 16–31) already there, as a concurrent
    # integrator would have left it: that insert collides and is skipped, the batch goes in anyway.
    node = merkle.root_from_leaves(leaves()[16:32])
    MerkleTile.objects.create(ledger="testnotes", level=4, index=1, hashes=node)
    assert checkpoints.integrate(Note) == 40
    assert checkpoints.tree("testnotes", 40).root() == merkle.root_from_leaves(leaves())
    assert list(MerkleTile.objects.filter(ledger="testnotes", level=4).values_list("index", flat=True)) == [0, 1]
    assert checkpoints.fetch_nodes("testnotes", {(4, 1), (5, 0)}) == {
        (4, 1): node,
        (5, 0): merkle.root_from_leaves(leaves()[:32]),
    }


@pytest.mark.parametrize("stray", ["another hash", "a shorter run"])
def test_a_stored_run_that_disagrees_with_the_batch_stops_it(make_note, stray):
    for i in range(48):
        make_note(f"s{i}")
    assert checkpoints.integrate(Note, upto=16) == 16
    # The next batch makes one run of level 4, nodes (4, 1) and (4, 2); a row already holds (4, 1).
    node = merkle.root_from_leaves(leaves()[16:32])
    stored = b"\x00" * 32 if stray == "another hash" else node  # a shorter run: node (4, 2) would be lost
    MerkleTile.objects.create(ledger="testnotes", level=4, index=1, hashes=stored)
    with pytest.raises(checkpoints.MerkleStateError, match="disagree"):
        checkpoints.integrate(Note)
    assert checkpoints.integrated_size("testnotes") == 16  # the batch stored nothing
    assert checkpoints.rebuild(Note) == 48
    assert checkpoints.tree("testnotes", 48).root() == merkle.root_from_leaves(leaves())


def test_it_refuses_to_grow_past_a_missing_seq(make_note):
    for i in range(6):
        make_note(f"g{i}")
    behind_the_triggers_back(Note, f"DELETE FROM {Note._meta.db_table} WHERE seq = 4")
    with pytest.raises(checkpoints.MerkleStateError, match="seq 4 is missing"):
        checkpoints.integrate(Note)
    assert checkpoints.integrated_size("testnotes") == 0


def test_it_refuses_to_grow_past_a_gap_longer_than_a_batch(make_note):
    for i in range(30):
        make_note(f"j{i}")
    behind_the_triggers_back(Note, f"DELETE FROM {Note._meta.db_table} WHERE seq BETWEEN 3 AND 20")
    with pytest.raises(checkpoints.MerkleStateError, match="seq 3 is missing"):
        checkpoints.integrate(Note, batch=8)  # a batch that ends in the gap
    assert checkpoints.integrated_size("testnotes") == 0
    assert checkpoints.integrate(Note, upto=2) == 2
    with pytest.raises(checkpoints.MerkleStateError, match="seq 3 is missing"):
        checkpoints.integrate(Note, batch=8)  # a batch wholly in it (seqs 3–10)
    assert checkpoints.integrated_size("testnotes") == 2


def test_it_refuses_an_entry_hash_that_is_not_64_hex_digits(make_note):
    for i in range(4):
        make_note(f"h{i}")
    behind_the_triggers_back(
        Note, f"UPDATE {Note._meta.db_table} SET entry_hash = %s WHERE seq = 3", ["ab " * 21 + "a"]
    )
    with pytest.raises(ValueError):
        checkpoints.integrate(Note)
    assert checkpoints.integrated_size("testnotes") == 0


@pytest.mark.usefixtures("signing_key")
def test_the_verifiable_export_writes_each_entry_as_its_stored_columns(tricky_notes, monkeypatch):
    import orjson

    from ledgerproject.ledger.hashing import format_timestamp
    from ledgerproject.ledger.proofs_api import export_lines

    checkpoint, _ = checkpoints.make_checkpoint(Note)
    expected = [
        orjson.dumps(
            {
                "seq": note.seq,
                "recorded_at": format_timestamp(note.recorded_at),
                "recorded_by": note.recorded_by_name,
                "prev_entry_hash": note.prev_entry_hash,
                "entry_hash": note.entry_hash,
                "canonical": note.canonical,
            }
        ).decode()
        + "\n"
        for note in Note._base_manager.order_by("seq")
    ]
    with statements() as seen:
        lines = list(export_lines(Note, checkpoint))
    assert bool(copied(seen)) == (connection.vendor == "postgresql")
    assert lines[1:] == expected
    monkeypatch.setattr(chain, "_copy_parsers", lambda columns, converters: None)
    assert list(export_lines(Note, checkpoint))[1:] == expected


def test_a_plain_row_carries_its_columns_whatever_their_names():
    from ledgerproject.ledger.api import PlainRow

    names = ["seq", "recorded_at", "recorded_by_name", "prev_entry_hash", "entry_hash", "count", "index"]
    values = [3, "2026-11-29T10:00:00.000001Z", "bob", "a" * 64, "b" * 64, 7, 9]
    row = PlainRow.maker(names)(values)
    assert isinstance(row, PlainRow) and (row.seq, row.count, row.index, row.pk) == (3, 7, 9, 3)
    block = {
        "seq": 3,
        "recorded_at": "2026-11-29T10:00:00.000001Z",
        "recorded_by": "bob",
        "prev_entry_hash": "a" * 64,
        "entry_hash": "b" * 64,
    }
    assert row.ledger_block == block
    # Names a named tuple refuses (a keyword, a leading underscore) get an object with a __dict__.
    odd = PlainRow.maker([*names, "_private", "class"])([*values, 1, 2])
    assert isinstance(odd, PlainRow) and (odd._private, getattr(odd, "class"), odd.ledger_block) == (1, 2, block)
    for make in (PlainRow.maker(names), PlainRow.maker([*names, "class"])):
        with pytest.raises((TypeError, ValueError)):
            make(values[:-1])  # a row of the wrong width is refused, not cut
