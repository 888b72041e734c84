"""The assistant on the OpenAI Agents SDK, for any OpenAI-compatible model endpoint."""

import json
import logging
from collections.abc import Sequence

from agents import Agent, FunctionTool, Model, OpenAIChatCompletionsModel, RunConfig, Runner
from agents.items import TResponseInputItem
from agents.tool_context import ToolContext
from openai import AsyncOpenAI

from todochat.chat.assistant import AssistantUnavailable, Said
from todochat.chat.tools import TOOLS, TaskTools, Tool, ToolError
from todochat.config import Settings
from todochat.conversations.models import Role

log = logging.getLogger("todochat.chat")
MAX_TURNS = 8
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
        try:
            result = await context.context.call(tool.name, json.loads(arguments or "{}"))
        except ToolError as error:
            return f"Error: {error}"
        except json.JSONDecodeError:
            return "Error: the arguments were not valid JSON."
        return json.dumps(result, ensure_ascii=False)

    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=tool.schema(with_user_id=False),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


class AgentsAssistant:
    """An Agents SDK agent whose only tools are the user's task tools."""

    def __init__(self, model: Model, *, endpoint: str = "the model") -> None:
        self._agent = Agent[TaskTools](
            name="todochat",
            instructions=INSTRUCTIONS,
            model=model,
            tools=[_function_tool(tool) for tool in TOOLS.values()],
        )
        self._endpoint = endpoint

    async def respond(self, history: Sequence[Said], message: str, tools: TaskTools) -> str:
        """Run the agent on the history and message; its tools act through `tools`."""
        items: list[TResponseInputItem] = [
            {
                "role": "assistant" if said.role is Role.ASSISTANT else "user",
                "content": said.content,
            }
            for said in history
            if said.role in (Role.USER, Role.ASSISTANT) and said.content
        ]
        items.append({"role": "user", "content": message})
        try:
            result = await Runner.run(
                self._agent,
                items,
                context=tools,
                max_turns=MAX_TURNS,
                run_config=RunConfig(tracing_disabled=True),
            )
        except Exception as error:
            log.warning("the model failed", exc_info=True)
            raise AssistantUnavailable(
                f"{self._endpoint} failed ({type(error).__name__})"
            ) from error
        return str(result.final_output)


def agents_assistant(settings: Settings) -> AgentsAssistant:
    """The Agents SDK assistant on the model and endpoint the settings name."""
    assert settings.openai_model is not None
    client = AsyncOpenAI(
        base_url=settings.openai_base_url,
        # A local OpenAI-compatible server may need no key; the client insists on one.
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none",
    )
    model = OpenAIChatCompletionsModel(model=settings.openai_model, openai_client=client)
    endpoint = f"the model {settings.openai_model} at {client.base_url}"
    return AgentsAssistant(model, endpoint=endpoint)
