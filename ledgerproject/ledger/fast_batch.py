"""The fast path of arrays (issue #12, batches): the same checks and rows as DRF and full_clean, without their per-item machinery.

Every decision here is taken by the project's own rules, called directly: each serializer field's
`run_validation`, the serializer's `validate` (the tenant rule), each model field's validators and
`clean`, the model's `clean`, `validate_append` and `ledger_content`. What is left out is the
framework's per-item bookkeeping around them (DRF's run_validation/to_internal_value wrappers,
`Model.__init__`'s keyword walk, `full_clean`'s error collection). The fast path only ever accepts:
the first sign of a refusal (any exception, any value a field would change in a way not followed
here) sends the item — or, on the serializer side, the whole array — back to the framework's own
path, which then answers with its own words. `ledger/tests/test_fast_batch_equivalence.py` proves, for every
batch ledger of the registry, that both paths store byte-identical rows or both refuse.
"""

import datetime
import functools
import keyword
import math
import operator
import uuid

from django.core import validators as dj_validators
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models.base import ModelState
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from ledgerproject.ledger import hashing


class Refused(Exception):
    """The fast path does not vouch for this input: use the framework's path (which answers)."""


# --- serializer side: one array item ------------------------------------------------------------


def _stock(cls, name, *bases):
    """Whether `cls` takes method `name` from one of `bases` (not overridden below them)."""
    found = getattr(cls, name)
    return any(found is getattr(base, name) for base in bases)


# get_value implementations that, for a dict that is not HTML input and a serializer that is not partial,
# are dictionary.get(field_name, empty) (DRF's Field, JSONField, ListField and ListSerializer).
_PLAIN_GET_VALUE = (
    serializers.Field.get_value,
    serializers.JSONField.get_value,
    serializers.Serializer.get_value,
    serializers.ListField.get_value,
    serializers.ListSerializer.get_value,
)


def stock_list(field):
    """Whether `field` is a nested `many=True` serializer that validates its list as DRF's own ListSerializer
    does, item by item and nothing more (no validators, length bounds or validate of its own)."""
    return (
        type(field) is serializers.ListSerializer
        and not field.validators
        and field.max_length is None
        and field.min_length is None
        and _stock(type(field), "validate", serializers.ListSerializer)
    )


def _list_validator(field):
    """A lean run_validation of a nested `many=True` serializer field, or None when it is not stock."""
    if not stock_list(field):
        return None
    item = item_validator(field.child)
    if item is None:
        return None
    slow = field.run_validation
    allow_empty = field.allow_empty

    def run_validation(data=empty):
        if data is empty or data is None:
            return slow(data)  # missing or null: DRF's defaults and messages
        if type(data) is not list or (not data and not allow_empty):
            raise Refused
        return [item(one) for one in data]

    return run_validation


_DATETIME_METHODS = (
    "run_validation",
    "validate_empty_values",
    "to_internal_value",
    "to_representation",
    "run_validators",
    "get_default",
    "enforce_timezone",
    "default_timezone",
    "get_attribute",
)


def _stock_datetime(field):
    """Whether `field` validates and represents a datetime exactly as DRF's DateTimeField does."""
    cls = type(field)
    return isinstance(field, serializers.DateTimeField) and all(
        getattr(cls, name) is getattr(serializers.DateTimeField, name) for name in _DATETIME_METHODS
    )


# Distinct datetime texts remembered per array: a batch's timestamps repeat; a flood of distinct ones stops
# being remembered here and is parsed one by one.
_MEMO_SIZE = 1024


def _per_text(run):
    """A DateTimeField's run_validation remembered per distinct text within one array: DRF parses a text to
    the same datetime each time (for the same field and active time zone, which no field of an array changes
    while it is validated), and a datetime is immutable, so entries may share it. Refusals are not kept."""
    memo = {}

    def run_validation(data=empty):
        if type(data) is not str:
            return run(data)
        value = memo.get(data)
        if value is None:
            value = run(data)
            if value is not None and len(memo) < _MEMO_SIZE:
                memo[data] = value
        return value

    return run_validation


