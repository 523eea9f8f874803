"""The .ics file: calendar programs must see the same instants the bot reminds about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.rrule import rrulestr
from icalendar import Calendar, Event

from bot.models.meetings import Meeting, MeetingException, MeetingStatus
from bot.services.calendar import meeting_ics

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _meeting(**fields: Any) -> Meeting:
    values: dict[str, Any] = {
        "id": 7,
        "title": "Weekly call, TIP; <b>focal</b> points",
        "location": "https://meet.example/abc",
        "agenda": "1. Reports\n2. AOB",
        "starts_at": _utc(2026, 10, 15, 9, 0),  # 10:00 in London (summer time)
        "timezone": "Europe/London",
        "duration_minutes": 60,
        "rrule": "FREQ=WEEKLY",
        "reminder_offsets": [1440, 60],
        "sequence": 3,
        "created_at": NOW,
        "updated_at": NOW,
        "reminded_through": NOW,
    }
    values.update(fields)
    return Meeting(**values)


# The 22 October meeting is cancelled; the 5 November one moved to 6 November, 14:00 London.
EXCEPTIONS = [
    MeetingException(meeting_id=7, original_start=_utc(2026, 10, 22, 9, 0), cancelled=True),
    MeetingException(
        meeting_id=7, original_start=_utc(2026, 11, 5, 10, 0), starts_at=_utc(2026, 11, 6, 14, 0)
    ),
    # Another meeting's exception is ignored.
    MeetingException(meeting_id=8, original_start=_utc(2026, 10, 29, 10, 0), cancelled=True),
]


def _events(data: bytes) -> tuple[Calendar, Event, list[Event]]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    main = [event for event in events if "RECURRENCE-ID" not in event]
    assert len(main) == 1
    return calendar, main[0], [event for event in events if "RECURRENCE-ID" in event]


def _expand(data: bytes, until: datetime) -> list[datetime]:
    """What a calendar program shows: DTSTART + RRULE in its TZID, minus EXDATE, with the
    RECURRENCE-ID overrides in place; as UTC instants."""
    _, main, overrides = _events(data)
    start = main.decoded("DTSTART")
    rule = rrulestr(main["RRULE"].to_ical().decode(), dtstart=start)
    exdates = main.get("EXDATE", [])
    if not isinstance(exdates, list):
        exdates = [exdates]
    skipped = {item.dt.astimezone(UTC) for group in exdates for item in group.dts}
    moved = {
        event.decoded("RECURRENCE-ID").astimezone(UTC): event.decoded("DTSTART").astimezone(UTC)
        for event in overrides
    }
    instants = []
    for moment in rule.between(start, until, inc=True):
        instant = moment.astimezone(UTC)
        if instant not in skipped:
            instants.append(moved.get(instant, instant))
    return sorted(instants)


def test_a_weekly_london_meeting_stays_at_ten_london_time_after_summer_time() -> None:
    data = meeting_ics(_meeting(), EXCEPTIONS, now=NOW)
    assert _expand(data, _utc(2026, 11, 20)) == [
        _utc(2026, 10, 15, 9, 0),  # BST: 10:00 London is 09:00 UTC
        # 22 October cancelled
        _utc(2026, 10, 29, 10, 0),  # summer time ended on 25 October: 10:00 London = UTC
        _utc(2026, 11, 6, 14, 0),  # 5 November moved
        _utc(2026, 11, 12, 10, 0),
        _utc(2026, 11, 19, 10, 0),
    ]


def test_the_file_names_the_zone_and_carries_its_definition() -> None:
    data = meeting_ics(_meeting(), EXCEPTIONS, now=NOW)
    calendar, main, overrides = _events(data)
    assert b"DTSTART;TZID=Europe/London:20261015T100000" in data
    assert [zone["TZID"] for zone in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["PRODID"] == "-//wgbot//EN"
    assert calendar["VERSION"] == "2.0"
    assert main["UID"] == "meeting-7@wgbot"
    assert [event["UID"] for event in overrides] == ["meeting-7@wgbot"]
    assert main.decoded("SEQUENCE") == 3
    assert main.decoded("DTSTAMP") == NOW
    assert main.decoded("DTEND") - main.decoded("DTSTART") == timedelta(hours=1)
    assert str(main["SUMMARY"]) == "Weekly call, TIP; <b>focal</b> points"
    assert str(main["LOCATION"]) == "https://meet.example/abc"
    assert str(main["URL"]) == "https://meet.example/abc"
    assert str(main["DESCRIPTION"]) == "1. Reports\n2. AOB"
    assert str(main["STATUS"]) == "CONFIRMED"


def test_the_alarm_is_at_the_nearest_reminder() -> None:
    _, main, _ = _events(meeting_ics(_meeting(), [], now=NOW))
    (alarm,) = main.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(hours=-1)

    _, main, _ = _events(meeting_ics(_meeting(reminder_offsets=[]), [], now=NOW))
    (alarm,) = main.walk("VALARM")
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)


def test_a_single_kabul_meeting_parses_back_to_the_same_instant() -> None:
    meeting = _meeting(
        starts_at=_utc(2026, 12, 3, 5, 30), timezone="Asia/Kabul", rrule=None, location="Room 4"
    )
    data = meeting_ics(meeting, [], now=NOW, description="Sent by the bot.")
    calendar, main, overrides = _events(data)
    assert b"DTSTART;TZID=Asia/Kabul:20261203T100000" in data
    assert main.decoded("DTSTART") == _utc(2026, 12, 3, 5, 30)
    assert main.decoded("DTEND") == _utc(2026, 12, 3, 6, 30)
    assert "RRULE" not in main and overrides == []
    assert "URL" not in main  # a room is not a link
    assert str(main["DESCRIPTION"]) == "1. Reports\n2. AOB\n\nSent by the bot."
    assert [zone["TZID"] for zone in calendar.walk("VTIMEZONE")] == ["Asia/Kabul"]


def test_a_fixed_offset_zone_is_written_in_utc() -> None:
    meeting = _meeting(starts_at=_utc(2026, 12, 3, 5, 30), timezone="UTC+04:30", rrule=None)
    data = meeting_ics(meeting, [], now=NOW, url="https://t.me/wgbot?start=m7")
    calendar, main, _ = _events(data)
    assert b"DTSTART:20261203T053000Z" in data
    assert calendar.walk("VTIMEZONE") == []
    assert str(main["URL"]) == "https://t.me/wgbot?start=m7"


def test_a_fixed_offset_series_keeps_its_local_day() -> None:
    # Friday 02:00 at +04:30 is Thursday in UTC: "the first Friday" must stay a Friday.
    meeting = _meeting(
        starts_at=_utc(2026, 12, 3, 21, 30), timezone="UTC+04:30", rrule="FREQ=MONTHLY;BYDAY=+1FR"
    )
    data = meeting_ics(meeting, [], now=NOW)
    assert _expand(data, _utc(2027, 2, 28)) == [
        _utc(2026, 12, 3, 21, 30),  # Friday 4 December, 02:00 local
        _utc(2026, 12, 31, 21, 30),  # Friday 1 January
        _utc(2027, 2, 4, 21, 30),  # Friday 5 February
    ]


def test_a_cancelled_meeting_says_so_and_has_no_alarm() -> None:
    meeting = _meeting(status=MeetingStatus.CANCELLED, sequence=4)
    _, main, _ = _events(meeting_ics(meeting, [], now=NOW))
    assert str(main["STATUS"]) == "CANCELLED"
    assert main.decoded("SEQUENCE") == 4
    assert main.walk("VALARM") == []


def test_until_in_the_rule_survives_the_round_trip() -> None:
    meeting = _meeting(rrule="FREQ=WEEKLY;UNTIL=20261029T225959Z")
    data = meeting_ics(meeting, [], now=NOW)
    assert _expand(data, _utc(2027, 1, 1)) == [
        _utc(2026, 10, 15, 9, 0),
        _utc(2026, 10, 22, 9, 0),
        _utc(2026, 10, 29, 10, 0),
    ]
