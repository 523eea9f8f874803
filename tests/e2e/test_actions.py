"""Minutes, action items and focal points' deadlines on Telegram: /minutes with its buttons and
dialogue, sending the minutes to the participants, the exported document, /action, /decision,
/deadline, /actions with Done, the reminders before the due date (and after a restart), role
refusals, and everything a person may get wrong on the way."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.i18n import gettext
from bot.models import ActionItem, ActionItemStatus, Meeting, MeetingMinutes, OutboxMessage
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from bot.services import actions
from tests.conftest import GROUP_ID, make_member

# The fake clock starts on Thursday 26 November 2026, 09:00 UTC; the default zone is Almaty.
ALMATY = ZoneInfo("Asia/Almaty")
MEETING_START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage() -> Iterator[None]:
    yield
    gc.collect()


# -- the people and a meeting -------------------------------------------------------------------


@dataclass
class Group:
    moderator: SandboxUser
    people: dict[str, SandboxUser] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def working_group(sandbox: Sandbox) -> Group:
    """A moderator (Almaty, the default zone); two focal points of KZ (one reads Russian), one
    of AF in Kabul, a member of KZ and a member with no country."""
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    group = Group(moderator)
    group.ids["moderator"] = await make_member(sandbox, moderator, "moderator")
    for name, user_id, role, country, language in (
        ("kz", 301, "focal_point", "KZ", None),
        ("kz2", 302, "focal_point", "KZ", "ru"),
        ("af", 303, "focal_point", "AF", None),
        ("kz_member", 304, "member", "KZ", None),
        ("plain", 305, "member", None, None),
    ):
        user = sandbox.user(user_id, name.capitalize(), username=f"user_{name}")
        group.ids[name] = await make_member(sandbox, user, role, country=country, language=language)
        group.people[name] = user
    await say(group["af"], "/timezone Asia/Kabul")
    return group


async def add_meeting(
    sandbox: Sandbox,
    *,
    title: str = "Monthly focal point call",
    starts_at: datetime = MEETING_START,
    everyone: bool = True,
) -> int:
    """A meeting that started an hour ago (for everybody: the group chat gets the minutes)."""
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        meeting = Meeting(
            title=title,
            starts_at=starts_at,
            timezone="Asia/Almaty",
            to_everyone=everyone,
            to_focal_points=not everyone,
            created_at=starts_at - timedelta(days=7),
            updated_at=starts_at - timedelta(days=7),
            reminded_through=sandbox.now(),
        )
        session.add(meeting)
        await session.flush()
        assert meeting.id is not None
        return meeting.id


# -- reading what happened ----------------------------------------------------------------------


async def items(sandbox: Sandbox) -> list[ActionItem]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(ActionItem).order_by(col(ActionItem.id))))


async def minutes_rows(sandbox: Sandbox) -> list[MeetingMinutes]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(MeetingMinutes).order_by(col(MeetingMinutes.id))))


async def outbox_rows(sandbox: Sandbox, kind: str) -> list[OutboxMessage]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(col(OutboxMessage.id))
        )
        return list(rows)


def bot_messages(sandbox: Sandbox, chat_id: int, prefix: str = "") -> list[StoredMessage]:
    return [
        m
        for (chat, _), m in sorted(sandbox.api.messages.items())
        if chat == chat_id
        and m.from_id == sandbox.bot_id
        and not m.deleted
        and (m.text or m.caption or "").startswith(prefix)
    ]


def alert(sandbox: Sandbox) -> str:
    return sandbox.api.callback_answers[-1].text or ""


def labels(message: StoredMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def press(user: SandboxUser, replies: Replies, label: str) -> Replies:
    """Press a button on the latest of these replies that has one with that label."""
    for message in reversed(replies):
        if any(label.lower() in text.lower() for text in labels(message)):
            return await user.press(message, label)
    raise AssertionError(f"no button {label!r} in {[labels(m) for m in replies]}")


def formatted(message: StoredMessage, words: str) -> bool:
    """Whether any formatting covers these words of the message (UTF-16 offsets)."""
    text = message.text or message.caption or ""
    start = len(text[: text.index(words)].encode("utf-16-le")) // 2
    return any(e.offset <= start < e.offset + e.length for e in message.entities)


async def say(user: SandboxUser, text: str) -> Replies:
    """What the bot answered this user (not what it delivered to others meanwhile)."""
    return (await user.send(text)).to(user.id)


# What the minutes start with, in English and in Russian (kz2 reads Russian).
MINUTES_PREFIXES = ("📝 Minutes: ", "📝 " + gettext("ru", "Minutes: %(title)s", title="").strip())


def minutes_sent(sandbox: Sandbox, chat_id: int) -> list[StoredMessage]:
    """The minutes as participants get them (a moderator's own view has buttons)."""
    return [
        m
        for m in bot_messages(sandbox, chat_id)
        if (m.text or "").startswith(MINUTES_PREFIXES) and not m.buttons
    ]


# -- the minutes --------------------------------------------------------------------------------


async def test_record_minutes_with_notes_a_decision_and_an_action_item(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    mod = group.moderator
    view = await say(mod, f"/minutes {meeting_id}")
    assert view.last.text is not None
    assert view.last.text.startswith("📝 Minutes: Monthly focal point call")
    assert "26 Nov 2026, 13:00 (Asia/Almaty, UTC+05:00)" in view.last.text
    assert labels(view.last) == [
        "📝 Add notes",
        "⚖️ Add a decision",
        "📌 Add an action item",
        "📨 Send to participants",
        "📄 Export",
    ]
    assert len(await minutes_rows(sandbox)) == 1

    asked = await press(mod, view, "Add notes")
    assert "Send the notes" in asked.text
    view = await say(mod, "Opened at 13:05. <b>Not bold</b> & <script>x</script>")
    assert "Opened at 13:05. <b>Not bold</b> & <script>x</script>" in view.last.text  # type: ignore[operator]
    assert not formatted(view.last, "Not bold")
    await press(mod, view, "Add notes")
    view = await say(mod, "Second point.")
    [minutes] = await minutes_rows(sandbox)
    assert minutes.notes == (
        "Opened at 13:05. <b>Not bold</b> & <script>x</script>\n\nSecond point."
    )

    await press(mod, view, "Add a decision")
    view = await say(mod, "Share the glossary with <i>all</i> agencies")
    assert "1. Share the glossary with <i>all</i> agencies" in (view.last.text or "")

    asked = await press(mod, view, "Add an action item")
    assert "Who owns the action item?" in asked.text
    asked = await say(mod, "@user_kz")
    assert "When is it due?" in asked.text and "Asia/Almaty" in asked.text
    asked = await say(mod, "2026-12-20")
    assert "What is to be done?" in asked.text
    done = await say(mod, "Draft the joint <statement>")
    assert "Action item #1 is set." in done.text
    assert "Draft the joint <statement>" in done.text
    assert "1 person was told and will be reminded." in done.text
    assert "17 Dec 2026, 09:00 (Asia/Almaty, UTC+05:00)" in done.text
    assert "#1 Draft the joint <statement>" in (done.last.text or "")
    # The owner is told at once, with a Done button.
    [told] = bot_messages(sandbox, group["kz"].id, "📌 A new action item for you")
    assert "Draft the joint <statement>" in (told.text or "")
    assert "Due on 2026-12-20 (Asia/Almaty)." in (told.text or "")
    assert "From the minutes of Monthly focal point call." in (told.text or "")
    assert labels(told) == ["✅ Done"]

    # All in one line, at the first question.
    await press(mod, done, "Add an action item")
    done = await say(mod, "KZ 2026-12-10 Send the country report")
    assert "Action item #2 is set." in done.text
    assert "focal points of Kazakhstan" in done.text
    assert "2 people were told" in done.text
    [item1, item2] = await items(sandbox)
    assert (item1.owner_member_id, item1.owner_country) == (group.ids["kz"], None)
    assert (item2.owner_member_id, item2.owner_country) == (None, "KZ")
    assert item1.minutes_id == item2.minutes_id == minutes.id
    assert item1.timezone == "Asia/Almaty" and item1.due_on == date(2026, 12, 20)
    assert len(bot_messages(sandbox, group["kz2"].id, "📌")) == 1
    assert len(bot_messages(sandbox, group["kz"].id, "📌")) == 2

    # Opening the minutes again finds the same ones.
    view = await say(mod, f"/minutes {meeting_id}")
    assert len(await minutes_rows(sandbox)) == 1
    assert "Second point." in (view.last.text or "")


async def test_one_line_decision_and_action(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    view = await say(group.moderator, f"/decision {meeting_id} Meet every month")
    assert "1. Meet every month" in (view.last.text or "")
    done = await say(group.moderator, f"/action {meeting_id} @user_af 2026-12-20 Translate it")
    assert "Action item #1 is set." in done.text
    [item] = await items(sandbox)
    [minutes] = await minutes_rows(sandbox)
    assert item.minutes_id == minutes.id and minutes.decisions == ["Meet every month"]
    # The owner in Kabul sees the reminders' times in the moderator's... the item's dates.
    [told] = bot_messages(sandbox, group["af"].id, "📌")
    assert "Translate it" in (told.text or "")


async def test_send_to_participants_each_gets_them_once(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    mod = group.moderator
    await say(mod, f"/decision {meeting_id} Meet every month")
    view = await say(mod, f"/action {meeting_id} KZ 2026-12-20 Send the <country> report")
    view = await say(mod, f"/minutes {meeting_id}")
    confirm = await press(mod, view, "Send to participants")
    # Everybody: the moderator, five members, the admin, and the group chat.
    assert "Send the minutes of Monthly focal point call" in confirm.text
    assert "That is 7 members and the group chat." in confirm.text
    await press(mod, confirm, "Yes, send them")
    assert confirm.last.text == "📨 The minutes are on their way to 8 chats."
    assert confirm.last.buttons == []
    people = [*group.people.values(), mod, admin]
    for user in people:
        [message] = minutes_sent(sandbox, user.id)
        assert "1. Meet every month" in (message.text or "")
        assert "Send the <country> report" in (message.text or "")
        if user is not group["kz2"]:
            assert "focal points of Kazakhstan" in (message.text or "")
    [in_group] = minutes_sent(sandbox, GROUP_ID)
    assert "13:00 (Asia/Almaty, UTC+05:00)" in (in_group.text or "")
    [for_kabul] = minutes_sent(sandbox, group["af"].id)
    assert "26 Nov 2026, 12:30 (Asia/Kabul, UTC+04:30)" in (for_kabul.text or "")
    [in_russian] = minutes_sent(sandbox, group["kz2"].id)
    assert in_russian.text

    # Again, unchanged: nobody gets them twice.
    confirm = await press(mod, view, "Send to participants")
    again = await press(mod, confirm, "Yes, send them")
    assert again == [] and "nothing was sent again" in (confirm.last.text or "")
    assert all(len(minutes_sent(sandbox, u.id)) == 1 for u in people)
    rows = await outbox_rows(sandbox, "minutes")
    assert len(rows) == 8 and len({r.dedup_key for r in rows}) == 8

    # Changed: everybody gets the new version, once.
    await say(mod, f"/decision {meeting_id} Next meeting in January")
    confirm = await press(mod, view, "Send to participants")
    await press(mod, confirm, "Yes, send them")
    confirm = await press(mod, view, "Send to participants")
    await press(mod, confirm, "Yes, send them")
    for user in people:
        assert len(minutes_sent(sandbox, user.id)) == 2
    assert "2. Next meeting in January" in (minutes_sent(sandbox, group["kz"].id)[-1].text or "")
    [minutes] = await minutes_rows(sandbox)
    assert minutes.sent_at is not None

    # "No" sends nothing.
    confirm = await press(mod, view, "Send to participants")
    kept = await press(mod, confirm, "No")
    assert kept == [] and "were not sent" in (confirm.last.text or "")


async def test_empty_minutes_are_not_sent(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    view = await say(group.moderator, f"/minutes {meeting_id}")
    await press(group.moderator, view, "Send to participants")
    assert "These minutes are empty" in alert(sandbox)
    assert await outbox_rows(sandbox, "minutes") == []


async def test_long_minutes_go_out_in_parts_in_order(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox, everyone=False)  # focal points only
    mod = group.moderator
    view = await say(mod, f"/minutes {meeting_id}")
    for n in range(6):
        await press(mod, view, "Add notes")
        await say(mod, f"Part {n + 1}: " + "word " * 180)
    confirm = await press(mod, view, "Send to participants")
    assert "That is 3 members." in confirm.text
    await press(mod, confirm, "Yes, send them")
    for name in ("kz", "kz2", "af"):
        parts = [m for m in bot_messages(sandbox, group[name].id) if "Part " in (m.text or "")]
        assert len(parts) == 2, name
        assert (parts[0].text or "").startswith(MINUTES_PREFIXES)
        assert "Part 1:" in (parts[0].text or "") and "Part 6:" in (parts[1].text or "")
    assert bot_messages(sandbox, group["plain"].id) == []
    assert bot_messages(sandbox, GROUP_ID) == []


async def test_minutes_of_an_earlier_date_of_a_series(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        meeting = Meeting(
            title="Weekly call",
            starts_at=MEETING_START - timedelta(days=28),
            timezone="Asia/Almaty",
            rrule="FREQ=WEEKLY",
            to_everyone=True,
            created_at=MEETING_START - timedelta(days=30),
            updated_at=MEETING_START - timedelta(days=30),
            reminded_through=sandbox.now(),
        )
        session.add(meeting)
        await session.flush()
        meeting_id = meeting.id
    mod = group.moderator
    view = await say(mod, f"/minutes {meeting_id}")
    assert "26 Nov 2026, 13:00" in (view.last.text or "")
    assert labels(view.last)[-4:] == [
        "🗓 2026-10-29",
        "🗓 2026-11-05",
        "🗓 2026-11-12",
        "🗓 2026-11-19",
    ]
    earlier = await press(mod, view, "2026-11-12")
    assert "12 Nov 2026, 13:00" in (earlier.last.text or "")
    await press(mod, earlier, "Add a decision")
    await say(mod, "Decided on the 12th")
    rows = await minutes_rows(sandbox)
    assert [r.occurrence_start.day for r in rows] == [26, 12]
    assert rows[1].decisions == ["Decided on the 12th"] and rows[0].decisions == []


class _Document(HTMLParser):
    """Reads the exported document back: its text, and the tags it opens."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_export_the_minutes_as_a_document(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox, title="Call <b>#3</b> & review")
    mod = group.moderator
    await say(mod, f"/decision {meeting_id} Adopt the <script>alert(1)</script> glossary")
    await say(mod, f"/action {meeting_id} @user_kz 2026-12-20 Draft & circulate")
    view = await say(mod, f"/minutes {meeting_id}")
    await press(mod, view, "Add notes")
    await say(mod, "Line one\nLine <two>")
    exported = await press(mod, view, "Export")
    [document] = [m for m in exported if m.document]
    assert document.document is not None
    assert document.document["file_name"] == f"minutes-{meeting_id}-2026-11-26.html"
    assert "Call <b>#3</b> & review" in (document.caption or "")
    content = sandbox.api.files[document.document["file_id"]].decode("utf-8")
    assert content.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in content and '<meta charset="utf-8">' in content
    # What people typed is text, never markup.
    assert "<script>" not in content and "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "Call &lt;b&gt;#3&lt;/b&gt; &amp; review" in content
    parser = _Document()
    parser.feed(content)
    assert parser.doctype == "DOCTYPE html"
    assert "script" not in parser.tags and "b" not in parser.tags
    text = "".join(parser.text)
    assert "Adopt the <script>alert(1)</script> glossary" in text
    assert "Line one\nLine <two>" in text
    assert "Draft & circulate" in text and "Kz @user_kz" in text
    assert "26 Nov 2026, 13:00 (Asia/Almaty, UTC+05:00)" in text
    assert "2026-12-20" in text


# -- deadlines, /actions and Done ---------------------------------------------------------------


async def test_a_deadline_for_a_countrys_focal_points_and_done(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    mod = group.moderator
    done = await say(mod, "/deadline KZ 2026-12-15 Country report on 2026 cases")
    assert "Action item #1 is set." in done.text and "focal points of Kazakhstan" in done.text
    [item] = await items(sandbox)
    assert item.owner_country == "KZ" and item.minutes_id is None
    for name in ("kz", "kz2"):
        [told] = bot_messages(sandbox, group[name].id, "📌")
        assert "Country report on 2026 cases" in (told.text or "")
    assert bot_messages(sandbox, group["kz_member"].id, "📌") == []
    assert bot_messages(sandbox, group["af"].id, "📌") == []

    mine = await say(group["kz"], "/actions")
    assert mine.last.text is not None
    assert mine.last.text.startswith("Your open action items (1)")
    assert "Country report on 2026 cases" in mine.last.text
    assert labels(mine.last) == ["✅ #1"]
    assert "You have no open action items." in (await say(group["kz_member"], "/actions")).text

    # A member of the country who is not its focal point may not close it (a forged press).
    await group["kz_member"].press_data(mine.last, "act:done:1:m0")
    assert "Only its owner" in alert(sandbox)
    assert (await items(sandbox))[0].status == ActionItemStatus.OPEN

    after = await group["kz"].press(mine.last, "#1")
    assert after == []
    assert "Marked done" in alert(sandbox)
    assert "You have no open action items." in (mine.last.text or "")
    [item] = await items(sandbox)
    assert item.status == ActionItemStatus.DONE and item.done_by_id == group.ids["kz"]
    assert item.done_at == sandbox.now()
    # The other focal point's notice: Done again says so.
    # kz2 reads Russian.
    [told] = bot_messages(sandbox, group["kz2"].id, "📌")
    await group["kz2"].press(told, gettext("ru", "Done"))
    assert alert(sandbox)
    assert (await items(sandbox))[0].done_by_id == group.ids["kz"]
    assert (
        gettext("ru", "You have no open action items.")
        in (await say(group["kz2"], "/actions")).text
    )


async def test_done_from_the_notice_updates_it(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    await say(group.moderator, "/deadline @user_plain 2026-12-15 Read the <draft>")
    [told] = bot_messages(sandbox, group["plain"].id, "📌")
    await group["plain"].press(told, "Done")
    assert told.text == "✅ Action item #1 is done.\n\nRead the <draft>"
    assert told.buttons == []


async def test_moderators_see_everybodys_items_grouped_and_overdue_marked(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    mod = group.moderator
    await say(mod, "/deadline KZ 2026-11-30 Country report")
    await say(mod, "/deadline @user_plain 2026-12-20 Read the draft")
    await say(mod, "/deadline AF 2026-12-01 Afghan report")
    await say(mod, "/deadline @user_plain 2026-11-27 Review the glossary")
    everybody = await say(mod, "/actions all")
    text = everybody.last.text or ""
    assert text.startswith("Everybody's open action items (4)")
    assert text.index("focal points of Kazakhstan") < text.index("Country report")
    assert text.index("Afghanistan") < text.index("Afghan report") < text.index("Plain @user_plain")
    assert text.index("Review the glossary") < text.index("Read the draft")
    assert "overdue" not in text
    assert "/actions all shows" in (await say(mod, "/actions")).text
    # Two days later (in Almaty) the glossary review is overdue.
    sandbox.clock.set(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    mine = await say(group["plain"], "/actions")
    text = mine.last.text or ""
    assert "#4 Review the glossary\n📅 2026-11-27 · ⚠️ overdue" in text
    assert "Read the draft\n📅 2026-12-20\n" in text + "\n"
    # A moderator closes an item from the list: the list updates in place.
    everybody = await say(mod, "/actions all")
    await mod.press(everybody.last, "#3")
    assert "Afghan report" not in (everybody.last.text or "")
    assert (everybody.last.text or "").startswith("Everybody's open action items (3)")


async def test_the_list_is_paged(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    for n in range(12):
        await say(group.moderator, f"/deadline @user_plain 2026-12-{n + 1:02d} Task {n + 1}")
    mine = await say(group["plain"], "/actions")
    assert "Page 1 of 2" in (mine.last.text or "") and "Task 10" in (mine.last.text or "")
    assert "Task 11" not in (mine.last.text or "")
    await group["plain"].press(mine.last, "▶")
    assert "Task 11" in (mine.last.text or "") and "Page 2 of 2" in (mine.last.text or "")
    await group["plain"].press(mine.last, "#12")
    assert "Task 12" not in (mine.last.text or "")
    assert "Task 11" in (mine.last.text or "")


# -- reminders ----------------------------------------------------------------------------------


async def test_owners_are_reminded_before_the_due_date_until_it_is_done(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await say(group.moderator, "/deadline KZ 2026-12-10 Country report")
    await say(group.moderator, "/deadline @user_af 2026-12-10 Afghan report")
    times = actions.reminder_times(date(2026, 12, 10), ALMATY)
    assert [t.astimezone(ALMATY).hour for t in times] == [9, 9, 9]

    await sandbox.wait(times[0] - timedelta(minutes=1) - sandbox.now())
    assert bot_messages(sandbox, group["kz"].id, "🔔") == []
    await sandbox.wait(timedelta(minutes=2))
    for name, done in (("kz", "✅ Done"), ("kz2", "✅ " + gettext("ru", "Done"))):
        [first] = bot_messages(sandbox, group[name].id, "🔔")
        assert labels(first) == [done]
    [first] = bot_messages(sandbox, group["kz"].id, "🔔")
    text = first.text or ""
    assert text.startswith("🔔 Due in 3 days: action item #1")
    assert "Country report" in text and "For the focal points of Kazakhstan." in text
    assert "late" not in text
    [afghan] = bot_messages(sandbox, group["af"].id, "🔔")
    assert (afghan.text or "").startswith("🔔 Due in 3 days: action item #2")

    # One focal point closes the country's item: neither is reminded of it again.
    await group["kz2"].press(bot_messages(sandbox, group["kz2"].id, "🔔")[0], gettext("ru", "Done"))
    await sandbox.wait(times[2] + timedelta(hours=1) - sandbox.now())
    assert len(bot_messages(sandbox, group["kz"].id, "🔔")) == 1
    # (Its reminder now says it is done.)
    assert bot_messages(sandbox, group["kz2"].id, "🔔") == []
    done = "✅ " + gettext("ru", "Action item #%(id)s is done.", id=1)
    assert len(bot_messages(sandbox, group["kz2"].id, done)) == 1
    afghan_all = bot_messages(sandbox, group["af"].id, "🔔")
    assert [(m.text or "").split(":")[0] for m in afghan_all] == [
        "🔔 Due in 3 days",
        "🔔 Due in 1 day",
        "🔔 Due today",
    ]
    rows = await outbox_rows(sandbox, actions.REMINDER_KIND)
    keys = [r.dedup_key for r in rows if ":new:" not in r.dedup_key]
    assert len(keys) == len(set(keys)) == 5
    assert f"action:2:20261209:{group.ids['af']}" in keys
    # Nothing more once the due date is over.
    assert await sandbox.wait(timedelta(days=3)) == []


async def test_after_a_restart_a_missed_reminder_comes_late_and_once(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    await say(group.moderator, "/deadline @user_plain 2026-12-10 Country report")
    times = actions.reminder_times(date(2026, 12, 10), ALMATY)
    # The bot was off from before the first reminder until an hour after the second.
    sandbox.clock.set(times[1] + timedelta(hours=1))  # type: ignore[attr-defined]
    await sandbox.stop()
    again = Sandbox(sandbox.settings, clock=sandbox.clock, api=sandbox.api)
    await again.start()
    try:
        await again.deliver()
        [late] = bot_messages(again, group["plain"].id, "🔔")
        text = late.text or ""
        assert text.startswith("🔔 Due in 1 day: action item #1")
        assert "This reminder comes late: the bot was offline at its time." in text
        assert await again.wait(timedelta(minutes=5)) == []
        await again.wait(times[2] - again.now())
        reminders = bot_messages(again, group["plain"].id, "🔔")
        assert len(reminders) == 2 and "late" not in (reminders[-1].text or "")
    finally:
        await again.stop()


# -- refusals and bad input ---------------------------------------------------------------------


async def test_members_cannot_use_the_moderators_commands(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    for user in (group["plain"], group["kz"]):
        for text in (
            f"/minutes {meeting_id}",
            f"/decision {meeting_id} We decide",
            f"/action {meeting_id} @user_kz 2026-12-20 Do it",
            "/deadline KZ 2026-12-15 Report",
            "/actions all",
        ):
            replies = await say(user, text)
            assert "This needs the role moderator or higher" in replies.text, text
    stranger = sandbox.user(999, "Stranger", username="stranger")
    replies = await say(stranger, "/actions")
    assert "only for members" in replies.text
    assert await items(sandbox) == [] and await minutes_rows(sandbox) == []
    # Nor press a moderator's buttons.
    view = await say(group.moderator, f"/minutes {meeting_id}")
    for data in ("act:notes:1", "act:send:1:yes", "act:exp:1", "act:item:1"):
        await group["plain"].press_data(view.last, data)
        assert "needs the role moderator" in alert(sandbox)
    assert await outbox_rows(sandbox, "minutes") == []


async def test_bad_input_is_explained_and_nothing_saved(
    sandbox: Sandbox, admin: SandboxUser
) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    future = await add_meeting(sandbox, starts_at=sandbox.now() + timedelta(days=2))
    mod = group.moderator
    long_text = "x" * 1001
    for text, expected in (
        ("/minutes", "Usage: /minutes 12"),
        ("/minutes abc", "Usage: /minutes 12"),
        ("/minutes 999", "There is no meeting #999."),
        ("/minutes 9999999999", "There is no meeting #9999999999."),
        ("/minutes 99999999999", "Usage: /minutes 12"),
        (f"/minutes {future}", f"Meeting #{future} has not taken place yet"),
        (f"/decision {meeting_id}", "Usage: /decision 12"),
        (f"/decision {meeting_id} {long_text}", "That is too long: 1001 characters"),
        (f"/action {meeting_id} @user_kz 2026-12-20", "Usage: /action 12"),
        (f"/action {meeting_id} @nobody 2026-12-20 Do it", "I do not know @nobody."),
        (f"/action {meeting_id} <b>x</b> 2026-12-20 Do it", "I do not know <b>x</b>."),
        (f"/action {meeting_id} @user_kz 20.13.2026 Do it", "cannot read 20.13.2026 as a date"),
        (f"/action {meeting_id} @user_kz 2026-11-25 Do it", "2026-11-25 has already passed"),
        (f"/action {meeting_id} @user_kz 2029-01-01 Do it", "more than two years ahead"),
        (f"/action {meeting_id} @user_kz 2026-12-20 {long_text}", "That is too long"),
        (f"/action {future} @user_kz 2026-12-20 Do it", "has not taken place yet"),
        ("/deadline KZ 2026-12-15", "Usage: /deadline KZ"),
        ("/deadline TJ 2026-12-15 Report", "TJ has no active focal point"),
        ("/deadline QQ 2026-12-15 Report", "QQ is not a country code"),
        ("/deadline KZ tomorrow Report", "cannot read tomorrow as a date"),
        ("/actions everything", "Usage: /actions"),
    ):
        replies = await say(mod, text)
        assert expected in replies.text, (text, replies.text)
    assert await items(sandbox) == []
    assert await minutes_rows(sandbox) == []
    assert await outbox_rows(sandbox, actions.REMINDER_KIND) == []

    # In the dialogue: each bad answer is explained and asked again; nothing is saved.
    view = await say(mod, f"/minutes {meeting_id}")
    await press(mod, view, "Add an action item")
    assert "I do not know @nobody" in (await say(mod, "@nobody")).text
    assert "has no active focal point" in (await say(mod, "TJ")).text
    assert "When is it due?" in (await say(mod, "@user_kz")).text
    assert "cannot read next week" in (await say(mod, "next week")).text
    assert "has already passed" in (await say(mod, "2026-01-01")).text
    assert "What is to be done?" in (await say(mod, "2026-12-20")).text
    assert "That is too long" in (await say(mod, long_text)).text
    assert "Cancelled: nothing was added" in (await say(mod, "/cancel")).text
    assert await items(sandbox) == []
    await press(mod, view, "Add notes")
    assert "That is too long" in (await say(mod, "y" * 1001)).text
    assert "Cancelled" in (await say(mod, "/cancel")).text
    # After /cancel, text is not taken as notes.
    assert "/help" in (await say(mod, "A stray message")).text
    [minutes] = await minutes_rows(sandbox)
    assert minutes.notes == "" and minutes.decisions == []


async def test_an_old_dialogue_takes_nothing(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    view = await say(group.moderator, f"/minutes {meeting_id}")
    await press(group.moderator, view, "Add notes")
    sandbox.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    replies = await say(group.moderator, "Much later, about something else")
    assert "That is no longer open: nothing was added." in replies.text
    [minutes] = await minutes_rows(sandbox)
    assert minutes.notes == ""


async def test_forged_buttons_change_nothing(sandbox: Sandbox, admin: SandboxUser) -> None:
    group = await working_group(sandbox)
    meeting_id = await add_meeting(sandbox)
    await say(group.moderator, "/deadline @user_plain 2026-12-15 Report")
    view = await say(group.moderator, f"/minutes {meeting_id}")
    for data in (
        "act:done:999:m0",
        "act:done:2147483648:m0",
        "act:done:99999999999:r",
        "act:send:999:yes",
        "act:exp:0",
        "act:occ:1:2026X",
        f"act:occ:{meeting_id}:20261126T0900Z",
        "act:done:1:x",
        "act:list:z:0",
        "act:notes:abc",
        "act:",
    ):
        await group.moderator.press_data(view.last, data)
        answer = alert(sandbox)
        assert answer and "went wrong" not in answer, (data, answer)
    # Somebody else's item, by a member: refused.
    await group["kz"].press_data(view.last, "act:done:1:r")
    assert "Only its owner" in alert(sandbox)
    [item] = await items(sandbox)
    assert item.status == ActionItemStatus.OPEN
    assert await outbox_rows(sandbox, "minutes") == []
    # Every button the bot made fits Telegram's 64 bytes.
    for message in sandbox.api.messages.values():
        for row in message.buttons:
            for b in row:
                assert len(b.get("callback_data", "").encode()) <= 64
