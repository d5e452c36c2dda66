"""Serializer bases: every entry carries its `ledger` block; unknown and server-owned body fields are refused."""

import copy
import functools
import itertools
import threading
from collections.abc import Mapping

from django.core.signals import request_finished, request_started
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)
from django.utils.functional import cached_property
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.fields import empty
from rest_framework.validators import (
    ProhibitSurrogateCharactersValidator,
    UniqueTogetherValidator,
    UniqueValidator,
)

from ledgerproject.ledger import fast_batch
from ledgerproject.ledger.tenancy import writer_tenant

SERVER_OWNED = ("ledger", "seq", "recorded_at", "recorded_by", "prev_entry_hash", "entry_hash", "canonical")
SERVER_SET = "This field is set by the server and cannot be sent."


class FastSurrogateValidator(ProhibitSurrogateCharactersValidator):
    """DRF's surrogate check with the same message, without a Python loop over every character.

    DRF walks each string character by character (a fifth of a batch's validation); encoding to
    UTF-8 is done in C and fails only on a surrogate, and only then is the offending one named.
    """

    def __call__(self, value):
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            super().__call__(value)


_SURROGATE_CHECKS = (ProhibitSurrogateCharactersValidator, FastSurrogateValidator)
_BOUNDS = {
    MaxLengthValidator: ("max", len),
    MinLengthValidator: ("min", len),
    MaxValueValidator: ("max", None),
    MinValueValidator: ("min", None),
}


def bounds_and_others(validators):
    """A field's validators as (lowest, highest, measure, others): plain int limits are compared
    inline (one comparison instead of a validator call); every other validator is called as DRF would."""
    low, high, others = None, None, []
    measures = set()
    for validator in validators:
        kind = _BOUNDS.get(type(validator))
        if kind is not None and type(validator.limit_value) is int:
            which, measure = kind
            measures.add(measure)
            if which == "max":
                high = validator.limit_value if high is None else min(high, validator.limit_value)
            else:
                low = validator.limit_value if low is None else max(low, validator.limit_value)
        elif type(validator) is not ProhibitNullCharactersValidator and type(validator) not in _SURROGATE_CHECKS:
            others.append(validator)
    if len(measures) > 1:
        return None  # lengths and values mixed on one field: leave it to DRF
    return low, high, others


def _call_others(others, field, value):
    # Callers skip the call when `others` is empty (most fields): this runs the rest as DRF would.
    for validator in others:
        if getattr(validator, "requires_context", False):
            validator(value, field)
        else:
            validator(value)


def _elsewhere(field, slow):
    """data an acceptor does not take → its answer elsewhere: a missing or null value as DRF's
    validate_empty_values makes of it, for a field that is not read-only (a missing optional value is the
    field's own get_default(), SkipField when it has none; a null is None where null is allowed), and
    everything else — a missing required value, a null refused, a partial update, `source="*"`, any other
    value — through DRF's own run_validation (`slow`), which takes it or names the refusal."""
    required, allow_null = field.required, field.allow_null

    def elsewhere(data):
        if data is empty:
            if required or getattr(field.root, "partial", False):
                return slow(data)
            return field.get_default()
        if data is None and allow_null and field.source != "*":
            return None
        return slow(data)

    return elsewhere


def _after_others(others, field, value, slow, data):
    """value once the field's remaining validators take it (run as DRF runs them); on a refusal, DRF's path."""
    if others:
        try:
            _call_others(others, field, value)
        except Exception:
            return slow(data)
    return value


def _fast_char(field, slow):
    split = bounds_and_others(field.validators)
    if split is None:
        return None
    low, high, others = split
    trim, allow_blank = field.trim_whitespace, field.allow_blank
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if type(data) is not str:
            return elsewhere(data)
        value = data.strip() if trim else data
        if not value:
            # DRF: "" (or only whitespace, when trimmed) is "" for a blank-allowing field, no validator run.
            return "" if allow_blank else slow(data)
        length = len(value)
        if (high is not None and length > high) or (low is not None and length < low) or "\x00" in value:
            return slow(data)
        try:
            value.encode("utf-8")  # fails only on a surrogate
        except UnicodeEncodeError:
            return slow(data)
        return _after_others(others, field, value, slow, data)

    return run_validation


