"""The minutes and action items service without Telegram: owners, due dates, reminder times
across zones and daylight saving, the reminder policy (late, skipped, never twice), country
items, Done, rebuild, and minutes (occurrences, notes, decisions, sending them)."""

from __future__ import annotations

import time as timer
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlmodel import col, select

from bot.db import Database
from bot.models import (
    ActionItem,
    ActionItemStatus,
    Admission,
    Meeting,
    MeetingMinutes,
    Member,
    MemberStatus,
    OutboxMessage,
    Role,
)
from bot.services import actions, members
from bot.services.actions import ActionReminder, MinutesNotice, Owner
from bot.services.errors import ServiceError

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
GROUP = -100123
KABUL = ZoneInfo("Asia/Kabul")
LONDON = ZoneInfo("Europe/London")


async def _member(
    db: Database,
    telegram_id: int,
    role: Role = Role.MEMBER,
    country: str | None = None,
    *,
    username: str | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
    language: str | None = None,
) -> int:
    async with db.session() as session:
        member = await members.admit(
            session,
            members.Profile(telegram_id, f"Person {telegram_id}", username),
            via=Admission.MODERATOR,
            now=NOW,
            language=language,
        )
        member.role, member.country, member.status = role, country, status
        session.add(member)
        await session.flush()
        assert member.id is not None
        return member.id


async def _people(db: Database) -> dict[str, int]:
    return {
        "mod": await _member(db, 1, Role.MODERATOR, username="mod"),
        "alice": await _member(db, 2, Role.MEMBER, "UZ", username="alice"),
        "fp_kz1": await _member(db, 11, Role.FOCAL_POINT, "KZ", username="fp_kz1"),
        "fp_kz2": await _member(db, 12, Role.FOCAL_POINT, "KZ", language="ru"),
        "fp_kz_gone": await _member(db, 13, Role.FOCAL_POINT, "KZ", status=MemberStatus.INACTIVE),
        "kz_member": await _member(db, 14, Role.MEMBER, "KZ"),
        "fp_kg": await _member(db, 15, Role.FOCAL_POINT, "KG"),
    }


def _compose(reminder: ActionReminder) -> dict[str, Any]:
    return {
        "text": f"{reminder.item.id}|late={reminder.late}|days={reminder.days_left}"
        f"|new={reminder.assigned}|to={reminder.recipient.member_id}"
    }


async def _item(
    db: Database,
    people: dict[str, int],
    *,
    owner: str,
    due: date,
    zone: str = "Asia/Kabul",
    at: datetime = NOW,
    text: str = "Draft the joint statement",
    minutes_id: int | None = None,
) -> int:
    async with db.session() as session:
        actor = await session.get(Member, people["mod"])
        assert actor is not None
        found = await actions.resolve_owner(session, owner)
        minutes = await session.get(MeetingMinutes, minutes_id) if minutes_id else None
        item = await actions.create_item(
            session,
            owner=found,
            due_on=due,
            timezone_name=zone,
            text=text,
            actor=actor,
            now=at,
            minutes=minutes,
        )
        assert item.id is not None
        return item.id


async def _process(db: Database, at: datetime) -> int:
    async with db.session() as session:
        return await actions.process_due(session, now=at, compose=_compose)


async def _reminders(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.kind == actions.REMINDER_KIND)
            .order_by(col(OutboxMessage.id))
        )
        return [r for r in rows if ":new:" not in r.dedup_key]


async def _get(db: Database, item_id: int) -> ActionItem:
    async with db.session() as session:
        item = await session.get(ActionItem, item_id)
        assert item is not None
        return item


# -- times --------------------------------------------------------------------------------------


def test_reminders_at_nine_in_kabul_three_days_one_day_before_and_on_the_day() -> None:
    times = actions.reminder_times(date(2026, 12, 20), KABUL)
    assert times == [
        datetime(2026, 12, 17, 4, 30, tzinfo=UTC),
        datetime(2026, 12, 19, 4, 30, tzinfo=UTC),
        datetime(2026, 12, 20, 4, 30, tzinfo=UTC),
    ]
    assert all(t.astimezone(KABUL).hour == 9 for t in times)


