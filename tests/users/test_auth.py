"""The authentication matrix, driven over HTTP against the real application."""

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.conftest import SECRET, ApiUser, bearer, settings
from todochat.app import create_app
from todochat.config import Settings
from todochat.db import Database
from todochat.errors import NotFound, Unauthenticated
from todochat.orm import utcnow
from todochat.users.auth import (
    JWKS_CACHE_SECONDS,
    JWKS_REFETCH_COOLDOWN_SECONDS,
    LEEWAY_SECONDS,
    VERIFIED_SECONDS,
    Authenticator,
)
from todochat.users.models import UserView
from todochat.users.store import UserStore

ISSUER = "https://app.example.com"
AUDIENCE = "https://app.example.com/todochat"
NEW_TASK = {"title": "Buy milk"}
OTHER_SECRET = secrets.token_urlsafe(48)
BEYOND_LEEWAY = timedelta(seconds=LEEWAY_SECONDS + 60)
WITHIN_LEEWAY = timedelta(seconds=LEEWAY_SECONDS // 2)
HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
EC_CURVES = {"ES256": ec.SECP256R1(), "ES512": ec.SECP521R1()}
# Every JSON type but a string, for token headers that must hold strings.
NOT_STRINGS = [["HS256"], {"alg": "HS256"}, 256, 2.5, True, None]


# --- tokens -------------------------------------------------------------------------------


def claims(
    user_id: object, lifetime: timedelta = timedelta(hours=1), **extra: Any
) -> dict[str, Any]:
    """The claims of a token for `user_id`, valid from now for `lifetime`."""
    now = utcnow()
    return {"sub": user_id, "iat": now, "exp": now + lifetime, **extra}


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    """`payload` signed with HS256, as Better Auth signs with its shared secret."""
    return jwt.encode(payload, secret, algorithm="HS256")


def authorization(token: str) -> dict[str, str]:
    """Headers that present `token` as a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def _segment(data: object) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")


def by_hand(header: object, payload: dict[str, Any], sign: Callable[[bytes], bytes] | None) -> str:
    """A JWT made without PyJWT's checks: any header, signed by `sign` or unsigned."""
    payload = {
        name: int(value.timestamp()) if isinstance(value, datetime) else value
        for name, value in payload.items()
    }
    signing_input = _segment(header) + b"." + _segment(payload)
    signature = b"" if sign is None else base64.urlsafe_b64encode(sign(signing_input)).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def with_hmac(key: bytes, algorithm: str = "HS256") -> Callable[[bytes], bytes]:
    """Signs with HMAC under `algorithm` (HS256, HS384 or HS512)."""
    return lambda data: hmac.new(key, data, HMAC_HASHES[algorithm]).digest()


@dataclass(frozen=True)
class SigningKey:
    """A private key, and the public JWK a JWKS publishes for it."""

    kid: str
    algorithm: str
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    jwk: dict[str, Any]

    def sign(self, payload: dict[str, Any], **header: Any) -> str:
        """`payload` signed with this key, its kid in the header."""
        return jwt.encode(
            payload, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **header}
        )

    def public_pem(self) -> bytes:
        """The public key as PEM, as anyone can derive it from the JWKS."""
        return self.private.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )


