"""Announcements: the /announce dialogue, delivery and its report, acknowledgements, reminders,
scheduling, cancelling, recall, history, and everything a person may get wrong on the way."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.models import OutboxMessage
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from tests.conftest import GROUP_ID, make_member

HEADER = "📢 Announcement\n\n"
HEADER_RU = "📢 Объявление\n\n"


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage() -> Iterator[None]:
    """Many applications are built here: collect them at the end, so that a later test that
    runs on the real clock does not pay for it with a long collection pause."""
    yield
    gc.collect()


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- messages as Telegram sends them ------------------------------------------------------------


async def send_formatted(user: SandboxUser, text: str, entities: list[dict[str, Any]]) -> Replies:
    """A text message with the entities the user's formatting made."""
    stored = user.api.store_user_message(user.id, user.id, text)
    message = user.api.message_json(stored)
    message["entities"] = entities
    return await user.sandbox.process({"message": message})


async def send_media(
    user: SandboxUser, media: dict[str, Any], caption: str | None = None
) -> Replies:
    """A photo, document, sticker, voice message... (with a caption, if given)."""
    stored = user.api.store_user_message(user.id, user.id, "")
    message = user.api.message_json(stored)
    message.pop("text", None)
    message.update(media)
    if caption is not None:
        message["caption"] = caption
    return await user.sandbox.process({"message": message})


def photo(sandbox: Sandbox, file_id: str = "moderator-photo-1") -> dict[str, Any]:
    sandbox.api.files[file_id] = b"\x89PNG a picture"
    return {
        "photo": [
            {"file_id": f"{file_id}-small", "file_unique_id": "s1", "width": 90, "height": 60},
            {"file_id": file_id, "file_unique_id": "u1", "width": 1280, "height": 853},
        ]
    }


def document(sandbox: Sandbox, file_id: str = "moderator-doc-1") -> dict[str, Any]:
    sandbox.api.files[file_id] = b"%PDF-1.7 minutes"
    return {
        "document": {
            "file_id": file_id,
            "file_unique_id": "d1",
            "file_name": "minutes.pdf",
            "mime_type": "application/pdf",
        }
    }


STICKER = {
    "sticker": {
        "file_id": "sticker-1",
        "file_unique_id": "st1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
}
VOICE = {"voice": {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3}}
VIDEO_NOTE = {
    "video_note": {"file_id": "vn-1", "file_unique_id": "vn1", "length": 240, "duration": 2}
}


# -- the people ---------------------------------------------------------------------------------


@dataclass
class Group:
    moderator: SandboxUser
    people: dict[str, SandboxUser] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def working_group(sandbox: Sandbox) -> Group:
    """A moderator, focal points of KZ, KG, TJ (KG's reads Russian), a member of UZ, a member
    with no country, and a blocked focal point of AF."""
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    await make_member(sandbox, moderator, "moderator")
    group = Group(moderator)
    for name, user_id, role, country, language in (
        ("kz", 301, "focal_point", "KZ", None),
        ("kg", 302, "focal_point", "KG", "ru"),
        ("tj", 303, "focal_point", "TJ", "en"),
        ("uz", 304, "member", "UZ", None),
        ("plain", 305, "member", None, None),
        ("af", 306, "focal_point", "AF", None),
    ):
        user = sandbox.user(user_id, name.upper(), username=f"user_{name}")
        await make_member(sandbox, user, role, country=country, language=language)
        group.people[name] = user
    return group


def received(sandbox: Sandbox, chat_id: int, *, after: int = 0) -> list[StoredMessage]:
    """Announcements the bot put in a chat (not deleted); `after` a message id (a moderator's
    chat also has the preview, which looks the same)."""
    return [
        m
        for (chat, _), m in sorted(sandbox.api.messages.items())
        if chat == chat_id
        and m.message_id > after
        and not m.deleted
        and m.from_id == sandbox.bot_id
        and (m.text or m.caption or "").startswith(("📢 Announcement", "📢 Объявление"))
    ]


# -- the dialogue -------------------------------------------------------------------------------


async def press(user: SandboxUser, replies: Replies, label: str) -> Replies:
    """Press a button on the latest message of these replies that has one with that label."""
    for message in reversed(replies):
        if any(label.lower() in b["text"].lower() for row in message.buttons for b in row):
            return await user.press(message, label)
    raise AssertionError(f"no button {label!r} in {[m.buttons for m in replies]}")


async def announce(
    sandbox: Sandbox,
    moderator: SandboxUser,
    text: str = "Meeting moved to Thursday.",
    *,
    entities: list[dict[str, Any]] | None = None,
    media: dict[str, Any] | None = None,
    audience: tuple[str, ...] = ("All members",),
    russian: str | None = None,
    pin: bool | None = None,
    ack: bool | None = False,
    when: str | None = None,
    confirm: bool = True,
) -> Replies:
    """Go through /announce; returns the replies to the last step (the report on confirm)."""
    replies = await moderator.send("/announce")
    assert "New announcement" in replies.text
    replies = await send_formatted(moderator, text, entities or [])
    assert "Skip" in str(replies.last.buttons), replies.text
    if media is not None:
        replies = await send_media(moderator, media)
    else:
        replies = await press(moderator, replies, "Skip")
    assert "Who should receive it?" in replies.text, replies.text
    # Choices edit the audience message in place; its buttons show what is chosen.
    audience_message = replies.last
    for choice in audience:
        await moderator.press(audience_message, choice)
    replies = await moderator.press(audience_message, "Next")
    if russian is not None:
        replies = await press(moderator, replies, "Add a Russian version")
        replies = await moderator.send(russian)
    replies = await press(moderator, replies, "Next")
    if pin is not None:
        replies = await press(moderator, replies, "Yes" if pin else "No")
    if ack is not None:
        replies = await press(moderator, replies, "Yes" if ack else "No")
    assert "When should it go out?" in replies.text, replies.text
    pause(sandbox)
    if when is None:
        replies = await press(moderator, replies, "Send now")
    else:
        replies = await moderator.send(when)
    assert "Preview above" in replies.text, replies.text
    if not confirm:
        return replies
    pause(sandbox)  # reads the preview
    replies = await press(moderator, replies, "Confirm")
    await settle(sandbox)
    return replies


async def settle(sandbox: Sandbox) -> None:
    """Deliver until nothing is left that is due (a report edit queued at the very end of a
    drain goes out with the next one)."""
    for _ in range(10):
        if not await sandbox.deliver():
            return
    raise AssertionError("the outbox does not settle")


def pause(sandbox: Sandbox, seconds: int = 5) -> None:
    """A person reads before pressing on (and Telegram's per-chat limit assumes as much)."""
    assert isinstance(sandbox.clock, FakeClock)
    sandbox.clock.advance(timedelta(seconds=seconds))


def report_of(moderator: SandboxUser) -> StoredMessage:
    """The moderator's report (it is edited in place as delivery goes on)."""
    return next(m for m in reversed(moderator.chat()) if "📢 Announcement #" in (m.text or ""))


def figure(report: StoredMessage, label: str) -> int:
    line = next(line for line in (report.text or "").splitlines() if label in line)
    return int(line.rsplit(" ", 1)[1])


async def outbox_rows(sandbox: Sandbox, kind: str = "announcement") -> list[OutboxMessage]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        rows = await session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind))
        return list(rows)


