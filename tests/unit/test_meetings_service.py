"""The meetings service without Telegram: occurrences across daylight saving, the audience,
RSVPs, and reminders: on time, late after a restart, skipped once started, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.db import Database
from bot.models import (
    Admission,
    Meeting,
    MeetingReminder,
    OutboxMessage,
    ReminderOutcome,
    Role,
    RsvpAnswer,
)
from bot.services import meetings, members
from bot.services.errors import ServiceError
from bot.services.meetings import MeetingAudience, MeetingDraft, Notice

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
GROUP = -100123
HOUR = 60
DAY = 24 * 60


def compose(notice: Notice) -> dict[str, Any]:
    """A payload that says what the notice was, for the assertions."""
    return {
        "text": f"{notice.kind}|late={notice.late}|offset={notice.offset_minutes}"
        f"|start={notice.occurrence.start.isoformat() if notice.occurrence else None}"
        f"|actions={len(notice.actions)}"
    }


async def _member(
    db: Database, telegram_id: int, role: Role = Role.MEMBER, country: str | None = None
) -> int:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}"),
            via=Admission.MODERATOR,
            now=NOW,
        )
        member.role, member.country = role, country
        session.add(member)
        await session.flush()
        assert member.id is not None
        return member.id


async def _create(db: Database, draft: MeetingDraft, *, now: datetime = NOW) -> int:
    async with db.session() as session:
        author = await session.get(members.Member, 1)
        assert author is not None
        meeting = await meetings.create(
            session, author, draft, now=now, group_chat_id=GROUP, compose=compose
        )
        assert meeting.id is not None
        return meeting.id


async def _process(db: Database, now: datetime) -> meetings.Handled:
    async with db.session() as session:
        return await meetings.process_due(session, now=now, group_chat_id=GROUP, compose=compose)


async def _reminders(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == meetings.REMINDER_KIND)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows)


async def _handled(db: Database) -> list[MeetingReminder]:
    async with db.session() as session:
        rows = await session.exec(
            select(MeetingReminder).order_by(
                col(MeetingReminder.due_at), col(MeetingReminder.offset_minutes)
            )
        )
        return list(rows)


async def _run_until(db: Database, end: datetime) -> list[datetime]:
    """Play the scheduler: stop at each moment a reminder falls due, until `end`."""
    moments = []
    for _ in range(1000):
        async with db.session() as session:
            due = await meetings.next_due(session)
        if due is None or due > end:
            return moments
        moments.append(due)
        await _process(db, due)
    raise AssertionError("the schedule never ran out")


@pytest.fixture
async def people(db: Database) -> dict[str, int]:
    return {
        "mod": await _member(db, 1, Role.MODERATOR),
        "fp_kz": await _member(db, 11, Role.FOCAL_POINT, "KZ"),
        "fp_af": await _member(db, 12, Role.FOCAL_POINT, "AF"),
        "kz": await _member(db, 21, Role.MEMBER, "KZ"),
    }


def _draft(**changes: Any) -> MeetingDraft:
    values: dict[str, Any] = {
        "title": "Monthly focal point call",
        "starts_at": datetime(2026, 10, 3, 6, 0, tzinfo=UTC),
        "timezone": "Asia/Almaty",
        "reminder_offsets": [DAY, HOUR],
        "audience": MeetingAudience(everyone=True),
    }
    values.update(changes)
    return MeetingDraft(**values)


# -- occurrences --------------------------------------------------------------------------------


def _weekly_london() -> Meeting:
    # Thursday 15 October 2026, 10:00 in London (BST, UTC+1); summer time ends 25 October.
    return Meeting(
        id=1,
        title="Weekly",
        starts_at=datetime(2026, 10, 15, 9, 0, tzinfo=UTC),
        timezone="Europe/London",
        rrule="FREQ=WEEKLY",
        reminder_offsets=[HOUR],
        created_at=NOW,
        updated_at=NOW,
        reminded_through=NOW,
    )


def test_weekly_london_meeting_stays_at_ten_across_the_end_of_summer_time() -> None:
    found = meetings.occurrences(_weekly_london(), [], after=NOW, limit=4)
    assert [o.start for o in found] == [
        datetime(2026, 10, 15, 9, 0, tzinfo=UTC),
        datetime(2026, 10, 22, 9, 0, tzinfo=UTC),
        datetime(2026, 10, 29, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 5, 10, 0, tzinfo=UTC),
    ]


def test_cancelled_and_moved_occurrences() -> None:
    meeting = _weekly_london()
    changes = [
        meetings.MeetingException(
            meeting_id=1, original_start=datetime(2026, 10, 22, 9, 0, tzinfo=UTC), cancelled=True
        ),
        meetings.MeetingException(
            meeting_id=1,
            original_start=datetime(2026, 10, 29, 10, 0, tzinfo=UTC),
            starts_at=datetime(2026, 10, 30, 12, 0, tzinfo=UTC),
        ),
    ]
    found = meetings.occurrences(meeting, changes, after=NOW, limit=3)
    assert [(o.start, o.moved) for o in found] == [
        (datetime(2026, 10, 15, 9, 0, tzinfo=UTC), False),
        (datetime(2026, 10, 30, 12, 0, tzinfo=UTC), True),
        (datetime(2026, 11, 5, 10, 0, tzinfo=UTC), False),
    ]
    everything = meetings.occurrences(meeting, changes, after=NOW, limit=4, include_cancelled=True)
    assert [o.cancelled for o in everything] == [False, True, False, False]


def test_an_occurrence_in_progress_is_still_the_next_one() -> None:
    meeting = _weekly_london()
    during = datetime(2026, 10, 15, 9, 30, tzinfo=UTC)
    assert meetings.occurrences(meeting, [], after=during)[0].start == meeting.starts_at


def test_reminders_of_a_weekly_meeting_follow_the_wall_clock_after_dst() -> None:
    meeting = _weekly_london()
    # After the reminder of 22 October (08:00 UTC), the next is 29 October 09:00 UTC.
    after = datetime(2026, 10, 22, 8, 0, tzinfo=UTC)
    assert meetings.next_reminder(meeting, [], after=after) == datetime(
        2026, 10, 29, 9, 0, tzinfo=UTC
    )


# -- creating -----------------------------------------------------------------------------------


async def test_create_queues_invitations_for_the_audience_and_the_group(
    db: Database, people: dict[str, int]
) -> None:
    meeting_id = await _create(db, _draft(audience=MeetingAudience(everyone=True)))
    async with db.session() as session:
        rows = list(
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == meetings.KIND))
        )
        meeting = await meetings.get(session, meeting_id)
    assert {r.recipient_id for r in rows} == {*people.values(), None}
    assert all(r.payload["text"].startswith("invite") for r in rows)
    assert meeting.next_reminder_at == datetime(2026, 10, 2, 6, 0, tzinfo=UTC)


async def test_focal_points_only_meeting_reaches_focal_points_and_not_the_group(
    db: Database, people: dict[str, int]
) -> None:
    await _create(db, _draft(audience=MeetingAudience(focal_points=True)))
    await _run_until(db, datetime(2026, 10, 3, 6, 0, tzinfo=UTC))
    reminded = {r.recipient_id for r in await _reminders(db)}
    assert reminded == {people["fp_kz"], people["fp_af"]}


async def test_an_audience_nobody_is_in_is_refused(db: Database, people: dict[str, int]) -> None:
    with pytest.raises(ServiceError) as refused:
        await _create(
            db, _draft(audience=MeetingAudience(focal_points=True, countries=frozenset({"PK"})))
        )
    assert refused.value.code == "meeting_audience_empty"
    async with db.session() as session:
        assert (await session.exec(select(Meeting))).first() is None


# -- reminders ----------------------------------------------------------------------------------


async def test_reminders_go_at_each_offset_once_to_each_recipient(
    db: Database, people: dict[str, int]
) -> None:
    await _create(db, _draft())
    moments = await _run_until(db, datetime(2026, 10, 4, tzinfo=UTC))
    assert moments == [
        datetime(2026, 10, 2, 6, 0, tzinfo=UTC),
        datetime(2026, 10, 3, 5, 0, tzinfo=UTC),
    ]
    rows = await _reminders(db)
    # Four members and the group chat, at two offsets.
    assert len(rows) == 10
    assert len({r.dedup_key for r in rows}) == 10
    assert {r.payload["text"].split("|")[1] for r in rows} == {"late=False"}
    # Handling the same moment again queues nothing.
    await _process(db, datetime(2026, 10, 3, 5, 0, tzinfo=UTC))
    assert len(await _reminders(db)) == 10


async def test_a_declined_member_gets_no_reminder(db: Database, people: dict[str, int]) -> None:
    meeting_id = await _create(db, _draft())
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        occurrence = await meetings.next_occurrence(session, meeting, NOW)
        member = await session.get(members.Member, people["kz"])
        assert occurrence is not None and member is not None
        await meetings.set_rsvp(session, meeting, occurrence, member, RsvpAnswer.NO, now=NOW)
        fp = await session.get(members.Member, people["fp_kz"])
        assert fp is not None
        await meetings.set_rsvp(session, meeting, occurrence, fp, RsvpAnswer.YES, now=NOW)
        counts = await meetings.rsvp_counts(session, meeting_id, occurrence.start)
    assert counts == {RsvpAnswer.NO: 1, RsvpAnswer.YES: 1}
    await _run_until(db, datetime(2026, 10, 4, tzinfo=UTC))
    assert people["kz"] not in {r.recipient_id for r in await _reminders(db)}


async def test_recurring_reminders_keep_firing_after_the_clocks_change(
    db: Database, people: dict[str, int]
) -> None:
    await _create(
        db,
        _draft(
            starts_at=datetime(2026, 10, 15, 9, 0, tzinfo=UTC),
            timezone="Europe/London",
            rrule="FREQ=WEEKLY",
            reminder_offsets=[HOUR],
            audience=MeetingAudience(member_ids=frozenset({people["kz"]})),
        ),
    )
    moments = await _run_until(db, datetime(2026, 11, 6, tzinfo=UTC))
    assert moments == [
        datetime(2026, 10, 15, 8, 0, tzinfo=UTC),
        datetime(2026, 10, 22, 8, 0, tzinfo=UTC),
        datetime(2026, 10, 29, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
    ]
    assert len(await _reminders(db)) == 4


async def test_a_reminder_missed_while_down_goes_late_before_the_meeting(
    db: Database, people: dict[str, int]
) -> None:
    await _create(db, _draft())
    await _run_until(db, datetime(2026, 10, 2, 6, 0, tzinfo=UTC))  # the 24-hour one, on time
    # Down from then until 30 minutes before the meeting: the 1-hour reminder is late.
    await _process(db, datetime(2026, 10, 3, 5, 30, tzinfo=UTC))
    outcomes = [(h.offset_minutes, h.outcome) for h in await _handled(db)]
    assert outcomes == [(DAY, ReminderOutcome.SENT), (HOUR, ReminderOutcome.LATE)]
    late = [r for r in await _reminders(db) if "offset=60" in r.payload["text"]]
    assert len(late) == 5 and all("late=True" in r.payload["text"] for r in late)


async def test_two_missed_reminders_send_only_the_nearer_one_late(
    db: Database, people: dict[str, int]
) -> None:
    await _create(db, _draft())
    await _process(db, datetime(2026, 10, 3, 5, 30, tzinfo=UTC))
    outcomes = [(h.offset_minutes, h.outcome) for h in await _handled(db)]
    assert outcomes == [(DAY, ReminderOutcome.SKIPPED), (HOUR, ReminderOutcome.LATE)]
    assert {r.payload["text"].split("|")[2] for r in await _reminders(db)} == {"offset=60"}


async def test_reminders_missed_until_after_the_start_are_skipped(
    db: Database, people: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    await _create(db, _draft(rrule="FREQ=WEEKLY"))
    caplog.set_level("INFO", logger="bot.services.meetings")
    await _process(db, datetime(2026, 10, 3, 6, 30, tzinfo=UTC))
    assert [h.outcome for h in await _handled(db)] == [ReminderOutcome.SKIPPED] * 2
    assert await _reminders(db) == []
    assert "skipped (the meeting had started)" in caplog.text
    # The series goes on: next week's reminders are on time.
    async with db.session() as session:
        assert await meetings.next_due(session) == datetime(2026, 10, 9, 6, 0, tzinfo=UTC)


async def test_an_edit_does_not_resend_a_reminder_and_a_move_starts_afresh(
    db: Database, people: dict[str, int]
) -> None:
    meeting_id = await _create(db, _draft())
    await _run_until(db, datetime(2026, 10, 2, 7, 0, tzinfo=UTC))
    assert len(await _reminders(db)) == 5
    edit_time = datetime(2026, 10, 2, 7, 0, tzinfo=UTC)
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        mod = await session.get(members.Member, people["mod"])
        assert mod is not None
        await meetings.update(
            session,
            mod,
            meeting,
            now=edit_time,
            group_chat_id=GROUP,
            compose=compose,
            title="Renamed call",
        )
    await _run_until(db, datetime(2026, 10, 3, 4, 59, tzinfo=UTC))
    assert len(await _reminders(db)) == 5  # no second 24-hour reminder
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        mod = await session.get(members.Member, people["mod"])
        assert mod is not None
        await meetings.update(
            session,
            mod,
            meeting,
            now=datetime(2026, 10, 3, 4, 59, tzinfo=UTC),
            group_chat_id=GROUP,
            compose=compose,
            starts_at=datetime(2026, 10, 5, 6, 0, tzinfo=UTC),
        )
        notices = list(
            await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.kind == meetings.KIND,
                    col(OutboxMessage.dedup_key).like("%change%"),
                )
            )
        )
    assert len(notices) == 2 * 5  # the rename and the move, to four members and the group
    await _run_until(db, datetime(2026, 10, 6, tzinfo=UTC))
    starts = {r.payload["text"].split("|")[3] for r in await _reminders(db)}
    assert starts == {
        "start=2026-10-03T06:00:00+00:00",
        "start=2026-10-05T06:00:00+00:00",
    }
    assert len(await _reminders(db)) == 15


async def test_cancelling_the_series_stops_its_reminders(
    db: Database, people: dict[str, int]
) -> None:
    meeting_id = await _create(db, _draft(rrule="FREQ=WEEKLY"))
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        mod = await session.get(members.Member, people["mod"])
        assert mod is not None
        await meetings.cancel(session, mod, meeting, now=NOW, group_chat_id=GROUP, compose=compose)
        assert await meetings.next_due(session) is None
    assert await _run_until(db, datetime(2026, 12, 1, tzinfo=UTC)) == []


async def test_rebuild_recomputes_the_next_reminder(db: Database, people: dict[str, int]) -> None:
    meeting_id = await _create(db, _draft())
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        meeting.next_reminder_at = None
        session.add(meeting)
    async with db.session() as session:
        assert await meetings.rebuild(session, now=NOW) == 1
        assert await meetings.next_due(session) == datetime(2026, 10, 2, 6, 0, tzinfo=UTC)


async def test_upcoming_lists_what_a_member_may_see(db: Database, people: dict[str, int]) -> None:
    await _create(db, _draft(title="For focal points", audience=MeetingAudience(focal_points=True)))
    await _create(db, _draft(title="For all", starts_at=datetime(2026, 10, 2, 6, 0, tzinfo=UTC)))
    async with db.session() as session:
        kz = await session.get(members.Member, people["kz"])
        mod = await session.get(members.Member, people["mod"])
        assert kz is not None and mod is not None
        theirs, total = await meetings.upcoming(session, kz, now=NOW)
        everything, all_total = await meetings.upcoming(session, mod, now=NOW)
    assert [m.title for m, _ in theirs] == ["For all"] and total == 1
    assert [m.title for m, _ in everything] == ["For all", "For focal points"] and all_total == 2
    assert timedelta(0) < everything[0][1].start - NOW


async def test_a_reminder_carries_the_members_open_action_items(
    db: Database, people: dict[str, int]
) -> None:
    from datetime import date

    from bot.models import ActionItem

    async with db.session() as session:
        for owner, country in ((people["kz"], None), (None, "KZ")):
            session.add(
                ActionItem(
                    text="Send the country report",
                    owner_member_id=owner,
                    owner_country=country,
                    due_on=date(2026, 10, 20),
                    timezone="Asia/Almaty",
                    created_at=NOW,
                    reminded_through=NOW,
                )
            )
    await _create(db, _draft(reminder_offsets=[HOUR]))
    await _run_until(db, datetime(2026, 10, 4, tzinfo=UTC))
    carried = {r.recipient_id: r.payload["text"].split("|")[4] for r in await _reminders(db)}
    # The member's own item; the focal point of KZ gets the country's; others none.
    assert carried[people["kz"]] == "actions=1"
    assert carried[people["fp_kz"]] == "actions=1"
    assert carried[people["fp_af"]] == "actions=0"


async def test_a_refused_audience_change_leaves_the_meeting_as_it_was(
    db: Database, people: dict[str, int]
) -> None:
    meeting_id = await _create(db, _draft())
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        mod = await session.get(members.Member, people["mod"])
        assert mod is not None
        with pytest.raises(ServiceError) as refused:
            await meetings.update(
                session,
                mod,
                meeting,
                now=NOW,
                group_chat_id=GROUP,
                compose=compose,
                title="Renamed",
                audience=MeetingAudience(focal_points=True, countries=frozenset({"PK"})),
            )
        assert refused.value.code == "meeting_audience_empty"
        assert (meeting.title, meeting.to_everyone, meeting.sequence) == (
            "Monthly focal point call",
            True,
            0,
        )


async def test_a_change_notice_names_what_changed(db: Database, people: dict[str, int]) -> None:
    seen: list[tuple[str, ...]] = []

    def remember(notice: Notice) -> dict[str, Any]:
        seen.append(notice.changes)
        return compose(notice)

    meeting_id = await _create(db, _draft())
    async with db.session() as session:
        meeting = await meetings.get(session, meeting_id)
        mod = await session.get(members.Member, people["mod"])
        assert mod is not None
        await meetings.update(
            session,
            mod,
            meeting,
            now=NOW,
            group_chat_id=GROUP,
            compose=remember,
            location="https://meet.example.org/new",
            starts_at=datetime(2026, 10, 3, 7, 0, tzinfo=UTC),
        )
    assert set(seen) == {("starts_at", "location")}
