"""The built-in assistant: a conversation about tasks with no model and no network."""

from todochat.chat.offline.assistant import OfflineAssistant
from todochat.chat.offline.grammar import Intent, understand

__all__ = ["Intent", "OfflineAssistant", "understand"]
