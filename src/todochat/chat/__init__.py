"""The assistant: the task tools, the agents that call them, and the stateless chat turn."""
