"""Webhook mode: a small Tornado server with the Telegram endpoint and a health check.

python-telegram-bot's own webhook server has no health endpoint, so this follows its
"custom webhook" example: updates are checked for the secret token and put on the update queue.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

from bot.app import ALLOWED_UPDATES
from bot.config import Settings
from bot.context import AppContext

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000


class TelegramEndpoint(tornado.web.RequestHandler):
    def initialize(self, telegram_app: Application, secret: str) -> None:  # type: ignore[type-arg]
        self.application_ = telegram_app
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook request with a missing or wrong secret token refused")
            self.set_status(403)
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, self.application_.bot)
        except (ValueError, TypeError, KeyError):
            self.set_status(400)
            return
        await self.application_.update_queue.put(update)
        self.set_status(200)


class HealthEndpoint(tornado.web.RequestHandler):
    def initialize(self, telegram_app: Application) -> None:  # type: ignore[type-arg]
        self.application_ = telegram_app

    async def get(self) -> None:
        app: AppContext = self.application_.bot_data["app"]
        try:
            async with app.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # the database being down is exactly what this reports
            log.exception("health check: database unreachable")
            self.set_status(503)
            self.write({"status": "database unreachable"})
            return
        self.write({"status": "ok", "running": self.application_.running})


def make_web_app(application: Application, settings: Settings) -> tornado.web.Application:  # type: ignore[type-arg]
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    path = urlsplit(settings.webhook_url or "").path or "/telegram"
    routes: list[Any] = [
        (path, TelegramEndpoint, {"telegram_app": application, "secret": secret}),
        ("/healthz", HealthEndpoint, {"telegram_app": application}),
    ]
    return tornado.web.Application(routes)


async def serve(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """Run until SIGTERM or SIGINT, then stop cleanly: finish updates in hand, close the DB."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await application.bot.set_webhook(
            url=settings.webhook_url or "",
            secret_token=settings.webhook_secret.get_secret_value()
            if settings.webhook_secret
            else None,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        await application.start()
        server = HTTPServer(make_web_app(application, settings), max_body_size=MAX_BODY)
        server.listen(settings.listen_port, settings.listen_host)
        log.info("listening for webhooks on %s:%s", settings.listen_host, settings.listen_port)
        await stop.wait()
        log.info("stopping")
        server.stop()
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
