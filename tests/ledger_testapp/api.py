from ledgerproject.ledger.api import LedgerViewSet
from ledgerproject.ledger.filters import LedgerFilterSet
from tests.ledger_testapp.models import Note
from tests.ledger_testapp.serializers import NoteSerializer


class NoteFilterSet(LedgerFilterSet):
    class Meta:
        model = Note
        fields = ["topic", "tenant_id"]


class NoteViewSet(LedgerViewSet):
    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    filterset_class = NoteFilterSet
    lookup_field = "key"
