"""What the node-log ledger puts on the home page: its viewer."""

from ledgerproject.ledger.home import Card, cards_of

cards = cards_of(
    Card(
        permission="logchain.view_logrecord",
        title="Logs",
        text="Node logs, hash-chained as they arrive: filter by node, daemon, level and time.",
        url_name="logchain:viewer",
        ledger="logchain",
    )
)
