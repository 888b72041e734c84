"""Every table, imported in one place so that the metadata migrations compare against is whole."""

from todochat.chat.models import IdempotencyKey
from todochat.conversations.models import Conversation, Message
from todochat.orm import Base
from todochat.tasks.models import Task
from todochat.users.models import User

__all__ = ["Base", "Conversation", "IdempotencyKey", "Message", "Task", "User"]
