"""Shared fixtures and helpers of the verification tests (a fixed signing key, notes, stored trees); no tests."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledgerproject.ledger import checkpoints, merkle

SEED = bytes(range(32))
KEY_B64 = base64.b64encode(SEED).decode()
PUBLIC_KEY = Ed25519PrivateKey.from_private_bytes(SEED).public_key()


@pytest.fixture
def signing_key(settings):
    """Checkpoints in tests are signed with a fixed key from the environment setting (nothing lands in var/)."""
    settings.LEDGER_SIGNING_KEY = KEY_B64
    settings.LEDGER_CHECKPOINT_ORIGIN = "ledger.test"
    return PUBLIC_KEY


def note_model():
    from tests.ledger_testapp.models import Note

    return Note


def append_notes(count, start=0, topic=""):
    """Append `count` notes in one batch and return them."""
    Note = note_model()
    return Note.objects.append_many(
        [{"key": f"k{start + i}", "topic": topic, "body": {"n": start + i}} for i in range(count)], recorded_by="tester"
    )


def leaves_of(model, upto=None):
    rows = model._base_manager.order_by("seq").values_list("entry_hash", flat=True)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    return [merkle.leaf_hash(value) for value in rows]


def checkpoint_now(model):
    checkpoint, _ = checkpoints.make_checkpoint(model)
    return checkpoint
