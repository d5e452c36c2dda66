"""The URL id rule, held by every ledger at append: what one path segment cannot carry is a 400 naming the field."""

import pytest
from django.core.exceptions import ValidationError

from ledgerproject.ledger import ids
from ledgerproject.ledger.registry import ledger_models
from ledgerproject.ledger.templatetags.ledger_links import link
from tests.ledger_testapp.models import Note

UNROUTABLE = ["a/b", "/", "a\\b", ".", "..", ""]
ROUTABLE = ["a.b", "...", "TKT 7?#%", "ä-1", "a:b", "-"]

ROUTED = [(model, name) for model in ledger_models() for name in model.url_id_fields]


def test_every_ledger_with_ids_in_its_urls_declares_them():
    declared = {(model.ledger_name, name) for model, name in ROUTED}
    assert declared >= {
        ("enhancelog", "issue_id"),
        ("enhancelog", "blueprint_id"),
        ("experience", "event_id"),
        ("experience", "chain_id"),
        ("experience", "correlation_id"),
        ("experience", "artifact_id"),
        ("experience", "trace_link_id"),
        ("releases", "name"),
        ("outputs", "output_id"),
        ("blobs", "digest"),
        ("testnotes", "key"),
    }


@pytest.mark.parametrize(("model", "field"), ROUTED, ids=[f"{m.ledger_name}.{f}" for m, f in ROUTED])
@pytest.mark.parametrize("value", UNROUTABLE)
def test_the_rule_names_the_field_that_no_route_can_carry(model, field, value):
    with pytest.raises(ValidationError) as refused:
        ids.check_url_ids(model(**{**dict.fromkeys(model.url_id_fields, "ok"), field: value}))
    assert list(refused.value.message_dict) == [field]


@pytest.mark.parametrize("value", ROUTABLE)
def test_the_rule_lets_through_what_a_path_segment_carries(value):
    assert ids.url_id_problem(value) is None
    assert ids.safe_reverse("testnote-detail-unused") is None  # an unknown name is no error either


@pytest.mark.django_db
@pytest.mark.parametrize("value", UNROUTABLE[:-1])
def test_the_append_path_refuses_it_for_any_caller(value):
    with pytest.raises(ValidationError) as refused:
        Note.objects.append(key=value, topic="t")
    assert "key" in refused.value.message_dict
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_the_api_answers_400_naming_the_field(writer_api):
    response = writer_api.post("/api/v1/notes/", {"key": "x/y", "topic": "t"}, format="json")
    assert response.status_code == 400
    assert "detail" in response.json() and "key" in response.json()


def test_a_link_to_an_unroutable_id_is_text_not_an_error():
    assert str(link("enhancelog:detail", "TKT/1")) == (
        '<span class="unroutable" title="this id cannot be linked">TKT/1</span>'
    )
    assert str(link("enhancelog:detail", "<b>")) == '<a href="/enhances/entries/%3Cb%3E/">&lt;b&gt;</a>'
    assert str(link("enhancelog:trace", "bp", label="trace", css="muted")) == (
        '<a href="/enhances/blueprints/bp/" class="muted">trace</a>'
    )


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["v1.2", "...", "a b?#%"])
def test_every_id_the_rule_allows_is_read_back_through_its_detail_route(writer_api, reader_api, key):
    from urllib.parse import quote

    assert writer_api.post("/api/v1/notes/", {"key": key, "topic": "t"}, format="json").status_code == 201
    response = reader_api.get(f"/api/v1/notes/{quote(key, safe='')}/")
    assert response.status_code == 200
    assert response.json()["key"] == key
