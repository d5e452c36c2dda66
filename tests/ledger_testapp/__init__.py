"""A small ledger used only by the test suite, to prove the kernel before any real ledger exists."""
