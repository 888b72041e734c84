"""Tasks: each user's to-do list, numbered 1, 2, 3… per user."""
