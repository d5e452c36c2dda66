"""An append's answer comes from the serializer that validated its body: at most one field set built per request."""

import pytest

from ledgerproject.ledger.serializers import LedgerSerializer
from ledgerproject.ledger.tests.test_fast_batch_equivalence import ARRAYS, stored_world


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_an_append_builds_its_serializers_fields_once_and_answers_every_item(name, root_api, monkeypatch):
    """Building a serializer's fields costs a tenth of a single append's time; the answer used to build them again."""
    url, arrays = ARRAYS[name](stored_world(root_api))
    built = []
    original = LedgerSerializer.get_fields

    def counted(serializer):
        built.append(type(serializer).__name__)
        return original(serializer)

    monkeypatch.setattr(LedgerSerializer, "get_fields", counted)
    single, array = arrays[0][0], arrays[0][1:]

    response = root_api.post(url, single, format="json")
    assert response.status_code == 201, response.content
    assert len(built) <= 1, built
    assert isinstance(response.json(), dict) and "ledger" in response.json()

    built.clear()
    response = root_api.post(url, array, format="json")
    assert response.status_code == 201, response.content
    assert len(built) <= 1, built
    answers = response.json()
    assert len(answers) == len(array) and all("ledger" in answer for answer in answers)
    seqs = [answer["ledger"]["seq"] for answer in answers]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
