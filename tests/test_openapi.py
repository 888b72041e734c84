"""A schemathesis run against /openapi.json: every check, on the application in process.

Input the document calls valid must be accepted, input it calls invalid refused with a 4xx, every
answer must be one the document describes, and nothing may be a server error. Bounded: a few
dozen examples for each operation.
"""

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import schemathesis
import schemathesis.engine
from schemathesis import Case
from schemathesis.auths import AuthContext
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.python.asgi import shutdown_lifespans

from tests.conftest import bearer, settings
from todochat.app import create_app

CURSOR = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|1").decode()


def failures(recorder: ScenarioRecorder) -> Iterator[str]:
    """Each failed check in `recorder`, with the request that made it fail."""
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status is Status.SUCCESS:
                continue
            case = recorder.cases[case_id].value
            detail = check.failure_info.failure.title if check.failure_info else "error"
            yield f"{check.name} on {case.operation.label}: {detail}\n  {case.as_curl_command()}"


def successes(recorder: ScenarioRecorder) -> Iterator[str]:
    """The operations that answered a request in `recorder` with a success."""
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is not None and interaction.response.status_code < 300:
            yield recorder.cases[case_id].value.operation.label


STATEFUL_ONLY = "DELETE /api/{user_id}/conversations/{conversation_id}/messages/{seq}"


def test_schemathesis_finds_no_broken_promise_in_the_openapi_document(database_url: str) -> None:
    # One user writes far past any per-user budget: no limits here.
    application = create_app(settings(database_url, rate_limit_writes="", rate_limit_chat=""))
    config = SchemathesisConfig.from_dict(
        {
            # A cursor is opaque: only `next_cursor` gives valid ones, so every page is asked
            # for from this (valid) position rather than from made-up strings.
            "parameters": {"query.cursor": CURSOR},
            "generation": {"max-examples": 25},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", application, config=config)

    @schema.auth(refresh_interval=None)
    class TokenForThePathsUser:
        """A valid token for whichever user the generated path names."""

        def get(self, case: Case[Any], _: AuthContext) -> str:
            return str((case.path_parameters or {}).get("user_id", "nobody"))

        def set(self, case: Case[Any], user_id: str, _: AuthContext) -> None:
            case.headers.update(bearer(user_id))
            # A key names one request: generated keys repeat across different requests, which
            # is refused by design (422), so each request that sends one gets its own.
            if "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = uuid.uuid4().hex

    found: list[str] = []
    succeeded: set[str] = set()
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                found.extend(failures(event.recorder))
                succeeded.update(successes(event.recorder))
            elif isinstance(event, events.NonFatalError):
                found.append(str(event.value))
            elif isinstance(event, events.FatalError):
                found.append(str(event.exception))
    finally:
        shutdown_lifespans()
    assert found == [], "\n".join(found)
    # Not a run of refusals only: every operation was also carried out, but one that needs a
    # state no generated request reaches (a person's own message at a number the generator
    # guesses); tests/conversations/test_archive_and_edits.py tests that one directly.
    operations = application.openapi()["paths"].items()
    every = {f"{method.upper()} {path}" for path, item in operations for method in item}
    assert succeeded >= every - {STATEFUL_ONLY}
