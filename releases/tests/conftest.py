"""Builders for the release registry's tests: digests and promotions."""

import hashlib

import pytest

from releases.models import Release


def digest(label):
    """A stable SHA-256 hex digest standing for the spec called `label`."""
    return hashlib.sha256(f"spec {label}".encode()).hexdigest()


@pytest.fixture
def make_release(db):
    """make_release("agent", "v1", **overrides) → a promotion of the spec digest(label)."""

    def make(name="agent", label="v1", **overrides):
        fields = {"spec_digest": digest(label), "promoted_by": "ci", "version_label": label}
        fields.update(overrides)
        return Release.objects.promote(name, **fields)

    return make