def new_key(algorithm: str, kid: str | None = None) -> SigningKey:
    """A fresh key pair for `algorithm` (EdDSA, ES256, ES512, PS256 or RS256)."""
    kid = kid or f"{algorithm.lower()}-{secrets.token_hex(4)}"
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm in EC_CURVES:
        private = ec.generate_private_key(EC_CURVES[algorithm])
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm in ("PS256", "RS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ValueError(algorithm)
    return SigningKey(kid, algorithm, private, {**jwk, "kid": kid, "alg": algorithm, "use": "sig"})


# --- a JWKS endpoint ----------------------------------------------------------------------


class JwksServer(ThreadingHTTPServer):
    """A local stand-in for Better Auth's /api/auth/jwks, serving whatever keys it is given.

    It counts the fetches, and answers only while `open` is set (tests clear it to hold a fetch).
    """

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.fetched = threading.Event()
        self.open = threading.Event()
        self.open.set()
        self._counting = threading.Lock()

    @property
    def url(self) -> str:
        """Where the JWKS is served."""
        return f"http://127.0.0.1:{self.server_port}/api/auth/jwks"

    def publish(self, *keys: SigningKey) -> None:
        """Serve exactly these keys from now on."""
        self.document = {"keys": [key.jwk for key in keys]}

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the fetches that come during the block until it ends."""
        self.open.clear()
        self.fetched.clear()
        try:
            yield
        finally:
            self.open.set()

    def count_fetch(self) -> None:
        """Note that a client fetched the key set."""
        with self._counting:
            self.fetches += 1
        self.fetched.set()


class _JwksHandler(BaseHTTPRequestHandler):
    server: JwksServer

    def do_GET(self) -> None:
        self.server.count_fetch()
        self.server.open.wait(timeout=10)
        body = json.dumps(self.server.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


def signing_with_published_key(
    jwks: JwksServer, user: ApiUser, algorithm: str
) -> tuple[SigningKey, ApiUser]:
    """A new key the JWKS publishes (alone), and `user` signing requests with it."""
    key = new_key(algorithm)
    jwks.publish(key)
    return key, ApiUser(user.id, authorization(key.sign(claims(user.id))))


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    """A JWKS endpoint on a local port, serving no keys until told to."""
    server = JwksServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


Published = tuple[SigningKey, ApiUser]
Rotation = tuple[SigningKey, SigningKey]


@pytest.fixture
def published(jwks: JwksServer, alice: ApiUser) -> Published:
    """An EdDSA key the JWKS publishes alone, and `alice` signing requests with it."""
    return signing_with_published_key(jwks, alice, "EdDSA")


@pytest.fixture
def rotation(jwks: JwksServer) -> Rotation:
    """An old EdDSA key the JWKS publishes, and a new one it does not publish yet."""
    old, new = new_key("EdDSA"), new_key("EdDSA")
    jwks.publish(old)
    return old, new


# --- applications -------------------------------------------------------------------------


@asynccontextmanager
async def serving(config: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a freshly started application with `config`."""
    application = create_app(config)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://todochat.test"
        ) as client:
            yield client


def jwks_only(database_url: str, jwks_url: str, **overrides: Any) -> Settings:
    """Settings that trust the JWKS alone: no shared secret."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        better_auth_secret=None,
        better_auth_jwks_url=jwks_url,
        **overrides,
    )


@pytest.fixture
async def jwks_client(database_url: str, jwks: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application that verifies tokens against `jwks` only."""
    async with serving(jwks_only(database_url, jwks.url)) as client:
        yield client


