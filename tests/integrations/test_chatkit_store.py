"""`TodochatStore`: the ChatKit package's own store cases, on todochat's tables, both backends."""

from datetime import datetime, timedelta

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    CustomTask,
    FileAttachment,
    HiddenContextItem,
    InferenceOptions,
    TaskItem,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import Card, Col, Text

from tests.conftest import committed_user
from todochat.chat.tools import TaskTools
from todochat.conversations.models import ConversationCreate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import Database
from todochat.errors import Invalid
from todochat.integrations.chatkit.store import Requester, TodochatStore
from todochat.users.auth import Identity
from todochat.users.models import UserProfile


async def requester(database: Database) -> Requester:
    return Requester(Identity(await committed_user(database), UserProfile()))


def make_thread(
    thread_id: str = "test_thread", created_at: datetime | None = None
) -> ThreadMetadata:
    return ThreadMetadata(
        id=thread_id,
        title="Test Thread",
        created_at=created_at or datetime.now(),
        metadata={"test": "test"},
    )


def user_message(item_id: str, text: str, thread_id: str = "test_thread") -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
        thread_id=thread_id,
        created_at=datetime.now(),
    )


def make_thread_items() -> list[ThreadItem]:
    now = datetime.now()
    user_msg = UserMessageItem(
        id="msg_100000",
        content=[UserMessageTextContent(text="Hello!")],
        attachments=[
            FileAttachment(
                id="file_1",
                type="file",
                mime_type="text/plain",
                name="test.txt",
                metadata={"source": "test"},
            )
        ],
        inference_options=InferenceOptions(),
        thread_id="test_thread",
        created_at=now,
    )
    assistant_msg = AssistantMessageItem(
        id="msg_000001",
        content=[AssistantMessageContent(text="Hi there!")],
        thread_id="test_thread",
        created_at=now + timedelta(seconds=1),
    )
    widget = WidgetItem(
        id="widget_1",
        type="widget",
        thread_id="test_thread",
        created_at=now + timedelta(seconds=2),
        widget=Card(
            children=[
                Col(
                    padding={"x": 4, "y": 3},
                    border={"bottom": 1},
                    children=[
                        Text(value="Title", weight="medium", size="sm", color="secondary"),
                        Text(value="test"),
                    ],
                )
            ]
        ),
    )
    return [user_msg, assistant_msg, widget]