def test_reminders_stay_at_nine_in_london_across_both_daylight_saving_changes() -> None:
    # Summer time ends on 25 October 2026: 09:00 BST is 08:00 UTC, 09:00 GMT is 09:00 UTC.
    autumn = actions.reminder_times(date(2026, 10, 27), LONDON)
    assert autumn == [
        datetime(2026, 10, 24, 8, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 9, 0, tzinfo=UTC),
        datetime(2026, 10, 27, 9, 0, tzinfo=UTC),
    ]
    # It starts on 28 March 2027.
    spring = actions.reminder_times(date(2027, 3, 29), LONDON)
    assert spring == [
        datetime(2027, 3, 26, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 8, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 8, 0, tzinfo=UTC),
    ]
    assert all(t.astimezone(LONDON).hour == 9 for t in autumn + spring)


def test_a_fixed_offset_zone_works_too() -> None:
    zone = actions.item_zone(ActionItem(text="x", due_on=date(2026, 12, 20), timezone="UTC+03:30"))
    assert actions.zone_name(zone) == "UTC+03:30"
    assert actions.reminder_times(date(2026, 12, 20), zone)[-1] == datetime(
        2026, 12, 20, 5, 30, tzinfo=UTC
    )
    assert actions.zone_name(KABUL) == "Asia/Kabul"


def test_due_dates_are_read_in_the_moderators_zone() -> None:
    # 26 Nov 2026 21:00 UTC is already 27 Nov in Kabul (+4:30), still 26 Nov in London.
    late_evening = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    assert actions.parse_due("2026-11-26", LONDON, late_evening) == date(2026, 11, 26)
    with pytest.raises(ServiceError) as error:
        actions.parse_due("2026-11-26", KABUL, late_evening)
    assert error.value.code == "action_due_past"
    assert actions.parse_due("27.11.2026", KABUL, late_evening) == date(2026, 11, 27)
    for text, code in (
        ("tomorrow", "action_due_unparseable"),
        ("2026-02-30", "action_due_unparseable"),
        ("", "action_due_unparseable"),
        ("2020-01-01", "action_due_past"),
        ("2030-01-01", "action_due_too_far"),
    ):
        with pytest.raises(ServiceError) as error:
            actions.parse_due(text, KABUL, NOW)
        assert error.value.code == code, text


def test_texts_are_checked_and_kept_as_typed() -> None:
    assert actions.clean_text("  <b>Draft</b>   the\nstatement ") == "<b>Draft</b> the statement"
    assert actions.clean_text("line 1\n\n\n\nline 2 ", multiline=True) == "line 1\n\nline 2"
    assert len(actions.clean_text("x" * 1000)) == 1000
    for text, code in (
        ("   ", "action_text_empty"),
        ("\x00\x07", "action_text_empty"),
        ("x" * 1001, "action_text_too_long"),
    ):
        with pytest.raises(ServiceError) as error:
            actions.clean_text(text)
        assert error.value.code == code


# -- owners -------------------------------------------------------------------------------------


async def test_owners_are_members_or_a_country_with_focal_points(db: Database) -> None:
    people = await _people(db)
    async with db.session() as session:
        assert (await actions.resolve_owner(session, "@Alice")).member.id == people["alice"]  # type: ignore[union-attr]
        assert (await actions.resolve_owner(session, f"#{people['alice']}")).member is not None
        assert await actions.resolve_owner(session, "kz") == Owner(country="KZ")
        for reference, code in (
            ("@nobody", "action_owner_unknown"),
            ("99999", "action_owner_unknown"),
            ("99999999999", "action_owner_unknown"),
            ("alice", "action_owner_unknown"),
            ("<b>", "action_owner_unknown"),
            ("XX", "bad_country"),
            ("TJ", "action_country_without_focal_points"),
            ("", "action_owner_missing"),
        ):
            with pytest.raises(ServiceError) as error:
                await actions.resolve_owner(session, reference)
            assert error.value.code == code, reference


# -- reminders ----------------------------------------------------------------------------------


