"""JSON payloads as pydantic models: a strict base, the shared leaf types, and errors as {dotted path: [messages]}.

Apps declare the shape of the JSON they store (an experience event's data, a task output's event)
as models on `Payload`; `validate_payload` answers the normalized JSON (defaults filled in, optional
fields as null) or raises `PayloadError` whose `errors` name every bad field by its dotted path
("event.data.proposal.confidence"), the shape the API's 400 `detail` has always used.
"""

import functools
import math
import types
import typing
from typing import Annotated, Literal, Union

from annotated_types import Ge, Le
from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    RootModel,
    StringConstraints,
    Tag,
    ValidationError,
)
from pydantic.json_schema import GenerateJsonSchema, WithJsonSchema
from rest_framework import serializers
from typing_extensions import TypeAliasType

from ledgerproject.ledger.validators import MAX_JSON_INT, SHA256_PATTERN, sha256_problem

NUL_PROBLEM = "must not contain NUL (\\u0000) characters"
NUMBER_PROBLEM = f"numbers must lie within ±{MAX_JSON_INT}; send larger values as strings"


class PayloadError(Exception):
    """One or more invalid fields; `errors` maps a dotted path to its messages."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))


class Payload(BaseModel):
    """A JSON object of a stored payload: no coercion ("1" is not 1), and unknown fields are refused,
    because an audit ledger never silently drops or reinterprets what a client sent."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=False, use_attribute_docstrings=False)


def type_name(value):
    """The JSON name of a value's type, for "expected …, got …" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# --- leaf types ----------------------------------------------------------------------------------


def _no_nul(value):
    if "\x00" in value:
        raise ValueError(NUL_PROBLEM)
    return value


def _integral(value):
    # serde reads 3.0 as the integer 3; so did the hand-written validation this replaces.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


class _ProblemAt(ValueError):
    """A problem found inside a JSON value, with its path below the field (for the error's path)."""

    def __init__(self, parts, message):
        self.parts = parts
        super().__init__(message)


def _check_json(value):
    """serde_json::Value: any JSON, without NUL (PostgreSQL cannot store it) or inexact numbers."""
    if _plain_json(value):
        return value
    return _check_json_at(value)  # names where the problem is


def _plain_json(value):
    """Whether `value` holds no NUL in its texts and no number beyond ±MAX_JSON_INT: the walk of _check_json_at
    without the path of every member, which only a refusal needs."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                return False
        elif kind is int or kind is float:
            if abs(item) > MAX_JSON_INT:
                return False
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            try:
                if "\x00" in "".join(item):  # every key at once
                    return False
            except TypeError:  # a key that is not text: the walk with paths answers as it always did
                return False
            stack.extend(item.values())
    return True


def _check_json_at(value):
    """_check_json's walk with each member's path, raising at the first problem."""
    stack = [((), value)]
    while stack:
        parts, item = stack.pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                raise _ProblemAt(parts, NUL_PROBLEM)
        elif kind is int or kind is float:
            if abs(item) > MAX_JSON_INT:
                raise _ProblemAt(parts, NUMBER_PROBLEM)
        elif kind is list:
            stack.extend(((*parts, index), member) for index, member in enumerate(item))
        elif kind is dict:
            for key, member in item.items():
                if "\x00" in key:
                    raise _ProblemAt(parts, f"keys {NUL_PROBLEM}")
                stack.append(((*parts, key), member))
    return value


# Checked in pydantic-core (Rust) rather than by a Python call per string: most of a payload is strings.
# A pattern's message is the one registered here; the schema shows the rule only where it is a client's concern.
PATTERN_PROBLEMS = {}
_NO_NUL = "^[^\x00]*$"
PATTERN_PROBLEMS[_NO_NUL] = NUL_PROBLEM


def Text(pattern=_NO_NUL, problem=None, min_length=None, max_length=None, schema=None):  # noqa: N802
    """A string checked by `pattern` (NUL refused by default), whose mismatch reads `problem`."""
    if problem is not None:
        PATTERN_PROBLEMS[pattern] = problem
    documented = schema if schema is not None else {"type": "string"}
    constraints = StringConstraints(pattern=pattern, min_length=min_length, max_length=max_length)
    return Annotated[str, constraints, WithJsonSchema(documented)]


Str = Text()
NonEmptyStr = Text(min_length=1, schema={"type": "string", "minLength": 1})
Json = Annotated[typing.Any, AfterValidator(_check_json), WithJsonSchema({})]


def UInt(maximum=MAX_JSON_INT):  # noqa: N802 - a type factory reads like a type
    """u64/usize/u32 within JSON's exact range (the ledger hashes RFC 8785 JSON)."""
    return Annotated[int, Ge(0), Le(maximum), BeforeValidator(_integral)]


def Number(minimum=None, maximum=None):  # noqa: N802
    """f32/f64: an integer or a float as sent (1 stays 1), finite and within ±(2**53-1)."""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _TypeProblem("a number", value)
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if abs(value) > MAX_JSON_INT:
            raise ValueError(NUMBER_PROBLEM)
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum} (got {value})")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum} (got {value})")
        return value

    schema = {"type": "number"}
    schema["minimum"] = -MAX_JSON_INT if minimum is None else minimum
    schema["maximum"] = MAX_JSON_INT if maximum is None else maximum
    return Annotated[int | float, PlainValidator(check), WithJsonSchema(schema)]


