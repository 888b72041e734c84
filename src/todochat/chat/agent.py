"""The assistant on the OpenAI Agents SDK, for any OpenAI-compatible model endpoint."""

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from agents import Agent, FunctionTool, Model, OpenAIChatCompletionsModel, RunConfig, Runner
from agents.items import TResponseInputItem
from agents.tool_context import ToolContext
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types.responses import ResponseTextDeltaEvent

from todochat.chat.assistant import Said
from todochat.chat.tools import TOOLS, TaskTools, Tool
from todochat.config import Settings
from todochat.conversations.models import Role
from todochat.errors import AssistantUnavailable, ToolError

log = logging.getLogger("todochat.chat")
MAX_TURNS = 8
# Traces would go to OpenAI's servers: none are made.
_RUN_CONFIG = RunConfig(tracing_disabled=True)
INSTRUCTIONS = """\
You are todochat, a friendly assistant that manages the user's to-do list with your tools.
- Adding, creating or remembering something: call add_task.
- Seeing, showing or listing tasks: call list_tasks with status "pending" for what is left to \
do, "completed" for what is done, "all" otherwise.
- Done, complete or finished: call complete_task.
- Delete, remove or cancel: call delete_task.
- Change, update or rename: call update_task.
When the user names a task by words instead of its number, call list_tasks first to find its \
number; if several tasks match, ask which one they mean. Confirm every action in one friendly \
sentence that names the task. If a tool reports an error, such as a task that was not found, \
say so plainly. Only ever act on this user's own tasks.
"""


def _function_tool(tool: Tool) -> FunctionTool:
    async def invoke(context: ToolContext[TaskTools], arguments: str) -> str:
        tools = context.context
        # A failed call's output says what went wrong, for the model to tell the person.
        with contextlib.suppress(ToolError):
            await tools.call(tool.name, arguments)
        return tools.calls[-1].output()

    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=tool.schema(with_user_id=False),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def model_input(history: Sequence[Said], message: str) -> list[TResponseInputItem]:
    """The conversation as the model reads it: words, tool calls with their results, answers."""
    return [*history_items(history), {"role": "user", "content": message}]


def history_items(history: Sequence[Said]) -> Iterator[TResponseInputItem]:
    """Earlier messages as model input items: words, and each tool call with its result."""
    for said in history:
        if said.call is not None:
            call_id = f"call_{said.seq}"
            yield {
                "type": "function_call",
                "call_id": call_id,
                "name": said.call.tool,
                "arguments": json.dumps(said.call.arguments, ensure_ascii=False),
            }
            # The message's text is the output exactly as the model read it (JSONB does not
            # keep the order of keys).
            yield {"type": "function_call_output", "call_id": call_id, "output": said.content}
        elif said.role is Role.USER:
            yield {"role": "user", "content": said.content}
        elif said.role is Role.ASSISTANT:
            yield {"role": "assistant", "content": said.content}


class AgentsAssistant:
    """An Agents SDK agent whose only tools are the user's task tools."""

    def __init__(self, model: Model, client: AsyncOpenAI | None = None) -> None:
        self._client = client
        self._agent = Agent[TaskTools](
            name="todochat",
            instructions=INSTRUCTIONS,
            model=model,
            tools=[_function_tool(tool) for tool in TOOLS.values()],
        )

    async def respond(
        self, history: Sequence[Said], message: str, tools: TaskTools, *, stream: bool
    ) -> AsyncIterator[str]:
        """Run the agent on the history and message: its text as the model writes it, if
        `stream`, else whole (a plain completion costs less than parsing a stream)."""
        items = model_input(history, message)
        if not stream:
            try:
                result = await Runner.run(self._agent, items, **self._options(tools))
            except Exception as error:
                raise _unavailable(error) from error
            if not result.final_output:
                raise AssistantUnavailable("the model's answer was empty")
            yield str(result.final_output)
            return
        run = Runner.run_streamed(self._agent, items, **self._options(tools))
        wrote = False
        try:
            async for event in run.stream_events():
                if event.type == "raw_response_event" and isinstance(
                    event.data, ResponseTextDeltaEvent
                ):
                    wrote = True
                    yield event.data.delta
        except Exception as error:
            raise _unavailable(error) from error
        finally:
            run.cancel()
        if not wrote:
            if not run.final_output:
                raise AssistantUnavailable("the model's answer was empty")
            yield str(run.final_output)

    def _options(self, tools: TaskTools) -> dict[str, Any]:
        return {"context": tools, "max_turns": MAX_TURNS, "run_config": _RUN_CONFIG}

    async def close(self) -> None:
        """Close the model client's connections."""
        if self._client is not None:
            await self._client.close()


def _unavailable(error: Exception) -> AssistantUnavailable:
    log.warning("the model failed", exc_info=error)
    # The error's text may name the endpoint: only its kind reaches the person.
    return AssistantUnavailable(f"the model failed ({type(error).__name__})")


def agents_assistant(settings: Settings) -> AgentsAssistant:
    """The Agents SDK assistant on the model and endpoint the settings name."""
    assert settings.openai_model is not None
    client = AsyncOpenAI(
        base_url=settings.openai_base_url,
        # A local OpenAI-compatible server may need no key; the client insists on one.
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none",
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
        # aiohttp parses HTTP in C: each model call costs the process less than with httpx.
        http_client=DefaultAioHttpClient(),
    )
    model = OpenAIChatCompletionsModel(model=settings.openai_model, openai_client=client)
    return AgentsAssistant(model, client)
