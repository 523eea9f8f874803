"""Settings from the environment and `.env` (pydantic-settings).

A missing or bad value stops the start with one line naming the setting: see `load_settings`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SUPPORTED_LANGUAGES = ("en", "ru")
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,}$")


class Mode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and is shown as one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    database_url: str = "sqlite:///wgbot.sqlite3"
    auto_migrate: bool = False
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    group_chat_id: int | None = None
    default_timezone: str = "Asia/Almaty"
    default_language: str = "en"
    telegram_base_url: str | None = None
    mode: Mode = Mode.POLLING
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"
    # Delivery: Telegram's overall limit per bot (divide it between processes), and paid broadcast.
    delivery_rate: float = Field(default=30.0, gt=0, le=1000)
    delivery_paid_broadcast: bool = False
    # 16 keeps 30 a second even when a request takes half a second; a crash repeats at most this.
    delivery_concurrency: int = Field(default=16, ge=1, le=100)
    # How long another bot process may act on a stale role (PostgreSQL, several processes).
    member_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Moderators are reminded of glossary suggestions and proposed resources waiting this long.
    review_reminder_days: int = Field(default=3, ge=1, le=90)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return [int(p) for p in parts]
            except ValueError as exc:
                raise ValueError("must be Telegram user ids separated by commas") from exc
        return value

    @field_validator("group_chat_id", "telegram_base_url", "webhook_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_token", "webhook_secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.mode is Mode.WEBHOOK:
            if not self.webhook_url or not self.webhook_url.startswith("https://"):
                raise ValueError("WEBHOOK_URL: webhook mode needs an https:// URL")
            secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
            if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
                raise ValueError(
                    "WEBHOOK_SECRET: webhook mode needs 16-256 characters of A-Z, a-z, 0-9, _ or -"
                )
        return self

    def require_token(self) -> str:
        """The token for a real run; the sandbox needs none."""
        if self.bot_token is None:
            raise ConfigError("BOT_TOKEN is not set: get one from @BotFather and put it in .env")
        token = self.bot_token.get_secret_value()
        if not _TOKEN_RE.match(token):
            raise ConfigError(
                "BOT_TOKEN does not look like a token from @BotFather (123456:ABC...)"
            )
        return token


def load_settings(**overrides: object) -> Settings:
    """Settings, or a ConfigError whose message is one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(part) for part in error["loc"]) or ""
        message = str(error["msg"]).removeprefix("Value error, ")
        name = loc.upper() if loc else ""
        raise ConfigError(f"{name}: {message}" if name else message) from None
