"""Meetings: creating and changing them, their occurrences, RSVPs, who they are for, and the
reminders that fall due (handled by `process_due`, which the scheduler calls).

Occurrences are expanded from the series' local wall time in its own zone (`Meeting.timezone`),
so daylight saving never moves a meeting. An occurrence is named by its start instant.

Reminder policy (README, "Meetings and reminders"): each (occurrence, offset) is handled once,
recorded in `meeting_reminders` under a unique key, and each recipient's message has a unique
outbox dedup key, so neither a restart nor an edit sends one twice. A reminder due while the bot
was down goes out late, marked late, if the meeting has not started; if several of the same
occurrence were missed, only the nearest to the meeting goes out. Once the meeting has started,
a missed reminder is skipped and logged. Creating or moving a meeting sets `reminded_through` to
that moment: reminders whose time had already passed are not sent (the invitation or the change
notice says it all).

Rendering is the caller's business: functions that queue messages take a `compose` callback
that turns (meeting, occurrence, recipient, context) into an outbox payload, so this module
stays free of Telegram and templates.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from dateutil.rrule import rrule as RRule
from sqlalchemy import bindparam, func, insert, or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    ActionItem,
    AuditAction,
    Meeting,
    MeetingException,
    MeetingReminder,
    MeetingRsvp,
    MeetingStatus,
    Member,
    MemberStatus,
    OutboxMessage,
    OutboxState,
    ReminderOutcome,
    Role,
    RsvpAnswer,
)
from bot.services import audit, outbox, timezones
from bot.services.errors import ServiceError
from bot.services.outbox import Recipient

log = logging.getLogger(__name__)

KIND = "meeting"  # invitations and change notices
REMINDER_KIND = "meeting_reminder"

TITLE_LIMIT = 200
LOCATION_LIMIT = 500
AGENDA_LIMIT = 2000
DEFAULT_OFFSETS = (24 * 60, 60)
DEFAULT_DURATION = 60
MAX_DURATION = 24 * 60
MAX_OFFSET = 365 * 24 * 60
MAX_OFFSETS = 6
MAX_AHEAD = timedelta(days=2 * 366)
# A reminder handled more than this after its time is marked late.
LATE_AFTER = timedelta(minutes=2)
PAGE_SIZE = 5
# Ids are 32-bit integers: a larger number (a forged button) names no meeting.
MAX_ID = 2**31 - 1


# -- what a moderator chose -------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingAudience:
    """Everybody, or focal points; countries narrow either (alone, they mean everybody there);
    named members (member ids) come on top."""

    everyone: bool = False
    focal_points: bool = False
    countries: frozenset[str] = frozenset()
    member_ids: frozenset[int] = frozenset()

    @property
    def chosen(self) -> bool:
        return self.everyone or self.focal_points or bool(self.countries) or bool(self.member_ids)

    @property
    def is_everybody(self) -> bool:
        """The whole group: reminders also go to the group chat."""
        return self.everyone and not self.countries

    @classmethod
    def of(cls, meeting: Meeting) -> MeetingAudience:
        return cls(
            everyone=meeting.to_everyone,
            focal_points=meeting.to_focal_points,
            countries=frozenset(meeting.countries or ()),
            member_ids=frozenset(meeting.member_ids or ()),
        )


@dataclass
class MeetingDraft:
    """A meeting as typed, before it is saved. `starts_at` is aware (any zone); `timezone` is
    the IANA name (or UTC±hh:mm) its wall-clock time is kept in."""

    title: str
    starts_at: datetime
    timezone: str
    duration_minutes: int = DEFAULT_DURATION
    location: str = ""
    agenda: str = ""
    rrule: str | None = None
    reminder_offsets: list[int] = field(default_factory=lambda: list(DEFAULT_OFFSETS))
    audience: MeetingAudience = field(default_factory=lambda: MeetingAudience(everyone=True))


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a series (or the one meeting): `original_start` names it in the series,
    `start` is when it happens (moved, or the same)."""

    meeting_id: int
    start: datetime
    end: datetime
    original_start: datetime
    moved: bool = False
    cancelled: bool = False

    @property
    def key(self) -> str:
        return occurrence_key(self.start)


def occurrence_key(start: datetime) -> str:
    """A compact name for an occurrence, used in buttons and dedup keys: 20261203T0400Z."""
    return start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def parse_occurrence_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# -- who is told, and what ----------------------------------------------------------------------


class NoticeKind(StrEnum):
    INVITE = "invite"  # a new meeting
    CHANGED = "changed"  # title, place, agenda, time or recurrence changed
    CANCELLED = "cancelled"  # the whole meeting (series)
    OCCURRENCE_CANCELLED = "occurrence_cancelled"
    OCCURRENCE_MOVED = "occurrence_moved"
    REMINDER = "reminder"


@dataclass(frozen=True)
class Notice:
    """One message about a meeting to one recipient; `compose` turns it into a payload.

    - occurrence: the one it is about (for INVITE/CHANGED: the next one; None if none is left);
    - previous_start: for CHANGED/OCCURRENCE_MOVED, when it was before;
    - offset_minutes, late: for REMINDER (late: the bot was down when it fell due);
    - actions: for REMINDER to a member, their open action items (the list the issue asks for);
    - changes: for CHANGED, the fields that changed.
    """

    kind: NoticeKind
    meeting: Meeting
    occurrence: Occurrence | None
    recipient: Recipient
    previous_start: datetime | None = None
    offset_minutes: int | None = None
    late: bool = False
    actions: tuple[ActionItem, ...] = ()
    # For CHANGED: which fields changed (Meeting's names, and "audience").
    changes: tuple[str, ...] = ()


