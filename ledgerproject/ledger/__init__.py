"""The ledger kernel: the one append-only, hash-chained mechanism every ledger app builds on."""
