"""App config of the node-log ledger (seed 002: per-node log records and the application's own log chain)."""

from django.apps import AppConfig


class LogchainConfig(AppConfig):
    name = "logchain"
