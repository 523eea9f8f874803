"""`wgbot sandbox` as a person uses it: a piped conversation in, a readable transcript out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bot.clock import FakeClock
from bot.db import Database
from bot.models import AuditEntry, Member, Role
from bot.sandbox import demo

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = [
    "/start",
    "/help",
    "!as stranger",
    "/start",
    "!press 1",
    "I am from the FIU of Kazakhstan",
    "!as mod1",
    "/help",
    "!press 99",
    "!as nobody",
    "!frobnicate",
]


def _turns(output: str) -> list[tuple[str, str]]:
    """(input line, everything printed in answer) for each echoed `<name> ›  <line>`."""
    turns: list[tuple[str, str]] = []
    for line in output.splitlines():
        if " ›  " in line and not line.startswith(("bot ", "· ")):
            turns.append((line.split(" ›  ", 1)[1], ""))
        elif turns:
            turns[-1] = (turns[-1][0], turns[-1][1] + line + "\n")
    return turns


def test_piped_conversation(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "sandbox",
            "--reset",
            "--db",
            str(tmp_path / "sbx" / "sandbox.sqlite3"),
        ],
        input="\n".join(SCRIPT) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        cwd=PROJECT_ROOT,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in out + result.stderr
    # No log noise: a warning or an error would mean a refused request or a failing handler.
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    assert "You are Ayana Beketova — admin" in out

    turns = _turns(out)
    assert [line for line, _ in turns] == SCRIPT, out
    answers = [answer for _, answer in turns]
    start, help_, _, stranger_start, press, note, as_mod, mod_help, bad_press, bad_as, bad = answers

    assert "bot → Ayana Beketova (admin):" in start
    assert "Your role in the working group: admin" in start
    assert "/audit" in help_ and "*What I can do for you* (admin)" in help_

    # A stranger learns nothing about the group, only how to ask.
    assert "bot → Rustam Nazarov (stranger):" in stranger_start
    assert "[1] Request access" in stranger_start
    assert "/members" not in stranger_start
    assert "tell the moderators who you are" in press

    # The request reaches the moderators' own chats, printed with who got it.
    mod1_copy = note.split("bot → Marta Kowalska (mod1):\n", 1)[1]
    assert "*Access request #1*" in mod1_copy
    assert "_I am from the FIU of Kazakhstan_" in mod1_copy
    assert "[1] Approve  [2] Deny" in mod1_copy
    assert "bot → Тимур Рахимов (mod2):" in note
    assert "Your request is with the moderators" in note

    assert "you are now Marta Kowalska — moderator" in as_mod
    assert "(moderator)" in mod_help and "/members" in mod_help and "/audit" not in mod_help
    # Bad sandbox input gets one line and nothing else.
    assert bad_press.strip() == "· press a number from 1 to 2: [1] Approve, [2] Deny"
    assert bad_as.strip().startswith("· nobody is called 'nobody'")
    assert bad.strip().startswith("· unknown sandbox command !frobnicate")


async def test_seed_is_idempotent(db: Database) -> None:
    now = FakeClock().now()
    await demo.seed(db, now)
    await demo.seed(db, now)
    async with db.session() as session:
        count = (await session.exec(select(func.count()).select_from(Member))).one()
        audited = (await session.exec(select(func.count()).select_from(AuditEntry))).one()
        kz = (await session.exec(select(Member).where(Member.country == "KZ"))).one()
        admin = (await session.exec(select(Member).where(Member.role == Role.ADMIN))).one()
    admitted = [p for p in demo.PEOPLE if p.role is not None]
    assert count == len(admitted) == 13
    # One admission each, plus a role or country change for everyone but the plain member.
    assert audited == len(admitted) * 2 - 2
    assert kz.role == Role.FOCAL_POINT and kz.agency == "Financial Monitoring Agency"
    assert admin.telegram_id == demo.ADMIN_ID and admin.full_name == "Ayana Beketova"
