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
from typing import Any

from dateutil.rrule import rrule as RRule  # noqa: N812
from dateutil.rrule import rrulestr
from sqlalchemy import or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    AuditAction,
    Meeting,
    MeetingException,
    MeetingReminder,
    MeetingRsvp,
    MeetingStatus,
    Member,
    MemberStatus,
    ReminderOutcome,
    Role,
    RsvpAnswer,
)
from bot.services import audit, countries, outbox, timezones
from bot.services.errors import ServiceError

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
