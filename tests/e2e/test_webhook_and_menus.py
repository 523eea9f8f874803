"""Webhook mode checks Telegram's secret header and serves a health check; menus per scope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.config import Settings
from bot.sandbox.driver import Sandbox
from bot.webhook import SECRET_HEADER, make_web_app
from tests.conftest import ADMIN_ID, GROUP_ID, make_member

SECRET = "s3cret-token_for-tests-0123456789"


@pytest.fixture
async def webhook(sandbox: Sandbox, settings: Settings) -> AsyncIterator[str]:
    hooked = settings.model_copy(
        update={
            "webhook_url": "https://bot.example.org/tg/hook",
            "webhook_secret": SecretStr(SECRET),
        }
    )
    server = HTTPServer(make_web_app(sandbox.app, hooked))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    server.stop()


def _update(update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_795_683_600,
            "text": "/help",
            "chat": {"id": ADMIN_ID, "type": "private", "first_name": "Ayana"},
            "from": {"id": ADMIN_ID, "is_bot": False, "first_name": "Ayana"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def test_webhook_refuses_requests_without_the_secret(sandbox: Sandbox, webhook: str) -> None:
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{webhook}/tg/hook", content=json.dumps(_update(1)))
        wrong = await client.post(
            f"{webhook}/tg/hook", content=json.dumps(_update(2)), headers={SECRET_HEADER: "guess"}
        )
        assert (missing.status_code, wrong.status_code) == (403, 403)
        assert sandbox.app.update_queue.qsize() == 0
        good = await client.post(
            f"{webhook}/tg/hook", content=json.dumps(_update(3)), headers={SECRET_HEADER: SECRET}
        )
        assert good.status_code == 200
        assert sandbox.app.update_queue.qsize() == 1
        assert (await sandbox.app.update_queue.get()).update_id == 3
        garbage = await client.post(
            f"{webhook}/tg/hook", content=b"{not json", headers={SECRET_HEADER: SECRET}
        )
        assert garbage.status_code == 400


async def test_health_endpoint_reports_the_database(sandbox: Sandbox, webhook: str) -> None:
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{webhook}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_command_menus_per_language_and_scope(sandbox: Sandbox) -> None:
    commands = sandbox.api.commands

    def names(scope: dict[str, object], language: str = "") -> list[str]:
        return [c["command"] for c in commands[(json.dumps(scope, sort_keys=True), language)]]

    private = {"type": "all_private_chats"}
    assert names(private) == [
        "start",
        "help",
        "meetings",
        "meeting",
        "actions",
        "polls",
        "glossary",
        "resources",
        "resource",
        "suggest",
        "history",
        "propose",
        "announcements",
        "language",
        "timezone",
        "privacy",
        "forgetme",
        "cancel",
    ]
    russian = commands[(json.dumps(private, sort_keys=True), "ru")]
    assert (
        russian[0]["description"]
        != commands[(json.dumps(private, sort_keys=True), "")][0]["description"]
    )
    assert names({"type": "chat", "chat_id": GROUP_ID}) == [
        "help",
        "glossary",
        "resources",
        "resource",
    ]
    admin_menu = names({"type": "chat", "chat_id": ADMIN_ID}, "ru")
    assert "audit" in admin_menu and "members" in admin_menu


async def test_menus_are_republished_at_start_for_moderators(
    sandbox: Sandbox, settings: Settings
) -> None:
    moderator = sandbox.user(200, "Marat")
    await make_member(sandbox, moderator, "moderator")
    await sandbox.stop()
    again = Sandbox(settings, api=sandbox.api)
    await again.start()
    try:
        scope = json.dumps({"type": "chat", "chat_id": 200}, sort_keys=True)
        assert "members" in [c["command"] for c in sandbox.api.commands[(scope, "")]]
    finally:
        await again.stop()
