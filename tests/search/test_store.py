import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_user
from todochat.conversations.models import ConversationCreate, MessageCreate, Role
from todochat.conversations.store import ConversationStore, MessageStore
from todochat.db import act_for
from todochat.search.models import HitKind, SearchHit
from todochat.search.store import SearchStore
from todochat.tasks.models import TaskCreate, TaskUpdate
from todochat.tasks.store import TaskStore


async def conversation(
    session: AsyncSession, user_id: str, *texts: str, role: Role = Role.USER
) -> int:
    """A new conversation of `user_id` holding `texts`; its number."""
    act_for(session, user_id)
    created = await ConversationStore(session, user_id).create(ConversationCreate())
    if texts:
        await MessageStore(session, user_id).append(
            created.id, [MessageCreate(role=role, content=text) for text in texts]
        )
    return created.id


async def search(
    session: AsyncSession, user_id: str, query: str, limit: int = 20
) -> list[SearchHit]:
    act_for(session, user_id)
    return await SearchStore(session, user_id).search(query, limit)


async def found(session: AsyncSession, user_id: str, query: str) -> list[tuple[int | None, ...]]:
    """Where the hits are: (conversation, seq) for messages, (task,) for tasks, best first."""
    return [
        (hit.task_id,) if hit.kind is HitKind.TASK else (hit.conversation_id, hit.seq)
        for hit in await search(session, user_id, query)
    ]


async def test_the_best_match_comes_first(session: AsyncSession) -> None:
    user = await new_user(session)
    padding = " ".join(f"filler{n}" for n in range(60))
    number = await conversation(
        session,
        user,
        f"{padding} and somewhere a leak {padding}",
        "Leak again: the leak under the sink is a bad leak",
        "Nothing to see here",
    )
    assert await found(session, user, "leak") == [(number, 2), (number, 1)]