async def test_an_item_reminds_its_owner_at_each_time_once(db: Database) -> None:
    people = await _people(db)
    item_id = await _item(db, people, owner="@alice", due=date(2026, 12, 20))
    times = actions.reminder_times(date(2026, 12, 20), KABUL)
    assert (await _get(db, item_id)).next_reminder_at == times[0]
    async with db.session() as session:
        assert await actions.next_due(session) == times[0]
    assert await _process(db, times[0] - timedelta(seconds=1)) == 0
    for index, moment in enumerate(times):
        assert await _process(db, moment) == 1
        # Twice: nothing new.
        assert await _process(db, moment) == 0
        assert await _process(db, moment + timedelta(seconds=30)) == 0
        item = await _get(db, item_id)
        assert item.reminded_through == moment
        assert item.next_reminder_at == (times[index + 1] if index + 1 < len(times) else None)
    rows = await _reminders(db)
    assert [r.dedup_key for r in rows] == [
        f"action:{item_id}:20261217:{people['alice']}",
        f"action:{item_id}:20261219:{people['alice']}",
        f"action:{item_id}:20261220:{people['alice']}",
    ]
    assert [r.payload["text"].split("|")[1:3] for r in rows] == [
        ["late=False", "days=3"],
        ["late=False", "days=1"],
        ["late=False", "days=0"],
    ]
    assert {r.chat_id for r in rows} == {2}
    async with db.session() as session:
        assert await actions.next_due(session) is None


async def test_a_country_item_reaches_every_active_focal_point_of_it(db: Database) -> None:
    people = await _people(db)
    due = date(2026, 12, 15)
    item_id = await _item(db, people, owner="KZ", due=due, zone="Asia/Almaty")
    first = actions.reminder_times(due, ZoneInfo("Asia/Almaty"))[0]
    assert await _process(db, first) == 2
    rows = await _reminders(db)
    assert sorted(r.recipient_id for r in rows) == sorted([people["fp_kz1"], people["fp_kz2"]])
    assert {r.dedup_key for r in rows} == {
        f"action:{item_id}:20261212:{people['fp_kz1']}",
        f"action:{item_id}:20261212:{people['fp_kz2']}",
    }
    # A new focal point of the country is reminded from then on.
    await _member(db, 16, Role.FOCAL_POINT, "KZ")
    second = actions.reminder_times(due, ZoneInfo("Asia/Almaty"))[1]
    assert await _process(db, second) == 3


async def test_the_owners_are_told_when_an_item_is_set(db: Database) -> None:
    people = await _people(db)
    item_id = await _item(db, people, owner="KZ", due=date(2026, 12, 15))
    async with db.session() as session:
        item = await session.get(ActionItem, item_id)
        assert item is not None
        assert await actions.notify_assigned(session, item, now=NOW, compose=_compose) == 2
        assert await actions.notify_assigned(session, item, now=NOW, compose=_compose) == 0
        rows = await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.dedup_key).contains(":new:"))
        )
        assert all("new=True" in r.payload["text"] for r in rows)


async def test_done_items_stop_reminding(db: Database) -> None:
    people = await _people(db)
    due = date(2026, 12, 20)
    item_id = await _item(db, people, owner="@alice", due=due)
    times = actions.reminder_times(due, KABUL)
    assert await _process(db, times[0]) == 1
    async with db.session() as session:
        alice = await session.get(Member, people["alice"])
        assert alice is not None
        item = await actions.mark_done(session, item_id, alice, now=times[0] + timedelta(hours=1))
        assert item.status == ActionItemStatus.DONE and item.done_by_id == people["alice"]
        assert item.next_reminder_at is None
    assert await _process(db, times[1]) == 0
    assert await _process(db, times[2] + timedelta(hours=1)) == 0
    assert len(await _reminders(db)) == 1
    async with db.session() as session:
        await actions.rebuild(session, now=times[1])
    assert (await _get(db, item_id)).next_reminder_at is None


