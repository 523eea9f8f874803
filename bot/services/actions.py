"""Minutes and action items: what a meeting noted and decided, what somebody must do by a date
(an action item from the minutes, or a focal points' deadline set on its own), the reminders
before the due date, and marking an item done.

An action item belongs to one member, or to every focal point of a country (`owner_country`).
Its due date is a calendar date in the zone of the moderator who set it (`ActionItem.timezone`).

Reminder policy (like meetings'): an open item reminds its owners at 09:00 in its zone three
days and one day before the due date, and on the due date itself. Creating an item sets
`reminded_through` to that moment, so reminder times already past are not sent. Each
(item, reminder time, owner) has a unique outbox dedup key, so neither a restart nor running
`process_due` twice sends one twice. A reminder handled more than LATE_AFTER after its time (the
bot was down) goes out marked late, as long as the due date has not passed in the item's zone;
when several of one item were missed, only the latest goes out; once the due date has passed,
missed reminders are skipped and logged (the item shows as overdue in /actions). A done or
cancelled item reminds nobody.

Rendering is the caller's business: `process_due` and `send_minutes` take a `compose` callback
that turns what is to be said into outbox payloads, so this module stays free of Telegram and
templates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from sqlalchemy import Integer, bindparam, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    ActionItem,
    ActionItemStatus,
    AuditAction,
    Meeting,
    MeetingMinutes,
    Member,
    MemberStatus,
    Role,
)
from bot.models.types import UTCDateTime
from bot.services import audit, countries, meetings, members, outbox, timezones
from bot.services.errors import ServiceError
from bot.services.outbox import Recipient
from bot.services.sql import insert_ignoring_conflicts

log = logging.getLogger(__name__)

KIND = "minutes"  # the minutes sent to a meeting's participants
REMINDER_KIND = "action_reminder"

TEXT_LIMIT = 1000
NOTES_LIMIT = 12_000
DECISIONS_LIMIT = 50
ITEMS_PER_MINUTES_LIMIT = 50
# Reminders: at this hour in the item's zone, so many days before the due date (0: that day).
REMINDER_HOUR = 9
REMINDER_DAYS_BEFORE = (3, 1, 0)
# A reminder handled more than this after its time is marked late.
LATE_AFTER = timedelta(minutes=2)
MAX_AHEAD = timedelta(days=2 * 366)
# Minutes can be opened a little before the meeting starts (the moderator gets ready).
START_GRACE = timedelta(minutes=15)
RECENT_OCCURRENCES = 5
BATCH = 500
# Ids are 32-bit integers: a larger number (a forged button) names nothing.
MAX_ID = 2**31 - 1

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# -- text, dates, owners ----------------------------------------------------------------------


def clean_text(text: str, *, multiline: bool = False, limit: int = TEXT_LIMIT) -> str:
    """A text a moderator typed, as it will be kept: control characters out, spaces tidied
    (one line unless `multiline`); not empty and at most `limit` characters."""
    text = _CONTROL.sub("", text or "")
    if multiline:
        text = "\n".join(line.rstrip() for line in text.strip().splitlines())
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = " ".join(text.split())
    if not text:
        raise ServiceError("action_text_empty")
    if len(text) > limit:
        raise ServiceError("action_text_too_long", length=len(text), limit=limit)
    return text


def zone_name(zone: tzinfo) -> str:
    """The name to store for a zone (an IANA key, or a fixed offset's 'UTC+04:30')."""
    key = getattr(zone, "key", None)
    if key:
        return str(key)
    if isinstance(zone, timezone):
        return zone.tzname(None)
    return "UTC"


def item_zone(item: ActionItem) -> tzinfo:
    return timezones.zone(item.timezone, "UTC")


def today_in(zone: tzinfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def parse_due(text: str, zone: tzinfo, now: datetime) -> date:
    """A due date as typed (2026-12-20), meant in `zone`: today or later, within two years."""
    value = " ".join((text or "").split())[:40]
    parsed: date | None = None
    for pattern in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        break
    if parsed is None:
        raise ServiceError("action_due_unparseable", value=value)
    today = today_in(zone, now)
    if parsed < today:
        raise ServiceError("action_due_past", value=value)
    if parsed - today > MAX_AHEAD:
        raise ServiceError("action_due_too_far", value=value)
    return parsed


@dataclass(frozen=True)
class Owner:
    """Who an action item is for: one member, or every focal point of a country."""

    member: Member | None = None
    country: str | None = None


def looks_like_country(reference: str) -> bool:
    return len(reference) == 2 and reference.isalpha()


async def focal_points(session: AsyncSession, country: str) -> list[Member]:
    rows = await session.exec(
        select(Member)
        .where(
            Member.country == country,
            Member.role == Role.FOCAL_POINT.value,
            Member.status == MemberStatus.ACTIVE,
        )
        .order_by(col(Member.id))
    )
    return list(rows)


async def resolve_owner(session: AsyncSession, reference: str) -> Owner:
    """@username, a member number (#12 or 12), or a country code (all its focal points)."""
    reference = " ".join((reference or "").split())[:64]
    if not reference:
        raise ServiceError("action_owner_missing")
    if looks_like_country(reference):
        code = countries.normalize(reference)
        if code is None:
            raise ServiceError("bad_country", country=reference)
        if not await focal_points(session, code):
            raise ServiceError("action_country_without_focal_points", country=code)
        return Owner(country=code)
    number = reference.lstrip("#")
    # (A number beyond 32 bits names nobody, and PostgreSQL would refuse to compare it.)
    if not reference.startswith("@") and not (number.isdigit() and 0 < int(number) <= MAX_ID):
        raise ServiceError("action_owner_unknown", reference=reference)
    try:
        member = await members.find(session, reference)
    except ServiceError:
        raise ServiceError("action_owner_unknown", reference=reference) from None
    return Owner(member=member)


# -- action items -------------------------------------------------------------------------------


def reminder_times(due_on: date, zone: tzinfo) -> list[datetime]:
    """When an item due on `due_on` (in `zone`) reminds its owners, in UTC, earliest first."""
    found = []
    for days in REMINDER_DAYS_BEFORE:
        local = datetime.combine(due_on - timedelta(days=days), time(REMINDER_HOUR), tzinfo=zone)
        found.append(local.astimezone(UTC))
    return sorted(found)


def next_reminder(due_on: date, zone: tzinfo, *, after: datetime) -> datetime | None:
    return next((t for t in reminder_times(due_on, zone) if t > after), None)


def is_overdue(item: ActionItem, now: datetime) -> bool:
    return item.status == ActionItemStatus.OPEN and today_in(item_zone(item), now) > item.due_on


async def create_item(
    session: AsyncSession,
    *,
    owner: Owner,
    due_on: date,
    timezone_name: str,
    text: str,
    actor: Member,
    now: datetime,
    minutes: MeetingMinutes | None = None,
) -> ActionItem:
    """Save an action item (from `minutes`, or a deadline on its own), in the caller's
    transaction. Its reminder times already past are skipped."""
    text = clean_text(text)
    if (owner.member is None) == (owner.country is None):
        raise ServiceError("action_owner_missing")
    zone = timezones.zone(timezone_name, "UTC")
    if due_on < today_in(zone, now):
        raise ServiceError("action_due_past", value=due_on.isoformat())
    if minutes is not None:
        count = (
            await session.exec(
                select(func.count())
                .select_from(ActionItem)
                .where(ActionItem.minutes_id == minutes.id)
            )
        ).one()
        if count >= ITEMS_PER_MINUTES_LIMIT:
            raise ServiceError("minutes_too_many_items", limit=ITEMS_PER_MINUTES_LIMIT)
    item = ActionItem(
        minutes_id=minutes.id if minutes is not None else None,
        text=text,
        owner_member_id=owner.member.id if owner.member is not None else None,
        owner_country=owner.country,
        due_on=due_on,
        timezone=timezone_name,
        created_by_id=actor.id,
        created_at=now,
        reminded_through=now,
        next_reminder_at=next_reminder(due_on, zone, after=now),
    )
    session.add(item)
    if minutes is not None:
        minutes.updated_at = now
        session.add(minutes)
    await session.flush()
    return item


async def find_item(session: AsyncSession, item_id: int) -> ActionItem | None:
    if not 0 < item_id <= MAX_ID:
        return None
    return await session.get(ActionItem, item_id)


async def get_item(session: AsyncSession, item_id: int) -> ActionItem:
    item = await find_item(session, item_id)
    if item is None or item.status == ActionItemStatus.CANCELLED:
        raise ServiceError("action_not_found")
    return item


def owns(item: ActionItem, member: Member) -> bool:
    """The item is this member's: theirs by name, or their country's and they are its focal
    point."""
    if item.owner_member_id is not None:
        return item.owner_member_id == member.id
    return (
        item.owner_country is not None
        and member.role_enum == Role.FOCAL_POINT
        and member.country == item.owner_country
    )


def may_close(item: ActionItem, member: Member) -> bool:
    return owns(item, member) or member.role_enum.at_least(Role.MODERATOR)


async def mark_done(
    session: AsyncSession, item_id: int, actor: Member, *, now: datetime
) -> ActionItem:
    """The owner (a focal point of the owner country) or a moderator marks an item done."""
    item = await get_item(session, item_id)
    if not may_close(item, actor):
        raise ServiceError("action_not_yours")
    if item.status != ActionItemStatus.OPEN:
        raise ServiceError("action_already_done")
    item.status = ActionItemStatus.DONE
    item.done_at = now
    item.done_by_id = actor.id
    item.next_reminder_at = None
    session.add(item)
    # A reminder still waiting in the outbox has nothing left to remind of.
    await outbox.cancel(session, REMINDER_KIND, item.id or 0)
    await session.flush()
    return item


def _order(items: Iterable[ActionItem]) -> list[ActionItem]:
    return sorted(items, key=lambda i: (i.due_on, i.id or 0))


async def open_items_for(
    session: AsyncSession, members: list[Member]
) -> dict[int, list[ActionItem]]:
    """Member id -> their open items (their own, and their country's if they are its focal
    point), by due date. Everybody asked for has an entry, empty or not."""
    result: dict[int, list[ActionItem]] = {m.id: [] for m in members if m.id is not None}
    if not result:
        return result
    ids = list(result)
    focal = {
        m.id: m.country
        for m in members
        if m.id is not None and m.country and m.role_enum == Role.FOCAL_POINT
    }
    condition = col(ActionItem.owner_member_id).in_(ids)
    if focal:
        condition = or_(condition, col(ActionItem.owner_country).in_(sorted(set(focal.values()))))
    rows = await session.exec(
        select(ActionItem).where(ActionItem.status == ActionItemStatus.OPEN.value, condition)
    )
    by_country: dict[str, list[ActionItem]] = {}
    for item in rows:
        if item.owner_member_id is not None and item.owner_member_id in result:
            result[item.owner_member_id].append(item)
        elif item.owner_country is not None:
            by_country.setdefault(item.owner_country, []).append(item)
    for member_id, country in focal.items():
        result[member_id].extend(by_country.get(country or "", []))
    return {member_id: _order(items) for member_id, items in result.items()}


async def all_open_items(session: AsyncSession) -> list[ActionItem]:
    """Every open item, grouped by owner (countries first, then members), by due date."""
    rows = await session.exec(
        select(ActionItem).where(ActionItem.status == ActionItemStatus.OPEN.value)
    )
    return sorted(
        rows,
        key=lambda i: (
            i.owner_country is None,
            i.owner_country or "",
            i.owner_member_id or 0,
            i.due_on,
            i.id or 0,
        ),
    )


async def people_of(session: AsyncSession, items: Iterable[ActionItem]) -> dict[int, Member]:
    """The members named by some items (owners, and who marked them done), by id."""
    ids = {i.owner_member_id for i in items if i.owner_member_id is not None}
    ids |= {i.done_by_id for i in items if i.done_by_id is not None}
    if not ids:
        return {}
    rows = await session.exec(select(Member).where(col(Member.id).in_(sorted(ids))))
    return {m.id: m for m in rows if m.id is not None}


async def meeting_titles(session: AsyncSession, items: Iterable[ActionItem]) -> dict[int, str]:
    """Minutes id -> the title of its meeting, for items that came from minutes."""
    ids = sorted({i.minutes_id for i in items if i.minutes_id is not None})
    if not ids:
        return {}
    rows = await session.exec(
        select(MeetingMinutes.id, Meeting.title)
        .join(Meeting, col(Meeting.id) == col(MeetingMinutes.meeting_id))
        .where(col(MeetingMinutes.id).in_(ids))
    )
    return {minutes_id: title for minutes_id, title in rows if minutes_id is not None}


# -- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionReminder:
    """One reminder of one item to one owner. `when` is the reminder's time (UTC); `late`: the
    bot handled it more than LATE_AFTER after that. `meeting_title`: the meeting whose minutes
    the item comes from, if any. `assigned`: the notice sent when the item is set."""

    item: ActionItem
    recipient: Recipient
    late: bool
    when: datetime
    meeting_title: str | None = None
    # Not a reminder: the notice that the item was just set for them.
    assigned: bool = False
    # When it was handled (a late reminder: after `when`).
    handled_at: datetime | None = None

    def upcoming(self) -> list[datetime]:
        """The item's reminder times still to come (for the notice of a new item)."""
        return [t for t in reminder_times(self.item.due_on, item_zone(self.item)) if t > self.when]

    @property
    def days_left(self) -> int:
        """Days from the day it goes out to the due date (in the item's zone)."""
        moment = self.handled_at or self.when
        return (self.item.due_on - moment.astimezone(item_zone(self.item)).date()).days


ActionCompose = Callable[[ActionReminder], dict[str, Any]]


def reminder_key(item: ActionItem, when: datetime, member_id: int) -> str:
    day = when.astimezone(item_zone(item)).strftime("%Y%m%d")
    return f"action:{item.id}:{day}:{member_id}"


async def _owners_by_item(
    session: AsyncSession, items: list[ActionItem]
) -> dict[int, list[Member]]:
    """Item id -> the active members it reminds."""
    member_ids = sorted({i.owner_member_id for i in items if i.owner_member_id is not None})
    codes = sorted({i.owner_country for i in items if i.owner_country is not None})
    by_id: dict[int, Member] = {}
    by_country: dict[str, list[Member]] = {}
    if member_ids:
        rows = await session.exec(
            select(Member).where(
                col(Member.id).in_(member_ids), Member.status == MemberStatus.ACTIVE
            )
        )
        by_id = {m.id: m for m in rows if m.id is not None}
    if codes:
        rows = await session.exec(
            select(Member)
            .where(
                col(Member.country).in_(codes),
                Member.role == Role.FOCAL_POINT.value,
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(col(Member.id))
        )
        for member in rows:
            by_country.setdefault(member.country or "", []).append(member)
    result: dict[int, list[Member]] = {}
    for item in items:
        if item.owner_member_id is not None:
            found = by_id.get(item.owner_member_id)
            result[item.id or 0] = [found] if found is not None else []
        else:
            result[item.id or 0] = by_country.get(item.owner_country or "", [])
    return result


async def owners_of(session: AsyncSession, item: ActionItem) -> list[Member]:
    """The active members an item reminds."""
    return (await _owners_by_item(session, [item])).get(item.id or 0, [])


async def notify_assigned(
    session: AsyncSession, item: ActionItem, *, now: datetime, compose: ActionCompose
) -> int:
    """Tell the owners that the item was set for them (dedup `action:<id>:new:<member>`)."""
    title = (await meeting_titles(session, [item])).get(item.minutes_id or 0)
    messages = []
    for member in await owners_of(session, item):
        assert member.id is not None
        notice = ActionReminder(
            item=item,
            recipient=Recipient.of(member),
            late=False,
            when=now,
            meeting_title=title,
            assigned=True,
        )
        messages.append(
            outbox.Outgoing(
                dedup_key=f"action:{item.id}:new:{member.id}",
                chat_id=member.telegram_id,
                recipient_id=member.id,
                payload=compose(notice),
            )
        )
    return len(await outbox.enqueue(session, REMINDER_KIND, item.id, messages, now=now))


async def process_due(session: AsyncSession, *, now: datetime, compose: ActionCompose) -> int:
    """Handle every open item whose next reminder is due: queue one reminder per owner (the
    latest missed time only, marked late when handled late; none once the due date has passed)
    and move the item's `reminded_through`/`next_reminder_at` on. Returns the rows queued."""
    queued = 0
    while True:
        items = list(
            await session.exec(
                select(ActionItem)
                .where(
                    ActionItem.status == ActionItemStatus.OPEN.value,
                    col(ActionItem.next_reminder_at) <= now,
                )
                .order_by(col(ActionItem.next_reminder_at), col(ActionItem.id))
                .limit(BATCH)
            )
        )
        if not items:
            return queued
        owners = await _owners_by_item(session, items)
        titles = await meeting_titles(session, items)
        wanted: list[outbox.Outgoing] = []
        for item in items:
            wanted.extend(_remind(item, owners.get(item.id or 0, []), titles, now, compose))
        session.add_all(items)
        queued += await outbox.enqueue_many(session, REMINDER_KIND, wanted, now=now)
        if len(items) < BATCH:
            return queued


def _remind(
    item: ActionItem,
    owners: list[Member],
    titles: dict[int, str],
    now: datetime,
    compose: ActionCompose,
) -> list[outbox.Outgoing]:
    """Move one due item on, and say what it sends (nothing when its time was skipped)."""
    zone = item_zone(item)
    times = reminder_times(item.due_on, zone)
    missed = [t for t in times if item.reminded_through < t <= now]
    item.reminded_through = now
    item.next_reminder_at = next((t for t in times if t > now), None)
    if not missed:
        return []
    when = missed[-1]
    if len(missed) > 1:
        log.info("action item %s: %s missed reminder(s) skipped", item.id, len(missed) - 1)
    if today_in(zone, now) > item.due_on:
        log.info("action item %s: reminder of %s skipped, the due date has passed", item.id, when)
        return []
    late = now - when > LATE_AFTER
    if late:
        log.info("action item %s: reminder of %s sent late", item.id, when)
    title = titles.get(item.minutes_id) if item.minutes_id is not None else None
    messages = []
    for member in owners:
        assert member.id is not None
        reminder = ActionReminder(
            item=item,
            recipient=Recipient.of(member),
            late=late,
            when=when,
            meeting_title=title,
            handled_at=now,
        )
        messages.append(
            outbox.Outgoing(
                dedup_key=reminder_key(item, when, member.id),
                chat_id=member.telegram_id,
                recipient_id=member.id,
                payload=compose(reminder),
                ref_id=item.id,
            )
        )
    return messages


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest open item's next reminder falls due (the scheduler waits for it)."""
    return (
        await session.exec(
            select(func.min(ActionItem.next_reminder_at)).where(
                ActionItem.status == ActionItemStatus.OPEN.value
            )
        )
    ).first()


async def rebuild(session: AsyncSession, *, now: datetime) -> None:
    """At start: recompute `next_reminder_at` of every open item from its `reminded_through`
    (reminders missed while the bot was down stay due, for `process_due` and its late policy;
    an item whose due date has passed waits for nothing). Reads only the columns it needs and
    writes only the rows that change, in one executemany."""
    table = ActionItem.__table__  # type: ignore[attr-defined]
    rows = (
        await session.exec(
            select(
                ActionItem.id,
                ActionItem.due_on,
                ActionItem.timezone,
                ActionItem.reminded_through,
                ActionItem.next_reminder_at,
            ).where(ActionItem.status == ActionItemStatus.OPEN.value)
        )
    ).all()
    zones: dict[str, tzinfo] = {}
    changes = []
    for item_id, due_on, zone_text, reminded_through, current in rows:
        zone = zones.get(zone_text)
        if zone is None:
            zone = zones[zone_text] = timezones.zone(zone_text, "UTC")
        wanted = None
        if today_in(zone, now) <= due_on:
            wanted = next_reminder(due_on, zone, after=reminded_through)
        if wanted != current:
            changes.append({"item_id": item_id, "next_at": wanted})
    if not changes:
        return
    connection = await session.connection()
    await connection.execute(
        update(table)
        .where(table.c.id == bindparam("item_id", type_=Integer()))
        .values(next_reminder_at=bindparam("next_at", type_=UTCDateTime())),
        changes,
    )


# -- minutes ------------------------------------------------------------------------------------


async def started_occurrences(
    session: AsyncSession, meeting: Meeting, now: datetime, count: int = RECENT_OCCURRENCES
) -> list[meetings.Occurrence]:
    """The last `count` occurrences that have started (or start within START_GRACE), oldest
    first; cancelled ones left out."""
    changes = await meetings.exceptions(session, meeting.id or 0)
    horizon = now + START_GRACE
    found: dict[datetime, meetings.Occurrence] = {}
    for days in (45, 400, None):
        cursor = (
            meeting.starts_at - timedelta(seconds=1)
            if days is None
            else max(meeting.starts_at - timedelta(seconds=1), now - timedelta(days=days))
        )
        while True:
            batch = meetings.occurrences(meeting, changes, after=cursor, limit=100)
            for occurrence in batch:
                if occurrence.start <= horizon:
                    found[occurrence.original_start] = occurrence
            if not batch or len(batch) < 100 or batch[-1].start > horizon:
                break
            cursor = batch[-1].end
        reached_start = days is None or now - timedelta(days=days) <= meeting.starts_at
        if len(found) >= count or reached_start:
            break
    ordered = sorted(found.values(), key=lambda o: o.start)
    return ordered[-count:]


async def find_minutes(session: AsyncSession, minutes_id: int) -> MeetingMinutes | None:
    if not 0 < minutes_id <= MAX_ID:
        return None
    return await session.get(MeetingMinutes, minutes_id)


async def get_minutes(session: AsyncSession, minutes_id: int) -> MeetingMinutes:
    minutes = await find_minutes(session, minutes_id)
    if minutes is None:
        raise ServiceError("minutes_not_found")
    return minutes


async def _minutes_of(
    session: AsyncSession, meeting_id: int, start: datetime
) -> MeetingMinutes | None:
    return (
        await session.exec(
            select(MeetingMinutes).where(
                MeetingMinutes.meeting_id == meeting_id,
                MeetingMinutes.occurrence_start == start,
            )
        )
    ).first()


async def open_minutes(
    session: AsyncSession,
    meeting: Meeting,
    *,
    actor: Member,
    now: datetime,
    occurrence: meetings.Occurrence | None = None,
) -> MeetingMinutes:
    """The minutes of an occurrence (by default the latest that has started), created empty if
    there are none yet."""
    if occurrence is None:
        started = await started_occurrences(session, meeting, now, count=1)
        if not started:
            raise ServiceError("minutes_not_started", meeting_id=meeting.id)
        occurrence = started[-1]
    elif occurrence.start > now + START_GRACE:
        raise ServiceError("minutes_not_started", meeting_id=meeting.id)
    assert meeting.id is not None
    found = await _minutes_of(session, meeting.id, occurrence.start)
    if found is not None:
        return found
    connection = await session.connection()
    # If another moderator opened them at the same moment, theirs are the minutes.
    await connection.execute(
        insert_ignoring_conflicts(
            connection.dialect.name, MeetingMinutes, ["meeting_id", "occurrence_start"]
        ).values(
            meeting_id=meeting.id,
            occurrence_start=occurrence.start,
            notes="",
            decisions=[],
            created_by_id=actor.id,
            created_at=now,
            updated_at=now,
        )
    )
    found = await _minutes_of(session, meeting.id, occurrence.start)
    assert found is not None
    return found


async def add_notes(
    session: AsyncSession, minutes: MeetingMinutes, text: str, *, now: datetime
) -> MeetingMinutes:
    text = clean_text(text, multiline=True)
    notes = f"{minutes.notes}\n\n{text}" if minutes.notes else text
    if len(notes) > NOTES_LIMIT:
        raise ServiceError("minutes_notes_full", limit=NOTES_LIMIT)
    minutes.notes = notes
    minutes.updated_at = now
    session.add(minutes)
    await session.flush()
    return minutes


async def add_decision(
    session: AsyncSession, minutes: MeetingMinutes, text: str, *, now: datetime
) -> MeetingMinutes:
    text = clean_text(text, multiline=True)
    decisions = list(minutes.decisions or [])
    if len(decisions) >= DECISIONS_LIMIT:
        raise ServiceError("minutes_too_many_decisions", limit=DECISIONS_LIMIT)
    minutes.decisions = [*decisions, text]  # a new list: JSON columns track assignment only
    minutes.updated_at = now
    session.add(minutes)
    await session.flush()
    return minutes


async def items_of(session: AsyncSession, minutes: MeetingMinutes) -> list[ActionItem]:
    """The minutes' action items, open or done (not those withdrawn), in the order set."""
    rows = await session.exec(
        select(ActionItem)
        .where(
            ActionItem.minutes_id == minutes.id,
            ActionItem.status != ActionItemStatus.CANCELLED.value,
        )
        .order_by(col(ActionItem.id))
    )
    return list(rows)


def is_empty(minutes: MeetingMinutes, items: list[ActionItem]) -> bool:
    return not minutes.notes and not minutes.decisions and not items


def fingerprint(minutes: MeetingMinutes, items: list[ActionItem]) -> str:
    """A short hash of what the minutes say: sending them again after a change reaches everybody
    again; sending the same minutes twice (or a retry) does not."""
    content = {
        "notes": minutes.notes,
        "decisions": list(minutes.decisions or []),
        "items": [
            [i.id, i.text, i.owner_member_id, i.owner_country, i.due_on.isoformat(), str(i.status)]
            for i in items
        ],
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


@dataclass(frozen=True)
class MinutesNotice:
    """The minutes of one occurrence, for one recipient (or for the moderator's own view, an
    export: recipient None)."""

    minutes: MeetingMinutes
    meeting: Meeting
    items: tuple[ActionItem, ...]
    people: dict[int, Member] = field(default_factory=dict)
    recipient: Recipient | None = None


# Minutes are long: the composer may split them into several messages (in order).
MinutesCompose = Callable[[MinutesNotice], list[dict[str, Any]]]


async def notice(
    session: AsyncSession, minutes: MeetingMinutes, recipient: Recipient | None = None
) -> MinutesNotice:
    meeting = await meetings.get(session, minutes.meeting_id)
    items = await items_of(session, minutes)
    return MinutesNotice(
        minutes=minutes,
        meeting=meeting,
        items=tuple(items),
        people=await people_of(session, items),
        recipient=recipient,
    )


def minutes_key(minutes: MeetingMinutes, version: str, recipient: Recipient) -> str:
    who = "group" if recipient.member_id is None else str(recipient.member_id)
    return f"{KIND}:{minutes.id}:{version}:{who}"


async def send_minutes(
    session: AsyncSession,
    minutes: MeetingMinutes,
    *,
    actor: Member,
    now: datetime,
    group_chat_id: int | None,
    compose: MinutesCompose,
) -> int:
    """Queue the minutes to everybody the meeting is for (and the group chat when it is for
    everybody). Returns how many chats they were newly queued for: 0 when everybody already had
    these very minutes."""
    base = await notice(session, minutes)
    if is_empty(minutes, list(base.items)):
        raise ServiceError("minutes_empty")
    chats = await meetings.recipients(session, base.meeting, group_chat_id=group_chat_id)
    if not chats:
        raise ServiceError("minutes_nobody")
    version = fingerprint(minutes, list(base.items))
    messages = []
    for recipient in chats:
        key = minutes_key(minutes, version, recipient)
        for index, payload in enumerate(compose(_for(base, recipient))):
            messages.append(
                outbox.Outgoing(
                    dedup_key=key if index == 0 else f"{key}:{index + 1}",
                    chat_id=recipient.chat_id,
                    recipient_id=recipient.member_id,
                    payload=payload,
                )
            )
    rows = await outbox.enqueue(session, KIND, minutes.id, messages, now=now)
    reached = len({(row.chat_id) for row in rows})
    if reached:
        minutes.sent_at = now
        session.add(minutes)
        await audit.record(
            session,
            AuditAction.MINUTES_RECORDED,
            at=now,
            actor=actor,
            detail=f"minutes #{minutes.id} of meeting #{minutes.meeting_id} "
            f"({minutes.occurrence_start:%Y-%m-%d %H:%M} UTC) sent to {reached} chat(s)",
        )
        await session.flush()
    return reached


def _for(base: MinutesNotice, recipient: Recipient) -> MinutesNotice:
    return MinutesNotice(
        minutes=base.minutes,
        meeting=base.meeting,
        items=base.items,
        people=base.people,
        recipient=recipient,
    )
