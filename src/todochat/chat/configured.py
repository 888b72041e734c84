"""Which assistant a process talks through."""

from todochat.chat.assistant import Assistant
from todochat.chat.offline import OfflineAssistant
from todochat.config import Settings


def configured_assistant(settings: Settings) -> Assistant:
    """The Agents SDK assistant when a model is configured, the offline assistant otherwise."""
    if settings.openai_model is None:
        return OfflineAssistant()
    # The Agents SDK takes over a second to import: only a process that uses it pays.
    from todochat.chat.agent import agents_assistant  # noqa: PLC0415

    return agents_assistant(settings)
