"""A local OpenAI-compatible model server, so tests and benchmarks run the real `openai` client.

It serves `POST /v1/chat/completions`, as JSON or streamed, like a terse assistant that uses
todochat's tools: "add X" calls `add_task`, "list" calls `list_tasks`, "complete N" and
"delete N" call those tools, and after a tool's result it confirms in a sentence. It thinks
for a set time before each answer, and fails on purpose when told to. `GET /held` says how
long it really held each call since it was last asked (a sleep overshoots its time: the
model's time, not its client's).
"""

import asyncio
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Failure = Literal["500", "hang", "malformed", "bad_tool_arguments"]


@dataclass
class Behaviour:
    """How the model answers: after `think` seconds, failing on calls `fail_from`…`fail_to`."""

    think: float = 0.0
    failure: Failure | None = None
    fail_from: int = 1  # calls are numbered from 1 in the order they arrive
    fail_to: int | None = None  # None: every call from `fail_from` on
    # While set to an unset event, the answers from call `gate_from` on wait for it (a model
    # that thinks until told).
    gate: threading.Event | None = None
    gate_from: int = 1


@dataclass(frozen=True)
class Reply:
    """What the model says: text, or one tool call."""

    text: str | None = None
    tool: str | None = None
    arguments: str = "{}"


_ADD = re.compile(r"^(?:add|create)(?: a task)?(?: to)?:? (?P<title>.+)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(?P<verb>complete|done|delete|remove) (?:task )?(?P<n>\d+)", re.I)
_LIST = re.compile(r"^(?:list|show|what)", re.IGNORECASE)


def reply_to(messages: list[dict[str, Any]]) -> Reply:
    """The model's answer to a conversation in the chat completions format."""
    last = messages[-1]
    if last.get("role") == "tool":
        return Reply(text=_confirm(str(last.get("content", ""))))
    text = _text(last.get("content")).strip()
    if match := _ADD.match(text):
        return Reply(tool="add_task", arguments=json.dumps({"title": match["title"]}))
    if match := _NUMBERED.match(text):
        verb = "complete_task" if match["verb"].lower() in ("complete", "done") else "delete_task"
        return Reply(tool=verb, arguments=json.dumps({"task_id": int(match["n"])}))
    if _LIST.match(text):
        return Reply(tool="list_tasks", arguments=json.dumps({"status": "all"}))
    return Reply(text=f"You said: {text}")


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _confirm(output: str) -> str:
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        return f"Sorry: {output.removeprefix('Error: ')}"
    if isinstance(result, list):
        titles = ", ".join(str(task["title"]) for task in result)
        return f"You have {len(result)} tasks: {titles}." if result else "You have no tasks."
    return f'{str(result["status"]).capitalize()} task {result["task_id"]}: "{result["title"]}".'


class ModelServer:
    """The model server on a loopback port, in a thread of its own, for a `with` block."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests: list[dict[str, Any]] = []  # every request body, in order
        self.held: list[float] = []  # seconds from each call's arrival to its answer, unread
        self._ids = itertools.count(1)
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._complete, methods=["POST"]),
                Route("/held", self._held),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL to configure as OPENAI_BASE_URL."""
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> "ModelServer":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the model server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.behaviour.gate is not None:
            self.behaviour.gate.set()
        self._server.should_exit = True
        self._thread.join()

    async def _held(self, request: Request) -> Response:
        held, self.held = self.held, []
        return JSONResponse({"held": held})

    async def _complete(self, request: Request) -> Response:
        arrived = time.monotonic()
        try:
            return await self._answer(request, arrived)
        finally:
            self.held.append(time.monotonic() - arrived)

    async def _answer(self, request: Request, arrived: float) -> Response:
        body = await request.json()
        self.requests.append(body)
        behaviour, number = self.behaviour, len(self.requests)
        if behaviour.gate is not None and number >= behaviour.gate_from:
            await asyncio.to_thread(behaviour.gate.wait)
        # The think time counts from the request's arrival: the server's own work is inside it.
        await asyncio.sleep(max(0.0, behaviour.think - (time.monotonic() - arrived)))
        last = behaviour.fail_to or number
        failure = behaviour.failure if behaviour.fail_from <= number <= last else None
        if failure == "hang":
            await asyncio.Event().wait()
        if failure == "500":
            return JSONResponse({"error": {"message": "the model broke"}}, status_code=500)
        if failure == "malformed":
            if body.get("stream"):
                return Response("data: {not json\n\n", media_type="text/event-stream")
            return Response("{not json", media_type="application/json")
        reply = reply_to(body["messages"])
        if failure == "bad_tool_arguments":
            reply = Reply(tool="add_task", arguments="{not json")
        call_id = f"call_{next(self._ids)}"
        if body.get("stream"):
            return StreamingResponse(
                _sse(_chunks(body, reply, call_id)), media_type="text/event-stream"
            )
        return JSONResponse(_completion(body, reply, call_id))


def _completion(body: dict[str, Any], reply: Reply, call_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool is not None:
        message["tool_calls"] = [_tool_call(reply, call_id)]
    return {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "local"),
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _chunks(body: dict[str, Any], reply: Reply, call_id: str) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{call_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    if reply.text is not None:
        for piece in re.findall(r"\S+\s*|\s+", reply.text):
            yield chunk({"content": piece})
    if reply.tool is not None:
        call = _tool_call(reply, call_id)
        yield chunk(
            {
                "tool_calls": [
                    {"index": 0, **call, "function": {**call["function"], "arguments": ""}}
                ]
            }
        )
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": reply.arguments}}]})
    yield chunk({}, _finish(reply))
    if body.get("stream_options", {}).get("include_usage"):
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        yield {**chunk({}), "choices": [], "usage": usage}


async def _sse(chunks: Iterator[dict[str, Any]]) -> AsyncIterator[str]:
    for item in chunks:
        yield f"data: {json.dumps(item)}\n\n"
    yield "data: [DONE]\n\n"


def _tool_call(reply: Reply, call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": reply.tool, "arguments": reply.arguments},
    }


def _finish(reply: Reply) -> str:
    return "tool_calls" if reply.tool is not None else "stop"


def main() -> None:
    """`python -m todochat.bench.model_server THINK`: print the base URL, serve until killed."""
    with ModelServer(Behaviour(think=float(sys.argv[1]))) as model:
        print(model.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