async def test_reminder_times_already_past_at_creation_are_skipped(db: Database) -> None:
    people = await _people(db)
    due = date(2026, 11, 28)  # two days after NOW: the three-day reminder has passed
    item_id = await _item(db, people, owner="@alice", due=due)
    times = actions.reminder_times(due, KABUL)
    assert (await _get(db, item_id)).next_reminder_at == times[1]
    assert await _process(db, times[1]) == 1
    # Due today, after 09:00 there: no reminder left at all.
    late_item = await _item(db, people, owner="@alice", due=date(2026, 11, 26))
    assert (await _get(db, late_item)).next_reminder_at is None


async def test_after_a_restart_only_the_latest_missed_reminder_goes_out_marked_late(
    db: Database,
) -> None:
    people = await _people(db)
    due = date(2026, 12, 20)
    item_id = await _item(db, people, owner="@alice", due=due)
    times = actions.reminder_times(due, KABUL)
    # Down from before the first reminder until an hour after the second.
    back = times[1] + timedelta(hours=1)
    async with db.session() as session:
        await actions.rebuild(session, now=back)
    assert (await _get(db, item_id)).next_reminder_at == times[0]
    assert await _process(db, back) == 1
    rows = await _reminders(db)
    assert [r.dedup_key for r in rows] == [f"action:{item_id}:20261219:{people['alice']}"]
    assert "late=True" in rows[0].payload["text"]
    assert await _process(db, back) == 0
    # A delay of up to two minutes is not late.
    assert await _process(db, times[2] + timedelta(minutes=2)) == 1
    assert "late=False" in (await _reminders(db))[-1].payload["text"]


async def test_a_missed_reminder_on_the_due_date_itself_still_goes_out_late(
    db: Database,
) -> None:
    people = await _people(db)
    due = date(2026, 12, 20)
    await _item(db, people, owner="@alice", due=due)
    times = actions.reminder_times(due, KABUL)
    assert await _process(db, times[0]) == 1
    # Down from then until the evening of the due date (Kabul): only the due-day one, late.
    evening = datetime(2026, 12, 20, 18, 0, tzinfo=UTC)  # 22:30 in Kabul
    assert await _process(db, evening) == 1
    last = (await _reminders(db))[-1]
    assert last.dedup_key.endswith(f":20261220:{people['alice']}")
    assert "late=True" in last.payload["text"] and "days=0" in last.payload["text"]


async def test_missed_reminders_are_skipped_once_the_due_date_has_passed(db: Database) -> None:
    people = await _people(db)
    due = date(2026, 12, 20)
    item_id = await _item(db, people, owner="KZ", due=due)
    # Down until the day after the due date (in Kabul).
    back = datetime(2026, 12, 20, 20, 0, tzinfo=UTC)  # 00:30 on 21 Dec in Kabul
    assert await _process(db, back) == 0
    assert await _reminders(db) == []
    item = await _get(db, item_id)
    assert item.next_reminder_at is None and item.status == ActionItemStatus.OPEN
    assert actions.is_overdue(item, back)
    assert not actions.is_overdue(item, datetime(2026, 12, 20, 19, 0, tzinfo=UTC))


async def test_rebuild_recomputes_every_open_item_quickly(db: Database) -> None:
    people = await _people(db)
    due = date(2026, 12, 20)
    rows = [
        {
            "text": f"Item {n}",
            "owner_member_id": people["alice"],
            "due_on": due + timedelta(days=n % 30),
            "timezone": ("Asia/Kabul", "Europe/London", "UTC+04:30")[n % 3],
            "status": "open" if n % 10 else "done",
            "created_at": NOW,
            "reminded_through": NOW,
            "next_reminder_at": None,
        }
        for n in range(10_000)
    ]
    async with db.session() as session:
        connection = await session.connection()
        await connection.execute(insert(ActionItem.__table__), rows)  # type: ignore[attr-defined]
    started = timer.perf_counter()
    async with db.session() as session:
        await actions.rebuild(session, now=NOW)
    elapsed = timer.perf_counter() - started
    assert elapsed < 3, f"rebuild of 10,000 items took {elapsed:.2f} s"
    async with db.session() as session:
        items = list(await session.exec(select(ActionItem).order_by(col(ActionItem.id))))
    for item in items[:300]:
        if item.status == ActionItemStatus.OPEN:
            expected = actions.reminder_times(item.due_on, actions.item_zone(item))[0]
            assert item.next_reminder_at == expected
        else:
            assert item.next_reminder_at is None
    async with db.session() as session:
        assert await actions.next_due(session) == min(
            i.next_reminder_at for i in items if i.next_reminder_at is not None
        )
        # Nothing changed: nothing written.
        await actions.rebuild(session, now=NOW)


