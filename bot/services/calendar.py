"""A meeting as an iCalendar (.ics) file that calendar programs import.

Times are written in the meeting's own IANA zone (DTSTART;TZID=Europe/London, with the
VTIMEZONE the file needs), so a calendar expands a recurring meeting from its wall time and
daylight saving does not move it. A stored fixed offset ("UTC+04:30") has no daylight saving,
so UTC times describe it exactly, unless the UTC date differs from the local one and the rule
repeats by day (BYDAY, "monthly"): then a one-observance VTIMEZONE named after the offset keeps
the local date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, TimezoneStandard, vRecur

from bot.models.meetings import Meeting, MeetingException, MeetingStatus
from bot.services import timezones
from bot.services.meeting_input import is_link

PRODID = "-//wgbot//EN"
DEFAULT_ALARM_MINUTES = 15
# How far a recurring meeting's VTIMEZONE lists daylight-saving changes. Calendar programs
# that know the zone by name use their own rules; the others need the list.
SERIES_YEARS = 30


def meeting_uid(meeting_id: int) -> str:
    return f"meeting-{meeting_id}@wgbot"


def meeting_ics(
    meeting: Meeting,
    exceptions: list[MeetingException],
    *,
    now: datetime,
    url: str | None = None,
    description: str = "",
) -> bytes:
    """One VCALENDAR (METHOD:PUBLISH) with the meeting as a VEVENT: its recurrence, cancelled
    occurrences as EXDATE, moved ones as VEVENTs with RECURRENCE-ID, and an alarm at the
    nearest reminder offset. `url` defaults to the location when that is a link;
    `description` comes after the agenda."""
    assert meeting.id is not None, "a saved meeting has an id"
    to_local, vtimezone = _time_writer(meeting)
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("METHOD", "PUBLISH")

    duration = timedelta(minutes=meeting.duration_minutes)
    link = url or (meeting.location.strip() if is_link(meeting.location) else None)
    text = "\n\n".join(part.strip() for part in (meeting.agenda, description) if part.strip())
    cancelled = meeting.status == MeetingStatus.CANCELLED

    def event(start: datetime) -> Event:
        """The properties every VEVENT of the meeting shares."""
        component = Event()
        component.add("UID", meeting_uid(meeting.id or 0))
        component.add("SEQUENCE", meeting.sequence)
        component.add("DTSTAMP", now.astimezone(UTC))
        updated_at = getattr(meeting, "updated_at", None)
        if updated_at is not None:
            component.add("LAST-MODIFIED", updated_at.astimezone(UTC))
        component.add("SUMMARY", meeting.title)
        component.add("DTSTART", to_local(start))
        component.add("DTEND", to_local(start + duration))
        if meeting.location:
            component.add("LOCATION", meeting.location)
        if link:
            component.add("URL", link)
        if text:
            component.add("DESCRIPTION", text)
        component.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
        if not cancelled:
            component.add_component(_alarm(meeting))
        return component

    main = event(meeting.starts_at)
    calendar.add_component(main)
    mine = [item for item in exceptions if item.meeting_id == meeting.id]
    if meeting.rrule:
        main.add("RRULE", vRecur.from_ical(meeting.rrule))
        skipped = sorted(item.original_start for item in mine if item.cancelled)
        if skipped:
            main.add("EXDATE", [to_local(moment) for moment in skipped])
        for item in sorted(mine, key=lambda item: item.original_start):
            if item.cancelled or item.starts_at is None:
                continue
            moved = event(item.starts_at)
            moved.add("RECURRENCE-ID", to_local(item.original_start))
            calendar.add_component(moved)

    moments = [meeting.starts_at, *(item.starts_at or item.original_start for item in mine)]
    first, last = min(moments).date(), max(moments).date()
    years = SERIES_YEARS if meeting.rrule else 1
    if vtimezone is not None:
        calendar.subcomponents.insert(0, vtimezone)
    else:
        # Only the zones the times name; UTC needs none.
        calendar.add_missing_timezones(
            first_date=date(first.year - 1, 1, 1), last_date=date(last.year + years + 1, 1, 1)
        )
    return calendar.to_ical()


def _alarm(meeting: Meeting) -> Alarm:
    """A display alarm at the nearest reminder (what members are used to), else 15 minutes."""
    offsets = [offset for offset in meeting.reminder_offsets or () if offset > 0]
    minutes = min(offsets) if offsets else DEFAULT_ALARM_MINUTES
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", meeting.title)
    alarm.add("TRIGGER", timedelta(minutes=-minutes))
    return alarm


def _time_writer(meeting: Meeting) -> tuple[Callable[[datetime], datetime], Timezone | None]:
    """How to write the meeting's times, and a VTIMEZONE to add by hand (or None)."""
    zone = timezones.zone(meeting.timezone, "UTC")
    if isinstance(zone, ZoneInfo) and zone.key != "UTC":
        return (lambda moment: moment.astimezone(zone)), None
    start = meeting.starts_at
    if not meeting.rrule or start.astimezone(zone).date() == start.astimezone(UTC).date():
        return (lambda moment: moment.astimezone(UTC)), None
    return (lambda moment: moment.astimezone(zone)), _fixed_vtimezone(meeting.timezone, zone)


def _fixed_vtimezone(name: str, zone: tzinfo) -> Timezone:
    """A VTIMEZONE for a fixed offset: one STANDARD observance, forever."""
    offset = zone.utcoffset(None) or timedelta()
    standard = TimezoneStandard()
    standard.add("DTSTART", datetime(1970, 1, 1))
    standard.add("TZOFFSETFROM", offset)
    standard.add("TZOFFSETTO", offset)
    standard.add("TZNAME", name)
    vtimezone = Timezone()
    vtimezone.add("TZID", name)
    vtimezone.add_component(standard)
    return vtimezone
