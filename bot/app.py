"""build_application(settings): the one place that wires everything together."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import AppContext
from bot.db import Database
from bot.migrations import schema_is_current
from bot.models import Role
from bot.services import members

log = logging.getLogger(__name__)

# A well-formed token for runs that never reach Telegram (the sandbox and tests).
SANDBOX_TOKEN = "1234567890:SANDBOX-token-that-never-leaves-this-machine"
# Updates the bot asks Telegram for: chat_member must be asked for explicitly.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
    Update.CHAT_MEMBER,
    Update.MY_CHAT_MEMBER,
    Update.POLL,
    Update.POLL_ANSWER,
]


class SchemaOutOfDate(RuntimeError):
    pass


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
) -> Application:  # type: ignore[type-arg]
    """The bot, ready to run: real Telegram unless a `request` (the sandbox) is given."""
    import handlers  # here, so that bot.app stays importable from handler-free tools

    if request is None:
        token = settings.require_token()
    else:
        token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_TOKEN
    builder = ApplicationBuilder().token(token).post_init(_post_init).post_shutdown(_post_shutdown)
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    application.bot_data["app"] = AppContext(
        settings=settings,
        db=database or Database(settings.database_url),
        clock=clock or SystemClock(),
    )
    handlers.register(application)
    return application


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    from handlers import menu

    app: AppContext = application.bot_data["app"]
    if not await schema_is_current(app.db):
        raise SchemaOutOfDate(
            "The database schema is out of date: run `wgbot db upgrade` (or set AUTO_MIGRATE=true)."
        )
    async with app.db.session() as session:
        await members.bootstrap_admins(session, app.settings.admin_ids, app.clock.now())
        staff = await members.with_role_at_least(session, Role.MODERATOR)
    await menu.publish(application.bot, app, staff)
    log.info("wgbot is ready as @%s", application.bot.username)


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    app: AppContext = application.bot_data["app"]
    await app.db.dispose()
