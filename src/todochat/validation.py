"""Field types shared by the schemas, and the conversion of validation failures to `Invalid`."""

import json
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, JsonValue, ValidationError

from todochat.errors import FieldError, Invalid

MAX_JSON_CHARS = 65_536
# Task, conversation and message numbers are 32-bit integers in the database.
MAX_NUMBER = 2**31 - 1


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def storable_json(value: Any) -> str:
    """`value` as JSON, if every backend can store it; PostgreSQL's JSONB refuses NaN and NUL."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("must be valid JSON (no NaN or infinity)") from None
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    return encoded


def portable_json(value: Any) -> Any:
    """`value` if every backend can store it as JSON, in at most `MAX_JSON_CHARS` characters."""
    encoded = storable_json(value)
    if len(encoded) > MAX_JSON_CHARS:
        raise ValueError(f"must encode to at most {MAX_JSON_CHARS} characters of JSON")
    return value


NoNul = AfterValidator(_no_nul)
JsonObject = Annotated[dict[str, JsonValue], AfterValidator(portable_json)]
JsonList = Annotated[list[dict[str, JsonValue]], AfterValidator(portable_json)]

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
            FieldError(".".join(str(part) for part in item["loc"]) or "input", item["msg"])
            for item in error.errors()
        )
    )