@pytest.fixture
async def strict_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application that also requires an issuer and an audience."""
    config = settings(database_url, better_auth_issuer=ISSUER, better_auth_audience=AUDIENCE)
    async with serving(config) as client:
        yield client


# --- assertions ---------------------------------------------------------------------------


def assert_unauthenticated(response: httpx.Response, reason: str = "") -> None:
    """A 401 in the one error shape, with a bearer challenge, whose detail mentions `reason`."""
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    body = response.json()
    assert list(body) == ["error", "detail", "fields"]
    assert (body["error"], body["fields"]) == ("unauthenticated", [])
    if body["detail"].startswith("missing bearer token"):
        assert challenge == "Bearer"  # RFC 6750: no error code when no credentials were sent
    else:
        assert challenge == 'Bearer error="invalid_token"'
        assert body["detail"].startswith("invalid bearer token: ")
    assert reason.lower() in body["detail"].lower(), body["detail"]


async def post_task(
    client: httpx.AsyncClient, user_id: str, headers: dict[str, str]
) -> httpx.Response:
    """Try to add a task for `user_id`, presenting `headers`."""
    return await client.post(f"/api/{user_id}/tasks", json=NEW_TASK, headers=headers)


async def assert_no_tasks(client: httpx.AsyncClient, user: ApiUser) -> None:
    """A properly authenticated read shows that nothing was written for `user`."""
    listed = await client.get(user.url("/tasks"), headers=user.headers)
    assert (listed.status_code, listed.json()) == (200, [])


async def assert_refused_write(
    client: httpx.AsyncClient, user: ApiUser, headers: dict[str, str], reason: str = ""
) -> None:
    """A task posted for `user` with `headers` is refused with 401, and nothing is written."""
    assert_unauthenticated(await post_task(client, user.id, headers), reason)
    await assert_no_tasks(client, user)


async def stored_user(database: Database, user_id: str) -> UserView | None:
    """The users row for `user_id`, if there is one."""
    async with database.transaction(user_id) as session:
        try:
            return await UserStore(session, user_id).get()
        except NotFound:
            return None


# --- no token, or not a token -------------------------------------------------------------


async def test_a_request_without_authorization_is_refused(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await assert_refused_write(client, alice, {}, "send Authorization: Bearer <token>")


@pytest.mark.parametrize(
    "scheme", ["Basic", "Token", "JWT", "Digest"], ids=["basic", "token", "jwt", "digest"]
)
async def test_a_scheme_other_than_bearer_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, scheme: str
) -> None:
    valid_token = alice.headers["Authorization"].removeprefix("Bearer ")
    headers = {"Authorization": f"{scheme} {valid_token}"}
    await assert_refused_write(client, alice, headers, "send Authorization: Bearer <token>")


async def test_the_bearer_scheme_is_case_insensitive(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    response = await post_task(client, alice.id, {"Authorization": f"bearer {token}"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "token",
    [
        "not.a.jwt",
        secrets.token_urlsafe(48),
        "a.b",
        "e30.e30.e30.e30",
        base64.urlsafe_b64encode(b'{"alg":"HS256"}').decode() + ".!!!.!!!",
        "aGVsbG8.d29ybGQ.c2ln",
    ],
    ids=["not-a-jwt", "random", "two-segments", "four-segments", "bad-base64", "not-json"],
)
async def test_a_malformed_token_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, token: str
) -> None:
    await assert_refused_write(client, alice, {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    "], ids=["bare", "one", "many"])
async def test_an_empty_bearer_token_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, value: str
) -> None:
    await assert_refused_write(client, alice, {"Authorization": value}, "send Authorization")


# --- headers of the wrong JSON type -----------------------------------------------------------


def wrong_headers(algorithm: str, kid: str | None) -> list[object]:
    """Token headers that hold something other than a string where a string belongs."""
    named = {} if kid is None else {"kid": kid}
    return [
        *({"alg": value, **named} for value in NOT_STRINGS),
        *({"alg": algorithm, "kid": value} for value in NOT_STRINGS),
        *({"alg": algorithm, **named, "crit": value} for value in [[], [1], "exp", {}, 1]),
        *([], [algorithm], algorithm, 1, True, None),
    ]


@pytest.mark.parametrize("header", wrong_headers("HS256", None), ids=json.dumps)
async def test_a_token_header_of_the_wrong_json_type_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, header: object
) -> None:
    # Signed with the right secret, so nothing but the header is wrong.
    token = by_hand(header, claims(alice.id), with_hmac(SECRET.encode()))
    await assert_refused_write(client, alice, authorization(token))


@pytest.mark.parametrize("header", wrong_headers("EdDSA", "published"), ids=json.dumps)
async def test_a_token_header_of_the_wrong_json_type_is_refused_with_a_jwks(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, header: object
) -> None:
    key = new_key("EdDSA", kid="published")
    jwks.publish(key)
    good = ApiUser(alice.id, authorization(key.sign(claims(alice.id))))
    assert isinstance(key.private, ed25519.Ed25519PrivateKey)
    token = by_hand(header, claims(alice.id), key.private.sign)
    await assert_refused_write(jwks_client, good, authorization(token))


@pytest.mark.parametrize(
    "header", [{"alg": ["HS256"]}, {"alg": {"HS256": 1}}, {"alg": "HS256", "kid": [1]}, ["HS256"]]
)
async def test_a_token_header_of_the_wrong_json_type_is_refused_by_chat_and_mcp(
    client: httpx.AsyncClient, alice: ApiUser, header: object
) -> None:
    headers = authorization(by_hand(header, claims(alice.id), with_hmac(SECRET.encode())))
    chat = await client.post(alice.url("/chat"), json={"message": "Hi"}, headers=headers)
    assert_unauthenticated(chat)
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    assert_unauthenticated(await client.post("/mcp", json=listing, headers=headers | accept))
    conversations = await client.get(alice.url("/conversations"), headers=alice.headers)
    assert conversations.json()["items"] == []


# --- time claims ----------------------------------------------------------------------------


async def test_an_expired_token_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    token = hs256(claims(alice.id, lifetime=-BEYOND_LEEWAY))
    await assert_refused_write(client, alice, authorization(token), "expired")


async def test_a_token_expired_within_the_leeway_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    token = hs256(claims(alice.id, lifetime=-WITHIN_LEEWAY))
    response = await post_task(client, alice.id, authorization(token))
    assert response.status_code == 201, response.text


async def test_a_token_not_yet_valid_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    token = hs256(claims(alice.id, nbf=utcnow() + BEYOND_LEEWAY))
    await assert_refused_write(client, alice, authorization(token), "not yet valid")


async def test_a_token_valid_within_the_leeway_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    token = hs256(claims(alice.id, nbf=utcnow() + WITHIN_LEEWAY))
    response = await post_task(client, alice.id, authorization(token))
    assert response.status_code == 201, response.text


async def test_a_token_without_exp_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    token = hs256({"sub": alice.id, "iat": utcnow()})
    await assert_refused_write(client, alice, authorization(token), "exp")


# --- the subject ------------------------------------------------------------------------------


async def test_a_token_without_sub_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    payload = claims(alice.id)
    del payload["sub"]
    await assert_refused_write(client, alice, authorization(hs256(payload)), "sub")


@pytest.mark.parametrize("subject", [12345, ["12345"], {"id": "12345"}, None, True], ids=str)
async def test_a_sub_that_is_not_a_string_is_refused(
    client: httpx.AsyncClient, subject: object
) -> None:
    # The path names the user the subject would stringify to, so a loose comparison would pass.
    user = ApiUser("12345", bearer("12345"))
    token = hs256(claims(subject))
    await assert_refused_write(client, user, authorization(token))


async def test_an_empty_sub_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    await assert_refused_write(client, alice, authorization(hs256(claims(""))))


# --- signatures -------------------------------------------------------------------------------


async def test_a_token_signed_with_another_secret_is_refused(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    forged = bearer(alice.id, OTHER_SECRET)
    await assert_refused_write(client, alice, forged, "signature")


async def test_a_token_with_a_tampered_payload_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    header, _, signature = bob.headers["Authorization"].removeprefix("Bearer ").split(".")
    payload = _segment({"sub": alice.id, "exp": int((utcnow() + timedelta(hours=1)).timestamp())})
    token = f"{header}.{payload.decode()}.{signature}"
    await assert_refused_write(client, alice, authorization(token), "signature")


@pytest.mark.parametrize("algorithm", ["none", "None", "NONE"])
async def test_an_unsigned_alg_none_token_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, algorithm: str
) -> None:
    token = by_hand({"alg": algorithm, "typ": "JWT"}, claims(alice.id), sign=None)
    await assert_refused_write(client, alice, authorization(token), "not accepted")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_a_token_signed_with_the_secret_under_another_hmac_is_refused(
    client: httpx.AsyncClient, alice: ApiUser, algorithm: str
) -> None:
    header = {"alg": algorithm, "typ": "JWT"}
    token = by_hand(header, claims(alice.id), with_hmac(SECRET.encode(), algorithm))
    await assert_refused_write(client, alice, authorization(token), "not accepted")


# --- the path's user ------------------------------------------------------------------------


async def test_a_token_for_another_user_is_forbidden(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    response = await post_task(client, alice.id, bob.headers)
    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": "forbidden",
        "detail": "the token is for another user than the path names",
        "fields": [],
    }
    await assert_no_tasks(client, alice)
    await assert_no_tasks(client, bob)


async def test_a_token_for_another_user_is_forbidden_on_every_kind_of_route(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    for method, path in [
        ("GET", "/tasks"),
        ("GET", "/tasks/1"),
        ("PATCH", "/tasks/1/complete"),
        ("DELETE", "/tasks/1"),
        ("GET", "/conversations"),
    ]:
        response = await client.request(method, alice.url(path), headers=bob.headers)
        assert (method, path, response.status_code) == (method, path, 403)
        assert response.json()["error"] == "forbidden"


async def test_authentication_is_checked_before_the_body_is_validated(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post(alice.url("/tasks"), json={"title": ""})
    assert_unauthenticated(response)
    await assert_no_tasks(client, alice)


async def test_a_refused_request_creates_no_user(
    client: httpx.AsyncClient, database: Database, alice: ApiUser, bob: ApiUser
) -> None:
    expired = authorization(hs256(claims(alice.id, lifetime=-BEYOND_LEEWAY)))
    assert (await post_task(client, alice.id, expired)).status_code == 401
    assert (await post_task(client, alice.id, bob.headers)).status_code == 403
    assert await stored_user(database, alice.id) is None
    assert await stored_user(database, bob.id) is None


# --- the users row --------------------------------------------------------------------------


async def test_the_first_request_creates_the_user_from_the_token_claims(
    client: httpx.AsyncClient, database: Database, alice: ApiUser
) -> None:
    headers = bearer(alice.id, email="alice@example.com", name="Alice")
    response = await client.get(alice.url("/tasks"), headers=headers)
    assert response.status_code == 200, response.text
    user = await stored_user(database, alice.id)
    assert user is not None
    assert (user.id, user.email, user.name) == (alice.id, "alice@example.com", "Alice")


async def test_a_token_without_profile_claims_creates_a_user_without_profile(
    client: httpx.AsyncClient, database: Database, alice: ApiUser
) -> None:
    assert (await client.get(alice.url("/tasks"), headers=alice.headers)).status_code == 200
    user = await stored_user(database, alice.id)
    assert user is not None
    assert (user.email, user.name) == (None, None)


async def test_a_later_request_with_a_new_name_updates_the_user(
    client: httpx.AsyncClient, database: Database, alice: ApiUser
) -> None:
    first = bearer(alice.id, email="alice@example.com", name="Alice")
    assert (await client.get(alice.url("/tasks"), headers=first)).status_code == 200
    created = await stored_user(database, alice.id)
    assert created is not None

    renamed = bearer(alice.id, email="alice@example.com", name="Alice Liddell")
    assert (await client.get(alice.url("/tasks"), headers=renamed)).status_code == 200
    updated = await stored_user(database, alice.id)
    assert updated is not None
    assert (updated.email, updated.name) == ("alice@example.com", "Alice Liddell")
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.updated_at

    # A token that says nothing about the profile leaves it as it was.
    assert (await client.get(alice.url("/tasks"), headers=alice.headers)).status_code == 200
    unchanged = await stored_user(database, alice.id)
    assert unchanged is not None
    assert (unchanged.email, unchanged.name) == ("alice@example.com", "Alice Liddell")
    assert unchanged.updated_at == updated.updated_at


# --- issuer and audience ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "audience", [AUDIENCE, [AUDIENCE, "https://other.example.com"]], ids=["one", "list"]
)
async def test_a_token_with_the_configured_issuer_and_audience_is_accepted(
    strict_client: httpx.AsyncClient, alice: ApiUser, audience: str | list[str]
) -> None:
    token = hs256(claims(alice.id, iss=ISSUER, aud=audience))
    response = await post_task(strict_client, alice.id, authorization(token))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("issued", "reason"),
    [
        ({"iss": ISSUER, "aud": "https://other.example.com"}, "audience"),
        ({"iss": ISSUER}, "aud"),
        ({"iss": "https://evil.example.com", "aud": AUDIENCE}, "issuer"),
        ({"aud": AUDIENCE}, "iss"),
    ],
    ids=["other audience", "no audience", "other issuer", "no issuer"],
)
async def test_a_token_with_another_or_no_issuer_or_audience_is_refused(
    strict_client: httpx.AsyncClient, alice: ApiUser, issued: dict[str, str], reason: str
) -> None:
    good = ApiUser(alice.id, authorization(hs256(claims(alice.id, iss=ISSUER, aud=AUDIENCE))))
    token = hs256({**claims(alice.id), **issued})
    await assert_refused_write(strict_client, good, authorization(token), reason)


# --- JWKS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "ES512", "PS256", "RS256"])
async def test_a_token_signed_by_a_published_key_is_accepted(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, algorithm: str
) -> None:
    key = new_key(algorithm)
    jwks.publish(new_key("EdDSA"), key)
    token = key.sign(claims(alice.id, email="alice@example.com", name="Alice"))
    response = await post_task(jwks_client, alice.id, authorization(token))
    assert response.status_code == 201, response.text
    listed = await jwks_client.get(alice.url("/tasks"), headers=authorization(token))
    assert [task["title"] for task in listed.json()] == [NEW_TASK["title"]]


async def test_a_better_auth_jwt_plugin_token_is_accepted_with_issuer_and_audience(
    database_url: str, jwks: JwksServer, alice: ApiUser
) -> None:
    key = new_key("EdDSA")
    jwks.publish(key)
    config = jwks_only(
        database_url, jwks.url, better_auth_issuer=ISSUER, better_auth_audience=ISSUER
    )
    async with serving(config) as client:
        good = key.sign(claims(alice.id, iss=ISSUER, aud=ISSUER, email="alice@example.com"))
        assert (await post_task(client, alice.id, authorization(good))).status_code == 201
        foreign = key.sign(claims(alice.id, iss=ISSUER, aud="https://other.example.com"))
        assert_unauthenticated(await post_task(client, alice.id, authorization(foreign)), "aud")


async def test_an_hs256_token_keyed_with_the_published_rsa_public_key_is_refused(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser
) -> None:
    key, good = signing_with_published_key(jwks, alice, "RS256")
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    confused = by_hand(header, claims(alice.id), with_hmac(key.public_pem()))
    await assert_refused_write(jwks_client, good, authorization(confused), "HS256")


async def test_an_hs256_token_signed_with_the_default_secret_is_refused_when_only_jwks_is_set(
    jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    _, good = published
    await assert_refused_write(jwks_client, good, alice.headers, "HS256")


async def test_a_token_whose_alg_disagrees_with_its_published_key_is_refused(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser
) -> None:
    rsa_key, ec_key = new_key("RS256"), new_key("ES256")
    jwks.publish(rsa_key, ec_key)
    good = ApiUser(alice.id, authorization(rsa_key.sign(claims(alice.id))))
    # Signed by the EC key, but naming the RSA key: the key decides the algorithm.
    mislabelled = ec_key.sign(claims(alice.id), kid=rsa_key.kid)
    await assert_refused_write(jwks_client, good, authorization(mislabelled))


async def test_a_token_signed_by_an_unpublished_key_under_a_published_kid_is_refused(
    jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    key, good = published
    impostor = new_key("EdDSA", kid=key.kid)
    forged = impostor.sign(claims(alice.id))
    await assert_refused_write(jwks_client, good, authorization(forged), "signature")


async def test_a_token_with_a_kid_the_jwks_never_had_is_refused(
    jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    _, good = published
    stranger = new_key("EdDSA")
    await assert_refused_write(
        jwks_client, good, authorization(stranger.sign(claims(alice.id))), stranger.kid
    )


async def test_a_token_without_a_kid_is_refused(
    jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    key, good = published
    anonymous = jwt.encode(claims(alice.id), key.private, algorithm="EdDSA")
    await assert_refused_write(jwks_client, good, authorization(anonymous))


async def test_a_token_signed_with_a_rotated_in_key_is_accepted(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, rotation: Rotation
) -> None:
    old, new = rotation
    response = await post_task(jwks_client, alice.id, authorization(old.sign(claims(alice.id))))
    assert response.status_code == 201, response.text

    jwks.publish(new)
    response = await post_task(jwks_client, alice.id, authorization(new.sign(claims(alice.id))))
    # The key id is unknown to the cached JWKS, so the client must fetch it again.
    assert response.status_code == 201, response.text


async def test_a_token_signed_with_a_withdrawn_key_is_refused_after_rotation(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, rotation: Rotation
) -> None:
    old, new = rotation
    old_token, new_token = old.sign(claims(alice.id)), new.sign(claims(alice.id))
    assert (await post_task(jwks_client, alice.id, authorization(old_token))).status_code == 201

    jwks.publish(new)
    # The new key's token makes the client fetch the JWKS, which no longer has the old key.
    response = await post_task(jwks_client, alice.id, authorization(new_token))
    assert response.status_code == 201, response.text
    # The old key is gone from the JWKS: its tokens must stop working, not live on in a cache.
    assert_unauthenticated(await post_task(jwks_client, alice.id, authorization(old_token)))
    listed = await jwks_client.get(alice.url("/tasks"), headers=authorization(new_token))
    assert [task["id"] for task in listed.json()] == [1, 2]


def with_unknown_kid(key: SigningKey, user: ApiUser) -> dict[str, str]:
    """Headers with a token `key` signed, naming a key id that no JWKS has."""
    return authorization(key.sign(claims(user.id), kid=f"junk-{secrets.token_hex(8)}"))


async def test_junk_key_ids_from_many_clients_cost_one_fetch_per_cooldown(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    key, good = published
    assert (await post_task(jwks_client, alice.id, good.headers)).status_code == 201
    assert jwks.fetches == 1

    async def junk_client() -> list[int]:
        return [
            (await post_task(jwks_client, alice.id, with_unknown_kid(key, alice))).status_code
            for _ in range(5)
        ]

    statuses = await asyncio.gather(*(junk_client() for _ in range(8)))
    assert statuses == [[401] * 5] * 8
    # The first unknown key id fetched the set again; the 39 others found the cooldown running.
    assert jwks.fetches == 2
    assert (await post_task(jwks_client, alice.id, good.headers)).status_code == 201


async def test_a_known_key_never_waits_for_a_refetch(
    jwks: JwksServer, jwks_client: httpx.AsyncClient, alice: ApiUser, published: Published
) -> None:
    key, good = published
    assert (await post_task(jwks_client, alice.id, good.headers)).status_code == 201
    with jwks.holding():
        junk = asyncio.create_task(post_task(jwks_client, alice.id, with_unknown_kid(key, alice)))
        assert await asyncio.to_thread(jwks.fetched.wait, 5)  # the refetch is held open
        assert (await post_task(jwks_client, alice.id, good.headers)).status_code == 201
        assert not junk.done()
    assert_unauthenticated(await junk)
    listed = await jwks_client.get(alice.url("/tasks"), headers=good.headers)
    assert [task["id"] for task in listed.json()] == [1, 2]


class Clock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A clock standing still until the test moves it."""
    return Clock()