Compose = Callable[[Notice], dict[str, Any]]


class _Unset:
    pass


UNSET: Any = _Unset()


# -- finding ------------------------------------------------------------------------------------


async def find(session: AsyncSession, meeting_id: int) -> Meeting | None:
    if not 0 < meeting_id <= MAX_ID:
        return None
    return await session.get(Meeting, meeting_id)


async def get(session: AsyncSession, meeting_id: int) -> Meeting:
    meeting = await find(session, meeting_id)
    if meeting is None:
        raise ServiceError("meeting_not_found")
    return meeting


async def exceptions(session: AsyncSession, meeting_id: int) -> list[MeetingException]:
    rows = await session.exec(
        select(MeetingException).where(MeetingException.meeting_id == meeting_id)
    )
    return list(rows)


# -- occurrences --------------------------------------------------------------------------------


def zone_of(meeting: Meeting) -> tzinfo:
    return timezones.zone(meeting.timezone, "UTC")


def _rule(meeting: Meeting, zone: tzinfo) -> RRule | None:
    if not meeting.rrule:
        return None
    from bot.services import meeting_input

    # Aware, in the meeting's zone: dateutil keeps the wall time, the zone gives each date its
    # offset (and UNTIL, in UTC as RFC 5545 wants, compares with an aware start).
    return meeting_input.compile_rule(meeting.rrule, meeting.starts_at.astimezone(zone))


def _starts(meeting: Meeting, after: datetime, zone: tzinfo) -> Iterator[datetime]:
    """The series' original starts (UTC) from `after` on: each the same wall-clock time in
    the meeting's zone, whatever its offset that day."""
    rule = _rule(meeting, zone)
    if rule is None:
        yield meeting.starts_at
        return
    for local in rule.xafter(after.astimezone(zone), inc=True):
        yield local.astimezone(UTC)


def occurrences(
    meeting: Meeting,
    exceptions: Iterable[MeetingException],
    *,
    after: datetime,
    limit: int = 1,
    include_cancelled: bool = False,
) -> list[Occurrence]:
    """Up to `limit` occurrences that end after `after`, in order of their (possibly moved)
    start."""
    zone = zone_of(meeting)
    duration = timedelta(minutes=meeting.duration_minutes)
    changes = {e.original_start: e for e in exceptions}
    # A moved occurrence may now fall before or after its neighbours: look a little further.
    moved_early = [
        e
        for e in changes.values()
        if not e.cancelled and e.starts_at and e.starts_at + duration > after
    ]
    earliest_original = min(
        [after - duration - timedelta(days=1)] + [e.original_start for e in moved_early]
    )
    found: list[Occurrence] = []
    scan_limit = limit + len(changes) + 1
    for original in _starts(meeting, earliest_original, zone):
        change = changes.get(original)
        start = original
        cancelled = False
        moved = False
        if change is not None:
            if change.cancelled:
                cancelled = True
            elif change.starts_at is not None:
                start, moved = change.starts_at, True
        if start + duration > after and (include_cancelled or not cancelled):
            found.append(
                Occurrence(
                    meeting_id=meeting.id or 0,
                    start=start,
                    end=start + duration,
                    original_start=original,
                    moved=moved,
                    cancelled=cancelled,
                )
            )
        if original > after and len(found) >= scan_limit:
            break
    found.sort(key=lambda o: o.start)
    return found[:limit]


async def next_occurrence(
    session: AsyncSession, meeting: Meeting, now: datetime
) -> Occurrence | None:
    """The occurrence on now or next (one that has not ended), or None."""
    if meeting.status != MeetingStatus.SCHEDULED:
        return None
    found = occurrences(meeting, await exceptions(session, meeting.id or 0), after=now)
    return found[0] if found else None


async def occurrence(session: AsyncSession, meeting: Meeting, key: str) -> Occurrence:
    """The occurrence starting at the instant `key` names (as moved, if it was)."""
    start = parse_occurrence_key(key)
    if start is None:
        raise ServiceError("meeting_occurrence_not_found")
    changes = await exceptions(session, meeting.id or 0)
    for found in occurrences(
        meeting,
        changes,
        after=start - timedelta(minutes=meeting.duration_minutes) + timedelta(seconds=1),
        limit=len(changes) + 2,
        include_cancelled=True,
    ):
        if found.start == start:
            return found
    raise ServiceError("meeting_occurrence_not_found")


def describe_offset(minutes: int) -> tuple[int, str]:
    """(amount, unit) for saying an offset: (1, "day"), (90, "minute")..."""
    for size, unit in ((7 * 24 * 60, "week"), (24 * 60, "day"), (60, "hour")):
        if minutes % size == 0:
            return minutes // size, unit
    return minutes, "minute"


# -- the audience -------------------------------------------------------------------------------


def is_invited(meeting: Meeting, member: Member) -> bool:
    """Whether the meeting is for this member (by audience); moderators see all meetings but
    are invited only as the audience says."""
    if member.id is not None and member.id in (meeting.member_ids or ()):
        return True
    in_countries = not meeting.countries or member.country in meeting.countries
    if meeting.to_everyone or (meeting.countries and not meeting.to_focal_points):
        return in_countries
    if meeting.to_focal_points:
        return member.role_enum == Role.FOCAL_POINT and in_countries
    return False


