"""Bad input gets a short explanation and changes nothing; no update can stop the bot."""

from __future__ import annotations

import pytest

from bot.sandbox.driver import Sandbox, SandboxUser
from handlers import help as help_handlers
from tests.conftest import GROUP_ID, audit_rows, make_member, member_row

MARKUP = ["<b>", "&", "</a>", "<script>alert(1)</script>", "&amp;lt;", "<a href='x'>"]


@pytest.mark.parametrize("name", MARKUP)
async def test_markup_in_names_is_shown_as_text(
    sandbox: Sandbox, admin: SandboxUser, name: str
) -> None:
    person = sandbox.user(201, name, last_name=name, username="markup")
    await make_member(sandbox, person)
    await person.send("/start")
    listing = await admin.send("/members")
    assert f"{name} {name}" in listing.text  # shown literally: the fake parsed valid HTML
    assert not sandbox.api.violations


@pytest.mark.parametrize("text", MARKUP)
async def test_markup_in_arguments_is_refused_as_text(
    sandbox: Sandbox, admin: SandboxUser, text: str
) -> None:
    for command in ("/promote", "/demote", "/setcountry", "/remove", "/members", "/invite"):
        replies = await admin.send(f"{command} {text} {text}")
        assert replies, command
    person = sandbox.user(201, "P")
    await make_member(sandbox, person)
    assert (await person.send(f"/timezone {text}")).text
    assert not sandbox.api.violations


async def test_four_thousand_character_arguments(sandbox: Sandbox, admin: SandboxUser) -> None:
    long = "я" * 4000
    before = len(await audit_rows(sandbox))
    for command in (
        "/promote",
        "/setcountry",
        "/remove",
        "/members",
        "/invite",
        "/timezone",
        "/help",
        "/start",
    ):
        replies = await admin.send(f"{command} {long}")
        assert replies, command
        for message in replies:
            assert len(message.text or "") <= 4096
    assert len(await audit_rows(sandbox)) == before


async def test_unknown_command_and_plain_text(sandbox: Sandbox, admin: SandboxUser) -> None:
    assert "do not know that command" in (await admin.send("/frobnicate")).text
    assert "/help" in (await admin.send("hello there")).text


@pytest.mark.parametrize(
    "data",
    [
        "access:approve:999",
        "access:approve:1; DROP TABLE members",
        "members:0:<b>",
        "lang:xx",
        "audit:99999",
        "invite:revoke:-1",
        "access:approve:9999999999",
        "invite:revoke:99999999999",
        "forget:maybe",
        "x" * 64,
        "tz:../../etc/passwd",
    ],
)
async def test_forged_callback_data_changes_nothing(
    sandbox: Sandbox, admin: SandboxUser, data: str
) -> None:
    person = sandbox.user(201, "Plain", username="plain")
    await make_member(sandbox, person)
    menu = await person.send("/help")
    before = len(await audit_rows(sandbox))
    await person.press_data(menu.last, data)
    answer = sandbox.api.callback_answers[-1]
    assert answer.text and (
        "no longer valid" in answer.text
        or "needs the role" in answer.text
        or "does not exist" in answer.text
    )
    assert len(await audit_rows(sandbox)) == before
    row = await member_row(sandbox, person.id)
    assert row is not None and row.role == "member" and row.language is None


async def test_non_moderator_pressing_an_approve_button_is_refused(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    stranger = sandbox.user(300, "Stranger")
    welcome = await stranger.send("/start")
    await stranger.press(welcome.last, "Request access")
    sent = await stranger.send("Let me in")
    request_message = sent.to(admin.id).last
    member = sandbox.user(201, "Plain")
    await make_member(sandbox, member)
    await member.press_data(request_message, "access:approve:1")
    await stranger.press_data(request_message, "access:approve:1")
    assert await member_row(sandbox, stranger.id) is None


async def test_edited_command_is_not_run_again(sandbox: Sandbox, admin: SandboxUser) -> None:
    person = sandbox.user(201, "Aigerim", username="aigerim")
    await make_member(sandbox, person)
    await admin.send("/promote @aigerim focal_point KZ")
    original = next(
        m
        for m in sandbox.api.messages.values()
        if m.from_id == admin.id and (m.text or "").startswith("/promote")
    )
    replies = await admin.edit(original, "/remove @aigerim")
    assert replies == []
    row = await member_row(sandbox, person.id)
    assert row is not None and row.status == "active"


async def test_group_messages_from_non_members_get_nothing(sandbox: Sandbox) -> None:
    outsider = sandbox.user(700, "Outsider")
    # A message in some other group the bot was added to: not the working group's chat.
    sandbox.api.add_group(-100999, "Other group", [outsider.id])
    assert await outsider.send("hello", chat_id=-100999) == []
    assert await outsider.send("/members", chat_id=-100999) != []
    assert "only for members" in (await outsider.send("/members", chat_id=-100999)).text
    assert await member_row(sandbox, outsider.id) is None
    # Plain talk in the working group's chat is never answered.
    member = sandbox.user(701, "Member")
    sandbox.api.chats[GROUP_ID].members[member.id] = "member"
    assert await member.send("good morning", chat_id=GROUP_ID) == []


async def test_an_exception_in_a_handler_is_reported_and_the_bot_goes_on(
    sandbox: Sandbox,
    admin: SandboxUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(help_handlers, "help_text", explode)
    replies = await admin.send("/help secret words")
    assert "something went wrong" in replies.text
    assert "boom" in caplog.text and "secret words" not in caplog.text
    monkeypatch.undo()
    assert "/audit" in (await admin.send("/help")).text


async def test_the_error_message_is_in_the_members_chosen_language(
    sandbox: Sandbox, admin: SandboxUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = sandbox.user(201, "Aigerim", language_code="en")
    await make_member(sandbox, person, language="ru")

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(help_handlers, "help_text", explode)
    replies = await person.send("/help")
    assert "произошла ошибка" in replies.text