def _field_plan(child):
    """One step per writable field of `child`, as DRF's to_internal_value takes it: (name read from the item, or
    None for the field's own get_value; get_value; run_validation; validate_<name> method or None; key set
    directly, or None for set_value; source_attrs; whether a missing value is left out without a call)."""
    from ledgerproject.ledger.serializers import acceptor_kind

    cls = type(child)
    partial = getattr(child.root, "partial", False)
    plan = []
    for field in child._writable_fields:
        run = _list_validator(field) or field.run_validation
        if _stock_datetime(field) and not field.validators:
            run = _per_text(run)
        method = getattr(child, "validate_" + field.field_name, None)
        # A plain source is one key: set directly (what set_value does with one key).
        key = (
            field.source_attrs[0]
            if len(field.source_attrs) == 1 and _stock(cls, "set_value", serializers.Serializer)
            else None
        )
        # A JSON object is never HTML form input: the stock get_value is then item.get(name, empty).
        plain_get = type(field).get_value in _PLAIN_GET_VALUE and not partial
        # An optional field with no default, missing from the item: DRF's validate_empty_values calls
        # get_default(), which raises SkipField (the field is left out) — said here without the raise.
        skip_missing = (
            plain_get
            and acceptor_kind(field) is not None
            and not field.required
            and field.default is empty
            and not field.read_only
        )
        plan.append(
            (
                field.field_name if plain_get else None,
                field.get_value,
                run,
                method,
                key,
                field.source_attrs,
                skip_missing,
            )
        )
    return plan


# The compiled checks' placeholder for a field left to Python that the item did not send (compiled_checks).
NOT_SENT = object()


def _run_fields(plan, item, value, set_value):
    """value with each field of `plan` validated from `item` (DRF's order and rules; SkipField leaves one out).

    `item` may be `value` itself: the compiled checks pass the fields they leave to Python through under their
    keys, in their places, as sent or NOT_SENT (the plan then reads each by its key). Each is replaced by its
    validated value there, or taken away where the field is left out."""
    in_place = item is value
    for name, get_value, run, method, key, source_attrs, skip_missing in plan:
        data = item.get(name, empty) if name is not None else get_value(item)
        if data is NOT_SENT:
            data = empty
        if skip_missing and data is empty:
            if in_place:
                value.pop(name, None)
            continue
        try:
            validated = run(data)
        except SkipField:
            if in_place:
                value.pop(name, None)
            continue
        if method is not None:
            validated = method(validated)
        if key is not None:
            value[key] = validated
        else:
            set_value(value, source_attrs, validated)
    return value


def item_validator(child):
    """item → validated data as DRF's `child.run_validation(item)` returns it, raising Refused where
    DRF might refuse. None when the serializer's validation is not the stock shape this follows."""
    cls = type(child)
    from ledgerproject.ledger.serializers import StrictBodyMixin

    if not _stock(cls, "run_validation", serializers.Serializer):
        return None
    if not _stock(cls, "run_validators", serializers.Serializer):
        return None
    lean_fields = _stock(cls, "to_internal_value", StrictBodyMixin)
    set_value = child.set_value
    has_validators = bool(child.validators)
    # Serializer.validate returns its attrs as they are: not called when not overridden.
    validate = None if _stock(cls, "validate", serializers.Serializer) else child.validate
    if lean_fields:
        plan = _field_plan(child)
        # The stock refused_fields answers {} exactly when every key is an accepted one.
        known = child._accepted()[1] if _stock(cls, "refused_fields", StrictBodyMixin) else None
        refused_fields = child.refused_fields

    def validate_item(item):
        if type(item) is not dict:
            raise Refused
        if lean_fields:
            if known is not None:
                if not known.issuperset(item):
                    raise Refused
            elif refused_fields(item):
                raise Refused
            value = _run_fields(plan, item, {}, set_value)
        else:
            value = child.to_internal_value(item)
        return finish(value)

    def finish(value):
        if has_validators:
            child.run_validators(value)
        if validate is not None:
            value = validate(value)
            if value is None:
                raise Refused
        return value

    validate_item.finish = finish
    validate_item.plan = plan if lean_fields else None
    return validate_item


