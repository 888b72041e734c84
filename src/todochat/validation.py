"""One rule for what a client may send, shared by every schema on every surface (REST, chat,
MCP): text every backend stores as given, numbers in range, booleans and numbers of their own
JSON types, portable JSON; and the conversion of validation failures to `Invalid`."""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeGuard, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    FiniteFloat,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    StrictInt,
    StringConstraints,
    ValidationError,
    WrapValidator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema
from typing_extensions import TypeAliasType

from todochat.errors import FieldError, Invalid, echoable, field_name

MAX_JSON_CHARS = 65_536
# Task, conversation and message numbers are PostgreSQL integers.
MAX_NUMBER = 2**31 - 1
# A user's id is the subject of their tokens (a Better Auth user id, say): part of every key.
MAX_USER_ID_CHARS = 255
USER_ID_RULE = f"must be 1-{MAX_USER_ID_CHARS} characters without NUL"
# What the OpenAPI document says text may hold. A pattern cannot name lone surrogates (valid
# UTF-8 holds none, and regex engines refuse them), so the document's description does; and
# whitespace is Python's (str.isspace), spelled out, since engines disagree on what \s means.
_SPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = r"^[^\u0000]*$"
VISIBLE_TEXT_PATTERN = rf"^[^\u0000]*[^\u0000{_SPACE}][^\u0000]*$"
_SURROGATE = re.compile("[\ud800-\udfff]")
# For the OpenAPI document: what every route (and every MCP tool) refuses with 422.
INPUT_RULES = (
    "Text anywhere (titles, descriptions, tags, messages, metadata keys and values, query"
    " parameters) must not contain NUL or a lone UTF-16 surrogate (a JSON escape such as"
    " `\\ud800` without its pair); a path or query string must be UTF-8 once percent-decoded."
    f" Task, conversation and message numbers are integers from 1 to {MAX_NUMBER}. Numbers and"
    ' booleans must be JSON numbers and booleans: no `true` for 1, no `"yes"` for true.'
    " Anything else is refused with 422, naming the field."
)


def text_rule(text: str) -> str | None:
    """The rule `text` breaks, if any: PostgreSQL stores neither NUL nor lone UTF-16 surrogates
    (JSON can carry both, e.g. "\\ud800"), and SQLite would store the latter altered."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if not text.isascii() and _SURROGATE.search(text):
        return "must not contain lone UTF-16 surrogates"
    return None


@dataclass(frozen=True)
class StrictText:
    """Refuses text that `text_rule` refuses (and, if `visible`, blank text) before any other
    check, with a pattern in the JSON schema that says so."""

    visible: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Run the check before the wrapped type's own validation."""
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The wrapped type's schema with the pattern text must match."""
        json_schema = handler(schema)
        json_schema["pattern"] = VISIBLE_TEXT_PATTERN if self.visible else TEXT_PATTERN
        return json_schema

    def _check(self, value: object) -> object:
        if isinstance(value, str):
            rule = text_rule(value)
            if rule is None and self.visible and not value.strip():
                rule = "must not be blank"
            if rule is not None:
                raise PydanticCustomError("text", rule)
        return value


def never_null(schema: dict[str, Any]) -> None:
    """The JSON schema of a field that may be left out but not sent as null."""
    schema.pop("default", None)
    match branches := schema.pop("anyOf", None):
        case [dict() as only, {"type": "null"}]:
            schema.update(only)
        case _:
            raise TypeError(f"expected the schema of a type `X | None`, not {branches}")


Text = Annotated[str, StrictText()]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_USER_ID_CHARS), StrictText()]


def is_user_id(value: object) -> TypeGuard[str]:
    """Whether `value` can be a user's id: text of 1 to `MAX_USER_ID_CHARS` characters, no NUL."""
    return isinstance(value, str) and 0 < len(value) <= MAX_USER_ID_CHARS and "\x00" not in value


def _json_integer(value: object) -> object:
    # JSON Schema counts 1.0 as an integer (a number with no fraction); true and "1" are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A task or conversation number in JSON: an integer in range, never `true` or "3".
StrictNumber = Annotated[
    Annotated[StrictInt, Field(ge=1, le=MAX_NUMBER)], BeforeValidator(_json_integer)
]


def _json_errors(value: object, location: tuple[str | int, ...] = ()) -> Iterator[InitErrorDetails]:
    if isinstance(value, str):
        if rule := text_rule(value):
            yield {"type": PydanticCustomError("text", rule), "loc": location, "input": value}
    elif isinstance(value, float) and not math.isfinite(value):
        yield {"type": "finite_number", "loc": location, "input": value}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_errors(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if rule := text_rule(key):
                key_error = PydanticCustomError("text", rule)
                yield {"type": key_error, "loc": (*location, echoable(key), "[key]"), "input": key}
            yield from _json_errors(item, (*location, echoable(key)))


def _portable_json(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
    # PostgreSQL's JSONB refuses NaN, infinities, NUL and lone surrogates: refuse them on every
    # backend alike, each where it stands.
    value = validate(value)
    errors = list(_json_errors(value))
    if errors:
        raise ValidationError.from_exception_data("JSON", errors)
    if len(json.dumps(value)) > MAX_JSON_CHARS:
        raise ValueError(f"must encode to at most {MAX_JSON_CHARS} characters of JSON")
    return value


def storable(value: object, field: str) -> None:
    """Raise `Invalid` naming `field` unless every backend can store `value` as JSON (any size)."""
    errors = list(_json_errors(value, (field,)))
    if errors:
        raise invalid(ValidationError.from_exception_data("JSON", errors))


if TYPE_CHECKING:
    _JsonObject = dict[str, JsonValue]
else:
    # What the OpenAPI document says such JSON may hold: a recursive type mypy need not follow.
    # (Pydantic writes the key pattern as `patternProperties`; with no other properties
    # allowed, keys must match it.)
    _JsonText = Annotated[str, Field(json_schema_extra={"pattern": TEXT_PATTERN})]
    _KEYS_MATCH = Field(json_schema_extra={"additionalProperties": False})
    StoredJson = TypeAliasType(
        "StoredJson",
        Annotated[dict[_JsonText, "StoredJson"], _KEYS_MATCH]
        | list["StoredJson"]
        | _JsonText
        | int
        | FiniteFloat
        | bool
        | None,
    )
    _JsonObject = Annotated[dict[_JsonText, StoredJson], _KEYS_MATCH]

JsonObject = Annotated[
    dict[str, JsonValue], WrapValidator(_portable_json, json_schema_input_type=_JsonObject)
]
JsonList = Annotated[
    list[dict[str, JsonValue]],
    WrapValidator(_portable_json, json_schema_input_type=list[_JsonObject]),
]

Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: object) -> Model:
    """Validate `data` as `model`, raising `Invalid` that names each field and the rule it broke."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error) from None


def invalid(error: ValidationError) -> Invalid:
    """The `Invalid` equivalent of a pydantic validation error."""
    return Invalid(
        *(
            FieldError(field_name(item["loc"]) or "input", echoable(item["msg"]))
            for item in error.errors()
        )
    )
