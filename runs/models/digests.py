"""The SHA-256 digest rule of content addresses, and finding the digests a JSON value refers to."""

import re

from django.core.exceptions import ValidationError

DIGEST_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def normalize_digest(value):
    """A ContentDigest: 64 hex characters, stored lowercase; anything else is a ValidationError."""
    if not isinstance(value, str) or not DIGEST_RE.match(value):
        raise ValidationError(f"{value!r} is not a SHA-256 digest (64 hexadecimal characters)")
    return value.lower()


def is_digest(value):
    return isinstance(value, str) and bool(DIGEST_RE.match(value))


def digests_in(value):
    """Every string in a JSON value that is a SHA-256 digest: what a payload refers to."""
    found = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif is_digest(item):
            found.add(item.lower())
    return sorted(found)
