"""Signing tokens with the shared secret, as `todochat token` and the web chat link do.

Verifying them is `auth`'s job; this module loads neither the tables nor SQLAlchemy, so that
`todochat token` starts at once.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from todochat.config import Settings
from todochat.db.urls import sqlite_path


def issue_token(secret: str, user_id: str, *, lifetime: timedelta, **claims: Any) -> str:
    """An HS256 token for `user_id`, as Better Auth would sign it with the shared secret."""
    now = datetime.now(UTC)
    payload = {"sub": user_id, "iat": now, "exp": now + lifetime, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def shared_secret(settings: Settings) -> str | None:
    """The HS256 secret: BETTER_AUTH_SECRET, else one kept beside the embedded SQLite database.

    The file is made at random, readable by its owner only, on first use; there is never a
    fixed default. PostgreSQL deployments configure their secret or JWKS explicitly.
    """
    if settings.better_auth_secret is not None:
        return settings.better_auth_secret.get_secret_value()
    if settings.better_auth_jwks_url is not None:
        return None
    database = sqlite_path(settings.database_url)
    if database is None:
        raise ValueError("on PostgreSQL, set BETTER_AUTH_SECRET or BETTER_AUTH_JWKS_URL")
    path = database.with_name(database.name + ".secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