async def test_a_quoted_phrase_matches_its_words_in_that_order(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(
        session, user, "I will book flight tickets tonight", "The flight I did book was late"
    )
    assert await found(session, user, '"book flight"') == [(number, 1)]
    assert sorted(await found(session, user, "book flight")) == [(number, 1), (number, 2)]


async def test_an_excluded_word_keeps_its_messages_out(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(
        session, user, "The kitchen pipe drips", "The garden pipe is fine", "Pipes, pipes"
    )
    assert sorted(await found(session, user, "pipe -kitchen")) == [(number, 2), (number, 3)]
    assert await found(session, user, 'pipe -"garden pipe" -drips') == [(number, 3)]


async def test_either_word_matches_with_or(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(session, user, "Call the plumber", "Fix the sink", "Buy bread")
    assert sorted(await found(session, user, "plumber or sink")) == [(number, 1), (number, 2)]


async def test_a_word_finds_its_other_forms(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(
        session, user, "It leaks", "It leaked yesterday", "A leak", "Leaking everywhere", "Lake"
    )
    expected = [(number, seq) for seq in (1, 2, 3, 4)]
    assert sorted(await found(session, user, "leaking")) == expected
    assert sorted(await found(session, user, "leak")) == expected


async def test_snippets_mark_the_matched_words_and_escape_everything_else(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    await conversation(session, user, "Fix <script>alert(1)</script> & the leaking pipe")
    [hit] = await search(session, user, "leak")
    assert "<mark>leaking</mark>" in hit.snippet
    unmarked = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked
    assert ">" not in unmarked
    assert "pipe" in unmarked


async def test_a_long_message_gives_a_short_snippet_around_the_match(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    words = [f"word{n}" for n in range(500)]
    words[250] = "passport"
    await conversation(session, user, " ".join(words))
    [hit] = await search(session, user, "passport")
    assert "<mark>passport</mark>" in hit.snippet
    assert len(hit.snippet.split()) <= 40
    assert "word0 " not in hit.snippet


async def test_tasks_are_found_by_title_and_description(session: AsyncSession) -> None:
    user = await new_user(session)
    tasks = TaskStore(session, user)
    await tasks.create(TaskCreate(title="Renew passport"))
    await tasks.create(TaskCreate(title="Book the trip", description="passport photos first"))
    await tasks.create(TaskCreate(title="Water plants"))
    number = await conversation(session, user, "Where is my passport?")
    assert set(await found(session, user, "passport")) == {(1,), (2,), (number, 1)}
    [hit] = [h for h in await search(session, user, "photos") if h.kind is HitKind.TASK]
    assert (hit.task_id, hit.conversation_id, hit.seq) == (2, None, None)
    assert "<mark>photos</mark>" in hit.snippet


async def test_a_changed_or_deleted_task_is_found_by_what_it_says_now(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    tasks = TaskStore(session, user)
    await tasks.create(TaskCreate(title="Call the dentist"))
    await tasks.create(TaskCreate(title="Call the dentist again"))
    await tasks.update(1, TaskUpdate(title="Call the plumber"))
    await tasks.delete(2)
    assert await found(session, user, "dentist") == []
    assert await found(session, user, "plumber") == [(1,)]


async def test_deleted_messages_and_conversations_are_not_found_until_restored(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    first = await conversation(session, user, "the leaking pipe", "another leak")
    second = await conversation(session, user, "a leak in the roof")
    await MessageStore(session, user).delete(first, 1)
    await ConversationStore(session, user).soft_delete(second)
    assert await found(session, user, "leak") == [(first, 2)]
    await ConversationStore(session, user).restore(second)
    assert sorted(await found(session, user, "leak")) == [(first, 2), (second, 1)]


async def test_archived_conversations_are_still_searched(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(session, user, "the leaking pipe")
    await ConversationStore(session, user).archive(number)
    assert await found(session, user, "pipe") == [(number, 1)]


async def test_an_edited_message_is_found_by_its_new_text_only(session: AsyncSession) -> None:
    user = await new_user(session)
    number = await conversation(session, user, "buy milk")
    await MessageStore(session, user).edit(number, 1, "buy bread")
    assert await found(session, user, "milk") == []
    assert await found(session, user, "bread") == [(number, 1)]


async def test_only_what_people_and_the_assistant_said_is_searched(session: AsyncSession) -> None:
    user = await new_user(session)
    await conversation(session, user, '{"title": "buy milk"}', role=Role.TOOL)
    await conversation(session, user, "You manage milk lists", role=Role.SYSTEM)
    assistant = await conversation(session, user, "Added milk", role=Role.ASSISTANT)
    assert await found(session, user, "milk") == [(assistant, 1)]


async def test_queries_of_exclusions_or_operators_alone_find_nothing_and_never_fail(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    await conversation(session, user, "milk and bread", "NEAR the AND gate")
    for query in ["-milk", '-"milk and"', "or", "-", '"', "* ^ ( ) :", "- -milk"]:
        assert await found(session, user, query) == [], query
    assert await found(session, user, 'NEAR ( AND: "gate') != []


async def test_the_limit_caps_the_hits(session: AsyncSession) -> None:
    user = await new_user(session)
    await conversation(session, user, *(f"note {n} about taxes" for n in range(30)))
    assert len(await search(session, user, "taxes", limit=7)) == 7
    assert len(await search(session, user, "taxes")) == 20


TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=80)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shared=st.text(string.ascii_lowercase, min_size=3, max_size=8).map(lambda w: f"zq{w}"),
    alices=st.lists(TEXT, min_size=1, max_size=4),
    bobs=st.lists(TEXT, min_size=1, max_size=4),
    queries=st.lists(TEXT.filter(str.strip), max_size=3),
)
async def test_a_search_never_finds_another_users_text(
    session: AsyncSession, shared: str, alices: list[str], bobs: list[str], queries: list[str]
) -> None:
    alice = await new_user(session, "alice")
    bob = await new_user(session, "bob")
    # Alice's messages sit in her conversation 1; Bob's in his conversation 2, beside a task.
    # A hit of Alice's elsewhere, or of Bob's in conversation 1, came from the other.
    await conversation(session, alice, *(f"{text} {shared}" for text in alices))
    await conversation(session, bob)
    await conversation(session, bob, *(f"{text} {shared}" for text in bobs))
    act_for(session, bob)
    await TaskStore(session, bob).create(TaskCreate(title=f"{shared} task"))
    own: dict[str, set[tuple[int | None, ...]]] = {
        alice: {(1, seq) for seq in range(1, len(alices) + 1)},
        bob: {(2, seq) for seq in range(1, len(bobs) + 1)} | {(1,)},
    }
    for user in (alice, bob):
        assert set(await found(session, user, shared)) == own[user]
        for query in [q for q in [*queries, *alices[:1], *bobs[:1]] if q.strip()]:
            assert set(await found(session, user, query)) <= own[user]
