"""Meetings on Telegram: /newmeeting (one line and the dialogue), /meetings, /meeting, RSVP,
the .ics file, edits, moves and cancellations, the notices in each reader's language and zone,
reminders, and everything a person may get wrong on the way."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from sqlmodel import col, select

from bot.models import ActionItem, Meeting, MeetingRsvp, MeetingStatus, OutboxMessage
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from tests.conftest import GROUP_ID, make_member

# The fake clock starts on Thursday 26 November 2026, 09:00 UTC.
ONE_LINE = (
    "/newmeeting 2026-12-03 10:00 Asia/Almaty | Monthly focal point call | "
    "https://meet.example.org/wg --remind 24h,1h"
)
# 10:00 in Almaty (UTC+5) is 05:00 UTC.
START = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage() -> Iterator[None]:
    yield
    gc.collect()


# -- the people ---------------------------------------------------------------------------------


@dataclass
class Group:
    moderator: SandboxUser
    people: dict[str, SandboxUser] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def working_group(sandbox: Sandbox) -> Group:
    """A moderator (Almaty, the default zone); a member in Kabul and one in Tehran; focal
    points of KZ and AF; a member with no zone set."""
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    group = Group(moderator)
    group.ids["moderator"] = await make_member(sandbox, moderator, "moderator")
    for name, user_id, role, country, zone in (
        ("kabul", 301, "member", "AF", "Asia/Kabul"),
        ("tehran", 302, "member", "IR", "Asia/Tehran"),
        ("kz", 303, "focal_point", "KZ", None),
        ("af", 304, "focal_point", "AF", None),
        ("plain", 305, "member", None, None),
    ):
        user = sandbox.user(user_id, name.capitalize(), username=f"user_{name}")
        group.ids[name] = await make_member(sandbox, user, role, country=country)
        if zone:
            await user.send(f"/timezone {zone}")
        group.people[name] = user
    return group


# -- reading what happened ----------------------------------------------------------------------


async def meeting_rows(sandbox: Sandbox) -> list[Meeting]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(Meeting).order_by(col(Meeting.id))))


async def outbox_rows(sandbox: Sandbox) -> list[OutboxMessage]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.kind).startswith("meeting"))
        )
        return list(rows)


async def rsvp_rows(sandbox: Sandbox) -> list[MeetingRsvp]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(MeetingRsvp)))


def bot_messages(sandbox: Sandbox, chat_id: int, prefix: str = "") -> list[StoredMessage]:
    """What the bot put in a chat, oldest first (only those starting with `prefix`)."""
    return [
        m
        for (chat, _), m in sorted(sandbox.api.messages.items())
        if chat == chat_id
        and m.from_id == sandbox.bot_id
        and not m.deleted
        and (m.text or m.caption or "").startswith(prefix)
    ]


def invitations(sandbox: Sandbox, chat_id: int) -> list[StoredMessage]:
    return bot_messages(sandbox, chat_id, "📅 New meeting")


def alert(sandbox: Sandbox) -> str:
    answer = sandbox.api.callback_answers[-1]
    return answer.text or ""


def labels(message: StoredMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def press(user: SandboxUser, replies: Replies, label: str) -> Replies:
    """Press a button on the latest of these replies that has one with that label."""
    for message in reversed(replies):
        if any(label.lower() in text.lower() for text in labels(message)):
            return await user.press(message, label)
    raise AssertionError(f"no button {label!r} in {[labels(m) for m in replies]}")


def pause(sandbox: Sandbox, seconds: int = 5) -> None:
    """A person reads before answering (and Telegram's per-chat limit assumes as much)."""
    sandbox.clock.advance(timedelta(seconds=seconds))  # type: ignore[attr-defined]


async def create_one_line(moderator: SandboxUser, text: str = ONE_LINE) -> Replies:
    replies = await moderator.send(text)
    assert "Preview: the invitation" in replies.text, replies.text
    pause(moderator.sandbox)
    replies = await press(moderator, replies, "Confirm")
    pause(moderator.sandbox)
    return replies


async def details(user: SandboxUser, meeting_id: int = 1) -> StoredMessage:
    replies = await user.send(f"/meeting {meeting_id}")
    return replies.last


# -- creating -----------------------------------------------------------------------------------


async def test_one_line_preview_then_invitations_in_each_readers_zone(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    replies = await group.moderator.send(ONE_LINE)
    # The invitation as the moderator will get it, who gets it, and Confirm: one message.
    [preview] = replies
    text = preview.text or ""
    assert text.startswith("Preview: the invitation")
    assert "📅 New meeting: Monthly focal point call" in text
    assert "3 Dec 2026, 10:00 (Asia/Almaty, UTC+05:00)" in text
    assert "All members" not in text and "and the group chat" in text
    assert labels(preview) == ["Confirm", "Cancel"]
    assert await meeting_rows(sandbox) == []  # nothing saved before Confirm

    replies = await press(group.moderator, replies, "Confirm")
    assert "Meeting #1 is planned" in replies.text
    [meeting] = await meeting_rows(sandbox)
    assert meeting.title == "Monthly focal point call"
    assert meeting.starts_at == START and meeting.timezone == "Asia/Almaty"
    assert meeting.location == "https://meet.example.org/wg"
    assert meeting.reminder_offsets == [1440, 60] and meeting.to_everyone

    # Each member in their own zone, named; the group chat in the meeting's zone.
    expected = {
        "kabul": "3 Dec 2026, 09:30 (Asia/Kabul, UTC+04:30)",
        "tehran": "3 Dec 2026, 08:30 (Asia/Tehran, UTC+03:30)",
        "kz": "3 Dec 2026, 10:00 (Asia/Almaty, UTC+05:00)",
    }
    for name, local in expected.items():
        [invite] = invitations(sandbox, group[name].id)
        assert local in (invite.text or ""), invite.text
        assert "https://meet.example.org/wg" in (invite.text or "")
        assert "/meeting 1" in (invite.text or "")
        assert labels(invite) == ["✅ Yes", "❌ No", "🤔 Maybe", "📅 Add to calendar"]
    [in_group] = invitations(sandbox, GROUP_ID)
    assert "3 Dec 2026, 10:00 (Asia/Almaty, UTC+05:00)" in (in_group.text or "")
    assert in_group.buttons == []
    assert not sandbox.api.violations


async def test_the_dialogue_asks_again_after_every_bad_answer(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    replies = await moderator.send("/newmeeting")
    assert "What is the meeting's title?" in replies.text
    replies = await moderator.send("   ")
    assert "The title cannot be empty." in replies.text and "title?" in replies.text
    replies = await moderator.send("Weekly <b>coordination</b> & planning")
    assert "When does it start?" in replies.text and "Asia/Almaty" in replies.text

    for bad, explanation in (
        ("next thursday-ish", "could not read"),
        ("2026-11-01 10:00", "has already passed"),
        ("2026-12-03 10:00 Mars/Olympus", "do not know the time zone"),
        ("2030-12-03 10:00", "too far ahead"),
    ):
        replies = await moderator.send(bad)
        assert explanation in replies.text, (bad, replies.text)
        assert "When does it start?" in replies.text, bad
    replies = await moderator.send("2026-12-03 10:00 Europe/London")
    assert "Where does it take place?" in replies.text
    replies = await press(moderator, replies, "Skip")
    assert "Does it repeat?" in replies.text
    replies = await moderator.send("every full moon")
    assert "could not read" in replies.text and "Does it repeat?" in replies.text
    replies = await press(moderator, replies, "Weekly")
    assert "reminders" in replies.text
    replies = await moderator.send("400d")
    assert "at most one year" in replies.text
    replies = await moderator.send("2d, 1h")
    assert "Who is it for?" in replies.text
    audience = replies.last
    replies = await moderator.press(audience, "Next")
    assert replies == [] and "Who is the meeting for?" in alert(sandbox)  # nothing chosen
    await moderator.press(audience, "Focal points")
    await moderator.press(audience, "KZ")
    assert "focal points in Kazakhstan" in (audience.text or "")
    assert "1 person" in (audience.text or "")
    replies = await moderator.press(audience, "Next")
    assert "Preview: the invitation" in replies.text
    assert await meeting_rows(sandbox) == []
    replies = await press(moderator, replies, "Confirm")
    assert "Meeting #1 is planned" in replies.text

    [meeting] = await meeting_rows(sandbox)
    assert meeting.title == "Weekly <b>coordination</b> & planning"
    assert meeting.timezone == "Europe/London"
    assert meeting.starts_at == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert meeting.rrule == "FREQ=WEEKLY" and meeting.reminder_offsets == [2880, 60]
    assert meeting.to_focal_points and meeting.countries == ["KZ"]
    # Only the focal point of Kazakhstan is invited; the title arrives as typed.
    [invite] = invitations(sandbox, group["kz"].id)
    assert "Weekly <b>coordination</b> & planning" in (invite.text or "")
    assert "every week on Thursday" in (invite.text or "")
    assert "3 Dec 2026, 15:00 (Asia/Almaty, UTC+05:00)" in (invite.text or "")
    for name in ("af", "kabul", "plain"):
        assert invitations(sandbox, group[name].id) == []
    assert invitations(sandbox, GROUP_ID) == []


async def test_cancel_leaves_the_dialogue_and_saves_nothing(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    replies = await group.moderator.send(ONE_LINE)
    replies = await press(group.moderator, replies, "Cancel")
    assert "nothing was saved" in replies.text
    await group.moderator.send("/newmeeting")
    await group.moderator.send("A title")
    replies = await group.moderator.send("/cancel")
    assert "nothing was saved" in replies.text
    assert await meeting_rows(sandbox) == []
    assert await outbox_rows(sandbox) == []


@pytest.mark.parametrize(
    ("arguments", "explanation"),
    [
        ("sometime next week | Call", "could not read"),
        ("2026-11-20 10:00 | Call", "has already passed"),
        ("2026-12-03 10:00 Mars/Olympus | Call", "do not know the time zone"),
        ("2026-12-03 10:00 |    ", "needs a title"),
        ("2026-12-03 10:00 | Call --repeat FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never gives"),
        ("2026-12-03 10:00 | Call --remind 400d", "at most one year"),
        ("2026-12-03 10:00 | Call --for @nobody_here", "No member @nobody_here"),
        ("2026-12-03 10:00 | Call --for TM", "Nobody is in that audience"),
        ("2026-12-03 10:00 | Call --colour red", "do not know the option --colour"),
    ],
)
async def test_bad_one_line_input_is_explained_and_nothing_saved(
    sandbox: Sandbox, admin: SandboxUser, arguments: str, explanation: str
) -> None:
    group = await working_group(sandbox)
    replies = await group.moderator.send(f"/newmeeting {arguments}")
    assert explanation in replies.text, replies.text
    assert "Nothing was saved" in replies.text
    assert not any("Confirm" in labels(m) for m in replies)
    assert await meeting_rows(sandbox) == []
    assert await outbox_rows(sandbox) == []


async def test_named_members_in_the_one_line_form(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    await create_one_line(
        group.moderator,
        f"/newmeeting 2026-12-03 10:00 | Small call --for @user_plain, #{group.ids['tehran']}",
    )
    [meeting] = await meeting_rows(sandbox)
    assert sorted(meeting.member_ids) == sorted([group.ids["plain"], group.ids["tehran"]])
    assert len(invitations(sandbox, group["plain"].id)) == 1
    assert len(invitations(sandbox, group["tehran"].id)) == 1
    assert invitations(sandbox, group["kz"].id) == []


async def test_members_cannot_create_meetings(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    for name in ("plain", "kz"):
        replies = await group[name].send(ONE_LINE)
        assert "needs the role" in replies.text
        replies = await group[name].send("/newmeeting")
        assert "needs the role" in replies.text
    # A member who presses a moderator's Confirm (forged) changes nothing either.
    preview = await group.moderator.send(ONE_LINE)
    await group["plain"].press_data(preview.last, "mtg:d:ok")
    assert sandbox.api.callback_answers[-1].show_alert
    assert await meeting_rows(sandbox) == []


async def test_html_in_the_title_and_place_is_shown_literally(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    title = "<script>alert(1)</script> & <i>Plenary</i>"
    await create_one_line(group.moderator, f"/newmeeting 2026-12-03 10:00 | {title} | Room <4>")
    [invite] = invitations(sandbox, group["plain"].id)
    assert title in (invite.text or "") and "Room <4>" in (invite.text or "")
    assert all(e.type not in ("italic", "text_link") for e in invite.entities)
    shown = await details(group["plain"])
    assert title in (shown.text or "")


# -- reading ------------------------------------------------------------------------------------


async def test_meetings_lists_what_is_coming_page_by_page(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    for day in range(1, 8):
        await create_one_line(
            group.moderator, f"/newmeeting 2026-12-{day + 9:02d} 10:00 | Call number {day}"
        )
    replies = await group["kabul"].send("/meetings")
    page = replies.last
    text = page.text or ""
    assert [f"#{n} Call number {n}" in text for n in range(1, 8)] == [True] * 5 + [False] * 2
    assert "10 Dec 2026, 09:30 (Asia/Kabul, UTC+04:30)" in text
    assert "Page 1 of 2" in text
    assert labels(page) == ["#1", "#2", "#3", "#4", "#5", "»"]
    await group["kabul"].press(page, "»")
    text = page.text or ""
    assert "#6 Call number 6" in text and "#7 Call number 7" in text
    assert "#1 Call number 1" not in text and "Page 2 of 2" in text
    assert labels(page) == ["#6", "#7", "«"]
    replies = await group["kabul"].press(page, "#7")
    assert replies.last.text is not None and "Meeting #7: Call number 7" in replies.last.text


async def test_nothing_planned(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    replies = await group["plain"].send("/meetings")
    assert "No meetings are planned for you." in replies.text
    replies = await group["plain"].send("/meeting")
    assert "Which meeting?" in replies.text
    replies = await group["plain"].send("/meeting 12")
    assert "There is no meeting with that number" in replies.text
    replies = await group["plain"].send("/meeting 99999999999999999999")
    assert "Which meeting?" in replies.text


async def test_details_rsvp_counts_for_everybody_names_for_moderators(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    # From the invitation: the buttons show the answer.
    [invite] = invitations(sandbox, group["kabul"].id)
    await group["kabul"].press(invite, "Yes")
    assert "Your answer: Yes" in alert(sandbox)
    assert labels(invite)[0] == "• ✅ Yes •"
    # From the details: the message is redrawn with the counts.
    shown = await details(group["tehran"])
    text = shown.text or ""
    assert "3 Dec 2026, 08:30 (Asia/Tehran, UTC+03:30)" in text
    assert "1 hour" in text and "https://meet.example.org/wg" in text
    assert "all members" in text and "Reminders: 24 hours, 1 hour before" in text
    assert "Yes: 1 · ❌ No: 0 · 🤔 Maybe: 0" in text
    await group["tehran"].press(shown, "No")
    text = shown.text or ""
    assert "Yes: 1 · ❌ No: 1" in text and "Your answer: No, I cannot attend." in text
    assert "• ❌ No •" in labels(shown)
    assert "Kabul" not in text  # members see counts, not names
    # Changing one's mind replaces the answer.
    await group["tehran"].press(shown, "Maybe")
    assert "No: 0 · 🤔 Maybe: 1" in (shown.text or "")
    assert len(await rsvp_rows(sandbox)) == 2
    # Moderators see who answered what, and their own buttons.
    shown = await details(group.moderator)
    text = shown.text or ""
    assert "Yes, I will attend: Kabul" in text and "Maybe: Tehran" in text
    assert {"✏️ Edit", "🕑 Move this one", "🗑 Cancel the meeting"} <= set(labels(shown))
    member_view = await details(group["plain"])
    assert "✏️ Edit" not in labels(member_view)


async def test_a_member_who_is_not_invited_is_refused(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator, "/newmeeting 2026-12-03 10:00 | FP call --for focal")
    replies = await group["plain"].send("/meeting 1")
    assert "This meeting is not for you" in replies.text
    assert "FP call" not in replies.text
    assert "FP call" not in (await group["plain"].send("/meetings")).text
    [invite] = invitations(sandbox, group["kz"].id)
    for data in ("mtg:r:1:20261203T0500Z:y", "mtg:ics:1", "mtg:view:1"):
        await group["plain"].press_data(invite, data)
        assert "not for you" in alert(sandbox), data
    assert await rsvp_rows(sandbox) == []
    # A moderator may read it, though not invited.
    assert "FP call" in ((await details(group.moderator)).text or "")


async def test_add_to_calendar_sends_an_ics_with_the_same_instant(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator, ONE_LINE + " --repeat weekly")
    [invite] = invitations(sandbox, group["kabul"].id)
    replies = await group["kabul"].press(invite, "Add to calendar")
    [sent] = replies
    assert sent.document is not None and sent.document["file_name"] == "meeting-1.ics"
    assert "Meeting #1" in (sent.caption or "")
    data = sandbox.api.files[sent.document["file_id"]]
    calendar = icalendar.Calendar.from_ical(data)
    [event] = [c for c in calendar.walk("VEVENT")]
    assert event.decoded("DTSTART").astimezone(UTC) == START
    assert event["SUMMARY"] == "Monthly focal point call"
    assert event["RRULE"]["FREQ"] == ["WEEKLY"]


# -- changing -----------------------------------------------------------------------------------


async def test_edit_the_title_and_time_tells_everybody_who_was_told(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await create_one_line(moderator)
    replies = await moderator.press(await details(moderator), "Edit")
    menu = replies.last
    replies = await moderator.press(menu, "Title")
    assert "Now: Monthly focal point call" in replies.text
    replies = await moderator.send("")
    replies = await moderator.send("Plenary & <b>review</b>")
    assert "Monthly focal point call → Plenary & <b>review</b>" in replies.text
    assert (await meeting_rows(sandbox))[0].title == "Monthly focal point call"
    replies = await press(moderator, replies, "Confirm")
    assert "Changed." in replies.text
    assert (await meeting_rows(sandbox))[0].title == "Plenary & <b>review</b>"
    [changed] = bot_messages(sandbox, group["kabul"].id, "✏️ Meeting changed")
    assert "Plenary & <b>review</b>" in (changed.text or "")
    assert len(bot_messages(sandbox, GROUP_ID, "✏️ Meeting changed")) == 1

    # The time: old -> new, in each reader's zone.
    replies = await moderator.press(menu, "Time")
    replies = await moderator.send("2026-11-01 10:00")
    assert "has already passed" in replies.text and "Send the new date" in replies.text
    replies = await moderator.send("2026-12-04 12:00")
    assert "→ 4 Dec 2026, 12:00 (Asia/Almaty, UTC+05:00)" in replies.text
    await press(moderator, replies, "Confirm")
    meeting = (await meeting_rows(sandbox))[0]
    assert meeting.starts_at == datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    changed = bot_messages(sandbox, group["kabul"].id, "✏️ Meeting changed")[-1]
    assert (
        "New time: 3 Dec 2026, 09:30 (Asia/Kabul, UTC+04:30) → "
        "4 Dec 2026, 11:30 (Asia/Kabul, UTC+04:30)"
    ) in (changed.text or "")


async def test_edit_the_other_fields(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await create_one_line(moderator)
    for field_label, typed, check in (
        ("Link or place", "Room 4, UNODC Vienna", lambda m: m.location == "Room 4, UNODC Vienna"),
        ("Agenda", "1. Reports\n2. Plans", lambda m: m.agenda == "1. Reports\n2. Plans"),
        ("Duration", "90m", lambda m: m.duration_minutes == 90),
        ("Reminders", "2d, 30m", lambda m: m.reminder_offsets == [2880, 30]),
        ("Repetition", "every 2 weeks", lambda m: m.rrule == "FREQ=WEEKLY;INTERVAL=2"),
    ):
        replies = await moderator.press(await details(moderator), "Edit")
        replies = await moderator.press(replies.last, field_label)
        replies = await moderator.send(typed)
        replies = await press(moderator, replies, "Confirm")
        assert "Changed." in replies.text, (field_label, replies.text)
        assert check((await meeting_rows(sandbox))[0]), field_label
    # Buttons do for the repetition and the reminders; the same again is "nothing changed".
    replies = await moderator.press(await details(moderator), "Edit")
    replies = await moderator.press(replies.last, "Repetition")
    replies = await press(moderator, replies, "Monthly")
    assert "every 2 weeks on Thursday → every month on the first Thursday" in replies.text
    await press(moderator, replies, "Confirm")
    assert (await meeting_rows(sandbox))[0].rrule == "FREQ=MONTHLY;BYDAY=+1TH"
    replies = await moderator.press(await details(moderator), "Edit")
    replies = await moderator.press(replies.last, "Duration")
    replies = await moderator.send("forever")
    assert "could not use forever" in replies.text
    replies = await moderator.send("90m")
    replies = await press(moderator, replies, "Confirm")
    assert "Nothing changed" in replies.text
    # Every change was told to the invitees, once each.
    assert len(bot_messages(sandbox, group["kz"].id, "✏️ Meeting changed")) == 6


async def test_move_one_occurrence_and_cancel_one_then_the_series(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    moderator = group.moderator
    await create_one_line(moderator, ONE_LINE + " --repeat weekly")
    # Move the first one by two hours.
    replies = await moderator.press(await details(moderator), "Move this one")
    assert "Move the meeting of 3 Dec 2026, 10:00" in replies.text
    replies = await moderator.send("2026-12-03 12:00")
    assert "3 Dec 2026, 10:00 (Asia/Almaty, UTC+05:00) → 3 Dec 2026, 12:00" in replies.text
    await press(moderator, replies, "Confirm")
    [moved] = bot_messages(sandbox, group["kabul"].id, "🕑 Meeting moved")
    assert (
        "From 3 Dec 2026, 09:30 (Asia/Kabul, UTC+04:30) to 3 Dec 2026, 11:30 (Asia/Kabul, "
        "UTC+04:30)."
    ) in (moved.text or "")
    assert "Yes" in labels(moved)[0]  # answers start afresh for the new time
    shown = await details(group["kabul"])
    assert "3 Dec 2026, 11:30 (Asia/Kabul, UTC+04:30)" in (shown.text or "")
    assert "Moved from 3 Dec 2026, 09:30" in (shown.text or "")

    # Cancel the one after: the series goes on.
    shown = await details(moderator)
    await moderator.press(shown, "Later")
    assert "10 Dec 2026, 10:00 (Asia/Almaty" in (shown.text or "")
    replies = await moderator.press(shown, "Cancel this one")
    assert "Cancel the meeting of 10 Dec 2026, 10:00" in replies.text
    confirm = replies.last
    replies = await moderator.press(confirm, "Yes, cancel it")
    assert "Cancelled: the meeting #1 of 10 Dec 2026" in (confirm.text or "")
    [skipped] = bot_messages(sandbox, group["tehran"].id, "❌ Cancelled")
    assert "10 Dec 2026, 08:30 (Asia/Tehran, UTC+03:30) will not take place" in (skipped.text or "")
    # The same button again changes nothing.
    await moderator.press_data(confirm, "mtg:xo:1:20261210T0500Z:y")
    assert sandbox.api.callback_answers[-1].show_alert
    assert len(bot_messages(sandbox, group["tehran"].id, "❌ Cancelled")) == 1

    # Cancel the series, after saying No once.
    replies = await moderator.press(await details(moderator), "Cancel the series")
    replies = await moderator.press(replies.last, "No")
    assert (await meeting_rows(sandbox))[0].status == MeetingStatus.SCHEDULED
    replies = await moderator.press(await details(moderator), "Cancel the series")
    await moderator.press(replies.last, "Yes, cancel it")
    assert (await meeting_rows(sandbox))[0].status == MeetingStatus.CANCELLED
    [gone] = bot_messages(sandbox, group["tehran"].id, "❌ Meeting cancelled")
    assert "no further meetings" in (gone.text or "")
    assert "No meetings are planned" in (await group["tehran"].send("/meetings")).text
    shown = await details(group["tehran"])
    assert "This meeting is cancelled." in (shown.text or "") and labels(shown) == []


async def test_forged_or_stale_buttons_change_nothing(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    [invite] = invitations(sandbox, group["kabul"].id)
    for data in (
        "mtg:r:99999999999:20261203T0500Z:y",  # too long a number
        "mtg:r:2147483648:20261203T0500Z:y",  # past any id
        "mtg:r:2:20261203T0500Z:y",  # no such meeting
        "mtg:r:1:20261204T0500Z:y",  # no such occurrence
        "mtg:r:1:20269999T9999Z:y",  # no such instant
        "mtg:r:1:20261203T0500Z:x",  # no such answer
        "mtg:xs:1:y",  # a moderator's button
        "mtg:e:1:title",
        "mtg:d:ok",  # a dialogue that is not open
        "mtg:list:99999999",
        "mtg:" + "9" * 60,
    ):
        await group["kabul"].press_data(invite, data)
        assert sandbox.api.callback_answers[-1].show_alert, data
    assert await rsvp_rows(sandbox) == []
    [meeting] = await meeting_rows(sandbox)
    assert meeting.status == MeetingStatus.SCHEDULED and meeting.title.startswith("Monthly")
    # Every button the bot made fits Telegram's 64 bytes.
    for message in sandbox.api.messages.values():
        for row in message.buttons:
            for b in row:
                assert len(b.get("callback_data", "").encode()) <= 64


# -- reminders ----------------------------------------------------------------------------------


async def test_reminders_in_each_zone_with_the_link_and_open_action_items(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator)
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        session.add(
            ActionItem(
                text="Send the <country> report",
                owner_member_id=group.ids["kabul"],
                due_on=date(2026, 12, 10),
                timezone="Asia/Almaty",
                created_at=sandbox.now(),
                reminded_through=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
    # Tehran will not come: no reminders for them.
    [invite] = invitations(sandbox, group["tehran"].id)
    await group["tehran"].press(invite, "No")

    await sandbox.wait(START - timedelta(hours=24, minutes=1) - sandbox.now())
    assert bot_messages(sandbox, group["kabul"].id, "⏰") == []
    await sandbox.wait(timedelta(minutes=2))
    [day_before] = bot_messages(sandbox, group["kabul"].id, "⏰")
    text = day_before.text or ""
    assert text.startswith("⏰ Reminder: Monthly focal point call in 24 hours")
    assert "3 Dec 2026, 09:30 (Asia/Kabul, UTC+04:30)" in text
    assert "https://meet.example.org/wg" in text
    assert "Your open action items:" in text
    assert "Send the <country> report (due 10 Dec 2026)" in text
    assert "late" not in text
    assert "Yes" in labels(day_before)[0]
    [for_kz] = bot_messages(sandbox, group["kz"].id, "⏰")
    assert "3 Dec 2026, 10:00 (Asia/Almaty, UTC+05:00)" in (for_kz.text or "")
    assert "action items" not in (for_kz.text or "")
    [in_group] = bot_messages(sandbox, GROUP_ID, "⏰")
    assert in_group.buttons == []
    assert bot_messages(sandbox, group["tehran"].id, "⏰") == []

    await sandbox.wait(START - timedelta(minutes=59) - sandbox.now())
    assert "in 1 hour" in (bot_messages(sandbox, group["kabul"].id, "⏰")[-1].text or "")
    assert len(bot_messages(sandbox, group["kz"].id, "⏰")) == 2
    assert bot_messages(sandbox, group["tehran"].id, "⏰") == []


async def test_a_late_reminder_says_so_and_how_long_is_left(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await create_one_line(group.moderator, ONE_LINE.replace("24h,1h", "1h"))
    # The bot was off when the reminder fell due; it comes back 40 minutes before the start.
    sandbox.clock.set(START - timedelta(minutes=40))  # type: ignore[attr-defined]
    await sandbox.wait(timedelta(0))
    [late] = bot_messages(sandbox, group["plain"].id, "⏰")
    text = late.text or ""
    assert "in 40 minutes" in text
    assert "This reminder comes late: the bot was offline." in text


async def test_a_weekly_london_meeting_keeps_its_wall_time_across_daylight_saving(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await create_one_line(
        group.moderator,
        "/newmeeting 2027-03-18 10:00 Europe/London | Weekly sync --repeat weekly",
    )
    # London moves to summer time on 28 March 2027: 10:00 there is 15:00, then 14:00 in Almaty.
    shown = await details(group["kz"])
    text = shown.text or ""
    assert "18 Mar 2027, 15:00 (Asia/Almaty, UTC+05:00)" in text
    assert "every week on Thursday" in text
    assert "25 Mar 2027, 15:00 (Asia/Almaty" in text and "1 Apr 2027, 14:00 (Asia/Almaty" in text
    await group["kz"].press(shown, "Later")
    await group["kz"].press(shown, "Later")
    assert (shown.text or "").count("1 Apr 2027, 14:00 (Asia/Almaty, UTC+05:00)") == 1
    assert "Yes" in labels(shown)[0]  # a later one can be answered too
    await group["kz"].press(shown, "Yes")
    [answer] = await rsvp_rows(sandbox)
    assert answer.occurrence_start == datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