# -- listing and Done ---------------------------------------------------------------------------


async def test_open_items_include_the_countrys_for_its_focal_points(db: Database) -> None:
    people = await _people(db)
    own = await _item(db, people, owner="@fp_kz1", due=date(2026, 12, 22))
    country = await _item(db, people, owner="KZ", due=date(2026, 12, 1))
    alices = await _item(db, people, owner="@alice", due=date(2026, 12, 5))
    async with db.session() as session:
        found = {
            m.id: m
            for m in await session.exec(select(Member).where(col(Member.id).in_(people.values())))
        }
        lists = await actions.open_items_for(session, list(found.values()))
        assert [i.id for i in lists[people["fp_kz1"]]] == [country, own]
        assert [i.id for i in lists[people["fp_kz2"]]] == [country]
        assert lists[people["kz_member"]] == [] and lists[people["fp_kg"]] == []
        assert [i.id for i in lists[people["alice"]]] == [alices]
        everybody = await actions.all_open_items(session)
        assert [i.id for i in everybody] == [country, alices, own]
        assert await actions.open_items_for(session, []) == {}


async def test_who_may_mark_an_item_done(db: Database) -> None:
    people = await _people(db)
    country = await _item(db, people, owner="KZ", due=date(2026, 12, 1))
    alices = await _item(db, people, owner="@alice", due=date(2026, 12, 5))
    async with db.session() as session:
        who = {name: await session.get(Member, ident) for name, ident in people.items()}
        for name, item_id in (
            ("kz_member", country),
            ("fp_kg", country),
            ("fp_kz1", alices),
            ("alice", country),
        ):
            with pytest.raises(ServiceError) as error:
                await actions.mark_done(session, item_id, who[name], now=NOW)  # type: ignore[arg-type]
            assert error.value.code == "action_not_yours", name
        done = await actions.mark_done(session, country, who["fp_kz2"], now=NOW)  # type: ignore[arg-type]
        assert done.done_by_id == people["fp_kz2"] and done.done_at == NOW
        with pytest.raises(ServiceError) as error:
            await actions.mark_done(session, country, who["fp_kz1"], now=NOW)  # type: ignore[arg-type]
        assert error.value.code == "action_already_done"
        assert (await actions.mark_done(session, alices, who["mod"], now=NOW)).status == "done"  # type: ignore[arg-type]
        for forged in (0, -1, 2**31, 10**12, 999):
            with pytest.raises(ServiceError) as error:
                await actions.mark_done(session, forged, who["mod"], now=NOW)  # type: ignore[arg-type]
            assert error.value.code == "action_not_found"


# -- minutes ------------------------------------------------------------------------------------


async def _meeting(
    db: Database,
    people: dict[str, int],
    *,
    starts_at: datetime,
    rrule: str | None = None,
    zone: str = "Europe/London",
    everyone: bool = True,
    countries: list[str] | None = None,
) -> int:
    async with db.session() as session:
        meeting = Meeting(
            title="Monthly focal point call",
            starts_at=starts_at,
            timezone=zone,
            rrule=rrule,
            to_everyone=everyone,
            to_focal_points=not everyone,
            countries=countries or [],
            created_by_id=people["mod"],
            created_at=NOW - timedelta(days=400),
            updated_at=NOW - timedelta(days=400),
            reminded_through=NOW,
        )
        session.add(meeting)
        await session.flush()
        assert meeting.id is not None
        return meeting.id


def _minutes_compose(notice: MinutesNotice) -> list[dict[str, Any]]:
    recipient = notice.recipient
    assert recipient is not None
    parts = [{"text": f"minutes {notice.minutes.id} to {recipient.chat_id}"}]
    if "LONG" in notice.minutes.notes:
        parts.append({"text": "second part"})
    return parts