def _compiled_items(child, items, validate):
    """The validated data of every item with the field rules checked by one compiled validator
    (compiled_checks), the fields it leaves to Python and the serializer's own checks run per item; None
    when the validator does not take the array as it is (the per-item path then decides)."""
    from ledgerproject.ledger import compiled_checks

    found = compiled_checks.array_check(child)
    if found is None:
        return None
    spec, validator = found
    values = compiled_checks.validated(validator, items)
    if values is None:
        return None
    passed = {name for _key, name, field in spec if field is None}
    if passed:
        # Each read by its key (where the validator left it): (key, …, key, …) steps.
        plan = [(step[4], *step[1:]) for step in validate.plan if step[0] in passed]
        set_value = child.set_value
        for value in values:
            _run_fields(plan, value, value, set_value)
    finish = validate.finish
    return [finish(value) for value in values]


def validate_items(child, items, parsed=False):
    """The validated data of every item, or None when the fast path does not vouch for all of them
    (then DRF's own path validates the array and names every refusal). `parsed`: the items are the request's
    parsed JSON (plain dicts, lists, str, int, float, bool and None, never a subclass), which one compiled
    validator checks first (compiled_checks)."""
    validate = item_validator(child)
    if validate is None:
        return None
    if parsed:
        try:
            values = _compiled_items(child, items, validate)
        except Exception:  # noqa: BLE001 - any refusal: the per-item path below decides
            values = None
        if values is not None:
            return values
    try:
        return [validate(item) for item in items]
    except Exception:  # noqa: BLE001 - any refusal, in whatever form: DRF's path answers it
        return None


# --- model side: one entry ----------------------------------------------------------------------

_TEXT = (models.CharField, models.TextField)
_INTEGER = (
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveIntegerField,
    models.SmallIntegerField,
    models.PositiveSmallIntegerField,
)


def _field_check(field):
    """value → whether `field.clean(value, entry)` returns `value` itself without raising, answered
    from the field's own validators (compared inline when they are the plain kinds); None for a
    field whose clean() is called as it is."""
    kind = type(field)
    if kind is models.JSONField:
        return _json_field_check(field)
    if kind in _TEXT:
        wanted = str
    elif kind in _INTEGER:
        wanted = int
    elif kind is models.BooleanField:
        wanted = bool
    elif kind is models.DateTimeField:
        wanted = datetime.datetime  # to_python returns a datetime as it is
    else:
        return None
    if kind.clean is not models.Field.clean or kind.validate is not models.Field.validate:
        return None
    low, high, longest, others = None, None, None, []
    nul = False
    for validator in field.validators:
        limit = getattr(validator, "limit_value", None)
        if type(validator) is dj_validators.MaxLengthValidator and type(limit) is int:
            longest = limit if longest is None else min(longest, limit)
        elif type(validator) is dj_validators.MaxValueValidator and type(limit) is int:
            high = limit if high is None else min(high, limit)
        elif type(validator) is dj_validators.MinValueValidator and type(limit) is int:
            low = limit if low is None else max(low, limit)
        elif type(validator) is dj_validators.ProhibitNullCharactersValidator:
            nul = True
        else:
            others.append(validator)
    choices = {value for value, _label in field.flatchoices} if field.choices else None
    blank, editable = field.blank, field.editable
    # The empty values a `wanted` value can equal: of Django's (None, "", [], (), {}) only "" for text, none for
    # numbers, booleans and times, so most columns skip the comparisons. Any other kind of empty value is kept.
    empties = tuple(
        empty
        for empty in field.empty_values
        if isinstance(empty, wanted) or type(empty) not in (type(None), str, list, tuple, dict)
    )
    refuse_empty = editable and not blank and bool(empties)

    def check(value):
        if type(value) is not wanted:
            return False
        if editable and choices is not None and value not in choices:
            return False
        if refuse_empty and value in empties:
            return False
        if longest is not None and len(value) > longest:
            return False
        if high is not None and value > high:
            return False
        if low is not None and value < low:
            return False
        if nul and "\x00" in value:
            return False
        for validator in others:
            validator(value)
        return True

    return check


def _json_field_check(field):
    """value → whether a JSONField's clean(value) returns `value` without raising: a plain JSON tree
    (json.dumps takes it: JSONField.validate's own test), not empty unless blank, its validators passing."""
    if field.encoder is not None or field.choices:
        return None
    blank, editable, empty_values, validators = field.blank, field.editable, field.empty_values, field.validators

    def check(value):
        if value is None or not plain_json(value):
            return False
        if editable and not blank and value in empty_values:
            return False
        if value not in empty_values:
            for validator in validators:
                validator(value)
        return True

    return check