def _fast_integer(field, slow):
    split = bounds_and_others(field.validators)
    if split is None:
        return None
    low, high, others = split
    # Unbounded: still leave huge numbers to DRF (str() of one past 4300 digits is its "invalid").
    high = 2**64 if high is None else high
    low = -(2**64) if low is None else low
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if type(data) is not int or data > high or data < low:
            return elsewhere(data)
        return _after_others(others, field, data, slow, data)

    return run_validation


def _fast_choice(field, slow):
    choices = field.choice_strings_to_values
    others = list(field.validators)
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if type(data) is not str or not data or data not in choices:
            return elsewhere(data)
        return _after_others(others, field, choices[data], slow, data)

    return run_validation


def _fast_boolean(field, slow):
    # BooleanField.to_internal_value gives True for True and False for False (and maps 1, "yes", … too:
    # those go to DRF).
    others = list(field.validators)
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if type(data) is not bool:
            return elsewhere(data)
        return _after_others(others, field, data, slow, data)

    return run_validation


def _fast_list(field, slow):
    # ListField: a list's items through the child's own run_validation (its acceptor when it has one);
    # any refusal (DRF then names the item by index), a non-list or an empty list it refuses go to DRF.
    others = list(field.validators)
    allow_empty, child = field.allow_empty, field.child
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if type(data) is not list or (not data and not allow_empty):
            return elsewhere(data)
        run = child.run_validation
        try:
            value = [run(item) for item in data]
        except Exception:
            return slow(data)
        return _after_others(others, field, value, slow, data)

    return run_validation


def _fast_json(field, slow):
    # JSONField (not binary, the stock encoder): to_internal_value checks that json.dumps takes the value
    # and returns it as it is; a plain JSON tree is taken without that encoding.
    if field.binary or field.encoder is not None:
        return None
    others = list(field.validators)
    elsewhere = _elsewhere(field, slow)

    def run_validation(data=empty):
        if data is empty or data is None or not fast_batch.plain_json(data):
            return elsewhere(data)
        return _after_others(others, field, data, slow, data)

    return run_validation


# The stock field kinds with an acceptor. A subclass gets its base's acceptor only when it inherits every
# method that decides what a value validates to (the project's documentation-only subclasses: SeedIdField,
# ZonedTimestampField, PayloadField); EmailField, RegexField, … keep theirs and add validators, which run.
_FAST = {
    serializers.CharField: _fast_char,
    serializers.IntegerField: _fast_integer,
    serializers.ChoiceField: _fast_choice,
    serializers.BooleanField: _fast_boolean,
    serializers.ListField: _fast_list,
    serializers.JSONField: _fast_json,
}
_DECIDING = (
    "run_validation",
    "validate_empty_values",
    "to_internal_value",
    "run_validators",
    "get_default",
    "run_child_validation",
)


def acceptor_kind(field):
    """The stock field class whose acceptor serves `field`, or None (then DRF validates it)."""
    return _acceptor_kind_of_class(type(field))


@functools.cache
def _acceptor_kind_of_class(cls):
    # Decided by the class alone (its methods), so once per class: every request's fields ask again.
    for base in cls.__mro__:
        if base in _FAST:
            if all(getattr(cls, name, None) is getattr(base, name, None) for name in _DECIDING):
                return base
            return None
    return None


def _speed_up(field):
    validators = field.validators
    if any(type(v) is ProhibitSurrogateCharactersValidator for v in validators):
        field.validators = [
            FastSurrogateValidator() if type(v) is ProhibitSurrogateCharactersValidator else v for v in validators
        ]
    kind = acceptor_kind(field)
    if kind is not None and not field.read_only:
        # The common case (a well-typed value that passes) in one call; anything else (missing, null,
        # blank, wrong type, out of bounds, a refusing validator) runs DRF's own validation, so every
        # error and every default is DRF's, word for word.
        fast = _FAST[kind](field, type(field).run_validation.__get__(field))
        if fast is not None:
            field.run_validation = fast