@pytest.fixture
def authenticator(jwks: JwksServer, clock: Clock) -> Authenticator:
    """An authenticator that trusts `jwks` alone, on `clock`."""
    return Authenticator(jwks_url=jwks.url, clock=clock)


async def test_a_rotated_in_key_is_fetched_again_once_the_cooldown_has_passed(
    jwks: JwksServer, clock: Clock, authenticator: Authenticator, alice: ApiUser
) -> None:
    first, second, third = (new_key("EdDSA") for _ in range(3))
    jwks.publish(first)
    assert (await authenticator.verify(first.sign(claims(alice.id)))).user_id == alice.id
    jwks.publish(first, second)
    assert (await authenticator.verify(second.sign(claims(alice.id)))).user_id == alice.id
    assert jwks.fetches == 2

    jwks.publish(first, second, third)
    with pytest.raises(Unauthenticated, match=third.kid):
        await authenticator.verify(third.sign(claims(alice.id)))
    assert jwks.fetches == 2

    clock.now += JWKS_REFETCH_COOLDOWN_SECONDS
    assert (await authenticator.verify(third.sign(claims(alice.id)))).user_id == alice.id
    assert jwks.fetches == 3


async def test_a_stale_key_set_is_refreshed_in_the_background(
    jwks: JwksServer, clock: Clock, authenticator: Authenticator, rotation: Rotation, alice: ApiUser
) -> None:
    old, new = rotation
    await authenticator.verify(old.sign(claims(alice.id)))

    jwks.publish(new)  # the old key is withdrawn
    clock.now += JWKS_CACHE_SECONDS
    with jwks.holding():
        # The stale set still answers at once, and a refresh starts behind it.
        assert (await authenticator.verify(old.sign(claims(alice.id)))).user_id == alice.id
        assert await asyncio.to_thread(jwks.fetched.wait, 5)
    # A token for the new key waits for that refresh rather than starting another.
    assert (await authenticator.verify(new.sign(claims(alice.id)))).user_id == alice.id
    assert jwks.fetches == 2
    with pytest.raises(Unauthenticated, match=old.kid):
        await authenticator.verify(old.sign(claims(alice.id)))


