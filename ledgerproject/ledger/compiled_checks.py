"""An array's field checks compiled into one pydantic-core validator (issue #12): the acceptors' rules for all items in one call.

`serializers.speed_up_fields` gives each stock field an acceptor: a Python call that takes a well-typed value
exactly as DRF would, or hands it to DRF. Here the same rules are written once per serializer shape as a
pydantic-core schema (compiled to Rust) that takes an item only where every acceptor would take its value and
give it back unchanged: a string DRF would neither trim nor refuse, an integer within its bounds, a choice that
is its own value, a boolean, a list of such values, a nested array of such objects, a missing
value the field fills with its default or leaves out. The validator's output is then DRF's validated data for
those fields: keys in the serializer's order, defaults filled, nested objects and lists rebuilt.

It only ever accepts. Whatever it does not take (a wrong type, a blank, a string to be trimmed, a number out of
bounds, an unknown key, NUL or a lone surrogate) fails the whole array here, and the Python acceptors then
validate it, each refusal named by DRF's own path. Fields it cannot express (a date-time to parse, a field with
its own validators or method, a custom class) are passed through untouched and validated in Python per item.
`ledger/tests/test_compiled_checks.py` holds it to the acceptors value by value.
"""

import functools
import math

from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs
from rest_framework import serializers
from rest_framework.fields import empty

from ledgerproject.ledger import fast_batch
from ledgerproject.ledger.serializers import StrictBodyMixin, acceptor_kind, bounds_and_others

# The characters str.strip() removes (str.isspace()), which pydantic-core's own stripping (Unicode White_Space)
# does not match exactly: a trimmed field refuses a value that starts or ends with one of them.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = "".join(f"\\x{{{ord(char):x}}}" for char in PYTHON_WHITESPACE)

# The bounds the integer acceptor (and fast_batch.plain_json) keeps to; larger numbers go to DRF.
_INT_BOUND = 2**64

_IMMUTABLE_DEFAULTS = (str, int, float, bool, type(None))

# What the validator's output holds for a field left to Python that the item did not send.
NOT_SENT = fast_batch.NOT_SENT


def field_spec(field):
    """A hashable description of what `field`'s acceptor takes unchanged, or None when it cannot be compiled.
    `field` is one of object_spec()'s: writable, its source one key."""
    if getattr(field.root, "partial", False):
        return None
    default = _default_spec(field)
    if default is None:
        return None
    if isinstance(field, serializers.ListSerializer):
        value = _nested_spec(field)
    else:
        kind = acceptor_kind(field)
        if kind is None or "run_validation" not in field.__dict__:
            return None  # DRF's own validation (no acceptor): not followed here
        value = _value_spec(field, kind)
    if value is None:
        return None
    return (value, field.required, default, field.allow_null)


def _default_spec(field):
    """("none",), ("value", type, v) or ("factory", f) for a missing optional value, as DRF's get_default() gives it
    (a constant's type is part of the spec: 1, 1.0 and True are equal keys of the validators' cache)."""
    if field.required:
        return ("none",)
    default = field.default
    if default is empty:
        return ("none",)  # SkipField: the key is left out
    if callable(default):
        if getattr(default, "requires_context", False):
            return None
        return ("factory", default)
    if type(default) in _IMMUTABLE_DEFAULTS and not (type(default) is float and not math.isfinite(default)):
        return ("value", type(default), default)
    return None  # a mutable default object is handed out as it is: left to Python


def _value_spec(field, kind):
    if kind is serializers.CharField:
        split = bounds_and_others(field.validators)
        if split is None or split[2]:
            return None
        low, high, _others = split
        if low is not None and low > 0 and field.allow_blank:
            return None  # "" is taken, a short non-blank value refused: one bound cannot say it
        return ("text", low if not field.allow_blank else None, high, field.allow_blank, field.trim_whitespace)
    if kind is serializers.IntegerField:
        split = bounds_and_others(field.validators)
        if split is None or split[2]:
            return None
        low, high, _others = split
        return ("integer", -_INT_BOUND if low is None else low, _INT_BOUND if high is None else high)
    if field.validators:
        return None
    if kind is serializers.ChoiceField:
        # A text choice whose value is that text: DRF gives back choices[text], the same string.
        same = sorted(
            text
            for text, value in field.choice_strings_to_values.items()
            if type(text) is str and text and type(value) is str and value == text
        )
        return ("choice", tuple(same)) if same else None
    if kind is serializers.BooleanField:
        return ("boolean",)
    if kind is serializers.ListField:
        child = field.child
        child_kind = acceptor_kind(child)
        if child_kind is None or "run_validation" not in child.__dict__:
            return None
        item = _value_spec(child, child_kind)
        if item is None or child.allow_null:
            return None
        return ("list", item, field.allow_empty)
    # A JSONField is left to its Python acceptor: a JSON tree as a union of schemas costs more in pydantic-core
    # (a failed attempt per member, and a copy of the tree) than fast_batch.plain_json's walk of it.
    return None


def _nested_spec(field):
    """A nested array of plain objects (DRF's stock ListSerializer of a stock strict serializer), or None."""
    if not fast_batch.stock_list(field):
        return None
    fields = object_spec(field.child)
    return None if fields is None else ("objects", fields, field.allow_empty)