# Deeper than this, JSON values are left to the framework (whose json.dumps hits the recursion limit at some depth).
_JSON_DEPTH = 100


def plain_json(value, depth=0):
    """Whether json.dumps(value) surely succeeds, DRF's (no NaN) included: plain dicts with str keys,
    lists, str, bool, None, finite floats and ints of up to 64 bits (json.dumps refuses ints past 4300
    digits), nested at most _JSON_DEPTH deep."""
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        members = value.values()
    elif kind is list:
        members = value
    elif kind is str or kind is bool or value is None:
        return True
    elif kind is int:
        return -(2**64) <= value <= 2**64
    elif kind is float:
        return math.isfinite(value)
    else:
        return False
    if depth >= _JSON_DEPTH:
        return False
    for member in members:  # the common scalars inline, the rest one level down
        kind = type(member)
        if kind is str or kind is bool or member is None:
            continue
        if kind is int:
            if -(2**64) <= member <= 2**64:
                continue
            return False
        if not plain_json(member, depth + 1):
            return False
    return True


_PER_CALL = object()  # a default computed by each get_default() call


def _constant_default(field):
    """field.get_default() when every call returns the same value, else _PER_CALL."""
    kind = type(field)
    # A foreign key without a default (every ledger's recorded_by) answers as Django's own method does: None. With one,
    # it reads the key of a model instance default, which may change: asked per call.
    plain_key = kind.get_default is models.ForeignKey.get_default and not field.has_default()
    if (kind.get_default is not models.Field.get_default and not plain_key) or (
        kind._get_default is not models.Field._get_default
    ):
        return _PER_CALL
    if field.has_db_default() or (field.has_default() and callable(field.default)):
        return _PER_CALL
    return field.get_default()


