"""Dialogues across a restart of the bot: a moderator half-way through /poll goes on where they
were after the bot restarts (python-telegram-bot's persistence, kept in the database); the
stored draft goes when the dialogue ends, when the person asks to be forgotten, and when it
was left untouched for a month."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.models import DialogueState
from bot.sandbox.driver import Sandbox, SandboxUser
from tests.conftest import restart
from tests.e2e.test_polls import polls_in_db, working_group


async def stored(sandbox: Sandbox) -> list[DialogueState]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(DialogueState)))


def same_person(again: Sandbox, user: SandboxUser) -> SandboxUser:
    return again.user(user.id, user.json["first_name"])


async def half_a_poll(moderator: SandboxUser) -> None:
    await moderator.send("/poll")
    await moderator.send("Where do we meet in spring?")
    replies = await moderator.send("Almaty\nTashkent")
    assert "Done" in [b["text"] for row in replies.last.buttons for b in row]


async def test_a_restart_in_the_middle_of_a_dialogue_loses_nothing(
    sandbox: Sandbox, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await half_a_poll(group.moderator)
    assert {row.scope for row in await stored(sandbox)} == {"user", "conversation:poll"}

    again = await restart(sandbox, restarts, timedelta(minutes=10))
    mod = same_person(again, group.moderator)
    replies = await mod.send("Dushanbe")  # a third option, to the same question
    assert "Done" in [b["text"] for row in replies.last.buttons for b in row]
    replies = await mod.press(replies.last, "Done")
    replies = await mod.press(replies.last, "Quick poll")
    replies = await mod.press(replies.last, "One answer")
    audience = replies.last
    await mod.press(audience, "Group chat")
    replies = await mod.press(audience, "Next")
    replies = await mod.press(replies.last, "3 days")
    assert "Preview" in replies.last.text, replies.text
    await mod.press(replies.last, "Confirm")
    (poll,) = await polls_in_db(again)
    assert poll.question == "Where do we meet in spring?"
    assert poll.options == ["Almaty", "Tashkent", "Dushanbe"]
    # The dialogue ended: nothing of it is kept.
    assert await stored(again) == []


async def test_cancelling_or_being_forgotten_removes_the_draft(
    sandbox: Sandbox, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await half_a_poll(group.moderator)
    await group.moderator.send("/cancel")
    assert await stored(sandbox) == []

    await half_a_poll(group.moderator)
    assert await stored(sandbox)
    replies = await group.moderator.send("/forgetme")
    await group.moderator.press(replies.last, "Yes")
    assert await stored(sandbox) == []
    again = await restart(sandbox, restarts, timedelta(minutes=1))
    assert await stored(again) == []


async def test_a_draft_left_for_a_month_is_dropped(
    sandbox: Sandbox, restarts: list[Sandbox]
) -> None:
    group = await working_group(sandbox)
    await half_a_poll(group.moderator)
    again = await restart(sandbox, restarts, timedelta(days=31))
    assert await stored(again) == []
    mod = same_person(again, group.moderator)
    replies = await mod.send("Dushanbe")  # not taken as an answer to the old question
    assert "Done" not in [b["text"] for row in replies.last.buttons for b in row]
    assert await polls_in_db(again) == []


async def test_a_draft_left_for_a_month_while_the_bot_runs_is_dropped(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await half_a_poll(group.moderator)
    sandbox.clock.advance(timedelta(days=31))  # type: ignore[attr-defined]
    await group["kz"].send("/help")  # anybody's update: the bot's regular look at its drafts
    assert await stored(sandbox) == []
    replies = await group.moderator.send("Dushanbe")  # the step finds no draft: start again
    assert "Done" not in [b["text"] for row in replies.last.buttons for b in row]
    assert "/poll" in replies.last.text
    assert await polls_in_db(sandbox) == []
