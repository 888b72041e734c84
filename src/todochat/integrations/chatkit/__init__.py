"""An OpenAI ChatKit backend: threads are conversations, thread items are their messages."""