def object_spec(child, top=False):
    """((output key, input name, field spec or None), …) describing an item of an array of `child`, or None when
    `child` is not a stock strict serializer whose items a schema can describe.

    A nested object must be wholly described: no field left out, no validate, validators or validate_<name>
    method of its own. At the top (`top`) the serializer's validate and validators run in Python after the
    schema (fast_batch), and a field the schema cannot say, or one with a validate_<name> method, is left to
    Python: its spec is None, and its value passes through the schema as sent (NOT_SENT when it was not),
    under its key and in its place, where fast_batch validates it."""
    cls = type(child)
    if not isinstance(child, StrictBodyMixin):
        return None
    stock = [("to_internal_value", StrictBodyMixin), ("refused_fields", StrictBodyMixin)]
    stock.append(("set_value", serializers.Serializer))
    if not top:
        stock += [("run_validation", serializers.Serializer), ("run_validators", serializers.Serializer)]
        stock.append(("validate", serializers.Serializer))
    if not all(fast_batch._stock(cls, name, base) for name, base in stock):
        return None
    if not top and child.validators:
        return None
    writable = list(child._writable_fields)
    if set(child._accepted()[1]) != {field.field_name for field in writable}:
        return None  # the body's keys are decided otherwise than by the writable fields
    specs, keys = [], set()
    for field in writable:
        if type(field).get_value not in fast_batch._PLAIN_GET_VALUE or len(field.source_attrs) != 1:
            return None  # a dotted source or "*" sets keys of its own (set_value): not followed
        method = getattr(child, "validate_" + field.field_name, None)
        spec = None if method is not None else field_spec(field)
        if spec is None and not top:
            return None
        key = field.source_attrs[0]
        if key in keys:
            return None  # two fields landing on one key: not followed
        keys.add(key)
        specs.append((key, field.field_name, spec))
    if all(spec is None for _key, _name, spec in specs):
        return None
    return tuple(specs)


# --- specs → pydantic-core schemas ----------------------------------------------------------------


def _text_schema(low, high, allow_blank, trim):
    # A pattern on every string: matching it makes pydantic-core read the text as UTF-8, which fails on a lone
    # surrogate (DRF's surrogate check), and the class excludes NUL (DRF's null-character check).
    if trim:
        body = f"[^\\x00{_WS}](?:[^\\x00]*[^\\x00{_WS}])?"
        pattern = f"^(?:{body})?$" if allow_blank else f"^{body}$"
    else:
        pattern = "^[^\\x00]*$" if allow_blank else "^[^\\x00]+$"
    return cs.str_schema(strict=True, pattern=pattern, min_length=low, max_length=high)


def _value_schema(spec):
    kind = spec[0]
    if kind == "text":
        return _text_schema(*spec[1:])
    if kind == "integer":
        return cs.int_schema(strict=True, ge=spec[1], le=spec[2])
    if kind == "choice":
        return cs.literal_schema(list(spec[1]))
    if kind == "boolean":
        return cs.bool_schema(strict=True)
    if kind == "list":
        return cs.list_schema(_value_schema(spec[1]), strict=True, min_length=None if spec[2] else 1)
    if kind == "objects":
        return cs.list_schema(_object_schema(spec[1]), strict=True, min_length=None if spec[2] else 1)
    raise ValueError(f"unknown field spec {spec!r}")


def _field_schema(spec):
    value, required, default, allow_null = spec
    schema = _value_schema(value)
    if allow_null:
        schema = cs.nullable_schema(schema, strict=True)  # DRF: None for a field that allows null
    if default[0] == "value":
        schema = cs.with_default_schema(schema, default=default[2])
    elif default[0] == "factory":
        schema = cs.with_default_schema(schema, default_factory=default[1])
    return cs.typed_dict_field(schema, required=required)


def _object_schema(specs):
    fields = {}
    for key, name, spec in specs:
        if spec is None:
            # Left to Python: the value as sent, or NOT_SENT, under the field's key and in its place (the keys of
            # DRF's validated data are in field order, defaults included).
            field = cs.typed_dict_field(cs.with_default_schema(cs.any_schema(), default=NOT_SENT), required=False)
        else:
            field = _field_schema(spec)
        if name != key:
            field["validation_alias"] = name
        fields[key] = field
    return cs.typed_dict_schema(fields, extra_behavior="forbid", strict=True)


@functools.lru_cache(maxsize=64)
def array_validator(spec):
    """The compiled validator of an array of items described by `spec` (object_spec's shape), made once."""
    schema = cs.list_schema(_object_schema(spec), strict=True)
    return SchemaValidator(schema)


def array_check(child):
    """(object spec, its compiled validator) for arrays of `child`, or None when no field can be compiled.

    Derived from the serializer's field set and class alone, so kept on the field set: a view's serializer is
    handed the same set request after request (LedgerSerializer.fields), and deriving the spec (some 30–50 µs)
    would otherwise cost a small array more than it saves."""
    fields = child.fields
    # What else the spec read: the class, partial, and the keys the body may carry (accepted_fields() may
    # depend on the context), compared for every serializer.
    derived_from = (type(child), bool(getattr(child.root, "partial", False)), child._accepted()[1])
    kept = fields.__dict__.get("_ledger_array_check")
    if kept is not None and kept[0] == derived_from:
        return kept[1]
    spec = object_spec(child, top=True)
    found = None if spec is None else (spec, array_validator(spec))
    fields._ledger_array_check = (derived_from, found)
    return found


def validated(validator, items):
    """The items' validated data for the compiled fields (the others passed through as sent), or None when the
    validator does not take every item (then the Python acceptors decide)."""
    try:
        return validator.validate_python(items)
    except ValidationError:
        return None
