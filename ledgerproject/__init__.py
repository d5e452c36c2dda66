"""Ledger: append-only, tamper-evident audit ledgers for AI-agent systems."""
