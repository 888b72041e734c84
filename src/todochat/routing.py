"""Routes that answer a valid request by a plan made once, not by FastAPI's general machinery.

FastAPI handles each request through layers made for every kind of route (form bodies,
generator dependencies, background tasks, response models, telemetry): measured in process,
a route that does nothing took 100 µs of CPU, of which 72 µs went to those layers; the same
token check and the same query model validated in a plain Starlette route took 28 µs. A
`PlannedRoute` works out, when it is made, where each value its endpoint (and its
dependencies) takes comes from and which of FastAPI's own validators checks it. A request
whose values all validate is answered by that plan: the same validators, so the same values.
Everything else goes FastAPI's way: a route the plan does not cover, a value that does not
validate (so that every error is FastAPI's own), and any request while dependency overrides
are set or OpenTelemetry traces FastAPI. FastAPI still declares the route, for the OpenAPI
document.
"""

import inspect
from collections.abc import Awaitable, Callable
from copy import deepcopy
from typing import Any

from fastapi import params
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A value that reads the request, or raises `_Unplanned` for FastAPI's way.
Reader = Callable[[Request], Awaitable[Any]]
_JSON = "application/json"


class _Unplanned(Exception):
    """The request is not the plan's to answer: FastAPI's way answers it."""


class PlannedRoute(APIRoute):
    """An `APIRoute` whose valid requests are answered by a plan made once (see above)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.planned = _returns_response(endpoint) and _plannable(self)
        if self.planned:
            reads_body = bool(self.dependant.body_params)
            self.app = _planned_app(_Call(self.dependant), self.app, reads_body=reads_body)


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    annotation = inspect.signature(endpoint).return_annotation
    return inspect.isclass(annotation) and issubclass(annotation, Response)


def _plannable(route: APIRoute) -> bool:
    body = route.dependant.body_params
    single_body = not body or (
        len(body) == 1
        and not route._embed_body_fields  # as FastAPI reads the body: not under its name
        and type(body[0].field_info) is params.Body
    )
    calls = _calls(route.dependant)
    # FastAPI calls a dependency that appears twice once: the plan would call it twice.
    unique = len(calls) == len(set(calls))
    return single_body and unique and _plannable_call(route.dependant, top=True)


def _calls(dependant: Dependant) -> list[Any]:
    return [dependant.call, *(call for sub in dependant.dependencies for call in _calls(sub))]


def _plannable_call(dependant: Dependant, *, top: bool = False) -> bool:
    return (
        dependant.call is not None
        and inspect.iscoroutinefunction(dependant.call)
        and not (dependant.header_params or dependant.cookie_params)
        and (top or not dependant.body_params)
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
        and all(_plain(field) for field in dependant.path_params + dependant.query_params)
        and all(_plannable_call(sub) for sub in dependant.dependencies)
    )


def _plain(field: Any) -> bool:
    """A parameter read by its own name, one value, or a query model of such fields."""
    if field.field_info.validation_alias is not None:
        return False
    model = _query_model(field)
    if model is None:
        return not field_annotation_is_sequence(field.field_info.annotation)
    return all(
        f.validation_alias is None and not field_annotation_is_sequence(f.annotation)
        for f in model.model_fields.values()
    )


def _query_model(field: Any) -> type[BaseModel] | None:
    annotation = field.field_info.annotation
    query = isinstance(field.field_info, params.Query) and inspect.isclass(annotation)
    return annotation if query and issubclass(annotation, BaseModel) else None


class _Call:
    """A dependant's call, planned: every value it and its dependencies take is read and
    validated first; only then are the dependencies called, then it (as FastAPI does)."""

    def __init__(self, dependant: Dependant) -> None:
        assert dependant.call is not None
        self._call = dependant.call
        self._reads: list[tuple[str, Reader]] = [
            *((field.name, _path_reader(field)) for field in dependant.path_params),
            *((field.name, _query_reader(field)) for field in dependant.query_params),
            *((field.name, _body_reader(field)) for field in dependant.body_params),
        ]
        self._request_name = dependant.request_param_name
        # A dependency with no name (a route's `dependencies=`) runs for its effect alone.
        self._dependencies = [(sub.name, _Call(sub)) for sub in dependant.dependencies]

    async def bound(self, request: Request) -> Callable[[], Awaitable[Any]]:
        """The call with the request's values; raises `_Unplanned` for FastAPI's way."""
        values = {name: await read(request) for name, read in self._reads}
        if self._request_name is not None:
            values[self._request_name] = request
        dependencies = [(name, await sub.bound(request)) for name, sub in self._dependencies]

        async def call() -> Any:
            for name, dependency in dependencies:
                value = await dependency()
                if name is not None:
                    values[name] = value
            return await self._call(**values)

        return call


def _validated(field: Any, value: Any) -> Any:
    """`value` as FastAPI's validator of `field` makes it."""
    validated, errors = field.validate(value, {}, loc=())
    if errors:
        raise _Unplanned
    return validated


def _absent(field: Any) -> Any:
    if field.field_info.is_required() or field.field_info.validate_default:
        raise _Unplanned
    return deepcopy(field.default)


def _path_reader(field: Any) -> Reader:
    async def read(request: Request) -> Any:
        return _validated(field, request.path_params[field.alias])

    return read


def _query_reader(field: Any) -> Reader:
    model = _query_model(field)
    if model is None:

        async def read(request: Request) -> Any:
            value = request.query_params.get(field.alias)
            return _absent(field) if value is None else _validated(field, value)

        return read
    names = {f.alias or name for name, f in model.model_fields.items()}

    async def read_model(request: Request) -> Any:
        given = request.query_params
        if not names.issuperset(given.keys()):
            raise _Unplanned  # FastAPI hands unknown names to the model: its error, if any
        return _validated(field, {name: given[name] for name in given})

    return read_model


def _body_reader(field: Any) -> Reader:
    async def read(request: Request) -> Any:
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != _JSON or not await request.body():  # the body: read by the planned app
            raise _Unplanned
        try:
            body = await request.json()
        except Exception as error:  # not JSON, or nested past the parser: FastAPI says so
            raise _Unplanned from error
        return _validated(field, body)

    return read


def _planned_app(plan: _Call, fastapi_way: ASGIApp, *, reads_body: bool) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        if request.app.dependency_overrides or get_telemetry_data() is not None:
            await fastapi_way(scope, receive, send)  # as overridden; or traced, by FastAPI
            return
        # Read here, so that FastAPI's way gets it again if it answers after all.
        body = await request.body() if reads_body else None
        try:
            call = await plan.bound(request)
        except _Unplanned:
            again = receive if body is None else replaying(body, receive)
            await fastapi_way(scope, again, send)
            return
        response: Response = await call()
        await response(scope, receive, send)

    return app


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body`, already read from `receive`, then `receive`'s messages."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
