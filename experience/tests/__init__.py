"""Tests of the experience ledger."""