async def test_an_unreachable_jwks_is_a_503_not_a_verdict_on_the_token(
    database_url: str, alice: ApiUser
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api/auth/jwks"
    key = new_key("EdDSA")
    async with serving(jwks_only(database_url, closed)) as client:
        response = await client.get(
            alice.url("/tasks"), headers=authorization(key.sign(claims(alice.id)))
        )
    assert response.status_code == 503
    assert response.json()["error"] == "auth_unavailable"
    assert "Errno" not in response.text


# --- verified tokens kept for a while -------------------------------------------------------


class Wall:
    """A Unix-time clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = utcnow().timestamp()

    def __call__(self) -> float:
        return self.now


async def test_a_remembered_token_is_still_refused_once_it_expires(alice: ApiUser) -> None:
    wall = Wall()
    authenticator = Authenticator(secret=SECRET, clock=Clock(), wall=wall)
    token = hs256(claims(alice.id, lifetime=timedelta(seconds=5)))
    assert (await authenticator.verify(token)).user_id == alice.id

    wall.now += 5 + LEEWAY_SECONDS - 1
    assert (await authenticator.verify(token)).user_id == alice.id
    wall.now += 1
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticator.verify(token)


async def test_a_token_is_verified_in_full_again_after_a_minute(
    clock: Clock, alice: ApiUser
) -> None:
    authenticator = Authenticator(secret=SECRET, clock=clock)
    token = hs256(claims(alice.id))
    assert (await authenticator.verify(token)).user_id == alice.id
    authenticator._secret = OTHER_SECRET  # as if the signing secret had changed

    clock.now += VERIFIED_SECONDS - 1
    assert (await authenticator.verify(token)).user_id == alice.id
    clock.now += 1
    with pytest.raises(Unauthenticated, match="Signature"):
        await authenticator.verify(token)


async def test_a_remembered_token_whose_key_was_withdrawn_is_refused_once_the_keys_are_fetched(
    jwks: JwksServer, authenticator: Authenticator, rotation: Rotation, alice: ApiUser
) -> None:
    old, new = rotation
    token = old.sign(claims(alice.id))
    assert (await authenticator.verify(token)).user_id == alice.id

    jwks.publish(new)
    assert (await authenticator.verify(token)).user_id == alice.id  # the keys are not stale yet
    await authenticator.verify(new.sign(claims(alice.id)))  # an unknown kid: fetched anew
    with pytest.raises(Unauthenticated, match=old.kid):
        await authenticator.verify(token)
