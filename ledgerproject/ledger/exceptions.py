"""The kernel's exceptions: refused changes, natural-key conflicts, state conflicts, bad batches."""

from django.core.exceptions import ValidationError


class ImmutableEntryError(Exception):
    """Raised by every path that would change or remove a ledger entry."""


class ConflictError(Exception):
    """A natural key was appended twice; `existing` is the stored entry, which stays as it was."""

    def __init__(self, existing, identical, message=None, index=None):
        self.existing = existing
        self.identical = identical
        self.index = index
        key = ", ".join(f"{name}={getattr(existing, name)!r}" for name in existing.natural_key_fields)
        self.message = message or (
            f"an entry with {key} already exists"
            + (" and is identical (a harmless replay)" if identical else " with different content")
        )
        super().__init__(self.message)


class StateConflictError(Exception):
    """An append that the ledger's current derived state forbids (a finished run, a stale release…)."""

    def __init__(self, message, **extra):
        self.message = message
        self.extra = extra
        super().__init__(message)


class BatchValidationError(ValidationError):
    """Validation failed for items of a batch; `items` pairs each index with its messages."""

    def __init__(self, items):
        self.items = items
        super().__init__([f"item {index}: {messages}" for index, messages in items])
