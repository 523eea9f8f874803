"""build_application(settings): the one place that wires everything together."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import Application, ApplicationBuilder
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import AppContext
from bot.db import Database
from bot.delivery import DeliveryLimits, DeliveryWorker
from bot.migrations import schema_is_current
from bot.models import Role
from bot.persistence import DatabasePersistence
from bot.scheduler import Scheduler
from bot.services import members, outbox

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
    run_delivery: bool = True,
) -> Application:  # type: ignore[type-arg]
    """The bot, ready to run: real Telegram unless a `request` (the sandbox) is given."""
    import handlers  # here, so that bot.app stays importable from handler-free tools

    if request is None:
        token = settings.require_token()
    else:
        token = settings.bot_token.get_secret_value() if settings.bot_token else SANDBOX_TOKEN
    app = AppContext(
        settings=settings,
        db=database or Database(settings.database_url),
        clock=clock or SystemClock(),
    )
    builder = (
        ApplicationBuilder()
        .token(token)
        .persistence(DatabasePersistence(app, before_load=_require_current_schema))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_base_url:
        base = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    if isinstance(application.persistence, DatabasePersistence):
        application.persistence.application = application
    application.bot_data["app"] = app
    worker = DeliveryWorker(
        app,
        application.bot,
        limits=DeliveryLimits(
            per_second=settings.delivery_rate,
            paid_broadcast=settings.delivery_paid_broadcast,
            concurrency=settings.delivery_concurrency,
        ),
    )
    application.bot_data["delivery"] = worker
    # The sandbox drains the outbox itself after each update; a real run has a worker task.
    application.bot_data["run_delivery"] = run_delivery
    handlers.register(application)
    # Reminders: the features' rows that fall due, and one timer for the earliest.
    application.bot_data["scheduler"] = Scheduler(
        app,
        handlers.scheduled_sources(app),
        job_queue=application.job_queue,
        on_queued=worker.wake,
    )
    return application


async def _require_current_schema(app: AppContext) -> None:
    """Before anything reads a table (the dialogues are loaded first, in initialize())."""
    if not await schema_is_current(app.db):
        raise SchemaOutOfDate(
            "The database schema is out of date: run `wgbot db upgrade` (or set AUTO_MIGRATE=true)."
        )


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    from handlers import menu

    app: AppContext = application.bot_data["app"]
    await _require_current_schema(app)
    async with app.db.session() as session:
        await members.bootstrap_admins(session, app.settings.admin_ids, app.clock.now())
        staff = await members.with_role_at_least(session, Role.MODERATOR)
        if app.db.dialect == "sqlite":
            # One process: whatever was in flight when it stopped goes out again (at most those).
            resumed = await outbox.release_claims(session)
            if resumed:
                log.info("resuming %s outbox message(s) that were in flight", resumed)
    await menu.publish(application.bot, app, staff)
    # Rebuilt from the rows; what fell due while the bot was down is handled now (late policy).
    scheduler: Scheduler = application.bot_data["scheduler"]
    await scheduler.start()
    worker: DeliveryWorker = application.bot_data["delivery"]
    if application.bot_data.get("run_delivery"):
        application.bot_data["delivery_task"] = asyncio.create_task(
            worker.run(), name="delivery worker"
        )
    log.info("wgbot is ready as @%s", application.bot.username)


async def _post_stop(application: Application) -> None:  # type: ignore[type-arg]
    """Stop the worker between two sends: a row in flight is finished or left to resume."""
    scheduler: Scheduler = application.bot_data["scheduler"]
    await scheduler.stop()
    worker: DeliveryWorker = application.bot_data["delivery"]
    worker.stop()
    task = application.bot_data.pop("delivery_task", None)
    if task is not None:
        try:
            await asyncio.wait_for(task, 30)
        except TimeoutError:
            log.warning("the delivery worker did not stop in time")


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    app: AppContext = application.bot_data["app"]
    await app.db.dispose()
