"""Other frameworks on todochat's store: an Agents SDK session and a ChatKit backend."""
