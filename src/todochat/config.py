"""Configuration, read from the environment through one settings object."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///todochat.db"
MIN_SECRET_CHARS = 32


class Settings(BaseSettings):
    """Everything a todochat process reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    debug: bool = False
    # HS256 tokens, as Better Auth signs them with its shared secret.
    better_auth_secret: SecretStr | None = None
    # Asymmetric tokens from Better Auth's JWT plugin, e.g. https://app.example.com/api/auth/jwks
    better_auth_jwks_url: str | None = None
    better_auth_issuer: str | None = None
    better_auth_audience: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = []
    # The assistant: the OpenAI Agents SDK on any OpenAI-compatible endpoint when a model is
    # named, the built-in offline assistant otherwise.
    openai_model: str | None = None
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    # A model call that takes longer fails; failed calls are retried this often.
    openai_timeout: Annotated[float, Field(gt=0)] = 60
    openai_max_retries: Annotated[int, Field(ge=0)] = 2
    # A whole chat turn (every model call and tool call in it) ends with a 502 after this long.
    chat_turn_timeout: Annotated[float, Field(gt=0)] = 120
    # Per-user budgets in each process, as "120/minute" or "20/minute;200/hour"; "" or 0: none.
    # (Checked when given: the defaults parse, and checking them would load the rate limiter.)
    rate_limit_writes: str = Field("120/minute", validate_default=False)
    rate_limit_chat: str = Field("20/minute", validate_default=False)
    # Seconds a write waits for SQLite's write lock (held by another process, say) before it
    # is answered 503 database_unavailable.
    sqlite_busy_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    # When set, `serve` deletes for good what was soft-deleted more than this many days ago.
    retention_days: Annotated[int, Field(ge=1)] | None = None

    @field_validator("better_auth_secret")
    @classmethod
    def _secret_is_strong(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"BETTER_AUTH_SECRET must be at least {MIN_SECRET_CHARS} characters"
                " (for example: openssl rand -base64 32)"
            )
        return secret

    @field_validator("rate_limit_writes", "rate_limit_chat")
    @classmethod
    def _budget_parses(cls, budget: str) -> str:
        from todochat.ratelimit import parse_budget  # noqa: PLC0415 (only when one is given)

        try:
            parse_budget(budget)
        except ValueError:
            raise ValueError(
                "must be like 120/minute, or several like 20/minute;200/hour (0 for no limit)"
            ) from None
        return budget

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, origins: object) -> object:
        if isinstance(origins, str):
            return [origin.strip() for origin in origins.split(",") if origin.strip()]
        return origins


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
