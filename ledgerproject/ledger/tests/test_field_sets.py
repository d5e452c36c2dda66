"""A ledger serializer's field set serves the next request of its thread, and reads that request's context only."""

import pytest
from django.urls import get_resolver
from rest_framework import serializers

from ledgerproject.ledger import serializers as ledger_serializers
from ledgerproject.ledger.serializers import LedgerSerializer
from ledgerproject.ledger.tests.test_fast_batch_equivalence import enhance


def ledger_serializer_classes():
    """Every LedgerSerializer subclass of the installed apps (the URL map imports every app's API)."""
    assert get_resolver().url_patterns
    found, stack = set(), list(LedgerSerializer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        found.add(cls)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def every_field(fields):
    """Every field of a bound field set, nested serializers' fields and list children included."""
    stack = list(fields.values())
    while stack:
        field = stack.pop()
        yield field
        child = getattr(field, "child", None)
        if child is not None:
            stack.append(child)
        if isinstance(field, serializers.Serializer):
            stack.extend(field.fields.values())


class Principal(str):
    """A principal bound to the tenant of its own name (read without the database), compared by its name."""

    is_authenticated, is_superuser = True, False

    @property
    def _ledger_tenant_scope(self):
        return frozenset({str(self)})


class Request:
    """What the serializers read of a request: its principal."""

    def __init__(self, user):
        self.user = Principal(user)


@pytest.fixture
def in_request():
    """Enter a request for the block and leave it afterwards, as the kernel's receivers of Django's
    request_started and request_finished mark them (the end-to-end test below goes through the signals)."""

    class Serving:
        def __enter__(self):
            ledger_serializers._request_started(environ={})

        def __exit__(self, *exc):
            ledger_serializers._request_finished()

    return Serving


@pytest.mark.parametrize("serializer_class", ledger_serializer_classes(), ids=lambda cls: cls.__qualname__)
def test_the_next_request_gets_the_field_set_and_every_field_reads_its_context(serializer_class, in_request):
    first_request, second_request = Request("alice"), Request("bob")
    with in_request():
        first = serializer_class(context={"request": first_request, "artifact_id": "a", "name": "n"})
        used = first.fields
    with in_request():
        second = serializer_class(context={"request": second_request, "artifact_id": "a", "name": "n"})
        assert second.fields is used
        # Another serializer of the class in the same request builds its own set: the first keeps its own.
        other = serializer_class(context={"request": first_request})
        assert other.fields is not used
        for field in every_field(used):
            assert field.root is second
            assert field.context["request"] is second_request
        for field in every_field(other.fields):
            assert field.root is other
    # Outside a request (a command, an export, a test) every serializer builds its own; under ASGI too.
    context = {"request": first_request}
    assert serializer_class(context=context).fields is not serializer_class(context=context).fields
    ledger_serializers._request_started(scope={})
    try:
        assert serializer_class(context=context).fields is not serializer_class(context=context).fields
    finally:
        ledger_serializers._request_finished()


def test_a_class_that_builds_its_fields_its_own_way_is_not_shared(in_request):
    from enhancelog.serializers import EnhanceEntrySerializer

    class Narrowed(EnhanceEntrySerializer):
        def get_fields(self):
            fields = super().get_fields()
            fields.pop("intent")
            return fields

    with in_request():
        used = Narrowed().fields
    with in_request():
        assert Narrowed().fields is not used
        assert "intent" not in Narrowed().fields


@pytest.mark.django_db
def test_writers_of_two_tenants_taking_turns_each_append_in_their_own_tenant(make_user, client_for, monkeypatch):
    """The whole path over the test client (which signals each request as the WSGI handler does): the field set
    goes from one writer's request to the other's, and each entry still lands in its writer's tenant."""
    builds = []
    build = serializers.Serializer.fields.func

    def counted(serializer):
        if isinstance(serializer, LedgerSerializer):
            builds.append(type(serializer))
        return build(serializer)

    monkeypatch.setattr(serializers.Serializer.fields, "func", counted)
    monkeypatch.setattr(ledger_serializers._field_sets, "pool", {})  # nothing left by an earlier test
    writers = {
        tenant: client_for(make_user(f"writer-{tenant}", roles=["writer"], tenants=[tenant]))
        for tenant in ("acme", "umbrella")
    }
    stored = []
    for turn in range(6):
        tenant = ("acme", "umbrella")[turn % 2]
        body = enhance(500 + turn)
        body.pop("tenant_id", None)
        response = writers[tenant].post("/api/v1/enhances/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["tenant_id"] == tenant
        stored.append((response.json()["issue_id"], tenant))
        # Refused in the other writer's tenant, by that writer's principal.
        other = "umbrella" if tenant == "acme" else "acme"
        refused = writers[tenant].post("/api/v1/enhances/", {**enhance(600 + turn), "tenant_id": other}, format="json")
        assert refused.status_code == 404, refused.content  # tenancy never shows another tenant
    from enhancelog.models import EnhanceEntry
    from enhancelog.serializers import EnhanceEntrySerializer

    assert builds == [EnhanceEntrySerializer], builds  # twelve requests, one field set
    assert sorted(EnhanceEntry.objects.values_list("issue_id", "tenant_id")) == sorted(stored)


class Seen:
    """A validator that needs its field (DRF's requires_context) and writes down whose request it ran in."""

    requires_context = True

    def __init__(self):
        self.principals = []

    def __call__(self, value, field):
        self.principals.append(field.context["request"].user)


def test_validation_and_representation_read_the_request_the_set_serves_now(in_request):
    """A field validator with context, a method field and an array's items, over three requests."""
    from tests.ledger_testapp.models import Note
    from tests.ledger_testapp.serializers import NoteSerializer

    seen = Seen()

    class AuthoredNoteSerializer(NoteSerializer):
        topic = serializers.CharField(max_length=64, validators=[seen])
        author = serializers.SerializerMethodField()

        class Meta(NoteSerializer.Meta):
            fields = [*NoteSerializer.Meta.fields, "author"]

        def get_author(self, note):
            return self.context["request"].user

    note = Note(key="k", topic="t", body={}, count=1)
    shared = None
    for user in ("alice", "bob", "carol"):
        with in_request():
            single = AuthoredNoteSerializer(data={"key": "k", "topic": "t"}, context={"request": Request(user)})
            assert single.is_valid(), single.errors
            assert AuthoredNoteSerializer(note, context={"request": Request(user)}).data["author"] == user
            array = AuthoredNoteSerializer(
                data=[{"key": "a", "topic": "t"}, {"key": "b", "topic": "t"}],
                many=True,
                context={"request": Request(user + "'s array")},
            )
            assert array.is_valid(), array.errors
            assert shared is None or single.fields is shared
            shared = single.fields
    assert seen.principals == ["alice", "alice's array", "alice's array"] + [
        name for user in ("bob", "carol") for name in (user, f"{user}'s array", f"{user}'s array")
    ]


def test_a_nested_serializer_keeps_its_own_fields_while_the_next_requests_serializer_gets_the_set(in_request):
    from enhancelog.serializers import EnhanceEntrySerializer

    class Outer(serializers.Serializer):
        entry = EnhanceEntrySerializer(read_only=True)

    with in_request():
        outer = Outer(context={"request": Request("alice")})
        nested = outer.fields["entry"].fields
        top = EnhanceEntrySerializer(context={"request": Request("alice")}).fields
    with in_request():
        later = EnhanceEntrySerializer(context={"request": Request("bob")})
        assert later.fields is top and later.fields is not nested
        assert nested["prev_hash"].context["request"].user == "alice"
        assert nested["prev_hash"].root is outer


def test_a_finished_request_leaves_nothing_of_itself_in_the_set(in_request):
    import gc
    import weakref

    from enhancelog.serializers import EnhanceEntrySerializer

    with in_request():
        request = Request("alice")
        fields = EnhanceEntrySerializer(context={"request": request}).fields
        gone = weakref.ref(request)
        del request
    gc.collect()
    assert gone() is None
    assert fields.serializer is None and all(field.parent is None for field in fields.values())


def test_a_request_that_never_finished_keeps_its_set(in_request):
    """A streamed answer left unread (or a request made within one): the next request builds its own set."""
    from enhancelog.serializers import EnhanceEntrySerializer

    ledger_serializers._request_started(environ={})
    unfinished = EnhanceEntrySerializer(context={"request": Request("alice")})
    held = unfinished.fields
    with in_request():
        assert EnhanceEntrySerializer(context={"request": Request("bob")}).fields is not held
    assert all(field.root is unfinished for field in held.values())
