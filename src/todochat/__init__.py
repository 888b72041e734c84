"""todochat: the open backend for AI assistants that manage people's tasks by conversation."""

import logging

# A library's logs go where its application sends them (`todochat serve` configures logging);
# a command that tells its user what went wrong does not also print its log lines.
logging.getLogger(__name__).addHandler(logging.NullHandler())
