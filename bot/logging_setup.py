"""Logging that never prints the token, whatever library formats the line."""

from __future__ import annotations

import logging


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[REDACTED]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    quiet_libraries(level)


# Libraries that log every update, API call or SQL statement with its parameters at DEBUG
# (python-telegram-bot: whole updates and answers, callback data included; aiosqlite and asyncpg:
# statements with their values): a secret ballot's voter would appear next to a choice.
CHATTY_LIBRARIES = ("telegram", "aiosqlite", "asyncpg", "sqlalchemy")


def quiet_libraries(level: str | int) -> None:
    """Keep the chatty libraries at INFO (SQLAlchemy at WARNING) whatever LOG_LEVEL says; the
    bot's own loggers never log a choice."""
    wanted = level if isinstance(level, int) else logging.getLevelName(level)
    for name in CHATTY_LIBRARIES:
        floor = logging.WARNING if name == "sqlalchemy" else logging.INFO
        logging.getLogger(name).setLevel(max(floor, wanted))