def speed_up_fields(fields):
    """Make `fields` (and list fields' children) cheap to validate, in place, with DRF's answers:
    the surrogate check in C, and acceptors: one call that takes a well-typed string, integer, choice,
    boolean, list or JSON value (and a missing or null one) exactly as DRF would, or hands it to DRF.
    Nested serializers speed up their own fields when they build them."""
    for field in fields.values():
        for one in (field, getattr(field, "child", None)):
            if one is not None and not isinstance(one, serializers.BaseSerializer):
                _speed_up(one)
    return fields


class StrictBodyMixin:
    """Refuses every body key the serializer does not take, naming each one and why.

    A key is server-owned when the kernel sets it (SERVER_OWNED), the serializer declares it read-only,
    or the subclass names it in `server_owned` (name -> why); any other key that is not a writable field
    is unknown. Silently dropping either would let a client believe the record holds what it sent
    (a typo such as "expected_curent" would skip a check). Both are one 400, one message per key.
    """

    # Extra server-owned names with the reason given to the client (e.g. an id the server mints).
    server_owned = {}

    def accepted_fields(self):
        """The keys a body may carry: the writable fields (override when the body is parsed by hand)."""
        return [name for name, field in self.fields.items() if not field.read_only]

    def get_fields(self):
        return speed_up_fields(super().get_fields())

    @property
    def _writable_fields(self):
        # DRF walks its field mapping (a Python-level Mapping) for every item it validates; the
        # writable fields are fixed once built, so list them once per serializer instance.
        cached = self.__dict__.get("_writable_field_list")
        if cached is None:
            cached = self._writable_field_list = tuple(field for field in self.fields.values() if not field.read_only)
        return cached

    def _accepted(self):
        # Once per serializer instance, not per item of an array: walking the field mapping for
        # every item cost more than validating most of its fields.
        cached = self.__dict__.get("_accepted_fields")
        if cached is None:
            accepted = list(self.accepted_fields())
            cached = self._accepted_fields = (accepted, frozenset(accepted))
        return cached

    def refused_fields(self, data):
        """{key: [why]} for each key of `data` this serializer refuses."""
        accepted, known = self._accepted()
        if known.issuperset(data):  # every key accepted (an array's usual item): one C call over the keys
            return {}
        refused = {}
        for key in data:
            if key in accepted:
                continue
            if key in self.server_owned:
                refused[key] = [self.server_owned[key]]
            elif key in SERVER_OWNED or (key in self.fields and self.fields[key].read_only):
                refused[key] = [SERVER_SET]
            else:
                refused[str(key)] = [f"Unknown field; this body takes {', '.join(accepted) or 'no fields'}."]
        return refused

    def refuse_fields(self, data):
        if isinstance(data, Mapping) and (refused := self.refused_fields(data)):
            raise serializers.ValidationError(refused)

    def to_internal_value(self, data):
        self.refuse_fields(data)
        return super().to_internal_value(data)


class StrictSerializer(StrictBodyMixin, serializers.Serializer):
    """A request body (or a nested object of one) that refuses unknown and server-owned keys."""


class LedgerBlockSerializer(serializers.Serializer):
    """The kernel's `ledger` block on every entry (read-only; documented as an object in OpenAPI)."""

    seq = serializers.IntegerField(read_only=True)
    recorded_at = serializers.CharField(read_only=True, help_text="trusted server time, ISO 8601 UTC")
    recorded_by = serializers.CharField(read_only=True, help_text="the principal that appended the entry")
    prev_entry_hash = serializers.CharField(read_only=True)
    entry_hash = serializers.CharField(read_only=True)


class LedgerListSerializer(serializers.ListSerializer):
    """An array of entries: validated item by item (then across items), appended atomically with one lock."""

    def to_internal_value(self, data):
        items = None
        if type(data) is list and len(data) > 1 and self.max_length is None and self.min_length is None:
            # Every item through the same field rules without DRF's per-item machinery; None when
            # any item might be refused, and then DRF's own path below answers, word for word.
            items = fast_batch.validate_items(self.child, data, parsed=self._is_parsed_body(data))
        if items is None:
            self._item_index = -1
            items = super().to_internal_value(data)
        problems = self.child.problems_across(items)
        if problems:
            # Keyed by index, as DRF reports failed items: the view names each one.
            raise serializers.ValidationError(dict(problems))
        return items

    def _is_parsed_body(self, data):
        # The request's own body as its JSON parser made it: only plain JSON types, which the compiled field
        # checks take as DRF takes them (a Python caller's str subclass is made str by DRF's str() call).
        request = self.context.get("request")
        return request is not None and getattr(request, "_full_data", None) is data

    def run_child_validation(self, data):
        # DRF validates the items in order, one call each: the count is the item's index.
        self._item_index += 1
        try:
            return super().run_child_validation(data)
        except NotFound as exc:
            # Still a 404 (tenancy never says 403, nor shows the other tenant), naming the item.
            raise NotFound(f"item {self._item_index}: {exc.detail}") from None

    def create(self, validated_data):
        return self.child.append_rows([self.child.to_append_fields(item) for item in validated_data])