def answer(sandbox: Sandbox) -> str:
    return sandbox.api.callback_answers[-1].text or ""


# -- who gets what ----------------------------------------------------------------------------


async def test_every_recipient_gets_one_message_in_their_language_and_the_report_agrees(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    sandbox.api.blocked.add(group["af"].id)  # AF blocked the bot without the bot noticing
    report = await announce(
        sandbox,
        group.moderator,
        "The plenary moves to <b>Thursday</b> & room 4.",
        audience=("Focal points", "KZ", "KG", "TJ", "AF"),
        russian="Пленарное заседание переносится на четверг.",
    )
    # KZ and TJ read English (no choice, or English chosen); KG chose Russian.
    for name in ("kz", "tj"):
        got = received(sandbox, group[name].id)
        assert [m.text for m in got] == [HEADER + "The plenary moves to <b>Thursday</b> & room 4."]
    got = received(sandbox, group["kg"].id)
    assert [m.text for m in got] == [HEADER_RU + "Пленарное заседание переносится на четверг."]
    # Outside the audience: nothing (the moderator saw only the preview, no delivery).
    for name in ("uz", "plain"):
        assert received(sandbox, group[name].id) == []
    assert received(sandbox, admin.id) == []
    assert received(sandbox, GROUP_ID) == []

    final = report_of(group.moderator)
    assert final.edited and final.message_id == report[0].message_id
    delivered = sum(len(received(sandbox, u.id)) for u in group.people.values())
    assert figure(final, "Sent:") == delivered == 3
    assert figure(final, "Failed:") == 1 and "blocked the bot: 1" in (final.text or "")
    assert figure(final, "Pending:") == 0
    assert "Done: delivered to 3 of 4." in (final.text or "")
    assert not sandbox.api.violations


async def test_each_member_once_even_in_several_audiences(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    second = sandbox.user(210, "Dana", username="dana_mod")
    await make_member(sandbox, second, "moderator", country="KZ")
    await announce(sandbox, group.moderator, audience=("All members", "KZ", "Moderators"))
    # Dana is a moderator and from KZ: one message. The admin is a moderator too.
    assert len(received(sandbox, second.id)) == 1
    assert len(received(sandbox, group["kz"].id)) == 1
    assert len(received(sandbox, admin.id)) == 1
    report = report_of(group.moderator)
    assert len(received(sandbox, group.moderator.id, after=report.message_id)) == 1
    assert received(sandbox, group["kg"].id) == []
    rows = await outbox_rows(sandbox)
    assert len(rows) == 4 and len({r.chat_id for r in rows}) == 4
    assert {r.dedup_key for r in rows} == {f"announcement:1:to:{r.recipient_id}" for r in rows}


async def test_inactive_and_removed_members_are_not_recipients(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await group["kz"].block()  # the bot notices: inactive
    await admin.send("/remove @user_tj moved on")
    await announce(sandbox, group.moderator, audience=("Focal points",))
    assert received(sandbox, group["kz"].id) == []
    assert received(sandbox, group["tj"].id) == []
    assert len(received(sandbox, group["kg"].id)) == 1
    assert figure(report_of(group.moderator), "Sent:") == 2  # KG and AF


async def test_group_chat_gets_it_pinned_without_an_acknowledge_button(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await announce(sandbox, group.moderator, audience=("Group chat", "KG"), pin=True, ack=True)
    [in_group] = received(sandbox, GROUP_ID)
    assert in_group.pinned and in_group.buttons == []
    [to_kg] = received(sandbox, group["kg"].id)
    assert not to_kg.pinned and "Acknowledge" in str(to_kg.buttons)
    assert figure(report_of(group.moderator), "Sent:") == 2


async def test_pin_is_offered_with_the_group_chat_and_acknowledgement_with_members(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator

    async def after_versions(choices: tuple[str, ...]) -> Replies:
        await moderator.send("/announce")
        await send_formatted(moderator, "Hello", [])
        replies = await press(moderator, Replies(moderator.chat()), "Skip")
        for choice in choices:
            await moderator.press(replies.last, choice)
        replies = await moderator.press(replies.last, "Next")
        return await press(moderator, replies, "Next")

    members_only = await after_versions(("KZ",))
    assert "acknowledge" in members_only.text and "Pin" not in members_only.text
    group_only = await after_versions(("Group chat",))
    assert "Pin it in the group chat?" in group_only.text
    when = await press(moderator, group_only, "Yes")
    assert "When should it go out?" in when.text  # no acknowledgement in a group
    replies = await press(moderator, when, "Send now")
    assert "It will be pinned" in replies.text and "Only the group chat." in replies.text


# -- formatting -------------------------------------------------------------------------------


def formatting(message: StoredMessage, start: int) -> list[set[str]]:
    """Per UTF-16 unit from `start`: the set of formatting on it (how a reader sees it)."""
    size = utf16(message.text or message.caption or "") - start
    marks: list[set[str]] = [set() for _ in range(size)]
    for entity in message.entities:
        for unit in range(entity.offset, entity.offset + entity.length):
            if unit >= start:
                kind = entity.type + (f"={entity.url}" if entity.url else "")
                marks[unit - start].add(kind)
    return marks


async def test_the_moderators_formatting_arrives_as_typed_and_markup_as_text(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    text = (
        "Agenda <script>alert(1)</script> & </a>: bold italic link under secret code\n"
        "line 2 🇰🇿 done\nprint('<b>')"
    )
    url = 'https://example.org/?a=1&b="2"'

    def at(word: str, length: int | None = None) -> tuple[int, int]:
        index = text.index(word)
        return utf16(text[:index]), length if length is not None else utf16(word)

    typed = [
        {"type": "bold", "offset": at("bold")[0], "length": at("bold")[1]},
        {"type": "italic", "offset": at("italic")[0], "length": at("italic")[1]},
        {"type": "text_link", "offset": at("link")[0], "length": at("link")[1], "url": url},
        {"type": "underline", "offset": at("under")[0], "length": at("under")[1]},
        {"type": "spoiler", "offset": at("secret")[0], "length": at("secret")[1]},
        {"type": "code", "offset": at("code")[0], "length": at("code")[1]},
        # Crossing, as Telegram allows: bold over "italic li" (half the link), and italic
        # from "link" to the end of "under".
        {"type": "bold", "offset": at("italic")[0], "length": utf16("italic li")},
        {"type": "italic", "offset": at("link")[0], "length": utf16("link under")},
        {"type": "strikethrough", "offset": at("2 🇰🇿")[0], "length": utf16("2 🇰🇿 do")},
        {"type": "mention", "offset": 0, "length": 6},  # Telegram's own: not formatting
        {
            "type": "pre",
            "offset": at("print")[0],
            "length": utf16("print('<b>')"),
            "language": 'py"thon',
        },
    ]
    await announce(sandbox, group.moderator, text, entities=typed, audience=("KZ",))
    [got] = received(sandbox, group["kz"].id)
    assert got.text == HEADER + text  # <script> and & arrive as the literal text
    header = utf16(HEADER)
    assert [e.type for e in got.entities if e.offset < header] == ["bold"]  # the header
    expected = StoredMessage(0, 0, 0, 0, text=text)
    from bot.html_text import Entity

    expected.entities = [
        Entity(e["type"], e["offset"], e["length"], url=e.get("url"))
        for e in typed
        if e["type"] != "mention"
    ]
    assert formatting(got, header) == formatting(expected, 0)
    assert [e.language for e in got.entities if e.type == "pre"] == ['py"thon']
    assert not sandbox.api.violations


async def test_four_thousand_characters_of_markup_go_through_intact(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    text = ("<b>&amp; </a> <script>x</script> " * 150)[:4000]
    await announce(
        sandbox,
        group.moderator,
        text,
        entities=[{"type": "bold", "offset": 0, "length": 4000}],
        audience=("TJ",),
    )
    [got] = received(sandbox, group["tj"].id)
    assert got.text == HEADER + text
    assert {e.type for e in got.entities} == {"bold"}


# -- attachments ------------------------------------------------------------------------------


async def test_a_photo_goes_with_the_text_as_its_caption(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    replies = await announce(
        sandbox,
        group.moderator,
        "Photo of the <i>delegation</i>",
        entities=[{"type": "italic", "offset": 0, "length": 5}],
        media=photo(sandbox),
        audience=("KZ",),
        confirm=False,
    )
    # The preview is the photo itself, with its caption, as recipients will get it.
    preview = next(m for m in replies if m.photo)
    assert preview.caption == HEADER + "Photo of the <i>delegation</i>"
    await press(group.moderator, replies, "Confirm")
    [got] = received(sandbox, group["kz"].id)
    assert got.photo and got.caption == preview.caption
    sent = [p for m, p in sandbox.api.requests if m == "sendPhoto"]
    assert {p["photo"] for p in sent} == {"moderator-photo-1"}  # Telegram's file id, reused


async def test_a_document_with_the_text_as_its_caption_in_one_message(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    replies = await send_media(moderator, document(sandbox), caption="Minutes attached.")
    assert "Who should receive it?" in replies.text  # no attachment step: it came with the text
    await moderator.press(replies.last, "TJ")
    replies = await moderator.press(replies.last, "Next")
    replies = await press(moderator, replies, "Next")
    replies = await press(moderator, replies, "No")
    replies = await press(moderator, replies, "Send now")
    await press(moderator, replies, "Confirm")
    [got] = received(sandbox, group["tj"].id)
    assert got.document is not None and got.caption == HEADER + "Minutes attached."


@pytest.mark.parametrize("media", [STICKER, VOICE, VIDEO_NOTE], ids=["sticker", "voice", "video"])
async def test_unsupported_content_gets_a_clear_message(
    sandbox: Sandbox, admin: SandboxUser, media: dict[str, Any]
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    refused = await send_media(moderator, media)  # instead of the text
    assert "cannot send that kind of message" in refused.text
    await send_formatted(moderator, "Text", [])
    refused = await send_media(moderator, media)  # instead of the attachment
    assert "cannot send that kind of message" in refused.text
    replies = await send_media(moderator, photo(sandbox))
    assert "Who should receive it?" in replies.text
    assert await outbox_rows(sandbox) == []


async def test_a_caption_over_1024_characters_is_refused(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    await send_formatted(moderator, "x" * 1020, [])  # fits a message, not a caption
    refused = await send_media(moderator, photo(sandbox))
    assert "at most 1024 characters" in refused.text and "would have 1037" in refused.text
    refused = await send_media(moderator, document(sandbox), caption="y" * 1020)
    assert "at most 1024" in refused.text
    # Without the attachment it goes on.
    replies = await press(moderator, Replies(moderator.chat()), "Skip")
    assert "Who should receive it?" in replies.text


# -- bad input --------------------------------------------------------------------------------


async def test_empty_and_over_long_texts_are_refused(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    refused = await send_formatted(moderator, "   ", [])
    assert "has no text" in refused.text
    refused = await send_formatted(moderator, "я" * 4096, [])
    assert "would have 4113 characters" in refused.text and "at most 4096" in refused.text
    ok = await send_formatted(moderator, "я" * 4079, [])
    assert "Skip" in str(ok.last.buttons)
    assert await outbox_rows(sandbox) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("yesterday", "cannot read"),
        ("2026-13-40 10:00", "cannot read"),
        ("<b>2026</b> & </a>", "cannot read"),
        ("2026-11-25 10:00", "already passed"),
        ("2026-11-26 13:59", "already passed"),  # 08:59 UTC in Almaty (UTC+5): a minute ago
        ("2028-01-01 10:00", "more than a year"),
    ],
)
async def test_a_time_in_the_past_or_unreadable_is_refused(
    sandbox: Sandbox, admin: SandboxUser, typed: str, expected: str
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    await send_formatted(moderator, "Hello", [])
    replies = await press(moderator, Replies(moderator.chat()), "Skip")
    await moderator.press(replies.last, "KZ")
    replies = await moderator.press(replies.last, "Next")
    replies = await press(moderator, replies, "Next")
    replies = await press(moderator, replies, "No")
    refused = await moderator.send(typed)
    assert expected in refused.text, refused.text
    assert await outbox_rows(sandbox) == []


async def test_an_audience_with_nobody_in_it_is_refused(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/announce")
    await send_formatted(moderator, "Hello", [])
    replies = await press(moderator, Replies(moderator.chat()), "Skip")
    audience = replies.last
    refused = await moderator.press(audience, "Next")
    assert "Choose at least one audience" in refused.text
    await moderator.press(audience, "Focal points")
    await moderator.press(audience, "UZ")  # UZ has a member, but no focal point
    assert "Chosen: focal points in Uzbekistan." in (audience.text or "")
    refused = await moderator.press(audience, "Next")
    assert "Nobody is in that audience" in refused.text
    await moderator.press(audience, "Focal points")  # now: all members in UZ
    replies = await moderator.press(audience, "Next")
    assert "Your text is marked as English" in replies.text
    assert await outbox_rows(sandbox) == []


async def test_cancel_leaves_the_dialogue_and_nothing_is_sent(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    replies = await announce(sandbox, group.moderator, audience=("KZ",), confirm=False)
    cancelled = await group.moderator.send("/cancel")
    assert "was not sent" in cancelled.text
    late = await group.moderator.press(replies.last, "Confirm")
    assert late == [] and "no longer valid" in answer(sandbox)
    after = await group.moderator.send("Another thought")
    assert "/help" in after.text  # plain text again, outside any dialogue
    assert await outbox_rows(sandbox) == []
    replies = await announce(sandbox, group.moderator, audience=("KZ",), confirm=False)
    await press(group.moderator, replies, "Cancel")
    assert await outbox_rows(sandbox) == []
    assert received(sandbox, group["kz"].id) == []


async def test_non_moderators_cannot_announce_or_press_moderators_buttons(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await announce(sandbox, group.moderator, audience=("Focal points",), ack=True)
    rows_before = len(await outbox_rows(sandbox))
    member = group["kz"]
    refused = await member.send("/announce")
    assert "needs the role" in refused.text
    stranger = sandbox.user(999, "Stranger")
    assert "only for members" in (await stranger.send("/announce")).text
    target = received(sandbox, member.id)[0]
    for data in (
        "ann:recall:1",
        "ann:recall:1:yes",
        "ann:cancel:1",
        "ann:remind:1",
        "ann:unack:1",
        "ann:view:1",
        "ann:d:confirm",
        "ann:d:aud:KZ",
        "ann:ack:abc",
        "ann:" + "9" * 60,
    ):
        replies = await member.press_data(target, data)
        assert replies == [], data
        assert "needs the role" in answer(sandbox), data
    for data in ("ann:ack:1", "ann:read:1", "ann:recall:1"):
        await stranger.press_data(target, data)
        assert "only for members" in answer(sandbox), data
    assert len(await outbox_rows(sandbox)) == rows_before
    assert all(not m.deleted for m in received(sandbox, member.id))


@pytest.mark.parametrize(
    "data",
    [
        "ann:view:999",
        "ann:recall:999",
        "ann:recall:999:yes",
        "ann:cancel:999",
        "ann:remind:999",
        "ann:unack:999",
        "ann:ack:999",
        "ann:read:999",
        "ann:d:confirm",
        "ann:d:aud:next",
        "ann:d:ver:add:ru",
        "ann:ack:1; DROP TABLE announcements",
        "ann:view:-1",
        "ann:view:9999999999",
        "ann:ack:9999999999",
        "ann:read:9999999999",
        "ann:recall:9999999999:yes",
        "ann:<b>",
    ],
)
async def test_forged_buttons_change_nothing(
    sandbox: Sandbox, admin: SandboxUser, data: str
) -> None:
    group = await working_group(sandbox)
    await announce(sandbox, group.moderator, audience=("KZ",))
    before = len(await outbox_rows(sandbox))
    replies = await admin.press_data(report_of(group.moderator), data)
    assert replies == []
    assert sandbox.api.callback_answers[-1].show_alert
    assert "went wrong" not in answer(sandbox)  # refused, not failed
    assert len(await outbox_rows(sandbox)) == before
    assert len(received(sandbox, group["kz"].id)) == 1


# -- acknowledgement and reminder -------------------------------------------------------------


async def test_acknowledge_once_list_by_country_and_remind_once(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("Focal points", "KZ", "KG", "TJ"), ack=True)
    # The preview's button records nothing.
    preview = next(m for m in moderator.chat() if "Acknowledge" in str(m.buttons))
    await moderator.press(preview, "Acknowledge")
    assert "preview" in answer(sandbox)

    [to_kz] = received(sandbox, group["kz"].id)
    pressed = await group["kz"].press(to_kz, "Acknowledge")
    assert "Thank you" in answer(sandbox)
    await settle(sandbox)
    assert pressed.to(group["kz"].id) == []
    report = report_of(moderator)
    assert "Acknowledged: 1 of 3" in (report.text or "")
    again = await group["kz"].press(to_kz, "Acknowledge")
    assert "Thank you" in answer(sandbox) and "already" in answer(sandbox)
    assert again == [] and "Acknowledged: 1 of 3" in (report_of(moderator).text or "")
    [to_kg] = received(sandbox, group["kg"].id)
    # KG reads Russian, but there is only the English version: its button is English too.
    await group["kg"].press(to_kg, "Acknowledge")
    assert "Спасибо" in answer(sandbox)

    # Someone it did not reach cannot acknowledge it with a forged press.
    await group["uz"].press_data(to_kz, "ann:ack:1")
    assert "no longer valid" in answer(sandbox)

    details = await moderator.press(report_of(moderator), "Details")
    listing = await moderator.press(details.last, "Not acknowledged")
    assert "Not acknowledged yet: announcement #1" in listing.text
    assert "Tajikistan (TJ)" in listing.text and "TJ @user_tj" in listing.text
    assert "KZ @user_kz" not in listing.text and "KG @user_kg" not in listing.text

    reminded = await moderator.press(listing.last, "Send them a reminder")
    assert "Reminder queued for 1 person" in reminded.text
    reminders = [m for m in reminded.to(group["tj"].id) if "Reminder" in (m.text or "")]
    assert len(reminders) == 1 and "Acknowledge" in str(reminders[0].buttons)
    assert reminded.to(group["kz"].id) == [] and reminded.to(group["kg"].id) == []
    # One reminder per announcement.
    await moderator.press_data(listing.last, "ann:remind:1")
    assert "only one" in answer(sandbox)
    listing = await moderator.press(details.last, "Not acknowledged")
    assert "Send them a reminder" not in str(listing.last.buttons)
    # The reminder's button counts too.
    await group["tj"].press(reminders[0], "Acknowledge")
    await settle(sandbox)
    assert "Acknowledged: 3 of 3" in (report_of(moderator).text or "")
    assert len(await outbox_rows(sandbox, "announcement_reminder")) == 1


# -- scheduling -------------------------------------------------------------------------------


async def test_a_scheduled_announcement_goes_at_its_time_in_the_moderators_zone(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await moderator.send("/timezone Kabul")
    replies = await announce(
        sandbox, moderator, audience=("KZ", "KG"), when="2026-11-27 10:00", confirm=False
    )
    assert "Goes out on 27 Nov 2026, 10:00 (Asia/Kabul, UTC+04:30)" in replies.text
    report = await press(moderator, replies, "Confirm")
    assert "Scheduled for 27 Nov 2026, 10:00 (Asia/Kabul" in report.text
    # 10:00 in Kabul is 05:30 UTC: nothing before.
    clock.set(clock.now().replace(day=27, hour=5, minute=29))
    await sandbox.deliver()
    assert received(sandbox, group["kz"].id) == [] and received(sandbox, group["kg"].id) == []
    listing = await moderator.send("/announcements")
    assert "Scheduled announcements" in listing.text and "#1" in listing.text
    assert "Cancel #1" in str(listing.last.buttons)
    clock.advance(timedelta(minutes=2))
    await settle(sandbox)
    assert len(received(sandbox, group["kz"].id)) == 1
    assert len(received(sandbox, group["kg"].id)) == 1
    final = report_of(moderator)
    assert "Done: delivered to 2 of 2." in (final.text or "")
    # Gone out: it cannot be cancelled any more.
    await moderator.press_data(final, "ann:cancel:1")
    assert "already gone out" in answer(sandbox)


async def test_a_cancelled_scheduled_announcement_never_goes(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("All members",), when="2026-11-28 09:00")
    listing = await moderator.send("/announcements")
    cancelled = await moderator.press(listing.last, "Cancel #1")
    assert "cancelled: nothing of it will be sent" in cancelled.text
    await settle(sandbox)
    assert "Cancelled before it went out" in (report_of(moderator).text or "")
    clock.advance(timedelta(days=3))
    await sandbox.deliver()
    for user in [*group.people.values(), admin]:
        assert received(sandbox, user.id) == []
    assert {r.state for r in await outbox_rows(sandbox)} == {"cancelled"}
    await moderator.press_data(listing.last, "ann:cancel:1")
    assert "was cancelled" in answer(sandbox)
    history = await group["kz"].send("/announcements")
    assert "no announcements for you yet" in history.text


async def test_someone_removed_or_forgotten_before_the_time_never_gets_it(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("KZ", "KG"), when="2026-11-28 09:00")
    await admin.send(f"/remove @{group['kz'].json['username']}")
    asked = await group["kg"].send("/forgetme")
    await group["kg"].press(asked.last, "1")
    clock.advance(timedelta(days=3))
    await settle(sandbox)
    assert received(sandbox, group["kz"].id) == [] and received(sandbox, group["kg"].id) == []
    assert {r.state for r in await outbox_rows(sandbox)} == {"cancelled"}
    from tests.conftest import audit_rows

    posted = [e for e in await audit_rows(sandbox) if e.action == "announced"]
    assert len(posted) == 1 and "announcement #1 to 2 chat(s)" in posted[0].detail


# -- recall -----------------------------------------------------------------------------------


async def test_recall_deletes_it_from_every_chat(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("Group chat", "All members"), pin=True, ack=True)
    after = {moderator.id: report_of(moderator).message_id}
    reached = [GROUP_ID, admin.id, moderator.id, *(u.id for u in group.people.values())]
    assert all(len(received(sandbox, c, after=after.get(c, 0))) == 1 for c in reached)
    details = await moderator.press(report_of(moderator), "Details")
    confirm = await moderator.press(details.last, "Recall")
    assert "Recall announcement #1?" in confirm.text
    assert received(sandbox, GROUP_ID)[0].deleted is False  # not before the confirmation
    done = await moderator.press(confirm.last, "Yes, recall it")
    assert done == [] and "recalled: deleting it from 9 chats" in (confirm.last.text or "")
    await settle(sandbox)
    for chat in reached:
        assert received(sandbox, chat, after=after.get(chat, 0)) == [], chat
    assert sum(m.deleted for m in sandbox.api.messages.values()) == 9
    assert "Recalled: deleted from 9 chats." in (report_of(moderator).text or "")
    # Recalled: no acknowledging, no second recall, not in anybody's history.
    await moderator.press_data(confirm.last, "ann:recall:1:yes")
    assert "already been recalled" in answer(sandbox)
    assert "no announcements for you yet" in (await group["kz"].send("/announcements")).text


async def test_recall_is_refused_after_48_hours(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("KZ",))
    clock.advance(timedelta(hours=48))
    details = await moderator.press(report_of(moderator), "Details")
    await moderator.press(details.last, "Recall")
    assert "within 48 hours" in answer(sandbox)
    assert not received(sandbox, group["kz"].id)[0].deleted
    assert [r.action for r in await outbox_rows(sandbox)] == ["send"]


async def test_recall_within_two_days_works(
    sandbox: Sandbox, admin: SandboxUser, clock: FakeClock
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("KZ",))
    clock.advance(timedelta(hours=47))
    confirm = await moderator.press_data(report_of(moderator), "ann:recall:1")
    await moderator.press(confirm.last, "Yes, recall it")
    assert received(sandbox, group["kz"].id) == []


# -- history ----------------------------------------------------------------------------------


async def test_members_read_recent_announcements_in_their_language_and_zone(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, "For everybody", audience=("All members",), russian="Всем")
    pause(sandbox, 60)
    await announce(sandbox, moderator, "Only for KZ", audience=("KZ",))
    pause(sandbox, 60)
    await announce(
        sandbox, moderator, "Only for the group", audience=("Group chat",), pin=False, ack=None
    )
    kg = group["kg"]
    await kg.send("/timezone Tehran")
    history = await kg.send("/announcements")
    text = history.text
    assert "Всем" in text and "For everybody" not in text
    assert "Only for KZ" not in text
    assert "Only for the group" in text  # said in the group: addressed to everybody
    assert "(Asia/Tehran, UTC+03:30)" in text
    full = await kg.press(history.last, "#1")
    assert full.last.text == HEADER_RU + "Всем"
    forged = await kg.press_data(history.last, "ann:read:2")
    assert forged == [] and "больше не действует" in answer(sandbox)
    kz_history = await group["kz"].send("/announcements")
    assert "Only for KZ" in kz_history.text and "For everybody" in kz_history.text


async def test_history_shows_the_last_ten(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    for number in range(1, 13):
        await announce(sandbox, group.moderator, f"Note {number:02d}", audience=("KZ",))
        pause(sandbox, 60)
    history = await group["kz"].send("/announcements")
    assert "Note 12" in history.text and "Note 03" in history.text
    assert "Note 02" not in history.text and "Note 01" not in history.text
    moderators = await group.moderator.send("/announcements")
    assert "Recent announcements" in moderators.text and "#12" in moderators.text


async def test_a_large_audience_with_failures_report_matches_what_telegram_received(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    await make_member(sandbox, moderator, "moderator")
    codes = ("KZ", "KG", "TJ", "TM", "UZ", "AF", "IR", "PK")
    people = []
    for index in range(64):
        user = sandbox.user(1000 + index, f"Expert {index}")
        await make_member(sandbox, user, country=codes[index % len(codes)])
        people.append(user)
    for user in people[:3]:
        sandbox.api.blocked.add(user.id)
    for user in people[3:5]:
        sandbox.api.started.discard(user.id)
    del sandbox.api.chats[GROUP_ID].members[sandbox.bot_id]  # the bot was removed from the group
    report = await announce(sandbox, moderator, audience=("Group chat", "All members"), pin=False)
    final = report_of(moderator)
    assert final.message_id == report[0].message_id
    after = final.message_id
    got = {
        chat: len(received(sandbox, chat, after=after if chat == moderator.id else 0))
        for chat in [GROUP_ID, admin.id, moderator.id, *(u.id for u in people)]
    }
    assert figure(final, "Sent:") == sum(got.values()) == 61
    assert figure(final, "Failed:") == 6 and figure(final, "Pending:") == 0
    text = final.text or ""
    assert "blocked the bot: 3" in text
    assert "never started a chat with the bot: 2" in text
    assert "the bot is not in the chat: 1" in text
    assert "Done: delivered to 61 of 67." in text and "Not delivered: 6." in text
    sent = [r for r in await outbox_rows(sandbox) if r.state == "sent"]
    assert len(sent) == 61 and all(r.telegram_message_id for r in sent)
    # Several batches: the report was edited on the way, not only at the end.
    edits = [p for m, p in sandbox.api.requests if m == "editMessageText"]
    assert len(edits) >= 2 and not sandbox.api.violations


MARKUP = ["<b>", "&", "</a>", "<script>alert(1)</script>", "&amp;lt;", "<a href='x'>"]


@pytest.mark.parametrize("text", MARKUP)
async def test_markup_typed_anywhere_arrives_as_text(
    sandbox: Sandbox, admin: SandboxUser, text: str
) -> None:
    group = await working_group(sandbox)
    await announce(
        sandbox, group.moderator, f"Main {text}", audience=("KG", "TJ"), russian=f"Рус {text}"
    )
    assert [m.text for m in received(sandbox, group["tj"].id)] == [f"{HEADER}Main {text}"]
    assert [m.text for m in received(sandbox, group["kg"].id)] == [f"{HEADER_RU}Рус {text}"]
    moderator = group.moderator
    await moderator.send("/announce")
    replies = await send_media(moderator, photo(sandbox), caption=f"Caption {text}")
    await moderator.press(replies.last, "UZ")
    replies = await moderator.press(replies.last, "Next")
    replies = await press(moderator, replies, "Next")
    replies = await press(moderator, replies, "No")
    refused = await moderator.send(text)  # as a time
    assert "cannot read" in refused.text
    pause(sandbox)
    replies = await press(moderator, Replies(moderator.chat()), "Send now")
    pause(sandbox)
    await press(moderator, replies, "Confirm")
    await settle(sandbox)
    [got] = received(sandbox, group["uz"].id)
    assert got.caption == f"{HEADER}Caption {text}"
    history = await group["uz"].send("/announcements")
    assert f"Caption {text}" in history.text
    assert not sandbox.api.violations


async def test_a_russian_reader_of_a_russian_version_gets_russian_buttons(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await announce(
        sandbox, group.moderator, "Read this", audience=("KG", "TJ"), russian="Прочтите", ack=True
    )
    [to_kg] = received(sandbox, group["kg"].id)
    [to_tj] = received(sandbox, group["tj"].id)
    assert to_kg.text == HEADER_RU + "Прочтите" and "Принято" in str(to_kg.buttons)
    assert to_tj.text == HEADER + "Read this" and "Acknowledge" in str(to_tj.buttons)
    await group["kg"].press(to_kg, "Принято")
    assert answer(sandbox) == "Спасибо: ваше подтверждение получено."


async def test_forgetting_a_member_deletes_their_acknowledgements(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    from bot.models import AnnouncementAck

    group = await working_group(sandbox)
    moderator = group.moderator
    await announce(sandbox, moderator, audience=("KZ",), ack=True)
    [to_kz] = received(sandbox, group["kz"].id)
    await group["kz"].press(to_kz, "Acknowledge")
    confirm = await group["kz"].send("/forgetme")
    await group["kz"].press(confirm.last, "Yes")
    # The author forgets themselves too: the announcement stays, without a name.
    confirm = await moderator.send("/forgetme")
    await moderator.press(confirm.last, "Yes")
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        assert list(await session.exec(select(AnnouncementAck))) == []
    details = await admin.press_data(report_of(moderator), "ann:view:1")
    assert "Announcement #1" in details.text and "By " not in details.text
    assert "Acknowledged: 0 of 0" in details.text  # the forgotten are nobody to ask