async def test_minutes_open_on_the_latest_occurrence_that_has_started(db: Database) -> None:
    people = await _people(db)
    # Weekly on Thursdays at 10:00 London since a year ago; NOW is Thursday 26 Nov, 09:00 UTC.
    weekly = await _meeting(
        db,
        people,
        starts_at=datetime(2025, 11, 27, 10, 0, tzinfo=UTC),
        rrule="FREQ=WEEKLY",
    )
    async with db.session() as session:
        meeting = await session.get(Meeting, weekly)
        assert meeting is not None
        mod = await session.get(Member, people["mod"])
        assert mod is not None
        started = await actions.started_occurrences(session, meeting, NOW)
        assert [o.start for o in started] == [
            datetime(2026, 10, 22, 9, 0, tzinfo=UTC),  # summer time
            datetime(2026, 10, 29, 10, 0, tzinfo=UTC),
            datetime(2026, 11, 5, 10, 0, tzinfo=UTC),
            datetime(2026, 11, 12, 10, 0, tzinfo=UTC),
            datetime(2026, 11, 19, 10, 0, tzinfo=UTC),
        ]
        # Within a quarter of an hour of the start, today's counts.
        soon = NOW + timedelta(minutes=50)
        assert (await actions.started_occurrences(session, meeting, soon))[-1].start == datetime(
            2026, 11, 26, 10, 0, tzinfo=UTC
        )
        minutes = await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        assert minutes.occurrence_start == datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
        again = await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        assert again.id == minutes.id
        earlier = await actions.open_minutes(
            session, meeting, actor=mod, now=NOW, occurrence=started[0]
        )
        assert earlier.id != minutes.id
        with pytest.raises(ServiceError) as error:
            await actions.open_minutes(
                session,
                meeting,
                actor=mod,
                now=NOW,
                occurrence=(await actions.started_occurrences(session, meeting, soon))[-1],
            )
        assert error.value.code == "minutes_not_started"
    future = await _meeting(db, people, starts_at=NOW + timedelta(days=3))
    async with db.session() as session:
        meeting = await session.get(Meeting, future)
        assert meeting is not None and mod is not None
        with pytest.raises(ServiceError) as error:
            await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        assert error.value.code == "minutes_not_started"
    # A one-off meeting long ago still has its minutes.
    old = await _meeting(db, people, starts_at=NOW - timedelta(days=500))
    async with db.session() as session:
        meeting = await session.get(Meeting, old)
        assert meeting is not None
        started = await actions.started_occurrences(session, meeting, NOW)
        assert [o.start for o in started] == [NOW - timedelta(days=500)]


async def test_opened_minutes_roll_back_with_their_transaction(db: Database) -> None:
    """Opening minutes is part of the caller's transaction (on SQLite a SAVEPOINT as the first
    write would have committed it on its own)."""
    people = await _people(db)
    old = await _meeting(db, people, starts_at=NOW - timedelta(days=2))
    async with db.session() as session:
        meeting = await session.get(Meeting, old)
        mod = await session.get(Member, people["mod"])
        assert meeting is not None and mod is not None
        opened = await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        assert opened.id is not None and opened.notes == "" and opened.decisions == []
        await session.rollback()
    async with db.session() as session:
        assert list(await session.exec(select(MeetingMinutes))) == []


