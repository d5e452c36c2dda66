"""Task output events: every field of every type keeps its rule, named by path (`event.content.digest`)."""

import copy
import hashlib

import pytest
from django.core.exceptions import ValidationError

from ledgerproject.ledger.validators import MAX_JSON_INT
from runs.schemas import output_event_fields

DIGEST = hashlib.sha256(b"x").hexdigest()
BLOB = {"kind": "blob", "digest": DIGEST, "mime": "text/plain", "size_hint": 3}
EVENTS = {
    "progress": {"type": "progress", "stage": "fetch", "note": "1 of 2"},
    "partial": {"type": "partial", "chunk": {"kind": "inline", "value": {"text": "so far"}}},
    "artifact": {"type": "artifact", "name": "report", "content": BLOB},
    "final": {"type": "final", "content": {"kind": "inline", "value": "done"}, "ok": True},
}
# (type, path, a value of the wrong type)
WRONG = [
    ("progress", ("stage",), 3),
    ("progress", ("note",), ["x"]),
    ("partial", ("chunk",), "inline"),
    ("artifact", ("name",), 7),
    ("artifact", ("content", "digest"), 7),
    ("artifact", ("content", "mime"), 7),
    ("artifact", ("content", "size_hint"), "3"),
    ("final", ("ok",), "yes"),
    ("final", ("content",), ["inline"]),
]
REQUIRED = [
    ("progress", ("stage",)),
    ("partial", ("chunk",)),
    ("artifact", ("name",)),
    ("artifact", ("content",)),
    ("artifact", ("content", "digest")),
    ("final", ("ok",)),
    ("final", ("content",)),
    ("final", ("content", "value")),
]


def errors_of(event):
    with pytest.raises(ValidationError) as caught:
        output_event_fields(event)
    return caught.value.message_dict


def at(data, path):
    for key in path:
        data = data[key]
    return data


@pytest.mark.parametrize(("kind", "path", "value"), WRONG)
def test_it_names_a_field_of_the_wrong_type(kind, path, value):
    event = copy.deepcopy(EVENTS[kind])
    at(event, path[:-1])[path[-1]] = value
    assert ".".join(("event", *path)) in errors_of(event)


@pytest.mark.parametrize(("kind", "path"), REQUIRED)
def test_it_names_a_missing_required_field(kind, path):
    event = copy.deepcopy(EVENTS[kind])
    del at(event, path[:-1])[path[-1]]
    assert errors_of(event)[".".join(("event", *path))] == ["this field is required"]


@pytest.mark.parametrize("where", [(), ("content",)])
@pytest.mark.parametrize("kind", ["artifact", "final"])
def test_it_names_an_unknown_field(kind, where):
    event = copy.deepcopy(EVENTS[kind])
    at(event, where)["extra"] = 1
    assert ".".join(("event", *where, "extra")) in errors_of(event)


@pytest.mark.parametrize("size", [-1, MAX_JSON_INT + 1])
def test_it_refuses_a_size_hint_out_of_range(size):
    event = copy.deepcopy(EVENTS["artifact"])
    event["content"]["size_hint"] = size
    assert "event.content.size_hint" in errors_of(event)


@pytest.mark.parametrize("digest", ["nope", DIGEST + "\n", DIGEST[:-1] + "g"])
def test_it_refuses_what_is_not_a_sha256_digest(digest):
    event = copy.deepcopy(EVENTS["artifact"])
    event["content"]["digest"] = digest
    assert errors_of(event)["event.content.digest"] == ["is not a SHA-256 digest (64 hexadecimal characters)"]


def test_an_unknown_type_and_a_file_ref_say_what_to_send():
    assert "event.type" in errors_of({"type": "log"})
    message = errors_of({"type": "final", "ok": True, "content": {"kind": "file_ref", "path": "/tmp/x"}})
    assert "/api/v1/blobs/" in message["event.content.kind"][0]


def test_a_valid_event_is_stored_as_sent_with_its_digest_in_lowercase():
    event = copy.deepcopy(EVENTS["artifact"])
    event["content"] = {"kind": "blob", "digest": DIGEST.upper()}
    stored, kind, digest = output_event_fields(event)
    assert (kind, digest) == ("artifact", DIGEST)
    assert stored == {"type": "artifact", "name": "report", "content": {"kind": "blob", "digest": DIGEST}}
    assert output_event_fields(EVENTS["progress"]) == (EVENTS["progress"], "progress", None)
