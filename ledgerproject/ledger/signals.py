"""Signals the kernel sends: entries_appended fires after the appending transaction commits."""

from django.dispatch import Signal

# sender=the ledger model; kwargs: first_seq, last_seq, using. Sent on commit, never inside the lock.
entries_appended = Signal()
