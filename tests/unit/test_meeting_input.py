"""What moderators type about meetings: dates in zones, reminders, repetition, the one-line form."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services import meeting_input
from bot.services.errors import ServiceError
from bot.services.meeting_input import (
    compile_rule,
    parse_audience,
    parse_duration,
    parse_line,
    parse_offsets,
    parse_recurrence,
    parse_start,
    parse_when,
    validate_draft,
)
from bot.services.meetings import MAX_OFFSET, MeetingAudience, MeetingDraft

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ALMATY = ZoneInfo("Asia/Almaty")
LONDON = ZoneInfo("Europe/London")
MEMBERS = {"@alice": 5, "12": 12, "#12": 12}


def _refused(code: str, function, *args, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as caught:
        function(*args, **kwargs)
    assert caught.value.code == code, caught.value.params
    return caught.value.params


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- dates and times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-03 10:00",
        "2026-12-03T10:00",
        "03.12.2026 10:00",
        "3 Dec 2026 10:00",
        "Thursday, 3 December 2026 at 10:00",
        "Dec 3, 2026 10:00 am",
        "3 декабря 2026 в 10:00",
        "  2026-12-03   10:00 ",
    ],
)
def test_the_usual_ways_of_writing_a_time_mean_the_same(text: str) -> None:
    assert parse_when(text, "Asia/Kabul", NOW) == _utc(2026, 12, 3, 5, 30)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Kabul", _utc(2026, 12, 3, 5, 30)),  # +4:30
        ("Asia/Tehran", _utc(2026, 12, 3, 6, 30)),  # +3:30, no daylight saving since 2022
        ("Asia/Bishkek", _utc(2026, 12, 3, 4, 0)),  # +6
        ("Europe/London", _utc(2026, 12, 3, 10, 0)),  # winter: GMT
        ("UTC+04:30", _utc(2026, 12, 3, 5, 30)),
    ],
)
def test_a_time_is_read_in_the_given_zone(zone: str, expected: datetime) -> None:
    assert parse_when("2026-12-03 10:00", zone, NOW) == expected


def test_london_in_summer_is_an_hour_ahead_of_utc() -> None:
    assert parse_when("2027-07-01 10:00", "Europe/London", NOW) == _utc(2027, 7, 1, 9, 0)
    assert parse_when("2027-01-07 10:00", "Europe/London", NOW) == _utc(2027, 1, 7, 10, 0)


def test_a_time_in_the_spring_forward_gap_is_refused() -> None:
    params = _refused(
        "meeting_time_nonexistent", parse_when, "2027-03-28 01:30", "Europe/London", NOW
    )
    assert params["zone"] == "Europe/London"


def test_an_ambiguous_fall_back_time_is_the_first_one() -> None:
    # 01:30 happens twice on 31 October 2027 in London: first in BST (00:30 UTC).
    assert parse_when("2027-10-31 01:30", "Europe/London", NOW) == _utc(2027, 10, 31, 0, 30)


@pytest.mark.parametrize(
    "text", ["", "soon", "2026-02-30 10:00", "2026-12-03 25:00", "2026-12-03", "13.13.2026 10:00"]
)
def test_unreadable_times_are_refused(text: str) -> None:
    _refused("meeting_time_unparseable", parse_when, text, "Asia/Almaty", NOW)


def test_past_and_far_future_times_are_refused() -> None:
    assert _refused("meeting_time_past", parse_when, "2026-11-26 09:00", "UTC", NOW)
    assert _refused("meeting_time_past", parse_when, "0001-01-01 00:00", "Asia/Kabul", NOW)
    _refused("meeting_time_too_far", parse_when, "9999-12-31 23:59", "America/New_York", NOW)
    params = _refused("meeting_time_too_far", parse_when, "2030-01-01 10:00", "UTC", NOW)
    assert params["days"] > 700


def test_a_start_can_name_its_zone() -> None:
    assert parse_start("2026-12-03 10:00 Asia/Kabul", "Europe/London", NOW) == (
        _utc(2026, 12, 3, 5, 30),
        "Asia/Kabul",
    )
    assert parse_start("2026-12-03 10:00 tehran", "Europe/London", NOW)[1] == "Asia/Tehran"
    assert parse_start("2026-12-03T10:00+04:30", "Europe/London", NOW) == (
        _utc(2026, 12, 3, 5, 30),
        "UTC+04:30",
    )
    assert parse_start("2026-12-03 10:00", "Asia/Almaty", NOW) == (
        _utc(2026, 12, 3, 5, 0),
        "Asia/Almaty",
    )
    assert _refused("timezone_unknown", parse_start, "2026-12-03 10:00 Mars", "UTC", NOW)


# -- reminders and durations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h,1h", [1440, 60]),
        ("1h, 24h", [1440, 60]),
        ("1d, 30m", [1440, 30]),
        ("2h30m", [150]),
        ("1w", [7 * 1440]),
        ("24h 1h", [1440, 60]),
        ("1 day and 2 hours", [1440, 120]),
        ("1h,60m,1h", [60]),
        ("1 ч, 30 мин", [60, 30]),
        ("none", []),
        ("-", []),
        ("365d", [MAX_OFFSET]),
    ],
)
def test_reminder_offsets(text: str, expected: list[int]) -> None:
    assert parse_offsets(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "24", "1h,x", "0m", "1h;;", "5 parsecs"])
def test_unreadable_offsets_are_refused(text: str) -> None:
    if text == "1h;;":
        assert parse_offsets(text) == [60]  # a stray separator is harmless
        return
    _refused("meeting_offset_unparseable", parse_offsets, text)


def test_offsets_longer_than_a_year_or_too_many_are_refused() -> None:
    assert _refused("meeting_offset_too_long", parse_offsets, "366d")["value"] == "366d"
    _refused("meeting_offset_too_long", parse_offsets, "9" * 40 + "w")
    assert _refused("meeting_too_many_offsets", parse_offsets, "1h,2h,3h,4h,5h,6h,7h") == {
        "limit": 6
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", 90), ("1h30m", 90), ("1h 30m", 90), ("2h", 120), ("90", 90), ("1:30", 90)],
)
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["3m", "4", "25h", "2d", "long", "", "9" * 30])
def test_durations_out_of_range_are_refused(text: str) -> None:
    _refused("meeting_duration_invalid", parse_duration, text)


# -- recurrence ---------------------------------------------------------------------------------

# Thursday 3 December 2026, 10:00 in Almaty: the first Thursday of the month.
START = datetime(2026, 12, 3, 10, 0, tzinfo=ALMATY)


def _dates(rule: str, start: datetime = START, count: int = 3) -> list[str]:
    compiled = compile_rule(rule, start)
    return [moment.strftime("%Y-%m-%d") for moment in list(compiled.xafter(start, count, True))]


@pytest.mark.parametrize(
    ("text", "rule", "dates"),
    [
        ("weekly", "FREQ=WEEKLY", ["2026-12-03", "2026-12-10", "2026-12-17"]),
        ("every 2 weeks", "FREQ=WEEKLY;INTERVAL=2", ["2026-12-03", "2026-12-17", "2026-12-31"]),
        ("biweekly", "FREQ=WEEKLY;INTERVAL=2", None),
        ("fortnightly", "FREQ=WEEKLY;INTERVAL=2", None),
        ("every other week", "FREQ=WEEKLY;INTERVAL=2", None),
        ("monthly", "FREQ=MONTHLY;BYDAY=+1TH", ["2026-12-03", "2027-01-07", "2027-02-04"]),
        ("monthly on the 1st thursday", "FREQ=MONTHLY;BYDAY=+1TH", None),
        ("every 2 months", "FREQ=MONTHLY;INTERVAL=2;BYDAY=+1TH", None),
        ("monthly on the 3rd", "FREQ=MONTHLY;BYMONTHDAY=3", None),
        ("daily", "FREQ=DAILY", ["2026-12-03", "2026-12-04", "2026-12-05"]),
        (
            "weekdays",
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            ["2026-12-03", "2026-12-04", "2026-12-07"],
        ),
        ("every thursday", "FREQ=WEEKLY;BYDAY=TH", None),
        ("yearly", "FREQ=YEARLY", None),
        ("еженедельно", "FREQ=WEEKLY", None),
        ("каждые 2 недели", "FREQ=WEEKLY;INTERVAL=2", None),
        ("раз в две недели", "FREQ=WEEKLY;INTERVAL=2", None),
        ("ежемесячно", "FREQ=MONTHLY;BYDAY=+1TH", None),
        ("каждый первый четверг", "FREQ=MONTHLY;BYDAY=+1TH", None),
        ("по четвергам", "FREQ=WEEKLY;BYDAY=TH", None),
        ("weekly x10", "FREQ=WEEKLY;COUNT=10", None),
        ("every 2 weeks 5 times", "FREQ=WEEKLY;INTERVAL=2;COUNT=5", None),
        ("RRULE:FREQ=WEEKLY;BYDAY=TH", "FREQ=WEEKLY;BYDAY=TH", None),
        ("freq=weekly;interval=1", "FREQ=WEEKLY", None),
    ],
)
def test_recurrence_words_become_rules(text: str, rule: str, dates: list[str] | None) -> None:
    assert parse_recurrence(text, START) == rule
    if dates:
        assert _dates(rule) == dates


def test_monthly_from_the_last_week_is_the_last_weekday() -> None:
    # Thursday 31 December 2026 is the fifth Thursday: most months have none, so "the last".
    start = datetime(2026, 12, 31, 10, 0, tzinfo=ALMATY)
    rule = parse_recurrence("monthly", start)
    assert rule == "FREQ=MONTHLY;BYDAY=-1TH"
    assert _dates(rule, start) == ["2026-12-31", "2027-01-28", "2027-02-25"]
    # The fourth Thursday stays the fourth.
    assert parse_recurrence("monthly", START + timedelta(days=21)) == "FREQ=MONTHLY;BYDAY=+4TH"


def test_monthly_on_the_nth_weekday_that_is_the_start() -> None:
    start = datetime(2026, 12, 8, 10, 0, tzinfo=ALMATY)  # the 2nd Tuesday
    rule = parse_recurrence("monthly on the 2nd tuesday", start)
    assert rule == "FREQ=MONTHLY;BYDAY=+2TU"
    assert _dates(rule, start) == ["2026-12-08", "2027-01-12", "2027-02-09"]


def test_until_is_the_last_day_inclusive_written_in_utc() -> None:
    rule = parse_recurrence("weekly until 2026-12-17", START)
    assert rule == "FREQ=WEEKLY;UNTIL=20261217T185959Z"  # 23:59:59 in Almaty (+5 since 2024)
    assert _dates(rule, count=5) == ["2026-12-03", "2026-12-10", "2026-12-17"]
    assert parse_recurrence("каждые 2 недели до 31.12.2026", START) == (
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231T185959Z"
    )
    # A raw UNTIL without Z is taken in the meeting's zone and written in UTC.
    assert parse_recurrence("FREQ=WEEKLY;UNTIL=20261217", START) == (
        "FREQ=WEEKLY;UNTIL=20261217T185959Z"
    )


def test_a_weekly_london_rule_keeps_its_wall_time_across_the_end_of_summer_time() -> None:
    start = datetime(2026, 10, 15, 10, 0, tzinfo=LONDON)
    rule = parse_recurrence("weekly", start)
    assert rule is not None
    moments = list(compile_rule(rule, start).xafter(start, 3, True))
    assert [moment.astimezone(UTC).hour for moment in moments] == [9, 9, 10]


@pytest.mark.parametrize("text", ["none", "once", "", "нет", "-"])
def test_no_recurrence(text: str) -> None:
    assert parse_recurrence(text, START) is None


@pytest.mark.parametrize(
    "text",
    [
        "sometimes",
        "every 15",
        "weekly monthly",
        "FREQ=FORTNIGHTLY",
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20270101",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY\nEXDATE:20261210",
        "FREQ=WEEKLY;INTERVAL=" + "9" * 5000,
        "FREQ=WEEKLY;" + "BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;" * 10,
    ],
)
def test_unreadable_recurrence_is_refused(text: str) -> None:
    _refused("meeting_recurrence_unparseable", parse_recurrence, text, START)


@pytest.mark.parametrize("text", ["FREQ=HOURLY", "FREQ=MINUTELY", "FREQ=DAILY;BYHOUR=9,15"])
def test_more_than_daily_is_refused(text: str) -> None:
    _refused("meeting_recurrence_too_often", parse_recurrence, text, START)


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=WEEKLY;UNTIL=20261201T000000Z",
    ],
)
def test_a_rule_that_never_occurs_is_refused_quickly(text: str) -> None:
    began = time.perf_counter()
    _refused("meeting_recurrence_never", parse_recurrence, text, START)
    # dateutil alone searches a daily impossible rule up to year 9999 (~3 s).
    assert time.perf_counter() - began < 1.5


def test_a_rule_that_skips_the_start_is_refused() -> None:
    params = _refused("meeting_recurrence_mismatch", parse_recurrence, "weekly on tuesday", START)
    assert params["start"] == "2026-12-03"
    assert params["first"] == "2026-12-08"


# -- audience -----------------------------------------------------------------------------------


def test_audiences() -> None:
    assert parse_audience("all") == MeetingAudience(everyone=True)
    assert parse_audience("focal") == MeetingAudience(focal_points=True)
    assert parse_audience("kz, AF") == MeetingAudience(countries=frozenset({"KZ", "AF"}))
    assert parse_audience("focal,KZ") == MeetingAudience(
        focal_points=True, countries=frozenset({"KZ"})
    )
    assert parse_audience("@alice 12 #12", MEMBERS.get) == MeetingAudience(
        member_ids=frozenset({5, 12})
    )
    assert parse_audience("all,fp") == MeetingAudience(everyone=True)


def test_unknown_audiences_are_refused() -> None:
    assert _refused("bad_country", parse_audience, "XQ") == {"country": "XQ"}
    assert _refused("member_not_found", parse_audience, "@bob", MEMBERS.get) == {
        "reference": "@bob"
    }
    _refused("member_not_found", parse_audience, "@alice")  # no way to look members up
    _refused("meeting_audience_unknown", parse_audience, "moderators")


def test_a_forged_huge_member_number_is_not_looked_up() -> None:
    asked: list[str] = []

    def resolve(reference: str) -> int | None:
        asked.append(reference)
        return 1

    _refused("member_not_found", parse_audience, "9" * 30, resolve)
    _refused("member_not_found", parse_audience, str(2**31), resolve)
    assert asked == []


# -- the one-line form --------------------------------------------------------------------------


def test_the_example_from_the_issue() -> None:
    draft = parse_line(
        "2026-12-03 10:00 Asia/Almaty | Monthly focal point call | https://meet.example/abc "
        "--remind 24h,1h",
        default_zone="Europe/Vienna",
        now=NOW,
    )
    assert draft == MeetingDraft(
        title="Monthly focal point call",
        starts_at=_utc(2026, 12, 3, 5, 0),
        timezone="Asia/Almaty",
        location="https://meet.example/abc",
        reminder_offsets=[1440, 60],
        audience=MeetingAudience(everyone=True),
    )


def test_every_option_and_the_moderators_zone() -> None:
    draft = parse_line(
        "03.12.2026 10:00 | <b>Review</b> & plan | Room 4 --duration 1h30m --repeat monthly "
        "--for focal,KZ,@alice --remind 1d, 2h30m --agenda 1. Reports\n2. <i>AOB</i>",
        default_zone="Asia/Kabul",
        now=NOW,
        resolve_member=MEMBERS.get,
    )
    assert draft.title == "<b>Review</b> & plan"  # plain text: templates escape it
    assert draft.starts_at == _utc(2026, 12, 3, 5, 30)
    assert draft.timezone == "Asia/Kabul"
    assert draft.location == "Room 4"
    assert draft.duration_minutes == 90
    assert draft.rrule == "FREQ=MONTHLY;BYDAY=+1TH"
    assert draft.reminder_offsets == [1440, 150]
    assert draft.agenda == "1. Reports\n2. <i>AOB</i>"
    assert draft.audience == MeetingAudience(
        focal_points=True, countries=frozenset({"KZ"}), member_ids=frozenset({5})
    )


def test_options_with_phone_dashes_and_place_as_an_option() -> None:
    draft = parse_line(
        "2026-12-03 10:00 Kabul | Call —place https://meet.example/x –every weekly",
        default_zone="UTC",
        now=NOW,
    )
    assert (draft.location, draft.rrule, draft.timezone) == (
        "https://meet.example/x",
        "FREQ=WEEKLY",
        "Asia/Kabul",
    )


def test_control_characters_are_stripped_from_text() -> None:
    draft = parse_line(
        "2026-12-03 10:00 | Call\x00\u202e moc.live\x07 | Room\x1b 1", default_zone="UTC", now=NOW
    )
    assert draft.title == "Call moc.live"
    assert draft.location == "Room 1"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2026-12-03 10:00 Call", "meeting_title_empty"),
        ("2026-12-03 10:00 |   ", "meeting_title_empty"),
        ("2026-12-03 10:00 | " + "x" * 201, "meeting_title_too_long"),
        ("2026-12-03 10:00 | Call | " + "x" * 501, "meeting_location_too_long"),
        ("2026-12-03 10:00 | Call --colour red", "meeting_option_unknown"),
        ("2026-12-03 10:00 | Call --remind 1h --remind 2h", "meeting_option_repeated"),
        ("2026-12-03 10:00 | Call | Room --place Hall", "meeting_option_repeated"),
        ("2026-12-03 10:00 | Call --remind", "meeting_option_empty"),
        ("2026-12-03 10:00 | Call --remind 99999999999999999999999h", "meeting_offset_too_long"),
        ("2026-12-03 10:00 | Call --duration 99999999999999999999", "meeting_duration_invalid"),
        ("2026-12-03 10:00 | Call --for 99999999999999999999", "member_not_found"),
        ("2026-12-03 10:00 | Call --for ZZ", "bad_country"),
        ("2026-12-03 10:00 | Call --repeat FREQ=SECONDLY", "meeting_recurrence_too_often"),
        ("2026-12-03 10:00 | Call --agenda " + "x" * 2001, "meeting_agenda_too_long"),
        ("2020-12-03 10:00 | Call", "meeting_time_past"),
        ("2026-12-03 10:00 Atlantis | Call", "timezone_unknown"),
        ("next week | Call", "meeting_time_unparseable"),
    ],
)
def test_bad_lines_are_refused(text: str, code: str) -> None:
    _refused(code, parse_line, text, default_zone="Asia/Almaty", now=NOW)


def test_an_unknown_option_is_named_back() -> None:
    params = _refused(
        "meeting_option_unknown", parse_line, "2026-12-03 10:00 | Call --colour red",
        default_zone="UTC", now=NOW,
    )  # fmt: skip
    assert params == {"option": "--colour"}


# -- the whole draft ----------------------------------------------------------------------------

DRAFT = MeetingDraft(title="Call", starts_at=_utc(2026, 12, 3, 4, 0), timezone="Asia/Almaty")


def test_a_good_draft_passes() -> None:
    validate_draft(DRAFT, NOW)
    validate_draft(replace(DRAFT, rrule="FREQ=MONTHLY;BYDAY=+1TH", reminder_offsets=[]), NOW)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"title": " "}, "meeting_title_empty"),
        ({"title": "x" * 201}, "meeting_title_too_long"),
        ({"location": "x" * 501}, "meeting_location_too_long"),
        ({"agenda": "x" * 2001}, "meeting_agenda_too_long"),
        ({"starts_at": _utc(2026, 11, 26, 9, 0)}, "meeting_time_past"),
        ({"starts_at": _utc(2029, 1, 1)}, "meeting_time_too_far"),
        ({"timezone": "Mars/Base"}, "timezone_unknown"),
        ({"duration_minutes": 4}, "meeting_duration_invalid"),
        ({"duration_minutes": 24 * 60 + 1}, "meeting_duration_invalid"),
        ({"reminder_offsets": [0]}, "meeting_offset_unparseable"),
        ({"reminder_offsets": [MAX_OFFSET + 1]}, "meeting_offset_too_long"),
        ({"reminder_offsets": [1, 2, 3, 4, 5, 6, 7]}, "meeting_too_many_offsets"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "meeting_recurrence_never"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=MO"}, "meeting_recurrence_mismatch"),
        ({"rrule": "FREQ=MINUTELY"}, "meeting_recurrence_too_often"),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20270101"}, "meeting_recurrence_unparseable"),
        ({"audience": MeetingAudience()}, "meeting_no_audience"),
    ],
)
def test_a_bad_draft_is_refused(changes: dict, code: str) -> None:  # type: ignore[type-arg]
    _refused(code, validate_draft, replace(DRAFT, **changes), NOW)


def test_an_edited_series_may_have_begun() -> None:
    begun = replace(DRAFT, starts_at=_utc(2026, 11, 5, 4, 0), rrule="FREQ=WEEKLY")
    _refused("meeting_time_past", validate_draft, begun, NOW)
    validate_draft(begun, NOW, allow_past_start=True)


def test_format_length() -> None:
    assert [meeting_input.format_length(m) for m in (45, 150, 1440, 10080 + 60)] == [
        "45m",
        "2h30m",
        "1d",
        "1w1h",
    ]


@pytest.mark.parametrize(
    "typed", ['"Country updates"', "«Country updates»", "“Country updates”", "Country updates"]
)
def test_quotes_around_an_option_value_are_not_part_of_it(typed: str) -> None:
    draft = meeting_input.parse_line(
        f"2026-12-10 15:00 | Call --agenda {typed}",
        default_zone="Asia/Almaty",
        now=datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert draft.agenda == "Country updates"
