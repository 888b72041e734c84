"""Bearer tokens compatible with Better Auth: HS256 with the shared secret, or keys from a JWKS."""

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from pydantic import ValidationError

from todochat.config import Settings
from todochat.db import sqlite_path
from todochat.orm import utcnow
from todochat.users.models import UserProfile

ASYMMETRIC = frozenset({"EdDSA", "ES256", "RS256"})
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5
LEEWAY_SECONDS = 30


class Unauthenticated(Exception):
    """The request carries no token, or one that does not verify."""

    def __init__(self, reason: str, *, token_given: bool = True) -> None:
        self.token_given = token_given
        super().__init__(reason)


class AuthUnavailable(Exception):
    """The keys that would verify the token cannot be fetched right now."""


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: str
    profile: UserProfile


class Authenticator:
    """Verifies tokens; the algorithm is chosen by the configured key, never by the token."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        if secret is None and jwks_url is None:
            raise ValueError("configure BETTER_AUTH_SECRET or BETTER_AUTH_JWKS_URL")
        self._secret = secret
        self._jwks = (
            # The key set is cached, and fetched again whenever a token names a key it lacks:
            # a rotated-in key works at once, and a withdrawn key stops working at once.
            jwt.PyJWKClient(
                jwks_url,
                lifespan=JWKS_CACHE_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
                cooldown_duration=0,
            )
            if jwks_url
            else None
        )
        self._issuer = issuer
        self._audience = audience

    async def verify(self, token: str) -> Identity:
        """The identity `token` proves, or `Unauthenticated` saying why not."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            key, algorithms = await self._key_for(token, algorithm)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWKClientConnectionError:
            raise AuthUnavailable("the signing keys could not be fetched") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(str(error) or type(error).__name__) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 255 or "\x00" in subject:
            raise Unauthenticated("the token's subject is not a user id")
        try:
            profile = UserProfile.model_validate(
                {field: claims.get(field) for field in ("email", "name")}
            )
        except ValidationError:
            profile = UserProfile()
        return Identity(subject, profile)

    async def _key_for(self, token: str, algorithm: object) -> tuple[Any, list[str]]:
        if algorithm == "HS256" and self._secret is not None:
            return self._secret, ["HS256"]
        if algorithm in ASYMMETRIC and self._jwks is not None:
            # PyJWKClient fetches with urllib; keep that off the event loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            if signing_key.algorithm_name not in ASYMMETRIC:
                raise jwt.InvalidAlgorithmError("the JWKS key's algorithm is not accepted")
            return signing_key.key, [signing_key.algorithm_name]
        raise jwt.InvalidAlgorithmError(f"tokens signed with {algorithm!r} are not accepted")


def issue_token(secret: str, user_id: str, *, lifetime: timedelta, **claims: Any) -> str:
    """An HS256 token for `user_id`, as Better Auth would sign it with the shared secret."""
    now = utcnow()
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


def authenticator(settings: Settings) -> Authenticator:
    """The authenticator the settings describe."""
    return Authenticator(
        secret=shared_secret(settings),
        jwks_url=settings.better_auth_jwks_url,
        issuer=settings.better_auth_issuer,
        audience=settings.better_auth_audience,
    )