class _TypeProblem(ValueError):
    def __init__(self, expected, value):
        super().__init__(f"expected {expected}, got {type_name(value)}")


def Enum(name, *variants):  # noqa: N802
    """A serde unit-variant enum (its Rust variant names as strings), named in messages and in OpenAPI."""
    return TypeAliasType(name, Literal[variants])


def variants(enum):
    """The variant names of an Enum made above."""
    return typing.get_args(_unwrap(enum))


# --- errors ------------------------------------------------------------------------------------


def validate_payload(model, value, path=""):
    """`value` as `model` normalized to JSON (by alias, defaults filled in), or PayloadError."""
    try:
        # pydantic-core directly: model_validate/model_dump add a Python layer that costs more than
        # the validation of a small payload.
        return model.__pydantic_serializer__.to_python(
            model.__pydantic_validator__.validate_python(value), by_alias=True
        )
    except ValidationError as exc:
        raise PayloadError(errors_by_path(model, exc, path)) from None


def errors_by_path(root, exc, path=""):
    """{dotted path: [messages]} for a pydantic ValidationError raised validating `root`."""
    errors = {}
    for error in exc.errors(include_url=False):
        parts, leaf, parent = _walk(root, tuple(error["loc"]))
        parts = list(parts)
        discriminator = (error.get("ctx") or {}).get("discriminator", "")
        if error["type"] in ("union_tag_not_found", "union_tag_invalid") and discriminator.startswith("'"):
            parts.append(discriminator.strip("'"))  # the tag field is what is missing or wrong
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, _ProblemAt):
            parts.extend(problem.parts)
        field_path = ".".join([path] * bool(path) + [str(p) for p in parts]) or "non_field_errors"
        errors.setdefault(field_path, []).append(_message(error, leaf, parent))
    return errors


def _unwrap(annotation):
    while True:
        if isinstance(annotation, type) and issubclass(annotation, RootModel):
            field = annotation.model_fields["root"]
            annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif isinstance(annotation, TypeAliasType):
            annotation = annotation.__value__
        elif typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _is_union(annotation):
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _members(annotation):
    """(tag, member) of each union member: its Tag, or the literal of its discriminator field."""
    for member in typing.get_args(annotation):
        if member is type(None):
            continue
        tags = [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
        inner = _unwrap(member)
        if not tags and isinstance(inner, type) and issubclass(inner, BaseModel):
            for field in inner.model_fields.values():
                if typing.get_origin(field.annotation) is Literal and len(typing.get_args(field.annotation)) == 1:
                    tags = list(typing.get_args(field.annotation))
                    break
        for tag in tags:
            yield tag, member


@functools.lru_cache(maxsize=4096)
def _walk(root, loc):
    """The loc without pydantic's union tags and key markers, the type at its end, and its model."""
    parts, annotation, parent = [], root, None
    loc = list(loc)
    for index, part in enumerate(loc):
        if part == "[key]":
            continue
        annotation = _unwrap(annotation)
        if _is_union(annotation):
            chosen = dict(_members(annotation)).get(part)
            if chosen is not None:
                annotation = chosen
                continue
            non_null = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(non_null) == 1:
                annotation = _unwrap(non_null[0])
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            parent = annotation
            field = next((f for n, f in annotation.model_fields.items() if (f.alias or n) == part), None)
            annotation = field.annotation if field else None
        elif typing.get_origin(annotation) in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) is dict:
            key_type, value_type = typing.get_args(annotation)
            is_key = index + 1 < len(loc) and loc[index + 1] == "[key]"
            annotation = key_type if is_key else value_type
        else:
            annotation = None
        parts.append(part)
    return tuple(parts), annotation, parent


