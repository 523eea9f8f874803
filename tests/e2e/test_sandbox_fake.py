"""The fake Bot API itself: it refuses what Telegram refuses and keeps what Telegram keeps."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden

from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import GROUP_ID


async def test_the_bots_bad_requests_are_refused_like_telegram(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    bot = sandbox.app.bot
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(admin.id, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(admin.id, "<script>x</script>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too long|MESSAGE_TOO_LONG"):
        await bot.send_message(admin.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="x" * 65)]])
        await bot.send_message(admin.id, "hi", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)empty"):
        await bot.send_message(admin.id, "   ")
    assert len(sandbox.api.violations) == 5
    sandbox.api.violations.clear()  # expected here; any other test fails on one


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