class RowPlan:
    """One ledger model's fast construction, field checks, content and COPY values, built once per model."""

    def __init__(self, model):
        meta = model._meta
        self.model = model
        concrete = [field for field in meta.concrete_fields if not getattr(field, "generated", False)]
        # Model(**fields) with only these: every value lands in __dict__ through no descriptor.
        self.plain = {
            field.name
            for field in concrete
            if not field.is_relation and type(model.__dict__.get(field.attname)) is DeferredAttribute
        }
        self.relations = {field.name: field for field in concrete if field.is_relation}
        # A field's default, when get_default() returns the same value on every call (no default: None or
        # ""; a default that is not callable: that object itself, as Django hands it out): read once.
        self.defaults = [(field.attname, field.name, field, _constant_default(field)) for field in concrete]
        # The same split for build()'s path of plain columns: attname → constant default, and the fields whose
        # default is made per call, in field order.
        self.constant_defaults = {
            attname: default for attname, _name, _field, default in self.defaults if default is not _PER_CALL
        }
        self.per_call_defaults = [
            (attname, field) for attname, _name, field, default in self.defaults if default is _PER_CALL
        ]
        self.can_build = (
            type(model).__call__ is type.__call__  # no metaclass wrapping construction
            and model.__init__ is models.Model.__init__
            and not pre_init.has_listeners(model)
            and not post_init.has_listeners(model)
            and len(concrete) == len(meta.concrete_fields)
        )
        self.checks = [(field.name, field.attname, field, _field_check(field)) for field in meta.fields]
        self._checks_for = {}
        self.stock_clean = model.clean is models.Model.clean
        from ledgerproject.ledger.models.entries import LedgerEntry

        self.stock_content = model.ledger_content is LedgerEntry.ledger_content
        self.content_attnames = [field.attname for field in model.content_fields()]

    def build(self, fields):
        """Model(**fields), built without Model.__init__'s keyword walk when the fields allow it."""
        if not self.can_build:
            return self.model(**fields)
        plain, relations = self.plain, self.relations
        if plain.issuperset(fields):
            # Plain columns only (an array's usual item): their names are their attnames, so the constant
            # defaults, then the given values, then the defaults computed per call for what is missing, land in
            # __dict__ as the loop below would put them (in two C calls for most columns).
            entry = self.model.__new__(self.model)
            entry._state = ModelState()
            values = entry.__dict__
            values.update(self.constant_defaults)
            values.update(fields)
            for attname, field in self.per_call_defaults:
                if attname not in fields:
                    values[attname] = field.get_default()
            return entry
        related = []
        for name, value in fields.items():
            if name in plain:
                continue
            field = relations.get(name)
            if field is None or not isinstance(value, field.related_model):
                return self.model(**fields)  # an attname, a property, an unknown key: Django decides
            related.append((name, value))
        entry = self.model.__new__(self.model)
        entry._state = ModelState()
        values = entry.__dict__
        for attname, name, field, default in self.defaults:
            if attname in fields:
                values[attname] = fields[attname]
            elif name not in fields:
                values[attname] = field.get_default() if default is _PER_CALL else default
        for name, value in related:
            setattr(entry, name, value)  # the descriptor sets the id and caches the object, as __init__ does
        return entry

    def clean(self, entry, exclude):
        """entry.full_clean(exclude, validate_unique=False, validate_constraints=False), answered by
        the same field rules; the first value a field would refuse or change runs full_clean itself."""
        values = entry.__dict__
        cleaned = []
        key = exclude if type(exclude) is tuple else frozenset(exclude)
        checks = self._checks_for.get(key)
        if checks is None:
            # The fields full_clean would look at, with what it reads of each, listed once per exclusion
            # (a batch has one or two: with or without its pending counters).
            checks = [
                (attname, field, check, field.empty_values if field.blank else ())
                for name, attname, field, check in self.checks
                if name not in exclude
            ]
            if len(self._checks_for) < 64:
                self._checks_for[key] = checks
        try:
            for attname, field, check, skipped in checks:
                raw = values[attname]
                if skipped and raw in skipped:
                    continue  # full_clean skips a blank field holding an empty value
                if check is not None:
                    if not check(raw):
                        raise Refused
                else:
                    cleaned.append((attname, field.clean(raw, entry)))
            if not self.stock_clean:
                raise Refused
        except (Refused, DjangoValidationError, KeyError):
            entry.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
            return
        for attname, value in cleaned:
            values[attname] = value

    def content(self, entry):
        """entry.ledger_content(), reading the columns once listed."""
        if not self.stock_content:
            return entry.ledger_content()
        jsonable, values, content = hashing.jsonable, entry.__dict__, {}
        for attname in self.content_attnames:
            value = values[attname]
            kind = type(value)
            # What jsonable() returns as it is, without the call; a JSON column's list or object too: its only
            # reader is canonical_json(), which writes a value and jsonable() of it alike (it falls back to
            # jsonable() itself for anything but plain JSON), so the copy jsonable() would walk and make is spared.
            plain = kind is str or kind is int or value is None or kind is list or kind is dict
            content[attname] = value if plain else jsonable(value)
        return self.model.hashable_content(content)


def row_plan(model):
    plan = model.__dict__.get("_ledger_row_plan")
    if plan is None:
        plan = RowPlan(model)
        model._ledger_row_plan = plan
    return plan


def attribute_getter(attnames):
    """entry → tuple of its attributes `attnames` (one C call)."""
    if len(attnames) == 1:
        get = operator.attrgetter(attnames[0])
        return lambda entry: (get(entry),)
    return operator.attrgetter(*attnames)


# --- serializer side: the answer's rows ---------------------------------------------------------


def _identity_types(field):
    """The value types whose representation by `field` is the value itself (None: any type; () none),
    read from the field's own to_representation, which must be DRF's stock one for its class."""
    rep = type(field).to_representation
    if rep is serializers.CharField.to_representation:
        return (str,)  # str(value)
    if rep is serializers.IntegerField.to_representation:
        return (int,)  # int(value)
    if rep is serializers.BooleanField.to_representation:
        return (bool,)  # True/False stay as they are
    if rep is serializers.JSONField.to_representation and not field.binary:
        return None  # the value as it is
    return ()


# A nested serializer reading the object it is part of (source="*"): represented from the same object.
SAME_OBJECT = object()


def remember_last(convert, kinds):
    """convert(value), remembering the answer for the last value whose exact type is one of `kinds` (immutable
    types: datetime, UUID, None): rows often share one such object (a batch's run, its recorded_at, its events'
    claimed time), and the same object gives the same answer. Kept by identity, so two equal values (the two
    instants of a wall time the clock turns back over) are each converted. The pair is replaced in one
    assignment, so a reader never sees one value with another's answer."""
    last = (object(), None)

    def remembered(value):
        nonlocal last
        if type(value) not in kinds:
            return convert(value)
        seen = last
        if value is seen[0]:
            return seen[1]
        answer = convert(value)
        last = (value, answer)
        return answer

    return remembered


