"""Conversations and their messages: what a user and the assistant said, in order."""
