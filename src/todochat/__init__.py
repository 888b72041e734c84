"""todochat: the open backend for AI assistants that manage people's tasks by conversation."""
