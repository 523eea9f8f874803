"""Reminders across a restart of the bot: the schedule is rebuilt from the database, nothing is
sent twice or lost, and what fell due while the bot was down follows the written policy."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.models import MeetingReminder, ReminderOutcome
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import restart
from tests.e2e.test_meetings import START, bot_messages, create_one_line, working_group

REMINDER = "⏰"


async def handled(sandbox: Sandbox) -> list[tuple[int, str]]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        rows = await session.exec(select(MeetingReminder).order_by(col(MeetingReminder.due_at)))
        return [(r.offset_minutes, r.outcome) for r in rows]


def reminders(sandbox: Sandbox, user: SandboxUser) -> list[str]:
    return [m.text or "" for m in bot_messages(sandbox, user.id, REMINDER)]


async def test_down_between_two_reminders_the_second_goes_late_and_the_first_not_again(
    sandbox: Sandbox, admin: SandboxUser, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    await sandbox.wait(START - timedelta(hours=23) - sandbox.now())
    assert len(reminders(sandbox, group["plain"])) == 1
    # Down from 23 hours before until 30 minutes before the meeting: the 1-hour one is missed.
    again = await restart(sandbox, restarts, START - timedelta(minutes=30) - sandbox.now())
    texts = reminders(again, group["plain"])
    assert len(texts) == 2
    assert "in 24 hours" in texts[0] and "late" not in texts[0]
    assert "in 30 minutes" in texts[1] and "comes late" in texts[1]
    # Everybody in the audience got each exactly once; nothing more comes.
    for name in ("kabul", "tehran", "kz", "af", "plain"):
        assert len(reminders(again, group[name])) == 2, name
    assert await again.wait(timedelta(hours=2)) == []
    assert await handled(again) == [(24 * 60, ReminderOutcome.SENT), (60, ReminderOutcome.LATE)]


async def test_down_over_a_reminder_time_but_back_before_the_next_one(
    sandbox: Sandbox, admin: SandboxUser, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    # Down before the 24-hour reminder, back 2 hours before the meeting.
    again = await restart(sandbox, restarts, START - timedelta(hours=2) - sandbox.now())
    [late] = reminders(again, group["kz"])
    assert "comes late" in late
    # The 1-hour reminder is on time, at its time, once.
    await again.wait(START - timedelta(hours=1) - again.now())
    texts = reminders(again, group["kz"])
    assert len(texts) == 2 and "in 1 hour" in texts[1] and "late" not in texts[1]


async def test_two_restarts_in_a_row_send_nothing_twice(
    sandbox: Sandbox, admin: SandboxUser, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    first = await restart(sandbox, restarts, START - timedelta(minutes=30) - sandbox.now())
    assert len(reminders(first, group["kabul"])) == 1
    second = await restart(first, restarts, timedelta(minutes=1))
    third = await restart(second, restarts, timedelta(0))
    assert len(reminders(third, group["kabul"])) == 1
    # Two reminders missed: only the nearer one went, late; the other is recorded as skipped.
    assert await handled(third) == [
        (24 * 60, ReminderOutcome.SKIPPED),
        (60, ReminderOutcome.LATE),
    ]


async def test_back_after_the_meeting_started_skips_and_logs_and_the_series_goes_on(
    sandbox: Sandbox, admin: SandboxUser, restarts: list[Sandbox], caplog: pytest.LogCaptureFixture
) -> None:
    group = await working_group(sandbox)
    await create_one_line(
        group.moderator,
        "/newmeeting 2026-12-03 10:00 Asia/Almaty | Weekly call | https://meet.example.org/wg "
        "--remind 24h,1h --repeat weekly",
    )
    caplog.set_level(logging.INFO, logger="bot.services.meetings")
    again = await restart(sandbox, restarts, START + timedelta(minutes=10) - sandbox.now())
    assert reminders(again, group["plain"]) == []
    assert "skipped (the meeting had started)" in caplog.text
    # Next week's reminders come on time.
    await again.wait(START + timedelta(days=7) - again.now())
    texts = reminders(again, group["plain"])
    assert len(texts) == 2 and not any("late" in t for t in texts)