async def test_thread_metadata_is_saved_loaded_and_overwritten(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    thread = make_thread()
    await store.save_thread(thread, context)
    loaded = await store.load_thread(thread.id, context)
    assert (loaded.id, loaded.title, loaded.metadata) == (thread.id, thread.title, thread.metadata)
    thread.title = "Updated Title"
    await store.save_thread(thread, context)
    assert (await store.load_thread(thread.id, context)).title == "Updated Title"
    thread.title = None
    await store.save_thread(thread, context)
    assert (await store.load_thread(thread.id, context)).title is None


async def test_thread_items_round_trip_exactly(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    items = make_thread_items()
    for item in items:
        await store.add_thread_item("test_thread", item, context)
    loaded = await store.load_thread_items("test_thread", None, 10, "asc", context)
    assert (loaded.data, loaded.has_more, loaded.after) == (items, False, None)


async def test_threads_page_in_the_order_they_were_started_both_ways(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    for name in ("thread1", "thread2", "thread3"):
        await store.save_thread(make_thread(name), context)
    page1 = await store.load_threads(limit=2, after=None, order="asc", context=context)
    assert ([t.id for t in page1.data], page1.has_more, page1.after) == (
        ["thread1", "thread2"],
        True,
        "thread2",
    )
    page2 = await store.load_threads(limit=2, after=page1.after, order="asc", context=context)
    assert ([t.id for t in page2.data], page2.has_more, page2.after) == (["thread3"], False, None)
    newest = await store.load_threads(limit=2, after=None, order="desc", context=context)
    assert [t.id for t in newest.data] == ["thread3", "thread2"]
    rest = await store.load_threads(limit=2, after=newest.after, order="desc", context=context)
    assert ([t.id for t in rest.data], rest.has_more) == (["thread1"], False)


async def test_thread_items_come_in_order_both_ways(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    for n, text in enumerate("ABC", start=1):
        await store.add_thread_item("test_thread", user_message(f"msg{n}", text), context)
    asc = await store.load_thread_items("test_thread", None, 3, "asc", context)
    desc = await store.load_thread_items("test_thread", None, 3, "desc", context)
    assert [i.id for i in asc.data] == ["msg1", "msg2", "msg3"]
    assert [i.id for i in desc.data] == ["msg3", "msg2", "msg1"]


async def test_thread_items_page_after_an_item_both_ways(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    for n in range(5):
        await store.add_thread_item("test_thread", user_message(f"msg{n}", str(n)), context)
    after = await store.load_thread_items("test_thread", "msg1", 3, "asc", context)
    assert ([i.id for i in after.data], after.has_more, after.after) == (
        ["msg2", "msg3", "msg4"],
        False,
        None,
    )
    first = await store.load_thread_items("test_thread", None, 2, "asc", context)
    assert ([i.id for i in first.data], first.has_more, first.after) == (
        ["msg0", "msg1"],
        True,
        "msg1",
    )
    before = await store.load_thread_items("test_thread", "msg3", 2, "desc", context)
    assert ([i.id for i in before.data], before.has_more, before.after) == (
        ["msg2", "msg1"],
        True,
        "msg1",
    )
    with pytest.raises(NotFoundError):
        await store.load_thread_items("test_thread", "msg9", 2, "asc", context)


async def test_an_item_is_saved_in_place_and_loaded(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    now = datetime.now()
    reply = AssistantMessageItem(
        id="msg_000001", content=[], thread_id="test_thread", created_at=now
    )
    widget = WidgetItem(
        id="widget_1",
        thread_id="test_thread",
        created_at=now + timedelta(seconds=1),
        widget=Card(children=[Text(value="Test")]),
    )
    await store.add_thread_item("test_thread", reply, context)
    await store.add_thread_item("test_thread", widget, context)
    reply.content = [AssistantMessageContent(text="This is an assistant message.")]
    await store.save_item("test_thread", reply, context)
    assert await store.load_item("test_thread", reply.id, context) == reply
    await store.save_item("test_thread", widget, context)
    assert await store.load_item("test_thread", widget.id, context) == widget
    listed = await store.load_thread_items("test_thread", None, 10, "asc", context)
    assert [i.id for i in listed.data] == ["msg_000001", "widget_1"]


async def test_a_missing_thread_or_item_is_not_found(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    with pytest.raises(NotFoundError):
        await store.load_item("test_thread", "does_not_exist", context)
    with pytest.raises(NotFoundError):
        await store.load_item("test_thread", "message-99", context)
    for thread_id in ("missing", "conversation-99", "conversation-99999999999"):
        with pytest.raises(NotFoundError):
            await store.load_thread(thread_id, context)
    with pytest.raises(NotFoundError):
        await store.load_attachment("file_1", context)


async def test_another_users_thread_and_items_are_not_found(database: Database) -> None:
    store = TodochatStore(database)
    owner, stranger = await requester(database), await requester(database)
    await store.save_thread(make_thread("user1_thread"), owner)
    items = make_thread_items()
    for item in items:
        await store.add_thread_item("user1_thread", item, owner)
    assert (await store.load_thread("user1_thread", owner)).title == "Test Thread"
    with pytest.raises(NotFoundError):
        await store.load_thread("user1_thread", stranger)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("user1_thread", None, 10, "asc", stranger)
    with pytest.raises(NotFoundError):
        await store.load_item("user1_thread", items[0].id, stranger)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("user1_thread", items[0].id, stranger)
    listed = await store.load_threads(limit=10, after=None, order="asc", context=stranger)
    assert listed.data == []
    # The same thread id names the stranger's own thread, apart from the owner's.
    await store.save_thread(make_thread("user1_thread"), stranger)
    page = await store.load_thread_items("user1_thread", None, 10, "asc", stranger)
    assert page.data == []


async def test_generated_ids_have_chatkits_prefixes_and_never_repeat(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    thread = make_thread(store.generate_thread_id(context))
    assert thread.id.startswith("thr_")
    assert store.generate_item_id("message", thread, context).startswith("msg_")
    assert store.generate_item_id("tool_call", thread, context).startswith("tc_")
    assert store.generate_item_id("task", thread, context).startswith("tsk_")
    ids = {store.generate_item_id("message", thread, context) for _ in range(1000)}
    assert len(ids) == 1000


async def test_a_deleted_thread_is_gone_until_restored(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread("a"), context)
    await store.save_thread(make_thread("b"), context)
    await store.add_thread_item("a", user_message("msg1", "hi", "a"), context)
    await store.delete_thread("a", context)
    with pytest.raises(NotFoundError):
        await store.load_thread("a", context)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("a", None, 10, "asc", context)
    listed = await store.load_threads(limit=10, after=None, order="asc", context=context)
    assert [t.id for t in listed.data] == ["b"]
    async with database.transaction(context.user_id) as session:
        await ConversationStore(session, context.user_id).restore(1)
    assert [i.id for i in (await store.load_thread_items("a", None, 10, "asc", context)).data] == [
        "msg1"
    ]


async def test_an_item_is_deleted_for_good(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    for n in range(3):
        await store.add_thread_item("test_thread", user_message(f"msg{n}", str(n)), context)
    await store.delete_thread_item("test_thread", "msg1", context)
    listed = await store.load_thread_items("test_thread", None, 10, "asc", context)
    assert [i.id for i in listed.data] == ["msg0", "msg2"]
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("test_thread", "msg1", context)


async def test_adding_an_item_the_conversation_holds_keeps_it(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    await store.save_thread(make_thread(), context)
    first = user_message("msg1", "first")
    await store.add_thread_item("test_thread", first, context)
    await store.add_thread_item("test_thread", user_message("msg1", "changed?"), context)
    assert await store.load_item("test_thread", "msg1", context) == first


async def test_conversations_made_elsewhere_read_as_threads(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    user = context.user_id
    async with database.transaction(user) as session:
        await ConversationStore(session, user).create(ConversationCreate(title="From REST"))
        await MessageStore(session, user).append(
            1,
            [
                MessageCreate(role=Role.USER, content="add buy milk"),
                MessageCreate(role=Role.SYSTEM, content="be brief"),
            ],
        )
    tools = TaskTools(database, user, conversation_id=1)
    await tools.call("add_task", {"title": "Buy milk"})
    async with database.transaction(user) as session:
        await MessageStore(session, user).append(
            1, [MessageCreate(role=Role.ASSISTANT, content="Added.")]
        )
    [thread] = (await store.load_threads(limit=5, after=None, order="asc", context=context)).data
    assert (thread.id, thread.title) == ("conversation-1", "From REST")
    items = (await store.load_thread_items(thread.id, None, 10, "asc", context)).data
    assert [(type(i).__name__, i.id) for i in items] == [
        ("UserMessageItem", "message-1"),
        ("HiddenContextItem", "message-2"),
        ("TaskItem", "message-3"),
        ("AssistantMessageItem", "message-4"),
    ]
    assert isinstance(items[1], HiddenContextItem)
    assert isinstance(items[2], TaskItem)
    assert items[2].task == CustomTask(
        title="add_task: created task 1, “Buy milk”",
        content='{"task_id": 1, "status": "created", "title": "Buy milk"}',
        status_indicator="complete",
    )
    assert await store.load_item(thread.id, "message-4", context) == items[3]
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, "message-5", context)


async def test_a_thread_that_breaks_a_conversations_rules_is_invalid(database: Database) -> None:
    store, context = TodochatStore(database), await requester(database)
    with pytest.raises(Invalid, match="title"):
        await store.save_thread(
            ThreadMetadata(id="t", title="x" * 256, created_at=datetime.now()), context
        )
    with pytest.raises(Invalid, match="key"):
        await store.save_thread(make_thread("conversation-5"), context)
    await store.save_thread(make_thread(), context)
    with pytest.raises(Invalid, match="content"):
        await store.add_thread_item("test_thread", user_message("msg1", "nul \x00"), context)
    with pytest.raises(Invalid, match="key"):
        await store.add_thread_item("test_thread", user_message("message-7", "numbered"), context)
