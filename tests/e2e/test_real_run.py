"""`wgbot run` as a process, polling a fake Telegram over HTTP: it starts, answers, and stops
cleanly on SIGTERM without a token in its output."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bot.sandbox.fake_api import FakeBotAPI
from bot.sandbox.http import FakeBotAPIServer
from bot.sandbox.spec import BotApiSpec
from tests.conftest import ADMIN_ID

TOKEN = "123456789:AAHk-fake-token-for-tests-only-0123456789"


async def test_polling_process_answers_and_stops_on_sigterm(
    tmp_path: Path, spec: BotApiSpec
) -> None:
    api = FakeBotAPI(spec)
    api.add_user(ADMIN_ID, "Ayana")
    replied = asyncio.Event()
    polling = asyncio.Event()
    original = api.call

    async def watch(method: str, params: dict[str, Any], files: Any = None) -> Any:
        if method.lower() == "getupdates":
            polling.set()
        result = await original(method, params, files)
        if method.lower() == "sendmessage":
            replied.set()
        return result

    api.call = watch  # type: ignore[method-assign]
    server = FakeBotAPIServer(api)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))},
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "AUTO_MIGRATE": "true",
        "ADMIN_IDS": str(ADMIN_ID),
        "TELEGRAM_BASE_URL": server.base_url,
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(polling.wait(), 60)
        stored = api.store_user_message(ADMIN_ID, ADMIN_ID, "/help")
        message = api.message_json(stored)
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 5}]
        await api.enqueue(api.new_update({"message": message}))
        await asyncio.wait_for(replied.wait(), 60)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
        server.stop()
    output = (stdout + stderr).decode()
    assert process.returncode == 0, output
    assert "/audit" in " ".join(m.text or "" for m in api.messages.values())
    assert "Traceback" not in output
    # Request URLs carry the token: it must never be printed.
    assert TOKEN.split(":")[1] not in output
    # DEBUG reaches the bot's own loggers, but not the libraries that log whole requests and
    # updates (the token in URLs; a secret ballot's vote in callback data).
    assert " DEBUG " in output
    assert " DEBUG telegram" not in output and " DEBUG httpx" not in output
    assert not api.violations
