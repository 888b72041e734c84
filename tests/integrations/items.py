"""Agents SDK items of one turn that called a tool, as a session is given them."""

from agents.items import TResponseInputItem

FUNCTION_CALL: TResponseInputItem = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "add_task",
    "arguments": '{"title": "Buy milk"}',
    "status": "completed",
}
FUNCTION_OUTPUT: TResponseInputItem = {
    "type": "function_call_output",
    "call_id": "call_1",
    "output": '{"task_id": 1, "status": "created", "title": "Buy milk"}',
}
REASONING: TResponseInputItem = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "The person wants a task."}],
    "encrypted_content": "opaque==",
}
ANSWER: TResponseInputItem = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Added “Buy milk”.", "annotations": []}],
}