async def test_notes_decisions_items_and_sending_the_minutes(db: Database) -> None:
    people = await _people(db)
    meeting_id = await _meeting(
        db,
        people,
        starts_at=NOW - timedelta(hours=1),
        countries=["KZ"],
    )
    async with db.session() as session:
        meeting = await session.get(Meeting, meeting_id)
        mod = await session.get(Member, people["mod"])
        assert meeting is not None and mod is not None
        minutes = await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        with pytest.raises(ServiceError) as error:
            await actions.send_minutes(
                session, minutes, actor=mod, now=NOW, group_chat_id=GROUP, compose=_minutes_compose
            )
        assert error.value.code == "minutes_empty"
        await actions.add_notes(session, minutes, "  First point.  ", now=NOW)
        await actions.add_notes(session, minutes, "Second <b>point</b>.", now=NOW)
        assert minutes.notes == "First point.\n\nSecond <b>point</b>."
        await actions.add_decision(session, minutes, "Meet monthly", now=NOW)
        await actions.add_decision(session, minutes, "Share the glossary", now=NOW)
        assert minutes.decisions == ["Meet monthly", "Share the glossary"]
        minutes_id = minutes.id
    async with db.session() as session:
        stored = await session.get(MeetingMinutes, minutes_id)
        assert stored is not None and stored.decisions == ["Meet monthly", "Share the glossary"]
    item_id = await _item(db, people, owner="KZ", due=date(2026, 12, 15), minutes_id=minutes_id)

    async def send() -> int:
        async with db.session() as session:
            minutes = await session.get(MeetingMinutes, minutes_id)
            mod = await session.get(Member, people["mod"])
            assert minutes is not None and mod is not None
            return await actions.send_minutes(
                session, minutes, actor=mod, now=NOW, group_chat_id=GROUP, compose=_minutes_compose
            )

    # Focal points of KZ... and every member there: the meeting is for everybody in KZ.
    assert await send() == 3
    assert await send() == 0
    async with db.session() as session:
        rows = list(
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == actions.KIND))
        )
        assert sorted(r.recipient_id for r in rows) == sorted(
            [people["fp_kz1"], people["fp_kz2"], people["kz_member"]]
        )
        version = rows[0].dedup_key.split(":")[2]
        assert rows[0].dedup_key == f"minutes:{minutes_id}:{version}:{rows[0].recipient_id}"
        minutes = await session.get(MeetingMinutes, minutes_id)
        assert minutes is not None and minutes.sent_at == NOW
        notice = await actions.notice(session, minutes)
        assert [i.id for i in notice.items] == [item_id]
    # Changed (an item is done): everybody gets them again, once.
    async with db.session() as session:
        mod = await session.get(Member, people["mod"])
        assert mod is not None
        await actions.mark_done(session, item_id, mod, now=NOW)
    assert await send() == 3
    assert await send() == 0
    async with db.session() as session:
        minutes = await session.get(MeetingMinutes, minutes_id)
        assert minutes is not None
        await actions.add_notes(session, minutes, "LONG notes", now=NOW)
    assert await send() == 3
    async with db.session() as session:
        parts = list(
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.dedup_key).endswith(":2"))
            )
        )
        assert len(parts) == 3


async def test_minutes_limits(db: Database) -> None:
    people = await _people(db)
    meeting_id = await _meeting(db, people, starts_at=NOW - timedelta(hours=1))
    async with db.session() as session:
        meeting = await session.get(Meeting, meeting_id)
        mod = await session.get(Member, people["mod"])
        assert meeting is not None and mod is not None
        minutes = await actions.open_minutes(session, meeting, actor=mod, now=NOW)
        for _ in range(actions.DECISIONS_LIMIT):
            await actions.add_decision(session, minutes, "d", now=NOW)
        with pytest.raises(ServiceError) as error:
            await actions.add_decision(session, minutes, "one more", now=NOW)
        assert error.value.code == "minutes_too_many_decisions"
        for _ in range(actions.NOTES_LIMIT // 1000):
            await actions.add_notes(session, minutes, "n" * 990, now=NOW)
        with pytest.raises(ServiceError) as error:
            await actions.add_notes(session, minutes, "n" * 990, now=NOW)
        assert error.value.code == "minutes_notes_full"
        with pytest.raises(ServiceError) as error:
            await actions.add_notes(session, minutes, " ", now=NOW)
        assert error.value.code == "action_text_empty"
        with pytest.raises(ServiceError) as error:
            await actions.create_item(
                session,
                owner=Owner(country="KZ"),
                due_on=date(2026, 11, 25),
                timezone_name="Asia/Almaty",
                text="Late",
                actor=mod,
                now=NOW,
                minutes=minutes,
            )
        assert error.value.code == "action_due_past"
