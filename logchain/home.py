"""What the node-log ledger puts on the home page: its viewer."""

from django.urls import reverse


def cards(user):
    if not user.has_perm("logchain.view_logrecord"):
        return []
    return [
        {
            "title": "Logs",
            "text": "Node logs, hash-chained as they arrive: filter by node, daemon, level and time.",
            "url": reverse("logchain:viewer"),
            "ledger": "logchain",
        }
    ]
