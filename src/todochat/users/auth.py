"""Bearer tokens compatible with Better Auth: HS256 with the shared secret, or keys from a JWKS."""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import ValidationError

from todochat.config import Settings
from todochat.errors import AuthUnavailable, Unauthenticated
from todochat.users.models import UserProfile
from todochat.users.tokens import shared_secret
from todochat.validation import is_user_id

# The algorithms Better Auth's JWT plugin signs with (EdDSA is its default).
ASYMMETRIC = frozenset({"EdDSA", "ES256", "ES512", "PS256", "RS256"})
JWKS_CACHE_SECONDS = 300
JWKS_REFETCH_COOLDOWN_SECONDS = 60
JWKS_TIMEOUT_SECONDS = 5
LEEWAY_SECONDS = 30
# A token verified once is taken at its word for this long (and never past its expiry), by
# each process, for up to this many tokens: verifying a signature on every request costs
# more than serving many a request.
VERIFIED_SECONDS = 60
VERIFIED_TOKENS = 10_000

log = logging.getLogger("todochat.auth")


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: str
    profile: UserProfile


class KeySet:
    """The signing keys a JWKS publishes, by key id, fetched without ever holding up a known key.

    The set is fetched on first use and refreshed in the background once it is older than
    `lifespan`. A key id it lacks triggers one more fetch (a rotated-in key works at once, and
    the fetch drops withdrawn keys), but at most once per `cooldown`: tokens with made-up key
    ids cannot make the server fetch the JWKS for each of them.
    """

    def __init__(
        self,
        url: str,
        *,
        lifespan: float = JWKS_CACHE_SECONDS,
        cooldown: float = JWKS_REFETCH_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=JWKS_TIMEOUT_SECONDS)
        self._lifespan = lifespan
        self._cooldown = cooldown
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = self._refetched_at = -float("inf")
        self._fetching: asyncio.Task[dict[str, jwt.PyJWK]] | None = None
        self.generation = 0  # moves whenever the keys are fetched anew

    async def key(self, kid: str) -> jwt.PyJWK:
        """The published key `kid`, or `PyJWKClientError` when the JWKS has none by that id."""
        now = self._clock()
        keys = self._keys
        if keys is None:
            keys = await self._fetch()
        elif now - self._fetched_at >= self._lifespan:
            self._start_fetch(background=True)
        key = keys.get(kid)
        if key is None:
            if self._fetching is None and now - self._refetched_at >= self._cooldown:
                self._refetched_at = now
                self._start_fetch()
            if self._fetching is not None:
                key = (await self._fetch()).get(kid)
        if key is None:
            raise jwt.PyJWKClientError(f"the JWKS has no signing key {kid!r}")
        return key

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        # Every waiter shares one fetch; one waiter giving up does not cancel it for the rest.
        return await asyncio.shield(self._fetching or self._start_fetch())

    def _start_fetch(self, *, background: bool = False) -> asyncio.Task[dict[str, jwt.PyJWK]]:
        if self._fetching is not None:
            return self._fetching
        self._fetched_at = self._clock()
        fetching = self._fetching = asyncio.create_task(self._download())

        def done(task: asyncio.Task[dict[str, jwt.PyJWK]]) -> None:
            self._fetching = None
            error = None if task.cancelled() else task.exception()
            if background and error is not None:
                log.warning("refreshing the JWKS failed; keeping the keys it had: %s", error)

        fetching.add_done_callback(done)
        return fetching

    async def _download(self) -> dict[str, jwt.PyJWK]:
        # PyJWKClient fetches with urllib; keep that off the event loop.
        found = await asyncio.to_thread(self._client.get_signing_keys, True)
        self._keys = {key.key_id: key for key in found if key.key_id is not None}
        self.generation += 1
        return self._keys


@dataclass(frozen=True)
class _Verified:
    """A token's verdict: who it proves, until when to trust that, and on which keys."""

    identity: Identity
    until: float  # on the monotonic clock
    expires: float  # Unix time, the leeway included
    keys: int  # the key set's generation it was verified with


class Authenticator:
    """Verifies tokens; the algorithm is chosen by the configured key, never by the token."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if secret is None and jwks_url is None:
            raise ValueError("configure BETTER_AUTH_SECRET or BETTER_AUTH_JWKS_URL")
        self._secret = secret
        self._jwks = KeySet(jwks_url, clock=clock) if jwks_url else None
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._wall = wall
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        """The identity `token` proves, or `Unauthenticated` saying why not."""
        keys = self._jwks.generation if self._jwks is not None else 0
        known = self._verified.get(token)
        if known is not None:
            if known.keys == keys and self._clock() < known.until:
                if self._wall() >= known.expires:
                    del self._verified[token]
                    raise Unauthenticated("Signature has expired")
                return known.identity
            del self._verified[token]
        identity, expires = await self._verify(token)
        self._verified[token] = _Verified(
            identity, self._clock() + VERIFIED_SECONDS, expires + LEEWAY_SECONDS, keys
        )
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return identity

    async def _verify(self, token: str) -> tuple[Identity, float]:
        """The identity `token` proves and when it expires (a Unix time), checked in full."""
        try:
            # A JSON object whose `kid`, if any, is a string; PyJWT checks that much.
            header = jwt.get_unverified_header(token)
            key, algorithms = await self._key_for(header)
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
        if not is_user_id(subject):
            raise Unauthenticated("the token's subject is not a user id")
        try:
            profile = UserProfile.model_validate(
                {field: claims.get(field) for field in ("email", "name")}
            )
        except ValidationError:
            profile = UserProfile()
        return Identity(subject, profile), float(claims["exp"])

    async def _key_for(self, header: dict[str, Any]) -> tuple[Any, list[str]]:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise jwt.InvalidAlgorithmError("the token's alg header is not a string")
        if algorithm == "HS256" and self._secret is not None:
            return self._secret, ["HS256"]
        if algorithm in ASYMMETRIC and self._jwks is not None:
            kid = header.get("kid")
            if kid is None:
                raise jwt.InvalidTokenError("the token names no signing key (kid)")
            signing_key = await self._jwks.key(kid)
            if signing_key.algorithm_name not in ASYMMETRIC:
                raise jwt.InvalidAlgorithmError("the JWKS key's algorithm is not accepted")
            return signing_key.key, [signing_key.algorithm_name]
        raise jwt.InvalidAlgorithmError(f"tokens signed with {algorithm!r} are not accepted")


def bearer_token(authorization: str) -> str:
    """The token an `Authorization: Bearer <token>` header's value carries."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>", token_given=False)
    return token.strip()


def authenticator(settings: Settings) -> Authenticator:
    """The authenticator the settings describe."""
    return Authenticator(
        secret=shared_secret(settings),
        jwks_url=settings.better_auth_jwks_url,
        issuer=settings.better_auth_issuer,
        audience=settings.better_auth_audience,
    )