_STOCK_INIT = serializers.ModelSerializer.__init__


class _FieldSets(threading.local):
    """Per thread: the request it serves (an id; None between requests) and, per ledger serializer class, the
    field set its last serializer used with the request that used it."""

    def __init__(self):
        self.request = None
        self.pool = {}


_field_sets = _FieldSets()
_request_ids = itertools.count(1)


def _request_started(environ=None, **kwargs):
    # WSGI only (Django's handler sends the environ): a WSGI thread serves one request at a time, answer
    # included. Under ASGI, requests interleave in one thread: no field set is shared there.
    if _field_sets.request is not None:
        # The thread's previous request has not finished (a streamed answer left unread, a request within a
        # request): its serializers may still use their sets, so none of them is handed on.
        _field_sets.pool.clear()
    _field_sets.request = next(_request_ids) if environ is not None else None


def _request_finished(**kwargs):
    # Detach the sets from the serializers that used them: between requests they keep no request, principal,
    # body or answer alive.
    for _request, fields in _field_sets.pool.values():
        _bind_set(fields, None)
    _field_sets.request = None


def _bind_set(fields, serializer):
    """Make a built field set `serializer`'s (None: nobody's): each field reads its context through this parent."""
    fields.serializer = serializer
    for field in fields.values():
        field.parent = serializer


def _once_per_class(serializer, name, derive):
    """derive() the first time a serializer of its class asks for `name`, what it gave afterwards (kept on the
    class itself, so a subclass derives its own)."""
    cls = type(serializer)
    value = cls.__dict__.get(name)
    if value is None:
        value = derive()
        setattr(cls, name, value)
    return value


def connect_field_set_reuse():
    """Mark request boundaries for LedgerSerializer.fields (called by the kernel's AppConfig.ready)."""
    request_started.connect(_request_started, dispatch_uid="ledger.serializers.request_started")
    request_finished.connect(_request_finished, dispatch_uid="ledger.serializers.request_finished")


