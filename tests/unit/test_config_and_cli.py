"""Start-up: a bad setting stops the start with one clear line; the token never reaches a log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import RedactSecrets

TOKEN = "123456789:AAHk-fake-token-for-tests-only-0123456789"


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("BOT_", "DATABASE_", "ADMIN_", "GROUP_", "DEFAULT_", "MODE", "WEBHOOK_", "AUTO_")
        )
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ADMIN_IDS": "12,abc"}, "ADMIN_IDS"),
        ({"DEFAULT_TIMEZONE": "Mars/Olympus"}, "DEFAULT_TIMEZONE"),
        ({"DEFAULT_LANGUAGE": "xx"}, "DEFAULT_LANGUAGE"),
        ({"GROUP_CHAT_ID": "the group"}, "GROUP_CHAT_ID"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"MODE": "webhook", "WEBHOOK_URL": "http://insecure"}, "WEBHOOK_URL"),
        (
            {
                "MODE": "webhook",
                "WEBHOOK_URL": "https://bot.example.org/tg",
                "WEBHOOK_SECRET": "short",
            },
            "WEBHOOK_SECRET",
        ),
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN"),
    ],
)
def test_bad_setting_stops_with_one_line(env: dict[str, str], names: str, tmp_path: Path) -> None:
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr


def test_run_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "wgbot db upgrade" in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    head = result.stdout.split("(code: ")[1].rstrip(")\n")
    assert f"database schema: {head}" in result.stdout


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ADMIN_IDS=5, 6\nDEFAULT_TIMEZONE=Asia/Kabul\n")
    monkeypatch.chdir(tmp_path)
    for name in ("ADMIN_IDS", "DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.admin_ids == [5, 6]
    assert settings.default_timezone == "Asia/Kabul"


def test_load_settings_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="ADMIN_IDS"):
        load_settings(_env_file=None, admin_ids="1;x")


def test_token_is_redacted_from_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, bot_token=TOKEN)  # type: ignore[call-arg]
    logger = logging.getLogger("tests.redaction")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactSecrets([settings.require_token()]))
    logger.addHandler(handler)
    try:
        logger.warning("POST https://api.telegram.org/bot%s/getMe failed", TOKEN)
    finally:
        logger.removeHandler(handler)
    assert records == ["POST https://api.telegram.org/bot[REDACTED]/getMe failed"]
    assert TOKEN not in repr(settings)