def may_see(meeting: Meeting, member: Member) -> bool:
    return member.role_enum.at_least(Role.MODERATOR) or is_invited(meeting, member)


def _audience_condition(meeting: Meeting) -> Any:
    conditions = []
    narrowed = col(Member.country).in_(sorted(meeting.countries or ()))
    if meeting.to_everyone or (meeting.countries and not meeting.to_focal_points):
        conditions.append(narrowed if meeting.countries else col(Member.id).is_not(None))
    if meeting.to_focal_points:
        focal = col(Member.role) == Role.FOCAL_POINT.value
        conditions.append(focal & narrowed if meeting.countries else focal)
    if meeting.member_ids:
        conditions.append(col(Member.id).in_(list(meeting.member_ids)))
    return or_(*conditions) if conditions else None


async def audience_members(session: AsyncSession, meeting: Meeting) -> list[Member]:
    condition = _audience_condition(meeting)
    if condition is None:
        return []
    rows = await session.exec(
        select(Member)
        .where(Member.status == MemberStatus.ACTIVE, condition)
        .order_by(col(Member.id))
    )
    return list(rows)


async def recipients(
    session: AsyncSession,
    meeting: Meeting,
    *,
    group_chat_id: int | None,
    occurrence: Occurrence | None = None,
    exclude_declined: bool = False,
) -> list[Recipient]:
    """Everybody the meeting is for (active members, each once), then the group chat when it is
    for everybody and one is configured. With `exclude_declined`, members who answered No for
    that occurrence are left out."""
    members = await audience_members(session, meeting)
    if exclude_declined and occurrence is not None and members:
        declined = set(
            (
                await session.exec(
                    select(MeetingRsvp.member_id).where(
                        MeetingRsvp.meeting_id == meeting.id,
                        MeetingRsvp.occurrence_start == occurrence.start,
                        MeetingRsvp.answer == RsvpAnswer.NO.value,
                    )
                )
            ).all()
        )
        members = [m for m in members if m.id not in declined]
    found = [Recipient.of(m) for m in members if m.id is not None]
    if group_chat_id is not None and MeetingAudience.of(meeting).is_everybody:
        found.append(Recipient(group_chat_id))
    return found