class LedgerSerializer(StrictBodyMixin, serializers.ModelSerializer):
    """Base for every ledger's serializer.

    Subclasses list the seed's fields plus "ledger" in Meta.fields, and may override
    to_append_fields() to turn validated data into model fields. Creating appends.
    """

    ledger = LedgerBlockSerializer(source="ledger_block", read_only=True)

    class Meta:
        list_serializer_class = LedgerListSerializer

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Batches of every ledger serializer append atomically, whatever Meta the subclass declares.
        meta = cls.__dict__.get("Meta")
        if meta is not None and not hasattr(meta, "list_serializer_class"):
            meta.list_serializer_class = LedgerListSerializer

    @cached_property
    def fields(self):
        """DRF's bound field set, built once per class and thread and handed from one request to the next.

        Building it (a deep copy of the class's fields, each rebuilt from its constructor's arguments, then
        sped up) cost a sixth of a single append's worker time. A field set holds no state of the request
        that used it: every field reads the request, the principal and the context through its parent, at
        the time it needs them, and the parent is re-pointed to the new serializer here. So a set built in
        one request serves the next request of the same thread (a thread serves one request at a time, and
        its answer, streamed or not, is written before the next one starts), never two serializers of one
        request (the second builds its own) and never outside a request (tests, commands: built each time).
        Only a view's own serializer takes part (_serves_the_request), and a class that builds its fields its
        own way (get_fields or __init__ overridden) is not shared. When the request finishes the set lets go
        of the serializer that used it. Nothing may change a serializer's fields once built: do it in get_fields.
        """
        cls, request = type(self), _field_sets.request
        if (
            request is None
            or cls.get_fields is not LedgerSerializer.get_fields
            or cls.__init__ is not _STOCK_INIT
            or not self._serves_the_request()
        ):
            return serializers.Serializer.fields.func(self)
        pooled = _field_sets.pool.get(cls)
        if pooled is not None and pooled[0] != request:
            fields = pooled[1]
            _field_sets.pool[cls] = (request, fields)
            _bind_set(fields, self)
            return fields
        fields = serializers.Serializer.fields.func(self)
        if pooled is None:
            _field_sets.pool[cls] = (request, fields)
        return fields

    def _serves_the_request(self):
        """Whether this is a view's own serializer: the root (or a root list's item) with the request in its
        context. A serializer nested in another, a module-level one (a schema's) or one built without a request
        keeps its own fields: the shared set would otherwise be re-pointed away from it while it holds it."""
        parent = self.parent
        if parent is not None and not (isinstance(parent, serializers.ListSerializer) and parent.parent is None):
            return False
        return self.context.get("request") is not None

    def get_fields(self):
        # ModelSerializer rebuilds every field from the model on each instance (once per request);
        # it depends only on the class, so build it once per class and hand each instance a copy,
        # as DRF does for a plain Serializer's declared fields.
        fields = copy.deepcopy(_once_per_class(self, "_ledger_built_fields", super().get_fields))
        # A repeated natural key is not a 400: the append path answers 409 with the stored entry.
        # (Filtered on every copy: a field's deepcopy is rebuilt from its constructor arguments.)
        for field in fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
        return speed_up_fields(fields)

    def get_validators(self):
        # ModelSerializer derives these from the class's fields and its model's constraints, again for every
        # instance (once per request); they depend only on the class, so derive them once per class. DRF shares
        # validator instances between serializers itself (Meta.validators), so one list serves every instance.
        derive = super().get_validators
        return list(
            _once_per_class(
                self,
                "_ledger_validators",
                lambda: tuple(v for v in derive() if not isinstance(v, UniqueTogetherValidator)),
            )
        )

    # Where the client names the tenant in its JSON, for error messages (e.g. "event.tenant_id").
    tenant_path = "tenant_id"

    def validate(self, attrs):
        attrs = super().validate(attrs)
        field = self.Meta.model.tenant_field
        if field and "__" not in field:
            # The entry's own tenant column: the writer's tenant (a parent's tenant is inherited
            # from the parent, which the view found through visible_to()).
            tenant = writer_tenant(self.principal(), attrs.get(field), self.tenant_path)
            if tenant is not None or field in attrs:
                attrs[field] = tenant
        return attrs

    def principal(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def to_representation(self, instance):
        # DRF's answer, with plain columns and the ledger block read directly (fast_batch.representer):
        # a batch's answer, a list page and an export represent thousands of rows with one serializer.
        # Compiling that plan costs more than DRF's own walk of one row, so a serializer's first row
        # (the only one of a single append's answer or an entry's page) takes DRF's walk.
        represent = self.__dict__.get("_represent")
        if represent is None:
            if not self.__dict__.get("_represented_one"):
                self._represented_one = True
                return super().to_representation(instance)
            represent = self._represent = fast_batch.representer(self)
        return represent(instance)

    def datetime_text(self, value):
        """`value` as a DateTimeField writes it (ISO 8601 in the active time zone, read once per serializer):
        for a method field's time, which a list page writes for every row."""
        convert = self.__dict__.get("_datetime_text")
        if convert is None:
            convert = self._datetime_text = fast_batch.datetime_text()
        return convert(value)

    def to_append_fields(self, validated_data):
        """Model field values for the append path (override to reshape seed JSON into columns)."""
        return dict(validated_data)

    def problems_across(self, items):
        """(index, messages) for items refused only in the company of the others (e.g. a repeated key)."""
        return []

    def append_rows(self, rows):
        """Append model-field rows atomically, in order (override when the ledger appends through its manager)."""
        return self.Meta.model.objects.append_many(rows, recorded_by=self.principal())

    def create(self, validated_data):
        return self.Meta.model.objects.append(recorded_by=self.principal(), **self.to_append_fields(validated_data))

    def update(self, instance, validated_data):
        raise NotImplementedError("ledger entries are never updated")
