"""Finding the SHA-256 digests a JSON value refers to (the digest rule itself is the kernel's)."""

from ledgerproject.ledger.validators import is_sha256


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
        elif is_sha256(item):
            found.add(item.lower())
    return sorted(found)
