"""`python -m todochat`, the same as the `todochat` command."""

from todochat.cli import app

app()