async def told(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """Members who were sent anything about the meeting (and are still active): a change
    reaches them even when they are no longer in its audience."""
    ids = (
        await session.exec(
            select(OutboxMessage.recipient_id)
            .where(
                col(OutboxMessage.kind).in_([KIND, REMINDER_KIND]),
                OutboxMessage.ref_id == meeting.id,
                col(OutboxMessage.recipient_id).is_not(None),
                OutboxMessage.state != OutboxState.CANCELLED.value,
            )
            .distinct()
        )
    ).all()
    if not ids:
        return []
    rows = await session.exec(
        select(Member).where(col(Member.id).in_(list(ids)), Member.status == MemberStatus.ACTIVE)
    )
    return list(rows)


def _with_audience(meeting: Meeting, audience: MeetingAudience) -> Meeting:
    """A detached copy with another audience, to check before changing the real one."""
    return Meeting(
        id=meeting.id,
        title=meeting.title,
        starts_at=meeting.starts_at,
        timezone=meeting.timezone,
        to_everyone=audience.everyone,
        to_focal_points=audience.focal_points,
        countries=sorted(audience.countries),
        member_ids=sorted(audience.member_ids),
        created_at=meeting.created_at,
        updated_at=meeting.updated_at,
        reminded_through=meeting.reminded_through,
    )


async def _check_reaches(session: AsyncSession, meeting: Meeting) -> None:
    if not (
        meeting.to_everyone or meeting.to_focal_points or meeting.countries or meeting.member_ids
    ):
        raise ServiceError("meeting_no_audience")
    if not await audience_members(session, meeting):
        raise ServiceError("meeting_audience_empty")


async def countries_with_members(session: AsyncSession) -> list[str]:
    from bot.services.announcements import countries_with_members as with_members

    return await with_members(session)


# -- listing ------------------------------------------------------------------------------------


async def upcoming(
    session: AsyncSession,
    member: Member,
    *,
    now: datetime,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> tuple[list[tuple[Meeting, Occurrence]], int]:
    """The next occurrence of every meeting this member may see, soonest first; and how many."""
    meetings = list(
        await session.exec(select(Meeting).where(Meeting.status == MeetingStatus.SCHEDULED))
    )
    visible = [m for m in meetings if may_see(m, member)]
    changes: dict[int, list[MeetingException]] = {}
    if visible:
        rows = await session.exec(
            select(MeetingException).where(
                col(MeetingException.meeting_id).in_([m.id for m in visible])
            )
        )
        for row in rows:
            changes.setdefault(row.meeting_id, []).append(row)
    listed: list[tuple[Meeting, Occurrence]] = []
    for meeting in visible:
        found = occurrences(meeting, changes.get(meeting.id or 0, []), after=now)
        if found:
            listed.append((meeting, found[0]))
    listed.sort(key=lambda pair: (pair[1].start, pair[0].id or 0))
    page = max(0, page)
    return listed[page * page_size : (page + 1) * page_size], len(listed)


# -- RSVP ---------------------------------------------------------------------------------------


async def set_rsvp(
    session: AsyncSession,
    meeting: Meeting,
    occurrence: Occurrence,
    member: Member,
    answer: RsvpAnswer,
    *,
    now: datetime,
) -> None:
    if meeting.status != MeetingStatus.SCHEDULED or occurrence.cancelled:
        raise ServiceError("meeting_cancelled")
    if not is_invited(meeting, member):
        raise ServiceError("rsvp_not_invited")
    if occurrence.end <= now:
        raise ServiceError("meeting_started")
    existing = (
        await session.exec(
            select(MeetingRsvp).where(
                MeetingRsvp.meeting_id == meeting.id,
                MeetingRsvp.occurrence_start == occurrence.start,
                MeetingRsvp.member_id == member.id,
            )
        )
    ).first()
    if existing is None:
        session.add(
            MeetingRsvp(
                meeting_id=meeting.id or 0,
                occurrence_start=occurrence.start,
                member_id=member.id or 0,
                answer=answer,
                answered_at=now,
            )
        )
    else:
        existing.answer = answer
        existing.answered_at = now
        session.add(existing)
    await session.flush()


async def rsvp_of(
    session: AsyncSession, meeting_id: int, occurrence_start: datetime, member_id: int
) -> RsvpAnswer | None:
    answer = (
        await session.exec(
            select(MeetingRsvp.answer).where(
                MeetingRsvp.meeting_id == meeting_id,
                MeetingRsvp.occurrence_start == occurrence_start,
                MeetingRsvp.member_id == member_id,
            )
        )
    ).first()
    return RsvpAnswer(answer) if answer else None


async def rsvp_counts(
    session: AsyncSession, meeting_id: int, occurrence_start: datetime
) -> Counter[RsvpAnswer]:
    rows = await session.exec(
        select(MeetingRsvp.answer, func.count())
        .where(
            MeetingRsvp.meeting_id == meeting_id,
            MeetingRsvp.occurrence_start == occurrence_start,
        )
        .group_by(MeetingRsvp.answer)
    )
    return Counter({RsvpAnswer(answer): count for answer, count in rows})


async def rsvp_names(
    session: AsyncSession, meeting_id: int, occurrence_start: datetime
) -> dict[RsvpAnswer, list[Member]]:
    rows = await session.exec(
        select(MeetingRsvp.answer, Member)
        .join(Member, col(Member.id) == MeetingRsvp.member_id)
        .where(
            MeetingRsvp.meeting_id == meeting_id,
            MeetingRsvp.occurrence_start == occurrence_start,
        )
        .order_by(col(Member.full_name))
    )
    names: dict[RsvpAnswer, list[Member]] = {}
    for answer, member in rows:
        names.setdefault(RsvpAnswer(answer), []).append(member)
    return names


# -- creating and changing ----------------------------------------------------------------------


def _validate(draft: MeetingDraft, now: datetime, *, allow_past_start: bool = False) -> None:
    from bot.services import meeting_input

    meeting_input.validate_draft(draft, now, allow_past_start=allow_past_start)


async def create(
    session: AsyncSession,
    author: Member,
    draft: MeetingDraft,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> Meeting:
    """Save a meeting and queue an invitation to everybody it is for, in the caller's
    transaction."""
    _validate(draft, now)
    audience = draft.audience
    meeting = Meeting(
        title=draft.title.strip(),
        location=draft.location.strip(),
        agenda=draft.agenda.strip(),
        starts_at=draft.starts_at.astimezone(UTC),
        timezone=draft.timezone,
        duration_minutes=draft.duration_minutes,
        rrule=draft.rrule,
        reminder_offsets=sorted(set(draft.reminder_offsets), reverse=True),
        to_everyone=audience.everyone,
        to_focal_points=audience.focal_points,
        countries=sorted(audience.countries),
        member_ids=sorted(audience.member_ids),
        created_by_id=author.id,
        created_at=now,
        updated_at=now,
        reminded_through=now,
    )
    await _check_reaches(session, meeting)
    meeting.next_reminder_at = next_reminder(meeting, [], after=now)
    session.add(meeting)
    await session.flush()
    assert meeting.id is not None
    coming = occurrences(meeting, [], after=now)
    await _notify(
        session,
        meeting,
        NoticeKind.INVITE,
        await recipients(session, meeting, group_chat_id=group_chat_id),
        occurrence=coming[0] if coming else None,
        tag="invite",
        now=now,
        compose=compose,
    )
    await audit.record(
        session,
        AuditAction.MEETING_CREATED,
        at=now,
        actor=author,
        detail=f"meeting #{meeting.id} at {meeting.starts_at:%Y-%m-%d %H:%M} UTC"
        + (f", {meeting.rrule}" if meeting.rrule else ""),
    )
    return meeting


async def _notify(
    session: AsyncSession,
    meeting: Meeting,
    kind: NoticeKind,
    chats: Iterable[Recipient],
    *,
    occurrence: Occurrence | None,
    tag: str,
    now: datetime,
    compose: Compose,
    previous_start: datetime | None = None,
    changes: tuple[str, ...] = (),
) -> int:
    rows = await outbox.enqueue(
        session,
        KIND,
        meeting.id,
        [
            outbox.Outgoing(
                dedup_key=f"{KIND}:{meeting.id}:{tag}:{r.member_id or 'group'}",
                chat_id=r.chat_id,
                recipient_id=r.member_id,
                payload=compose(
                    Notice(
                        kind=kind,
                        meeting=meeting,
                        occurrence=occurrence,
                        recipient=r,
                        previous_start=previous_start,
                        changes=changes,
                    )
                ),
            )
            for r in chats
        ],
        now=now,
    )
    return len(rows)


async def _everybody_told(
    session: AsyncSession, meeting: Meeting, *, group_chat_id: int | None
) -> list[Recipient]:
    """The audience now, and anybody told about the meeting before (each once)."""
    found = await recipients(session, meeting, group_chat_id=group_chat_id)
    seen = {r.member_id for r in found}
    for member in await told(session, meeting):
        if member.id not in seen:
            seen.add(member.id)
            found.insert(0, Recipient.of(member))
    return found


async def update(
    session: AsyncSession,
    actor: Member,
    meeting: Meeting,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
    title: str | None = None,
    location: str | None = None,
    agenda: str | None = None,
    duration_minutes: int | None = None,
    reminder_offsets: list[int] | None = None,
    audience: MeetingAudience | None = None,
    starts_at: datetime | None = None,
    timezone: str | None = None,
    rrule: Any = UNSET,
) -> Meeting:
    """Change a meeting and tell everybody who was told, and the audience, what it is now.
    Moving it (time, zone or recurrence) starts its answers and reminders afresh: its
    occurrences are new instants, and no reminder already due is sent late."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise ServiceError("meeting_cancelled")
    before = occurrences(meeting, await exceptions(session, meeting.id or 0), after=now)
    draft = MeetingDraft(
        title=meeting.title if title is None else title.strip(),
        starts_at=meeting.starts_at if starts_at is None else starts_at.astimezone(UTC),
        timezone=meeting.timezone if timezone is None else timezone,
        duration_minutes=meeting.duration_minutes if duration_minutes is None else duration_minutes,
        location=meeting.location if location is None else location.strip(),
        agenda=meeting.agenda if agenda is None else agenda.strip(),
        rrule=meeting.rrule if rrule is UNSET else rrule,
        reminder_offsets=(
            list(meeting.reminder_offsets) if reminder_offsets is None else reminder_offsets
        ),
        audience=MeetingAudience.of(meeting) if audience is None else audience,
    )
    # What differs, by the model's field names (the notice names them for the reader).
    offsets = sorted(set(draft.reminder_offsets), reverse=True)
    changed = tuple(
        name
        for name, differs in (
            ("title", draft.title != meeting.title),
            ("starts_at", draft.starts_at != meeting.starts_at),
            ("timezone", draft.timezone != meeting.timezone),
            ("rrule", draft.rrule != meeting.rrule),
            ("duration_minutes", draft.duration_minutes != meeting.duration_minutes),
            ("location", draft.location != meeting.location),
            ("agenda", draft.agenda != meeting.agenda),
            ("reminder_offsets", offsets != sorted(set(meeting.reminder_offsets), reverse=True)),
            ("audience", draft.audience != MeetingAudience.of(meeting)),
        )
        if differs
    )
    if not changed:
        raise ServiceError("meeting_nothing_changed")
    moved = bool({"starts_at", "timezone", "rrule"} & set(changed))
    # An ongoing series keeps its first (past) start when only other things change.
    _validate(draft, now, allow_past_start=not moved)
    if "audience" in changed:
        # Checked before anything changes: a refusal leaves the meeting as it was.
        await _check_reaches(session, _with_audience(meeting, draft.audience))
    told_before = await _everybody_told(session, meeting, group_chat_id=group_chat_id)
    meeting.title, meeting.location, meeting.agenda = draft.title, draft.location, draft.agenda
    meeting.duration_minutes = draft.duration_minutes
    meeting.reminder_offsets = offsets
    meeting.to_everyone = draft.audience.everyone
    meeting.to_focal_points = draft.audience.focal_points
    meeting.countries = sorted(draft.audience.countries)
    meeting.member_ids = sorted(draft.audience.member_ids)
    meeting.starts_at, meeting.timezone, meeting.rrule = (
        draft.starts_at,
        draft.timezone,
        draft.rrule,
    )
    if moved:
        # The old occurrences' exceptions name instants that no longer exist.
        await session.exec(  # type: ignore[call-overload]
            delete(MeetingException).where(col(MeetingException.meeting_id) == meeting.id)
        )
    if moved or "reminder_offsets" in changed:
        meeting.reminded_through = max(meeting.reminded_through, now)
    meeting.sequence += 1
    meeting.updated_at = now
    changes = [] if moved else await exceptions(session, meeting.id or 0)
    meeting.next_reminder_at = next_reminder(meeting, changes, after=meeting.reminded_through)
    session.add(meeting)
    await session.flush()
    after = occurrences(meeting, changes, after=now)
    chats = told_before + [
        r
        for r in await recipients(session, meeting, group_chat_id=group_chat_id)
        if r.member_id not in {t.member_id for t in told_before}
    ]
    await _notify(
        session,
        meeting,
        NoticeKind.CHANGED,
        chats,
        occurrence=after[0] if after else None,
        previous_start=before[0].start if before and moved else None,
        changes=changed,
        tag=f"change{meeting.sequence}",
        now=now,
        compose=compose,
    )
    await audit.record(
        session,
        AuditAction.MEETING_CHANGED,
        at=now,
        actor=actor,
        detail=f"meeting #{meeting.id}"
        + (f" moved to {meeting.starts_at:%Y-%m-%d %H:%M} UTC" if moved else ""),
    )
    return meeting


async def cancel(
    session: AsyncSession,
    actor: Member,
    meeting: Meeting,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> None:
    """Cancel the meeting (the whole series): everybody told hears it; nothing more is sent."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise ServiceError("meeting_cancelled")
    coming = occurrences(meeting, await exceptions(session, meeting.id or 0), after=now)
    chats = await _everybody_told(session, meeting, group_chat_id=group_chat_id)
    await outbox.cancel(session, REMINDER_KIND, meeting.id or 0)
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at = now
    meeting.updated_at = now
    meeting.sequence += 1
    meeting.next_reminder_at = None
    session.add(meeting)
    await session.flush()
    if coming:
        await _notify(
            session,
            meeting,
            NoticeKind.CANCELLED,
            chats,
            occurrence=coming[0],
            tag="cancel",
            now=now,
            compose=compose,
        )
    await audit.record(
        session, AuditAction.MEETING_CANCELLED, at=now, actor=actor, detail=f"meeting #{meeting.id}"
    )


async def _change_occurrence(
    session: AsyncSession,
    meeting: Meeting,
    target: Occurrence,
    *,
    cancelled: bool,
    new_start: datetime | None,
) -> None:
    existing = (
        await session.exec(
            select(MeetingException).where(
                MeetingException.meeting_id == meeting.id,
                MeetingException.original_start == target.original_start,
            )
        )
    ).first()
    row = existing or MeetingException(
        meeting_id=meeting.id or 0, original_start=target.original_start
    )
    row.cancelled = cancelled
    row.starts_at = new_start
    session.add(row)
    await session.flush()


async def cancel_occurrence(
    session: AsyncSession,
    actor: Member,
    meeting: Meeting,
    target: Occurrence,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> None:
    if meeting.status != MeetingStatus.SCHEDULED or target.cancelled:
        raise ServiceError("meeting_cancelled")
    if target.start <= now:
        raise ServiceError("meeting_started")
    if not meeting.rrule:
        await cancel(session, actor, meeting, now=now, group_chat_id=group_chat_id, compose=compose)
        return
    chats = await _everybody_told(session, meeting, group_chat_id=group_chat_id)
    await _change_occurrence(session, meeting, target, cancelled=True, new_start=None)
    await _after_occurrence_change(session, meeting, now)
    await _notify(
        session,
        meeting,
        NoticeKind.OCCURRENCE_CANCELLED,
        chats,
        occurrence=target,
        tag=f"skip{meeting.sequence}",
        now=now,
        compose=compose,
    )
    await audit.record(
        session,
        AuditAction.MEETING_CANCELLED,
        at=now,
        actor=actor,
        detail=f"meeting #{meeting.id}, the one of {target.start:%Y-%m-%d %H:%M} UTC",
    )


async def move_occurrence(
    session: AsyncSession,
    actor: Member,
    meeting: Meeting,
    target: Occurrence,
    new_start: datetime,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> None:
    if meeting.status != MeetingStatus.SCHEDULED or target.cancelled:
        raise ServiceError("meeting_cancelled")
    if target.start <= now:
        raise ServiceError("meeting_started")
    new_start = new_start.astimezone(UTC)
    typed = f"{new_start:%Y-%m-%d %H:%M} UTC"
    if new_start <= now:
        raise ServiceError("meeting_time_past", value=typed)
    if new_start - now > MAX_AHEAD:
        raise ServiceError("meeting_time_too_far", value=typed, days=MAX_AHEAD.days)
    if new_start == target.start:
        raise ServiceError("meeting_nothing_changed")
    if not meeting.rrule:
        await update(
            session,
            actor,
            meeting,
            now=now,
            group_chat_id=group_chat_id,
            compose=compose,
            starts_at=new_start,
        )
        return
    chats = await _everybody_told(session, meeting, group_chat_id=group_chat_id)
    await _change_occurrence(session, meeting, target, cancelled=False, new_start=new_start)
    await _after_occurrence_change(session, meeting, now)
    moved = Occurrence(
        meeting_id=meeting.id or 0,
        start=new_start,
        end=new_start + timedelta(minutes=meeting.duration_minutes),
        original_start=target.original_start,
        moved=True,
    )
    await _notify(
        session,
        meeting,
        NoticeKind.OCCURRENCE_MOVED,
        chats,
        occurrence=moved,
        previous_start=target.start,
        tag=f"move{meeting.sequence}",
        now=now,
        compose=compose,
    )
    await audit.record(
        session,
        AuditAction.MEETING_CHANGED,
        at=now,
        actor=actor,
        detail=f"meeting #{meeting.id}, the one of {target.start:%Y-%m-%d %H:%M} UTC "
        f"moved to {new_start:%Y-%m-%d %H:%M} UTC",
    )


async def _after_occurrence_change(session: AsyncSession, meeting: Meeting, now: datetime) -> None:
    meeting.sequence += 1
    meeting.updated_at = now
    # A moved occurrence's reminders that are already past are not sent late.
    meeting.reminded_through = max(meeting.reminded_through, now)
    meeting.next_reminder_at = next_reminder(
        meeting, await exceptions(session, meeting.id or 0), after=meeting.reminded_through
    )
    session.add(meeting)
    await session.flush()


# -- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Due:
    occurrence: Occurrence
    offset: int

    @property
    def at(self) -> datetime:
        return self.occurrence.start - timedelta(minutes=self.offset)


def _starting_between(
    meeting: Meeting, changes: list[MeetingException], after: datetime, until: datetime
) -> list[Occurrence]:
    """Occurrences (not cancelled) that start after `after` and at or before `until`."""
    limit = 8
    while True:
        found = occurrences(meeting, changes, after=after, limit=limit)
        if len(found) < limit or found[-1].start > until:
            return [o for o in found if after < o.start <= until]
        limit *= 4


def _dues(
    meeting: Meeting, changes: list[MeetingException], *, after: datetime, until: datetime
) -> list[_Due]:
    """Reminders that fall due after `after` and at or before `until`."""
    offsets = sorted(set(meeting.reminder_offsets or ()), reverse=True)
    if not offsets or meeting.status != MeetingStatus.SCHEDULED:
        return []
    reach = timedelta(minutes=offsets[0])
    return [
        due
        for occ in _starting_between(meeting, changes, after, until + reach)
        for due in (_Due(occ, offset) for offset in offsets)
        if after < due.at <= until
    ]


def next_reminder(
    meeting: Meeting, changes: list[MeetingException], *, after: datetime
) -> datetime | None:
    """When the next reminder of this meeting falls due after `after`, or None."""
    offsets = sorted(set(meeting.reminder_offsets or ()), reverse=True)
    if not offsets or meeting.status != MeetingStatus.SCHEDULED:
        return None
    reach = timedelta(minutes=offsets[0])
    limit = 4
    while True:
        found = occurrences(meeting, changes, after=after, limit=limit)
        best: datetime | None = None
        for occ in found:
            for offset in offsets:
                due = occ.start - timedelta(minutes=offset)
                if due > after and (best is None or due < best):
                    best = due
        if len(found) < limit or (best is not None and found[-1].start - reach >= best):
            return best
        limit *= 4
        if limit > 4096:
            return best


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest reminder due over all meetings: what the scheduler waits for."""
    return (
        await session.exec(
            select(func.min(Meeting.next_reminder_at)).where(
                Meeting.status == MeetingStatus.SCHEDULED
            )
        )
    ).first()


@dataclass
class Handled:
    """What one pass of the scheduler did."""

    meetings: int = 0
    sent: int = 0
    late: int = 0
    skipped: int = 0
    queued: int = 0


def _invited(meeting: Meeting, member: Member) -> bool:
    return member.status == MemberStatus.ACTIVE and is_invited(meeting, member)


async def process_due(
    session: AsyncSession,
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
    batch: int = 2000,
) -> Handled:
    """Handle every meeting reminder due by `now` (the policy is in the module's docstring):
    queue the messages, record each (occurrence, offset) as handled, and move each meeting's
    watermark and next reminder on. In the caller's transaction; a few queries per batch,
    however many meetings are due."""
    handled = Handled()
    due_meetings = list(
        await session.exec(
            select(Meeting)
            .where(
                Meeting.status == MeetingStatus.SCHEDULED,
                col(Meeting.next_reminder_at).is_not(None),
                col(Meeting.next_reminder_at) <= now,
            )
            .order_by(col(Meeting.next_reminder_at), col(Meeting.id))
            .limit(batch)
        )
    )
    if not due_meetings:
        return handled
    ids = [m.id for m in due_meetings]
    changes: dict[int, list[MeetingException]] = {}
    for row in await session.exec(
        select(MeetingException).where(col(MeetingException.meeting_id).in_(ids))
    ):
        changes.setdefault(row.meeting_id, []).append(row)
    done = {
        (r.meeting_id, r.occurrence_start, r.offset_minutes)
        for r in await session.exec(
            select(MeetingReminder).where(
                col(MeetingReminder.meeting_id).in_(ids),
                col(MeetingReminder.occurrence_start) > now - timedelta(days=2 * 366),
            )
        )
    }
    # What to send, per meeting: the nearest due reminder of each occurrence not yet begun.
    to_send: list[tuple[Meeting, _Due, bool]] = []
    records: list[dict[str, Any]] = []
    for meeting in due_meetings:
        handled.meetings += 1
        by_occurrence: dict[datetime, list[_Due]] = {}
        for due in _dues(
            meeting, changes.get(meeting.id or 0, []), after=meeting.reminded_through, until=now
        ):
            by_occurrence.setdefault(due.occurrence.start, []).append(due)
        for start, dues in by_occurrence.items():
            dues.sort(key=lambda d: d.offset)
            nearest = dues[0]
            for due in dues:
                key = (meeting.id, start, due.offset)
                if key in done:
                    continue
                done.add(key)
                if start <= now or due is not nearest:
                    outcome = ReminderOutcome.SKIPPED
                    handled.skipped += 1
                    log.info(
                        "meeting %s: reminder %s min before %s skipped (%s)",
                        meeting.id,
                        due.offset,
                        f"{start:%Y-%m-%d %H:%M}Z",
                        "the meeting had started" if start <= now else "a nearer one went out",
                    )
                else:
                    late = now - due.at > LATE_AFTER
                    outcome = ReminderOutcome.LATE if late else ReminderOutcome.SENT
                    if late:
                        handled.late += 1
                        log.info(
                            "meeting %s: reminder %s min before %s sent late (due %s)",
                            meeting.id,
                            due.offset,
                            f"{start:%Y-%m-%d %H:%M}Z",
                            f"{due.at:%Y-%m-%d %H:%M}Z",
                        )
                    else:
                        handled.sent += 1
                    to_send.append((meeting, due, late))
                records.append(
                    {
                        "meeting_id": meeting.id,
                        "occurrence_start": start,
                        "offset_minutes": due.offset,
                        "due_at": due.at,
                        "handled_at": now,
                        "outcome": outcome.value,
                        "recipients": 0,
                    }
                )
        meeting.reminded_through = now
        meeting.next_reminder_at = next_reminder(
            meeting, changes.get(meeting.id or 0, []), after=now
        )
        session.add(meeting)
    if records:
        # Handled, once and for all: the unique key refuses a second record of any of them.
        await (await session.connection()).execute(insert(MeetingReminder), records)
    if to_send:
        handled.queued = await _queue_reminders(
            session, to_send, now=now, group_chat_id=group_chat_id, compose=compose
        )
    await session.flush()
    return handled


async def _queue_reminders(
    session: AsyncSession,
    to_send: list[tuple[Meeting, _Due, bool]],
    *,
    now: datetime,
    group_chat_id: int | None,
    compose: Compose,
) -> int:
    people = list(
        await session.exec(
            select(Member).where(Member.status == MemberStatus.ACTIVE).order_by(col(Member.id))
        )
    )
    declined = {
        (r.meeting_id, r.occurrence_start, r.member_id)
        for r in await session.exec(
            select(MeetingRsvp).where(
                col(MeetingRsvp.meeting_id).in_({m.id for m, _, _ in to_send}),
                MeetingRsvp.answer == RsvpAnswer.NO.value,
            )
        )
    }
    chunk: list[outbox.Outgoing] = []
    by_id = {m.id: m for m in people}
    planned: list[tuple[Meeting, _Due, bool, list[Recipient]]] = []
    reminded: dict[int, Member] = {}
    for meeting, due, late in to_send:
        start = due.occurrence.start
        if meeting.to_everyone or meeting.to_focal_points or meeting.countries:
            invited = [m for m in people if _invited(meeting, m)]
        else:
            # Named members only: no need to look at everybody.
            invited = [by_id[i] for i in sorted(meeting.member_ids or ()) if i in by_id]
        invited = [m for m in invited if (meeting.id, start, m.id) not in declined]
        reminded.update((m.id or 0, m) for m in invited)
        chats = [Recipient.of(m) for m in invited]
        if group_chat_id is not None and MeetingAudience.of(meeting).is_everybody:
            chats.append(Recipient(group_chat_id))
        planned.append((meeting, due, late, chats))
    # Each member's open action items ride along with the reminder.
    from bot.services import actions as action_items

    actions = await action_items.open_items_for(session, list(reminded.values()))
    for meeting, due, late, chats in planned:
        for r in chats:
            notice = Notice(
                kind=NoticeKind.REMINDER,
                meeting=meeting,
                occurrence=due.occurrence,
                recipient=r,
                offset_minutes=due.offset,
                late=late,
                actions=tuple(actions.get(r.member_id, ())) if r.member_id is not None else (),
            )
            chunk.append(
                outbox.Outgoing(
                    dedup_key=f"{REMINDER_KIND}:{meeting.id}:{due.occurrence.key}:"
                    f"{due.offset}:{r.member_id or 'group'}",
                    chat_id=r.chat_id,
                    recipient_id=r.member_id,
                    payload=compose(notice),
                    ref_id=meeting.id,
                )
            )
    return await outbox.enqueue_many(session, REMINDER_KIND, chunk, now=now)


REBUILD_CHUNK = 1000


async def rebuild(session: AsyncSession, *, now: datetime) -> int:
    """Recompute every scheduled meeting's next reminder from its rows (at start: the rules or
    the zone database may have changed since it was stored). Returns how many meetings.

    A thousand meetings at a time, each chunk let go before the next, and the changed values
    written with one executemany: memory stays flat however many meetings there are."""
    changes: dict[int, list[MeetingException]] = {}
    for row in await session.exec(select(MeetingException)):
        changes.setdefault(row.meeting_id, []).append(row)
    total = 0
    last_id = 0
    table = Meeting.__table__  # type: ignore[attr-defined]
    statement = (
        table.update()
        .where(table.c.id == bindparam("meeting_id"))
        .values(next_reminder_at=bindparam("next_reminder_at"))
    )
    while True:
        chunk = list(
            await session.exec(
                select(Meeting)
                .where(Meeting.status == MeetingStatus.SCHEDULED, col(Meeting.id) > last_id)
                .order_by(col(Meeting.id))
                .limit(REBUILD_CHUNK)
            )
        )
        if not chunk:
            return total
        updates = []
        for meeting in chunk:
            wanted = next_reminder(
                meeting, changes.get(meeting.id or 0, []), after=meeting.reminded_through
            )
            if wanted != meeting.next_reminder_at:
                updates.append({"meeting_id": meeting.id, "next_reminder_at": wanted})
            session.expunge(meeting)
        if updates:
            await (await session.connection()).execute(statement, updates)
        total += len(chunk)
        last_id = chunk[-1].id or 0
