"""JSON answers encoded straight from the views stores read, in their public schema's shape.

A route that declares a response model has FastAPI validate what it returns against it, then
serialise it: for a page of 50 rows that costs more than reading them. Where a route holds
views the database produced (typed columns, nothing a client sent), it encodes them here with
orjson, field for field as the public schema names and orders them, and declares the schema
for the OpenAPI document only.
"""

from collections.abc import Iterable
from typing import Any

import orjson
import pydantic_core
from fastapi import Response
from pydantic import BaseModel

# UTC times end in Z, as pydantic writes them.
_OPTIONS = orjson.OPT_UTC_Z


class Public:
    """How a view becomes a `model` object: each field read from the view's attribute."""

    def __init__(self, model: type[BaseModel]) -> None:
        self._fields = tuple(
            (name, field.validation_alias if isinstance(field.validation_alias, str) else name)
            for name, field in model.model_fields.items()
        )

    def of(self, view: Any) -> dict[str, Any]:
        """The view as its public object."""
        return {name: getattr(view, source) for name, source in self._fields}

    def all(self, views: Iterable[Any]) -> list[dict[str, Any]]:
        """Each view as its public object."""
        return [self.of(view) for view in views]


def json_response(content: Any, status_code: int = 200) -> Response:
    """`content` as a JSON answer, encoded as FastAPI's serialiser would encode it."""
    try:
        body = orjson.dumps(content, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Beyond orjson: integers past 64 bits, which JSON columns may hold.
        body = pydantic_core.to_json(content)
    return Response(body, status_code, media_type="application/json")
