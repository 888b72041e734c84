"""ChatKit turns against a model that fails or thinks long: errors ChatKit shows, retries."""

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import ApiUser, until
from tests.integrations.chatkit_protocol import ask, done, said, serving, stream, text
from todochat.bench.model_server import Behaviour, ModelServer


@pytest.fixture
def model() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


def configured(model: ModelServer) -> dict[str, object]:
    return {
        "openai_model": "local-model",
        "openai_base_url": model.base_url,
        "openai_max_retries": 0,
    }


async def test_a_failing_model_is_an_error_chatkit_offers_to_retry(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    model.behaviour = Behaviour(failure="500")
    async with serving(database_url, configured(model)) as client:
        events = await stream(client, alice, "threads.create", input=said("hello"))
        [error] = [e for e in events if e["type"] == "error"]
        assert error == {
            "type": "error",
            "code": "custom",
            "message": "the assistant could not answer: the model failed (InternalServerError)",
            "allow_retry": True,
        }
        assert "127.0.0.1" not in str(events)
        thread_id, person = events[0]["thread"]["id"], done(events)[0]
        items = await ask(client, alice, "items.list", thread_id=thread_id, order="asc")
        notice = items["data"][-1]
        assert notice["type"] == "assistant_message"
        assert text(notice) == "Sorry, I couldn't answer just now. Please try again."

        model.behaviour = Behaviour()
        again = await stream(
            client, alice, "threads.retry_after_item", thread_id=thread_id, item_id=person["id"]
        )
        assert text(done(again)[-1]) == "You said: hello"
        items = await ask(client, alice, "items.list", thread_id=thread_id, order="asc")
        assert [text(i) for i in items["data"]] == ["hello", "You said: hello"]


async def test_a_message_to_a_busy_thread_is_refused_like_the_chat_endpoints_409(
    database_url: str, model: ModelServer, alice: ApiUser
) -> None:
    gate = threading.Event()
    model.behaviour = Behaviour(gate=gate)
    async with serving(database_url, configured(model)) as client:
        first = asyncio.create_task(stream(client, alice, "threads.create", input=said("one")))
        await until(lambda: len(model.requests) == 1)
        [thread] = (await ask(client, alice, "threads.list"))["data"]
        busy = await stream(
            client, alice, "threads.add_user_message", thread_id=thread["id"], input=said("two")
        )
        refused = done(busy)[0]
        removed, error = [e for e in busy if e["type"] in ("thread.item.removed", "error")]
        assert removed["item_id"] == refused["id"]
        assert (error["allow_retry"], "still answering" in error["message"]) == (False, True)
        gate.set()
        assert text(done(await first)[-1]) == "You said: one"
        again = await stream(
            client, alice, "threads.add_user_message", thread_id=thread["id"], input=said("two")
        )
        assert text(done(again)[-1]) == "You said: two"
        items = await ask(client, alice, "items.list", thread_id=thread["id"], order="asc")
        assert [text(i) for i in items["data"]] == [
            "one",
            "You said: one",
            "two",
            "You said: two",
        ]
