"""Meetings (one-off or a recurring series), per-occurrence changes, RSVPs, the reminders the
scheduler has handled, minutes, and action items (which include focal points' deadlines).

Times are UTC. A series is defined in its own zone (`timezone`): its occurrences are expanded
from the local wall time of `starts_at` there, so a weekly 10:00 London meeting stays at 10:00
London time across daylight saving. An occurrence is named by its start instant (UTC): RSVPs,
reminders and minutes hang on it, so moving a meeting to another time starts them afresh.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from bot.models.types import UTCDateTime


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Meeting(SQLModel, table=True):
    __tablename__ = "meetings"
    __table_args__ = (
        # The scheduler's query: the next reminders due, over meetings still on.
        Index("ix_meetings_status_next_reminder_at", "status", "next_reminder_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(String(200), nullable=False))
    # A link (https://...) or a place; shown as given, escaped.
    location: str = Field(default="", sa_column=Column(String(500), nullable=False))
    agenda: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The first occurrence, and the IANA zone the series keeps its wall-clock time in.
    starts_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    duration_minutes: int = Field(default=60, sa_column=Column(Integer, nullable=False))
    # An RFC 5545 RRULE value ("FREQ=WEEKLY;INTERVAL=2"), or None for a single meeting.
    rrule: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    # Minutes before each occurrence that a reminder goes out, largest first.
    reminder_offsets: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The audience: everybody, or focal points; countries narrow either (alone they mean
    # everybody there); named members are added to whatever else is chosen.
    to_everyone: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    to_focal_points: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    member_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: MeetingStatus = Field(
        default=MeetingStatus.SCHEDULED, sa_column=Column(String(10), nullable=False)
    )
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # iCalendar SEQUENCE: goes up with every change a calendar should pick up.
    sequence: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Every reminder due at or before this instant has been handled (sent, late, or skipped);
    # creating or moving a meeting sets it to that moment, so no stale reminder goes out.
    reminded_through: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The next reminder due after `reminded_through`, or None: what the scheduler waits for.
    next_reminder_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )


class MeetingException(SQLModel, table=True):
    """One occurrence of a series cancelled, or moved to another time (RFC 5545 RECURRENCE-ID)."""

    __tablename__ = "meeting_exceptions"
    __table_args__ = (
        UniqueConstraint("meeting_id", "original_start", name="uq_meeting_exceptions_occurrence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(
        sa_column=Column(Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    )
    original_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    cancelled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # Moved: the occurrence's new start.
    starts_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class RsvpAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class MeetingRsvp(SQLModel, table=True):
    __tablename__ = "meeting_rsvps"
    __table_args__ = (
        UniqueConstraint(
            "meeting_id", "occurrence_start", "member_id", name="uq_meeting_rsvps_member"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(
        sa_column=Column(Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    )
    occurrence_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    member_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("members.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    answer: RsvpAnswer = Field(sa_column=Column(String(8), nullable=False))
    answered_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ReminderOutcome(StrEnum):
    SENT = "sent"
    # Sent after its time (the bot was down), before the meeting started.
    LATE = "late"
    # Not sent: the meeting had started, or a nearer reminder of the same occurrence went out.
    SKIPPED = "skipped"


class MeetingReminder(SQLModel, table=True):
    """A reminder the scheduler handled: once per occurrence and offset, whatever happens."""

    __tablename__ = "meeting_reminders"
    __table_args__ = (
        UniqueConstraint(
            "meeting_id",
            "occurrence_start",
            "offset_minutes",
            name="uq_meeting_reminders_occurrence",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(
        sa_column=Column(Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    )
    occurrence_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    offset_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    handled_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    outcome: ReminderOutcome = Field(sa_column=Column(String(8), nullable=False))
    recipients: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class MeetingMinutes(SQLModel, table=True):
    """What one occurrence of a meeting noted and decided."""

    __tablename__ = "meeting_minutes"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_start", name="uq_meeting_minutes_occurrence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(
        sa_column=Column(Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    )
    occurrence_start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class ActionItemStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class ActionItem(SQLModel, table=True):
    """Something a member, or the focal points of a country, must do by a date: an action item
    from a meeting's minutes, or a deadline set on its own (a country report, say)."""

    __tablename__ = "action_items"
    __table_args__ = (
        Index("ix_action_items_status_next_reminder_at", "status", "next_reminder_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    minutes_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("meeting_minutes.id", ondelete="SET NULL"), nullable=True
        ),
    )
    text: str = Field(sa_column=Column(String(1000), nullable=False))
    # The owner: one member, or every focal point of a country.
    owner_member_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("members.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    owner_country: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    # The zone the due date is meant in (the moderator's who set it): reminders go out at
    # a working hour there.
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    status: ActionItemStatus = Field(
        default=ActionItemStatus.OPEN, sa_column=Column(String(10), nullable=False)
    )
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    done_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    )
    # As for meetings: reminders due at or before `reminded_through` are handled.
    reminded_through: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    next_reminder_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
