"""App config of the node-log ledger (seed 002: per-node log records and the application's own log chain);
its LOGCHAIN_* settings are checked when it loads, so a bad one fails at start."""

from django.apps import AppConfig


class LogchainConfig(AppConfig):
    name = "logchain"

    def ready(self):
        from logchain.appender import appender_config

        appender_config()