def _enum_of(annotation):
    """(name, variants) when `annotation` is a named Enum (or a bare Literal), else None."""
    name = annotation.__name__ if isinstance(annotation, TypeAliasType) else None
    inner = _unwrap(annotation)
    if typing.get_origin(inner) is Literal:
        return name, typing.get_args(inner)
    return None


TYPE_NAMES = {
    "string_type": "a string",
    "bool_type": "a boolean",
    "int_type": "an integer",
    "float_type": "a number",
    "list_type": "an array",
    "dict_type": "an object",
}


def _message(error, leaf, parent):
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        known = ", ".join(sorted(f.alias or n for n, f in parent.model_fields.items())) if parent else ""
        return f"unknown field of {parent.__name__}; expected {known}" if parent else "unknown field"
    if kind in ("model_type", "model_attributes_type"):
        return f"expected an object ({ctx.get('class_name', '')}), got {type_name(value)}".replace(" ()", "")
    if kind == "union_tag_not_found":
        return f"this field is required ({ctx.get('expected_tags', '')})".replace(" ()", "")
    if kind == "union_tag_invalid":
        return f"unknown variant {ctx.get('tag')!r}; expected {ctx.get('expected_tags', '')}"
    if kind == "literal_error":
        name, variants = _enum_of(leaf) if leaf is not None and _enum_of(leaf) else (None, ())
        expected = ", ".join(variants) if variants else ctx.get("expected", "")
        if not isinstance(value, str):
            return f"expected {name or 'one of'} ({expected}), got {type_name(value)}"
        return f"unknown {name or 'value'} {value!r}; expected one of {expected}"
    if kind in TYPE_NAMES:
        return f"expected {TYPE_NAMES[kind]}, got {type_name(value)}"
    if kind == "greater_than_equal":
        if ctx.get("ge") == 0:
            return f"must not be negative (got {value})"
        return f"must be at least {ctx['ge']} (got {value})"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']} (got {value})"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters (got {len(value)})"
    if kind == "string_pattern_mismatch":
        return PATTERN_PROBLEMS.get(ctx.get("pattern"), error["msg"])
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


# --- the API side: a serializer field whose OpenAPI schema is the payload's model -----------------


class PayloadField(serializers.JSONField):
    """A JSON field of a serializer documented as `model` in OpenAPI (validation stays on the append path).

    The field takes and gives JSON as JSONField does; the model's rules are enforced where every
    writer passes (the entry's validate_append), and shown here so a client sees them.
    """

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)


class PayloadFieldExtension(OpenApiSerializerFieldExtension):
    """drf-spectacular: a PayloadField is a $ref to its pydantic model's component."""

    target_class = PayloadField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        component = auto_schema.resolve_serializer(self.target.model, direction)
        return component.ref


class OpenApi30JsonSchema(GenerateJsonSchema):
    """pydantic writes JSON Schema 2020-12; the published schema is OpenAPI 3.0, which spells
    "or null" as `nullable: true`, a single value as a one-element `enum`, and has no propertyNames."""

    def nullable_schema(self, schema):
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}

    def dict_schema(self, schema):
        # OpenAPI 3.0 has no propertyNames; an x- extension keeps the key rule visible.
        result = super().dict_schema(schema)
        if "propertyNames" in result:
            result["x-propertyNames"] = result.pop("propertyNames")
        return result

    def literal_schema(self, schema):
        result = super().literal_schema(schema)
        if "const" in result:
            result["enum"] = [result.pop("const")]
        return result


class PayloadModelExtension(PydanticExtension):
    """drf-spectacular's pydantic support, writing OpenAPI 3.0 (see OpenApi30JsonSchema)."""

    priority = 1

    def map_serializer(self, auto_schema, direction):
        schema = self.target.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization", schema_generator=OpenApi30JsonSchema
        )
        for name, sub_schema in schema.pop("$defs", {}).items():
            component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub_schema)
            auto_schema.registry.register_on_missing(component)
        return schema


@extend_schema_field({"type": "string", "pattern": SHA256_PATTERN})
class Sha256Field(serializers.CharField):
    """A SHA-256 digest in a request body: either case in, lowercase out (validators.py's one rule)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = sha256_problem(value)
        if problem:
            raise serializers.ValidationError(f"{problem}.")
        return value.lower()
