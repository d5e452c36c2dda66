"""What the experience ledger puts on the home page: its dashboards."""

from ledgerproject.ledger.home import Card, cards_of

cards = cards_of(
    Card(
        permission="experience.view_experienceevent",
        title="Events",
        text="The experience timeline: decision chains, correlations, artifacts and replay trace links.",
        url_name="experience:timeline",
        ledger="experience",
    )
)
