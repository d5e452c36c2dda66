from ledgerproject.ledger.serializers import LedgerSerializer
from tests.ledger_testapp.models import Note


class NoteSerializer(LedgerSerializer):
    class Meta:
        model = Note
        fields = ["key", "tenant_id", "topic", "body", "count", "ledger"]
