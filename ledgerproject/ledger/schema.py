"""OpenAPI operations grouped by the ledger that serves them (one tag per app), for the API docs."""

from django.apps import apps
from drf_spectacular.openapi import AutoSchema

KERNEL_TAG = "Ledgers and verification"
# Apps without a verbose_name of their own get these titles; SPECTACULAR_SETTINGS["TAGS"] orders them.
TITLES = {"runs": "Runs, blobs and outputs", "logchain": "Node logs"}


def app_title(label):
    if label in TITLES:
        return TITLES[label]
    try:
        return str(apps.get_app_config(label).verbose_name)
    except LookupError:
        return label


class LedgerAutoSchema(AutoSchema):
    """drf-spectacular's schema with each operation tagged by its ledger app instead of its first path word."""

    def get_tags(self):
        label = type(self.view).__module__.split(".")[0]
        if label == "ledgerproject":
            return [KERNEL_TAG]
        return [app_title(label)]
