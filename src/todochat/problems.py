"""One error shape for every HTTP answer that is not a success, and the mapping to it."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from todochat.errors import (
    AuthUnavailable,
    Conflict,
    DatabaseUnavailable,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    TodochatError,
    TurnFailed,
    TurnInProgress,
    Unauthenticated,
    echoable,
    field_name,
)

log = logging.getLogger("todochat.http")
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


class ErrorField(BaseModel):
    """One rule one field of the request broke."""

    field: str
    rule: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
    fields: list[ErrorField] = []


@dataclass(frozen=True)
class Problem:
    """An error as HTTP answers it: status, body and headers."""

    status: int
    body: ErrorBody
    headers: Mapping[str, str] | None = None

    def response(self) -> JSONResponse:
        """The error response."""
        return JSONResponse(self.body.model_dump(), status_code=self.status, headers=self.headers)


def _problem(
    status: int,
    error: str,
    detail: str,
    fields: tuple[FieldError, ...] = (),
    headers: Mapping[str, str] | None = None,
) -> Problem:
    fields_ = [ErrorField(field=f.field, rule=f.rule) for f in fields]
    return Problem(status, ErrorBody(error=error, detail=detail, fields=fields_), headers)


# How HTTP answers each error it knows: the status and the body's `error` code. The body's
# detail is the error's message and its `fields` the error's; Retry-After is the error's.
ANSWERS: dict[type[TodochatError], tuple[int, str]] = {
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    TurnInProgress: (409, "turn_in_progress"),
    Invalid: (422, "invalid"),
    RateLimited: (429, "rate_limited"),
    TurnFailed: (502, "assistant_unavailable"),
    AuthUnavailable: (503, "auth_unavailable"),
    DatabaseUnavailable: (503, "database_unavailable"),
}


def _answer(error: TodochatError) -> tuple[int, str] | None:
    return next((ANSWERS[kind] for kind in type(error).__mro__ if kind in ANSWERS), None)


def _request_field(location: tuple[Any, ...]) -> str:
    # FastAPI prefixes where the value came from ("body", "query", "path"); the name is the rest.
    return field_name(location[1:] or location) or "body"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    401: {"model": ErrorBody, "description": "Missing, malformed or unverifiable bearer token"},
    403: {"model": ErrorBody, "description": "The token belongs to another user than the path"},
    404: {"model": ErrorBody, "description": "No such object for this user"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    429: {"model": ErrorBody, "description": "Too many writes or chat turns; see Retry-After"},
    503: {
        "model": ErrorBody,
        "description": "The database, or the token's signing keys, cannot be reached now;"
        " see Retry-After",
    },
    422: {"model": ErrorBody, "description": "Invalid input; `fields` names each rule broken"},
}


def problem_of(error: Exception) -> Problem:
    """How HTTP answers `error`; anything unforeseen is a 500 that tells nothing of it."""
    if not isinstance(error, TodochatError) or (answer := _answer(error)) is None:
        return _problem(500, "internal", "the server failed; the request id names it in the logs")
    status, code = answer
    detail = str(error)
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthenticated):
        # RFC 6750: a challenge names no error code when no credentials were sent.
        if error.token_given:
            detail = f"invalid bearer token: {detail}"
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        else:
            detail = f"missing bearer token: {detail}"
            headers["WWW-Authenticate"] = "Bearer"
    return _problem(status, code, detail, error.fields, headers or None)


def problem(
    status: int,
    error: str,
    detail: str,
    fields: tuple[FieldError, ...] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response in the one shape."""
    return _problem(status, error, detail, fields, headers).response()


def allowed_methods(request: Request) -> str:
    """Every method the routes at the request's path serve, as a 405's `Allow` header lists them.

    (Starlette names only the methods of the first route whose path matched.)
    """
    return ", ".join(
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    )


def install(app: FastAPI) -> None:
    """Map every error a request can meet to the one shape."""

    @app.exception_handler(TodochatError)
    async def _known(request: Request, error: TodochatError) -> JSONResponse:
        if _answer(error) is None:  # raised on purpose, but not meant to reach a client
            log.error("unanswered error on %s %s", request.method, request.url.path, exc_info=error)
        return problem_of(error).response()

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = tuple(
            FieldError(_request_field(tuple(item["loc"])), echoable(item["msg"]))
            for item in error.errors()
        )
        return problem(422, "invalid", "; ".join(map(str, fields)), fields)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        code = HTTPStatus(error.status_code).phrase.lower().replace(" ", "_")
        headers = error.headers
        if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem(error.status_code, code, str(error.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_of(error).response()