def _converter(field):
    """value → the field's representation, for the value types where it is a plain conversion (a stock
    DateTimeField writing ISO 8601 in a time zone read once, a stock UUIDField's hex_verbose text, a stock
    ChoiceField's choice for a text), with the types it takes; (None, ()) for any other field."""
    from rest_framework.settings import api_settings

    if _stock_datetime(field):
        output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
        if output_format is None or output_format.lower() != "iso-8601":
            return None, ()
        # What enforce_timezone() reads per value: the field's zone, else the active one (one request's).
        zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
        if zone is None:
            return None, ()
        astimezone = datetime.datetime.astimezone

        def iso(value):
            if type(value) is not datetime.datetime or value.tzinfo is None:
                return field.to_representation(value)  # text, naive (DRF makes it aware or refuses it), …
            try:
                text = astimezone(value, zone).isoformat()
            except OverflowError:
                return field.to_representation(value)  # DRF's own refusal
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return remember_last(iso, (datetime.datetime,)), (datetime.datetime,)
    if type(field).to_representation is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return remember_last(str, (uuid.UUID,)), (uuid.UUID,)
    if type(field).to_representation is serializers.ChoiceField.to_representation:
        # DRF: "" as it is, else the choice whose text the value is (the value itself when none is).
        choices = field.choice_strings_to_values
        return (lambda value: choices.get(value, value)), (str,)
    return None, ()


def datetime_text():
    """value → its representation by a stock DateTimeField (ISO 8601 in the zone active now, read once);
    the field's own to_representation where the settings ask for another format or no time zone."""
    field = serializers.DateTimeField()
    return _converter(field)[0] or field.to_representation


def _stock_method_field(field):
    cls = type(field)
    return (
        isinstance(field, serializers.SerializerMethodField)
        and cls.to_representation is serializers.SerializerMethodField.to_representation
        and cls.get_attribute is serializers.Field.get_attribute
        and field.source == "*"
    )


def _stock_nested(field):
    cls = type(field)
    return (
        isinstance(field, serializers.Serializer)
        and cls.get_attribute is serializers.Field.get_attribute
        and cls.to_representation is serializers.Serializer.to_representation
    )


def representer(serializer):
    """instance → DRF's `Serializer.to_representation(serializer, instance)`, with each plain field (one
    source attribute, DRF's stock get_attribute, a value whose representation is itself) read directly,
    a nested plain serializer (the ledger block, a related row, one reading the same object) likewise, a
    stock SerializerMethodField's method called directly and a stock date-time or UUID field's value
    converted directly; every other field, and every value of another type, goes through the field's own
    get_attribute and to_representation. A mapping is represented by DRF itself."""
    from collections.abc import Mapping

    from rest_framework.fields import get_attribute  # noqa: F401 (what Field.get_attribute calls)
    from rest_framework.relations import PKOnlyObject

    def compile_fields(owner):
        plan = []
        for field in owner._readable_fields:
            if _stock_method_field(field):
                # DRF: get_attribute(instance) is the instance (source "*"), then parent.get_<name>(instance).
                plan.append((field.field_name, field, None, (), None, None, getattr(owner, field.method_name)))
                continue
            if _stock_nested(field) and field.source == "*":
                plan.append((field.field_name, field, None, (), compile_fields(field), None, SAME_OBJECT))
                continue
            simple = (
                len(field.source_attrs) == 1
                and type(field).get_attribute is serializers.Field.get_attribute
                and not isinstance(field, serializers.BaseSerializer)
            )
            nested = compile_fields(field) if len(field.source_attrs) == 1 and _stock_nested(field) else None
            types = _identity_types(field) if simple else ()
            convert = _converter(field) if simple else (None, ())
            if convert[0] is None:
                convert = None
            plan.append(
                (field.field_name, field, field.source_attrs[0] if field.source_attrs else None, types, nested, convert)
                + (None,)
            )
        return plan

    plan = compile_fields(serializer)

    def slow_field(field, instance):
        try:
            attribute = field.get_attribute(instance)
        except SkipField:
            return empty
        check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        if check_for_none is None:
            return None
        return field.to_representation(attribute)

    represent_object = _straight_line(plan, slow_field)

    objects = set()  # the row types found not to be mappings (a model, a plain row): the ABC check once per type

    def represent_instance(instance):
        kind = type(instance)
        if kind not in objects:
            if isinstance(instance, Mapping):
                return serializers.Serializer.to_representation(serializer, instance)
            objects.add(kind)
        return represent_object(instance)

    return represent_instance


