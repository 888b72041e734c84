"""Full-text search over a user's messages and tasks."""
