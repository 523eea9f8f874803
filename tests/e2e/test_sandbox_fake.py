"""The fake Bot API itself: it refuses what Telegram refuses and keeps what Telegram keeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.clock import FakeClock
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import GROUP_ID


async def test_the_bots_bad_requests_are_refused_like_telegram(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    bot = sandbox.app.bot
    bad: list[tuple[dict[str, Any], str]] = [
        ({"text": "<b>unclosed", "parse_mode": "HTML"}, r"(?i)can't parse entities"),
        ({"text": "<script>x</script>", "parse_mode": "HTML"}, r"(?i)can't parse entities"),
        ({"text": "x" * 4097}, r"(?i)too long|MESSAGE_TOO_LONG"),
        ({"text": "   "}, r"(?i)empty"),
        (
            {
                "text": "hi",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("b", callback_data="x" * 65)]]
                ),
            },
            r"(?i)BUTTON_DATA_INVALID",
        ),
    ]
    for kwargs, pattern in bad:
        clock.advance(timedelta(seconds=2))  # within the per-chat flood limit
        with pytest.raises(BadRequest, match=pattern):
            await bot.send_message(admin.id, **kwargs)
    assert len(sandbox.api.violations) == len(bad)
    sandbox.api.violations.clear()  # expected here; any other test fails on one


async def test_flood_limits_answer_429_with_retry_after(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    bot = sandbox.app.bot
    for _ in range(3):  # a burst of three to one person is tolerated
        await bot.send_message(admin.id, "hello")
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(admin.id, "hello")
    assert raised.value.retry_after in (1, timedelta(seconds=1))
    clock.advance(timedelta(seconds=1))
    await bot.send_message(admin.id, "hello")
    # 30 a second overall: the 31st message within a second, to anybody, is refused.
    people = [sandbox.user(9000 + i, f"P{i}") for i in range(31)]
    sandbox.api.started.update(p.id for p in people)
    clock.advance(timedelta(seconds=5))
    for person in people[:30]:
        await bot.send_message(person.id, "hi")
    with pytest.raises(RetryAfter):
        await bot.send_message(people[30].id, "hi")
    # 20 a minute to a group.
    clock.advance(timedelta(minutes=2))
    for _ in range(20):
        clock.advance(timedelta(seconds=0.1))
        await bot.send_message(GROUP_ID, "news")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP_ID, "news")


async def test_bot_cannot_write_first_or_to_someone_who_blocked_it(sandbox: Sandbox) -> None:
    never_started = sandbox.user(800, "Quiet")
    with pytest.raises(Forbidden, match=r"(?i)initiate conversation"):
        await sandbox.app.bot.send_message(never_started.id, "hello")
    await never_started.send("/start")
    await never_started.block()
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await sandbox.app.bot.send_message(never_started.id, "hello")


async def test_messages_edits_deletions_pins_and_files_are_kept(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    bot = sandbox.app.bot
    sent = await bot.send_message(GROUP_ID, "<b>Agenda</b> &amp; notes", parse_mode="HTML")
    stored = sandbox.api.messages[(GROUP_ID, sent.message_id)]
    assert stored.text == "Agenda & notes" and stored.entities[0].type == "bold"
    await bot.edit_message_text("Agenda v2", chat_id=GROUP_ID, message_id=sent.message_id)
    await bot.pin_chat_message(GROUP_ID, sent.message_id)
    assert stored.edited and stored.pinned and stored.text == "Agenda v2"
    document = await bot.send_document(admin.id, b"BEGIN:VCALENDAR", filename="m.ics")
    assert document.document is not None
    assert sandbox.api.files[document.document.file_id] == b"BEGIN:VCALENDAR"
    await bot.delete_message(GROUP_ID, sent.message_id)
    assert stored.deleted
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await bot.delete_message(GROUP_ID, sent.message_id)


async def test_polls_votes_and_inline_queries_reach_the_application(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    seen: list[Update] = []

    async def record(update: Update, _context: object) -> None:
        seen.append(update)

    from telegram.ext import TypeHandler

    sandbox.app.add_handler(TypeHandler(Update, record), group=-1)
    message = await sandbox.app.bot.send_poll(
        GROUP_ID, "Next meeting?", ["3 Dec", "10 Dec"], is_anonymous=False
    )
    stored = sandbox.api.messages[(GROUP_ID, message.message_id)]
    await admin.vote(stored, [1])
    await sandbox.anonymous_votes(stored, [2, 0])
    await admin.inline("trafficking")
    kinds = [
        next(k for k in ("poll_answer", "poll", "inline_query") if getattr(u, k) is not None)
        for u in seen
    ]
    assert kinds == ["poll_answer", "poll", "poll", "inline_query"]
    assert seen[-2].poll is not None and [o.voter_count for o in seen[-2].poll.options] == [2, 1]
    assert seen[0].poll_answer is not None and seen[0].poll_answer.option_ids == (1,)