def _straight_line(plan, slow_field, mapping=False):
    """instance → its representation by a compiled plan, as one generated function of a few lines per field (as
    dataclasses and attrs write their methods): the plan's choices are made once, here, not for every field of
    every row. A field reads its attribute (a key when `mapping`: a nested serializer's dict value, such as the
    ledger block); None stays None; a value of a type the field writes as it is is taken, one it converts
    plainly is converted; a nested plain serializer's value goes to its own function; every other value, a
    missing or callable one included, goes through the field's own get_attribute and to_representation."""
    from collections.abc import Mapping

    namespace = {"empty": empty, "Mapping": Mapping, "slow_field": slow_field}
    lines = ["def represent(instance):", "    ret = {}"]

    def slow(index, indent):
        return [
            f"{indent}value = slow_field(field_{index}, instance)",
            f"{indent}if value is not empty:",
            f"{indent}    ret[key_{index}] = value",
        ]

    for index, (name, field, attr, types, nested, convert, special) in enumerate(plan):
        namespace[f"key_{index}"], namespace[f"field_{index}"] = name, field
        if special is SAME_OBJECT:
            namespace[f"same_{index}"] = _straight_line(nested, slow_field, mapping)
            lines.append(f"    ret[key_{index}] = same_{index}(instance)")
            continue
        if special is not None:
            namespace[f"method_{index}"] = special
            lines.append(f"    ret[key_{index}] = method_{index}(instance)")
            continue
        if types == () and nested is None and convert is None:
            lines += slow(index, "    ")
            continue
        namespace[f"attr_{index}"] = attr
        if mapping:
            read = f"instance[attr_{index}]"
        elif attr.isidentifier() and not keyword.iskeyword(attr):
            read = f"instance.{attr}"
        else:
            read = f"getattr(instance, attr_{index})"
        lines += [
            "    try:",
            f"        value = {read}",
            "    except Exception:  # missing, related, …: the field's own path decides",
            "        value = empty",
            "    if value is None:",
            f"        ret[key_{index}] = None",
        ]
        # A value of a type the field writes as it is, or converts plainly (exact str, int, bool, datetime, UUID),
        # is neither callable nor `empty`: those tests come first, the callable check (DRF calls a callable) after.
        if types:
            namespace[f"types_{index}"] = frozenset(types)
            lines += [f"    elif type(value) in types_{index}:", f"        ret[key_{index}] = value"]
        if convert is not None:
            namespace[f"convert_{index}"], namespace[f"convertible_{index}"] = convert[0], frozenset(convert[1])
            lines += [
                f"    elif type(value) in convertible_{index}:",
                f"        ret[key_{index}] = convert_{index}(value)",
            ]
        lines += ["    elif value is empty or callable(value):", *slow(index, "        ")]
        if nested is not None:
            namespace[f"nested_{index}"] = _straight_line(nested, slow_field)
            namespace[f"nested_mapping_{index}"] = _straight_line(nested, slow_field, mapping=True)
            lines += [
                "    elif type(value) is dict or isinstance(value, Mapping):",
                f"        ret[key_{index}] = nested_mapping_{index}(value)",
                "    else:",
                f"        ret[key_{index}] = nested_{index}(value)",
            ]
            continue
        if types is None:
            lines += ["    else:", f"        ret[key_{index}] = value"]
            continue
        lines += ["    else:", *slow(index, "        ")]
    lines.append("    return ret")
    exec(_compiled("\n".join(lines)), namespace)  # noqa: S102 - text built here
    return namespace["represent"]


@functools.lru_cache(maxsize=512)
def _compiled(source):
    # The text depends only on the plan's shape (its values are in the namespace), and compiling it costs far more
    # than a list page's rows gain: one compilation per shape, for every later serializer of every request.
    return compile(source, "<ledger representation>", "exec")
