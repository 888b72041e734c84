"""What the model hears after a person edits or deletes one of their messages."""

from tests.chat import test_turns
from tests.chat.test_turns import serving
from tests.conftest import ApiUser, say
from todochat.bench.model_server import ModelServer

model = test_turns.model  # the model server, as a fixture here too


async def test_the_model_hears_an_edited_message_as_edited_and_a_deleted_one_not_at_all(
    database_url: str,
    model: ModelServer,
    alice: ApiUser,
) -> None:
    async with serving(database_url, model) as (_, client):
        await say(client, alice, "hello there")
        await say(client, alice, "my password is hunter2", 1)
        await say(client, alice, "good morning", 1)
        edited = await client.patch(
            alice.url("/conversations/1/messages/5"),
            json={"content": "good evening"},
            headers=alice.headers,
        )
        deleted = await client.delete(
            alice.url("/conversations/1/messages/3"), headers=alice.headers
        )
        reply = await say(client, alice, "and now?", 1)
    assert (edited.status_code, deleted.status_code, reply.status_code) == (200, 200, 200)
    heard = [(m["role"], m["content"]) for m in model.requests[-1]["messages"][1:]]
    assert heard == [
        ("user", "hello there"),
        ("assistant", "You said: hello there"),
        ("assistant", "You said: my password is hunter2"),
        ("user", "good evening"),
        ("assistant", "You said: good morning"),
        ("user", "and now?"),
    ]
