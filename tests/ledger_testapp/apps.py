from django.apps import AppConfig


class LedgerTestAppConfig(AppConfig):
    name = "tests.ledger_testapp"
    label = "ledger_testapp"
