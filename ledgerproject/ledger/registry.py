"""The registry of ledgers: every concrete (not abstract, not proxy) LedgerEntry model, by its ledger name."""

from django.apps import apps


def ledger_models():
    """Every installed ledger model, sorted by ledger name (a proxy is a view of one, never a ledger of its own)."""
    from ledgerproject.ledger.models import LedgerEntry

    found = [m for m in apps.get_models() if issubclass(m, LedgerEntry) and not m._meta.abstract and not m._meta.proxy]
    return sorted(found, key=lambda m: m.ledger_name or "")


def ledger_names():
    return [m.ledger_name for m in ledger_models()]


def get_ledger(name):
    """The model of the ledger called `name`; LookupError if there is none."""
    for model in ledger_models():
        if model.ledger_name == name:
            return model
    raise LookupError(f"there is no ledger called {name!r}; ledgers: {', '.join(ledger_names())}")
