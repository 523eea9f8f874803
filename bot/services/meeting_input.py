"""What a moderator types about a meeting, turned into values: dates and times in a zone,
reminder offsets, durations, recurrence (RFC 5545 RRULE values), audiences, and the one-line
form of /newmeeting. Plain functions: no Telegram, no database.

Every refusal is a `ServiceError` whose code the handlers turn into words
(handlers/meeting_messages.py). Text people type stays plain text (templates escape it);
only control characters are removed.

Recurrence rules are expanded with dateutil from the start's wall time in the meeting's own
zone, with an *aware* dtstart (`compile_rule`): UNTIL is always written in UTC ("...Z"), as
RFC 5545 requires when DTSTART has a TZID, and dateutil refuses to mix that with a naive start.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr

# The module, not its names: meetings.py may import this module at its top, so the names are
# looked up when a function runs.
from bot.services import countries, meetings, timezones
from bot.services.errors import ServiceError

if TYPE_CHECKING:
    from bot.services.meetings import MeetingAudience, MeetingDraft

MIN_DURATION = 5
RULE_LIMIT = 300  # Meeting.rrule is String(300)
MAX_INTERVAL = 999
MAX_COUNT = 9999
INPUT_LIMIT = 200  # longer dates, offsets, durations or rules are not typed by people
SHOWN_LIMIT = 60  # how much of a bad value is repeated back
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NO_REMINDERS = frozenset({"none", "no", "-", "—", "off", "нет", "без", "никогда"})
NO_RECURRENCE = frozenset(
    {"none", "no", "once", "never", "-", "—", "off", "single", "one-off", "one off",
     "нет", "один раз", "однократно", "разово", "не повторять", "без повтора"}
)  # fmt: skip

# -- plain text ---------------------------------------------------------------------------------

# Bidirectional embeddings, overrides and isolates can reorder the rest of a message (the link
# after a title, say); the byte-order mark is invisible noise. Joiners (ZWNJ) stay: Persian
# needs them.
_INVISIBLE = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF])


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Text as typed, minus control characters: one line with single spaces, or (multiline)
    lines without trailing spaces and at most one blank line in a row."""
    text = re.sub(r"\r\n?|[\u2028\u2029\x85]", "\n", text).translate(_INVISIBLE)
    kept = []
    for char in text:
        if char == "\n" and multiline:
            kept.append(char)
        elif char in "\t\n\v\f":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cs"):
            kept.append(char)
    text = "".join(kept)
    if not multiline:
        return " ".join(text.split())
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _shown(text: str) -> str:
    """A bad value, shortened to repeat it back."""
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 1] + "…"


def is_link(location: str) -> bool:
    """Whether a meeting's location is a link (a calendar gets it as URL too)."""
    return re.fullmatch(r"https?://\S+", location.strip(), re.IGNORECASE) is not None


# -- dates and times ----------------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _number, _forms in enumerate(
    (
        "jan january янв январь января",
        "feb february фев февраль февраля",
        "mar march мар март марта",
        "apr april апр апрель апреля",
        "may май мая",
        "jun june июн июнь июня",
        "jul july июл июль июля",
        "aug august авг август августа",
        "sep sept september сен сент сентябрь сентября",
        "oct october окт октябрь октября",
        "nov november ноя нояб ноябрь ноября",
        "dec december дек декабрь декабря",
    ),
    start=1,
):
    _MONTHS.update(dict.fromkeys(_forms.split(), _number))

_TIME = (
    r"(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})(?::00)?"
    r"(?:\s*(?P<ampm>[ap])\.?m\.?\b)?"
)
_DATES = (
    r"(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})",
    r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})",
    # "Thursday, 3 Dec 2026", "3 декабря 2026"
    r"(?:[^\W\d_]+,?\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?P<name>[^\W\d_]+)\.?,?\s+"
    r"(?P<year>\d{4})(?:\s*г\.?)?",
    # "Dec 3, 2026"
    r"(?:[^\W\d_]+,?\s+)?(?P<name>[^\W\d_]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+"
    r"(?P<year>\d{4})",
    r"(?P<relative>today|tomorrow|сегодня|завтра)",
)
_SEPARATOR = r"(?:\s*t\s*|\s*,?\s+(?:at\s+|в\s+)?)"
# The rest is a zone: after a space, or glued on as an offset or Z ("10:00+04:30", "10:00Z").
_WHEN_RES = tuple(
    re.compile(
        rf"{date_re}{_SEPARATOR}{_TIME}(?P<rest>(?:\s+|(?=[+\-])|(?=z\b)).*)?", re.IGNORECASE
    )
    for date_re in _DATES
)
_DATE_RES = tuple(re.compile(date_re, re.IGNORECASE) for date_re in _DATES[:-1])


def _date_of(match: re.Match[str]) -> date:
    """The date a date pattern matched (raises ValueError for 31 February and the like)."""
    groups = match.groupdict()
    if groups.get("name"):
        month = _MONTHS.get(groups["name"].lower().rstrip("."))
        if month is None:
            raise ValueError("not a month")
    else:
        month = int(groups["month"])
    return date(int(groups["year"]), month, int(groups["day"]))


def _read_when(text: str, today: date) -> tuple[datetime, str] | None:
    """A typed date and time as a naive wall-clock time, and whatever follows (a zone, as
    typed)."""
    value = " ".join(text.split()).replace("−", "-")
    if len(value) > INPUT_LIMIT:
        return None
    for pattern in _WHEN_RES:
        match = pattern.fullmatch(value)
        if match is None:
            continue
        groups = match.groupdict()
        hour, minute = int(groups["hour"]), int(groups["minute"])
        if groups["ampm"]:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if groups["ampm"].lower() == "p" else 0)
        try:
            if groups.get("relative"):
                tomorrow = groups["relative"].lower() in ("tomorrow", "завтра")
                day = today + timedelta(days=1 if tomorrow else 0)
            else:
                day = _date_of(match)
            wall = datetime.combine(day, time(hour, minute))
        except ValueError:
            return None
        rest = (groups["rest"] or "").strip()
        return wall, ("UTC" if rest.lower() == "z" else rest)
    return None


def _localize(wall: datetime, zone: tzinfo, value: str, zone_name: str) -> datetime:
    """A wall-clock time in a zone as UTC. fold=0 takes the first of an ambiguous (fall-back)
    time; a time inside a spring-forward gap does not exist and is refused rather than
    silently moved an hour."""
    try:
        moment = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError as error:  # year 1 or 9999 shifted out of range
        if wall.year > 1:
            days = meetings.MAX_AHEAD.days
            raise ServiceError("meeting_time_too_far", value=value, days=days) from error
        raise ServiceError("meeting_time_past", value=value) from error
    if moment.astimezone(zone).replace(tzinfo=None) != wall:
        raise ServiceError("meeting_time_nonexistent", value=value, zone=zone_name)
    return moment


def _check_moment(moment: datetime, now: datetime, value: str) -> None:
    if moment <= now:
        raise ServiceError("meeting_time_past", value=value)
    if moment - now > meetings.MAX_AHEAD:
        raise ServiceError("meeting_time_too_far", value=value, days=meetings.MAX_AHEAD.days)


def parse_when(text: str, zone_name: str, now: datetime) -> datetime:
    """A date and time typed in the zone `zone_name` ("2026-12-03 10:00", "03.12.2026 10:00",
    "3 Dec 2026 10:00", "tomorrow 9:30"), as an aware UTC datetime in the future."""
    zone = timezones.zone(zone_name, "UTC")
    value = _shown(text)
    read = _read_when(text, now.astimezone(zone).date())
    if read is None or read[1]:
        raise ServiceError("meeting_time_unparseable", value=value)
    moment = _localize(read[0], zone, value, zone_name)
    _check_moment(moment, now, value)
    return moment


def parse_start(text: str, default_zone: str, now: datetime) -> tuple[datetime, str]:
    """A date and time optionally followed by a zone ("2026-12-03 10:00 Kabul", "... +4:30"):
    the start in UTC and the canonical name of the zone it was typed in (else default_zone).
    "today"/"tomorrow" are the moderator's (default_zone's)."""
    value = _shown(text)
    read = _read_when(text, now.astimezone(timezones.zone(default_zone, "UTC")).date())
    if read is None:
        raise ServiceError("meeting_time_unparseable", value=value)
    wall, zone_text = read
    # timezones.parse raises timezone_unknown / timezone_bad_offset itself.
    zone_name = timezones.parse(zone_text) if zone_text else default_zone
    moment = _localize(wall, timezones.zone(zone_name, "UTC"), value, zone_name)
    _check_moment(moment, now, value)
    return moment, zone_name


def _read_date(text: str) -> date | None:
    """A date alone ("2027-06-30", "30.06.2027", "30 June 2027")."""
    value = " ".join(text.split())
    for pattern in _DATE_RES:
        match = pattern.fullmatch(value)
        if match:
            try:
                return _date_of(match)
            except ValueError:
                return None
    return None


# -- lengths of time ----------------------------------------------------------------------------

_UNITS: dict[str, int] = {}
for _minutes_per, _forms in (
    (1, "m min mins minute minutes м мин минута минуты минут"),
    (60, "h hr hrs hour hours ч час часа часов"),
    (24 * 60, "d day days д дн день дня дней"),
    (7 * 24 * 60, "w wk wks week weeks н нед неделя недели недель неделю"),
):
    _UNITS.update(dict.fromkeys(_forms.split(), _minutes_per))

_PIECE = re.compile(r"(\s*)(\d+(?:\.\d+)?)\s*([^\W\d_]*)")


def _read_lengths(text: str, *, bare: int | None) -> list[float] | None:
    """Lengths of time in minutes: "2h30m" is one, "24h 1h" two (a space starts the next).
    A number without a unit counts `bare` minutes each, only when it stands alone."""
    value = text.strip().lower()
    lengths: list[float] = []
    position = 0
    while position < len(value):
        match = _PIECE.match(value, position)
        if match is None:
            return None
        space, number, unit = match.groups()
        if unit:
            factor = _UNITS.get(unit)
            if factor is None:
                return None
        elif bare is not None and not lengths and match.end() == len(value):
            factor = bare
        else:
            return None
        # float() of a forged 400-digit number is inf, which every limit refuses.
        amount = float(number) * factor
        if lengths and not space:
            lengths[-1] += amount
        else:
            lengths.append(amount)
        position = match.end()
    return lengths or None


def format_length(minutes: int) -> str:
    """Minutes the way they are typed: 1w, 1d, 2h30m, 45m."""
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        amount, minutes = divmod(minutes, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0m"


def parse_offsets(text: str) -> list[int]:
    """Reminder offsets ("24h,1h", "1d, 30m", "2h30m", "1w") in minutes, largest first;
    "none" or "-" means no reminders."""
    value = clean_text(text)
    if value.lower() in NO_REMINDERS:
        return []
    if not value or len(value) > INPUT_LIMIT:
        raise ServiceError("meeting_offset_unparseable", value=_shown(value))
    offsets: set[int] = set()
    for piece in re.split(r"[,;]|\band\b|\bи\b", value, flags=re.IGNORECASE):
        if not piece.strip():
            continue  # "24h, 1h," is fine
        lengths = _read_lengths(piece, bare=None)
        if lengths is None:
            raise ServiceError("meeting_offset_unparseable", value=_shown(piece))
        for length in lengths:
            if length > meetings.MAX_OFFSET:
                raise ServiceError("meeting_offset_too_long", value=_shown(piece))
            if round(length) < 1:
                raise ServiceError("meeting_offset_unparseable", value=_shown(piece))
            offsets.add(round(length))
    if not offsets:
        raise ServiceError("meeting_offset_unparseable", value=_shown(value))
    if len(offsets) > meetings.MAX_OFFSETS:
        raise ServiceError("meeting_too_many_offsets", limit=meetings.MAX_OFFSETS)
    return sorted(offsets, reverse=True)


def parse_duration(text: str) -> int:
    """How long a meeting lasts ("90m", "1h30m", "1h 30m", "2h", "1:30", "90") in minutes."""
    value = clean_text(text)
    minutes: float | None = None
    clock = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if clock:
        minutes = int(clock.group(1)) * 60 + int(clock.group(2))
    elif len(value) <= INPUT_LIMIT:
        # Spaces join here: a duration is one length ("1h 30m").
        lengths = _read_lengths(value.replace(" ", ""), bare=1)
        minutes = sum(lengths) if lengths else None
    if minutes is None or not MIN_DURATION <= round(minutes) <= meetings.MAX_DURATION:
        raise ServiceError(
            "meeting_duration_invalid",
            value=_shown(value),
            min=MIN_DURATION,
            max=format_length(meetings.MAX_DURATION),
        )
    return round(minutes)


# -- recurrence ---------------------------------------------------------------------------------

_ALLOWED_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS",
     "BYYEARDAY", "BYWEEKNO", "WKST"}
)  # fmt: skip
# More than once a day, or at another time than the start: occurrences are named by their
# start minute, and reminders are per occurrence.
_TOO_OFTEN_PARTS = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND"})
_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


def _join(parts: dict[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in parts.items())


def _until_value(day: date | datetime, start_local: datetime) -> str:
    """UNTIL for the last day (inclusive) or moment, in the start's zone: UTC, per RFC 5545."""
    wall = day if isinstance(day, datetime) else datetime.combine(day, time(23, 59, 59))
    if start_local.tzinfo is None:  # a floating start takes a floating UNTIL
        return wall.strftime("%Y%m%dT%H%M%S")
    moment = wall.replace(tzinfo=start_local.tzinfo).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _raw_parts(text: str, start_local: datetime, value: str) -> dict[str, str]:
    """An RRULE value as typed ("RRULE:FREQ=WEEKLY;BYDAY=TH"), checked part by part."""
    body = re.sub(r"^rrule:", "", text.strip(), flags=re.IGNORECASE).replace(" ", "")
    parts: dict[str, str] = {}
    for item in body.strip(";").split(";"):
        key, equals, part = item.partition("=")
        key, part = key.upper(), part.upper()
        if key in _TOO_OFTEN_PARTS:
            raise ServiceError("meeting_recurrence_too_often", value=value)
        if not equals or not part or key not in _ALLOWED_PARTS or key in parts:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
        parts[key] = part
    freq = parts.get("FREQ")
    if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
        raise ServiceError("meeting_recurrence_too_often", value=value)
    if freq not in _FREQS or ("COUNT" in parts and "UNTIL" in parts):
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    for key, limit in (("INTERVAL", MAX_INTERVAL), ("COUNT", MAX_COUNT)):
        if key in parts and not (parts[key].isdigit() and 1 <= int(parts[key]) <= limit):
            raise ServiceError("meeting_recurrence_unparseable", value=value)
    if "UNTIL" in parts:
        until = parts["UNTIL"]
        try:
            if re.fullmatch(r"\d{8}", until):
                parts["UNTIL"] = _until_value(
                    datetime.strptime(until, "%Y%m%d").date(), start_local
                )
            elif re.fullmatch(r"\d{8}T\d{6}", until):
                parts["UNTIL"] = _until_value(
                    datetime.strptime(until, "%Y%m%dT%H%M%S"), start_local
                )
            elif not re.fullmatch(r"\d{8}T\d{6}Z", until):
                raise ValueError(until)
        except (ValueError, OverflowError) as error:
            raise ServiceError("meeting_recurrence_unparseable", value=value) from error
    # FREQ first, INTERVAL next, the rest as given: one spelling per rule.
    ordered = {"FREQ": parts.pop("FREQ")}
    if "INTERVAL" in parts:
        interval = parts.pop("INTERVAL")
        if interval != "1":
            ordered["INTERVAL"] = str(int(interval))
    ordered.update(parts)
    return ordered


_WEEKDAY_WORDS: dict[str, str] = {}
for _code, _forms in zip(
    WEEKDAYS,
    (
        "mon monday mondays понедельник понедельникам понедельника пн",
        "tue tues tuesday tuesdays вторник вторникам вторника вт",
        "wed weds wednesday wednesdays среда среду средам среды ср",
        "thu thur thurs thursday thursdays четверг четвергам четверга чт",
        "fri friday fridays пятница пятницу пятницам пятницы пт",
        "sat saturday saturdays суббота субботу субботам субботы сб",
        "sun sunday sundays воскресенье воскресеньям воскресенья вс",
    ),
    strict=True,
):
    _WEEKDAY_WORDS.update(dict.fromkeys(_forms.split(), _code))

_ORDINALS: dict[str, int] = {}
for _nth, _forms in (
    (1, "first 1st первый первую первое первого 1й 1я 1е 1го"),
    (2, "second 2nd второй вторую второе второго 2й 2я 2е 2го"),
    (3, "third 3rd третий третью третье третьего 3й 3я 3е 3го"),
    (4, "fourth 4th четвертый четвертую четвертое четвертого 4й 4я 4е 4го"),
    (5, "fifth 5th пятый пятую пятое пятого 5й 5я 5е 5го"),
    (-1, "last последний последнюю последнее последнего"),
):
    _ORDINALS.update(dict.fromkeys(_forms.split(), _nth))

_FREQ_WORDS: dict[str, str] = {}
for _freq, _forms in (
    ("DAILY", "day days daily день дня дней дням ежедневно ежедневный ежедневная"),
    (
        "WEEKLY",
        "week weeks weekly неделю недели недель неделя еженедельно еженедельный еженедельная",
    ),
    ("MONTHLY", "month months monthly месяц месяца месяцев ежемесячно ежемесячный ежемесячная"),
    ("YEARLY", "year years yearly annually annual год года лет ежегодно ежегодный ежегодная"),
):
    _FREQ_WORDS.update(dict.fromkeys(_forms.split(), _freq))

_NUMBER_WORDS = {
    "other": 2, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6,
}  # fmt: skip
_BIWEEKLY = frozenset({"biweekly", "fortnightly", "fortnight", "двухнедельно", "раздвухнедельно"})
_NUMBERED = re.compile(r"(\d{1,2})(?:st|nd|rd|th|й|я|ю|е|го)")  # 2nd, 15th, 1й (from 1-й)
_AND = ("and", "и")
_WORKDAYS = frozenset({"weekdays", "weekday", "workdays", "workday", "будни", "будням", "рабочим"})
_FILLER = frozenset(
    {"every", "each", "on", "the", "of", "a", "an", "in", "at", "and", "once", "repeat",
     "repeats", "repeating", "recurring", "per", "working", "business",
     "каждый", "каждую", "каждое", "каждые", "каждого", "каждая", "в", "во", "по", "и", "раз",
     "числа", "число"}
)  # fmt: skip


def _words_parts(text: str, start_local: datetime, value: str) -> dict[str, str]:
    """A recurrence in words (English or Russian) as RRULE parts."""
    core = text.lower().replace("ё", "е")
    core = re.sub(r"(?<=\w)-(?=[^\W\d_])", "", core)  # bi-weekly, 1-й, every-other-week
    # "on day 15", "15 числа": the 15th.
    core = re.sub(r"\bday\s+(\d{1,2})\b|\b(\d{1,2})(?:го)?\s+числа\b", r"\1\2th", core)
    tail: dict[str, str] = {}
    # "until 2027-06-30" / "до 30.06.2027" and "x10" / "10 times" / "10 раз", in either order.
    for _ in range(2):
        # "по" also means "on" ("по понедельникам"): only a date after it makes an end.
        until = next(
            (
                match
                for match in re.finditer(r"[\s,]*\b(?:until|till|through|thru|to|до|по)\s+", core)
                if _read_date(core[match.end() :]) is not None
            ),
            None,
        )
        if until and "UNTIL" not in tail:
            day = _read_date(core[until.end() :])
            assert day is not None
            try:
                tail["UNTIL"] = _until_value(day, start_local)
            except OverflowError as error:
                raise ServiceError("meeting_recurrence_unparseable", value=value) from error
            core = core[: until.start()]
            continue
        count = re.search(r"[\s,]*(?:\b[x×]\s*(\d+)|\b(\d+)\s*(?:x|×|times|раза?))\s*$", core)
        if count and "COUNT" not in tail:
            times = int(count.group(1) or count.group(2))
            if not 1 <= times <= MAX_COUNT:
                raise ServiceError("meeting_recurrence_unparseable", value=value)
            tail["COUNT"] = str(times)
            core = core[: count.start()]
    if len(tail) > 1:
        raise ServiceError("meeting_recurrence_unparseable", value=value)

    words = re.findall(r"[^\W_]+", core)
    freqs: set[str] = set()
    numbers: list[int] = []
    weekdays: list[str] = []
    nth_weekdays: list[str] = []
    monthdays: list[int] = []
    interval_ordinal: int | None = None
    workdays = False
    pending: list[int] = []  # ordinals waiting for the word they qualify
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        numbered = _NUMBERED.fullmatch(word)
        if word in _ORDINALS or numbered:
            nth = int(numbered.group(1)) if numbered else _ORDINALS[word]
            pending.append(nth)
            if following in _WEEKDAY_WORDS or following in _ORDINALS or following in _AND:
                continue  # "the 1st and 3rd tuesday"
            if following in _FREQ_WORDS and len(pending) == 1 and nth > 0:
                interval_ordinal = nth  # "every second week"
            else:
                monthdays.extend(pending)  # "monthly on the 15th", "on the last"
            pending = []
        elif word in _WEEKDAY_WORDS:
            if pending:
                nth_weekdays.extend(f"{nth:+d}{_WEEKDAY_WORDS[word]}" for nth in pending)
                pending = []
            else:
                weekdays.append(_WEEKDAY_WORDS[word])
        elif word in _FREQ_WORDS:
            freqs.add(_FREQ_WORDS[word])
        elif word in _BIWEEKLY:
            freqs.add("WEEKLY")
            numbers.append(2)
        elif word in _WORKDAYS:
            workdays = True
        elif (word.isdigit() and len(word) <= 3) or word in _NUMBER_WORDS:
            # Only "every 2 weeks": a lone number could as well be a day of the month.
            if following not in _FREQ_WORDS:
                raise ServiceError("meeting_recurrence_unparseable", value=value)
            numbers.append(int(word) if word.isdigit() else _NUMBER_WORDS[word])
        elif word not in _FILLER:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
    if pending or len(freqs) > 1 or len(numbers) > 1 or (numbers and interval_ordinal):
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    interval = numbers[0] if numbers else (interval_ordinal or 1)
    if not 1 <= interval <= MAX_INTERVAL:
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    freq = next(iter(freqs), None)
    start_day = WEEKDAYS[start_local.weekday()]
    parts: dict[str, str] = {}
    if workdays:
        if freq not in (None, "DAILY", "WEEKLY") or weekdays or nth_weekdays or monthdays:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
        parts = {"FREQ": "WEEKLY", "BYDAY": "MO,TU,WE,TH,FR"}
    elif nth_weekdays:
        if freq not in (None, "MONTHLY") or weekdays or monthdays:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
        parts = {"FREQ": "MONTHLY", "BYDAY": ",".join(dict.fromkeys(nth_weekdays))}
    elif monthdays:
        if (
            freq not in (None, "MONTHLY")
            or weekdays
            or not all(-1 <= day <= 31 and day for day in monthdays)
        ):
            raise ServiceError("meeting_recurrence_unparseable", value=value)
        parts = {"FREQ": "MONTHLY", "BYMONTHDAY": ",".join(map(str, dict.fromkeys(monthdays)))}
    elif weekdays:
        if freq == "MONTHLY" and set(weekdays) == {start_day}:
            parts = {"FREQ": "MONTHLY", "BYDAY": _nth_weekday(start_local)}  # "monthly on thu"
        elif freq in (None, "WEEKLY"):
            parts = {"FREQ": "WEEKLY", "BYDAY": ",".join(dict.fromkeys(weekdays))}
        else:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
    elif freq == "MONTHLY":
        parts = {"FREQ": "MONTHLY", "BYDAY": _nth_weekday(start_local)}
    elif freq is not None:
        parts = {"FREQ": freq}
    else:
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    ordered = {"FREQ": parts.pop("FREQ")}
    if interval > 1:
        ordered["INTERVAL"] = str(interval)
    ordered.update(parts)
    ordered.update(tail)
    return ordered


def _nth_weekday(start_local: datetime) -> str:
    """The start's weekday in the month, as BYDAY: the 1st Thursday is +1TH; a fifth one is the
    last (-1), since most months have no fifth."""
    nth = (start_local.day - 1) // 7 + 1
    return f"{-1 if nth == 5 else nth:+d}{WEEKDAYS[start_local.weekday()]}"


def compile_rule(rule: str, start_local: datetime) -> RRule:
    """The dateutil rule for a stored RRULE value, from the start's wall time in the meeting's
    zone (pass an aware datetime in that zone so that daylight saving keeps the wall time)."""
    compiled = rrulestr(rule, dtstart=start_local)
    if not isinstance(compiled, RRule):  # a multi-line string would give an rruleset
        raise ValueError("not a single RRULE")
    return compiled


def _ever(parts: dict[str, str], start_local: datetime) -> bool:
    """Whether the rule, without COUNT or UNTIL, has any occurrence at all.

    dateutil looks for the first occurrence of an impossible rule (30 February) until year
    9999, seconds for a daily rule. The Gregorian calendar repeats every 400 years (146,097
    days, a whole number of weeks), so a rule with INTERVAL n repeats within 400*n years: it
    is enough to look from a start moved by a multiple of 400 years to near year 9999."""
    probe = {key: value for key, value in parts.items() if key not in ("COUNT", "UNTIL")}
    interval = int(parts.get("INTERVAL", "1"))
    wall = start_local.replace(tzinfo=None)
    shift = (MAXYEAR - wall.year - 400 * interval) // 400 * 400
    if shift > 0:
        wall = wall.replace(year=wall.year + shift)
    try:
        return compile_rule(_join(probe), wall).after(wall, inc=True) is not None
    except (ValueError, OverflowError):
        return False


def _check_rule(rule: str, parts: dict[str, str], start_local: datetime, value: str) -> str:
    """The rule, if it is short enough, valid, and its first occurrence is the start."""
    if len(rule) >= RULE_LIMIT:
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    try:
        compiled = compile_rule(rule, start_local)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as error:
        raise ServiceError("meeting_recurrence_unparseable", value=value) from error
    if not _ever(parts, start_local):
        raise ServiceError("meeting_recurrence_never", value=value)
    try:
        first = compiled.after(start_local, inc=True)
    except (ValueError, OverflowError):
        first = None
    if first is None:
        raise ServiceError("meeting_recurrence_never", value=value)
    if first != start_local:
        # dateutil would skip the start, calendar programs would keep it (RFC 5545 counts
        # DTSTART as the first occurrence): refuse rather than disagree.
        raise ServiceError(
            "meeting_recurrence_mismatch",
            value=value,
            start=start_local.strftime("%Y-%m-%d"),
            first=first.strftime("%Y-%m-%d"),
        )
    return rule


def parse_recurrence(text: str, start_local: datetime) -> str | None:
    """What a moderator typed about repeating, as an RRULE value (no "RRULE:" prefix), or None
    for a single meeting: "weekly", "every 2 weeks", "biweekly", "monthly" (on the start's
    n-th weekday), "monthly on the 2nd tuesday", "monthly on the 15th", "daily", "weekdays",
    "yearly", the Russian words, an optional "until 2027-06-30" or "x10", or an RRULE as
    written ("RRULE:FREQ=..." / "FREQ=..."). `start_local` is the first start, aware, in the
    meeting's zone; it must be an occurrence of the rule."""
    raw = clean_text(text)
    value = _shown(raw)
    if not raw or raw.lower() in NO_RECURRENCE:
        return None
    if len(raw) > RULE_LIMIT:
        raise ServiceError("meeting_recurrence_unparseable", value=value)
    if re.match(r"(?:rrule:|freq\s*=)", raw, re.IGNORECASE):
        parts = _raw_parts(raw, start_local, value)
    else:
        parts = _words_parts(raw, start_local, value)
    return _check_rule(_join(parts), parts, start_local, value)


# -- audience -----------------------------------------------------------------------------------

_EVERYONE_WORDS = frozenset({"all", "everyone", "everybody", "members", "все", "всем", "всех"})
_FOCAL_WORDS = frozenset(
    {"focal", "fp", "fps", "focal_points", "focal_point", "focalpoints", "focal-points",
     "фокальные", "фокальным", "фп"}
)  # fmt: skip
_MAX_MEMBER_NUMBER = 2**31 - 1  # member ids are 32-bit: a larger number names nobody


def parse_audience(
    text: str, resolve_member: Callable[[str], int | None] | None = None
) -> MeetingAudience:
    """Who a meeting is for: "all", "focal", country codes ("KZ,AF"), members ("@alice", "12",
    "#12"), or a mix ("focal,KZ": the focal points of Kazakhstan). `resolve_member` gets each
    member reference as typed and returns a member id, or None for nobody."""
    everyone = focal = False
    codes: set[str] = set()
    member_ids: set[int] = set()
    tokens = [token for token in re.split(r"[\s,;]+", clean_text(text)) if token]
    if not tokens:
        raise ServiceError("meeting_no_audience")
    for token in tokens[:100]:
        lowered = token.lower()
        if lowered in _EVERYONE_WORDS:
            everyone = True
        elif lowered in _FOCAL_WORDS:
            focal = True
        elif token.startswith("@") or token.lstrip("#").isdigit():
            number = token.lstrip("#")
            forged = number.isdigit() and (len(number) > 10 or int(number) > _MAX_MEMBER_NUMBER)
            member_id = None if forged or resolve_member is None else resolve_member(token)
            if member_id is None:
                raise ServiceError("member_not_found", reference=_shown(token))
            member_ids.add(member_id)
        elif len(token) == 2 and token.isalpha():
            code = countries.normalize(token)
            if code is None:
                raise ServiceError("bad_country", country=_shown(token))
            codes.add(code)
        else:
            raise ServiceError("meeting_audience_unknown", value=_shown(token))
    # Everybody includes the focal points.
    return meetings.MeetingAudience(
        everyone=everyone,
        focal_points=focal and not everyone,
        countries=frozenset(codes),
        member_ids=frozenset(member_ids),
    )


# -- text fields --------------------------------------------------------------------------------


def parse_title(text: str) -> str:
    title = clean_text(text)
    _check_title(title)
    return title


def _check_title(title: str) -> None:
    if not title.strip():
        raise ServiceError("meeting_title_empty")
    if len(title) > meetings.TITLE_LIMIT:
        raise ServiceError("meeting_title_too_long", limit=meetings.TITLE_LIMIT, length=len(title))


def parse_location(text: str) -> str:
    location = clean_text(text)
    if len(location) > meetings.LOCATION_LIMIT:
        raise ServiceError("meeting_location_too_long", limit=meetings.LOCATION_LIMIT)
    return location


def parse_agenda(text: str) -> str:
    agenda = clean_text(text, multiline=True)
    if len(agenda) > meetings.AGENDA_LIMIT:
        raise ServiceError("meeting_agenda_too_long", limit=meetings.AGENDA_LIMIT)
    return agenda


# -- the one-line /newmeeting -------------------------------------------------------------------

# "--remind 24h": also with the dashes phones make of "--" (— and –).
_OPTION = re.compile(r"(?:(?<=\s)|^)(?:--|—|–)([^\W\d_][\w-]*)")
_OPTION_NAMES = {
    "remind": "remind", "reminders": "remind", "reminder": "remind",
    "duration": "duration", "length": "duration", "for-minutes": "duration",
    "repeat": "repeat", "every": "repeat", "recur": "repeat", "recurrence": "repeat",
    "rrule": "repeat",
    "agenda": "agenda",
    "for": "for", "to": "for", "audience": "for",
    "place": "place", "link": "place", "location": "place", "where": "place",
}  # fmt: skip


def split_options(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first `--option`, and each option's value (up to the next one),
    under its canonical name. Unknown or repeated options are refused."""
    found = list(_OPTION.finditer(text))
    head = text[: found[0].start()] if found else text
    options: dict[str, str] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        typed = "--" + _shown(match.group(1))
        name = _OPTION_NAMES.get(match.group(1).lower())
        if name is None:
            raise ServiceError("meeting_option_unknown", option=typed)
        if name in options:
            raise ServiceError("meeting_option_repeated", option=typed)
        options[name] = _unquote(text[match.end() : end].strip())
    return head, options


# Quotes people put around an option's value (`--agenda "..."`), as typed on phones too.
_QUOTES = {'"': '"', "'": "'", "«": "»", "“": "”", "„": "“"}


def _unquote(value: str) -> str:
    """The value without one pair of quotes around the whole of it."""
    if len(value) >= 2 and _QUOTES.get(value[0]) == value[-1]:
        return value[1:-1].strip()
    return value


def parse_line(
    text: str,
    *,
    default_zone: str,
    now: datetime,
    resolve_member: Callable[[str], int | None] | None = None,
) -> MeetingDraft:
    """The one-line /newmeeting (the text after the command):
    `2026-12-03 10:00 Asia/Almaty | Monthly call | https://meet.example/abc --remind 24h,1h`
    with options --remind, --duration, --repeat (--every), --agenda, --for, --place (--link).
    The zone after the time is optional (else `default_zone`, the moderator's)."""
    head, options = split_options(text)
    parts = head.split("|")
    if len(parts) < 2:
        raise ServiceError("meeting_title_empty")
    starts_at, zone_name = parse_start(parts[0], default_zone, now)
    title = parse_title(parts[1])
    location = parse_location("|".join(parts[2:]))
    if "place" in options:
        if location:
            raise ServiceError("meeting_option_repeated", option="--place")
        location = parse_location(options["place"])
    for name in ("remind", "duration", "repeat", "for"):
        if name in options and not options[name].strip():
            raise ServiceError("meeting_option_empty", option=f"--{name}")
    draft = meetings.MeetingDraft(
        title=title,
        starts_at=starts_at,
        timezone=zone_name,
        location=location,
        agenda=parse_agenda(options.get("agenda", "")),
    )
    if "duration" in options:
        draft.duration_minutes = parse_duration(options["duration"])
    if "remind" in options:
        draft.reminder_offsets = parse_offsets(options["remind"])
    if "repeat" in options:
        start_local = starts_at.astimezone(timezones.zone(zone_name, "UTC"))
        draft.rrule = parse_recurrence(options["repeat"], start_local)
    if "for" in options:
        draft.audience = parse_audience(options["for"], resolve_member)
    return draft


# -- the whole draft ----------------------------------------------------------------------------


def validate_draft(draft: MeetingDraft, now: datetime, *, allow_past_start: bool = False) -> None:
    """Every field of a draft, before it is saved; raises the first problem. `allow_past_start`
    is for editing a series whose first meeting has already been."""
    _check_title(draft.title)
    if len(draft.location) > meetings.LOCATION_LIMIT:
        raise ServiceError("meeting_location_too_long", limit=meetings.LOCATION_LIMIT)
    if len(draft.agenda) > meetings.AGENDA_LIMIT:
        raise ServiceError("meeting_agenda_too_long", limit=meetings.AGENDA_LIMIT)
    if draft.starts_at.tzinfo is None:
        raise ValueError("MeetingDraft.starts_at must be timezone-aware")
    zone_name = timezones.parse(draft.timezone)  # timezone_unknown for a name nobody knows
    start_local = draft.starts_at.astimezone(timezones.zone(zone_name, "UTC"))
    shown = f"{start_local:%Y-%m-%d %H:%M} {zone_name}"
    if draft.starts_at - now > meetings.MAX_AHEAD:
        raise ServiceError("meeting_time_too_far", value=shown, days=meetings.MAX_AHEAD.days)
    if not allow_past_start and draft.starts_at <= now:
        raise ServiceError("meeting_time_past", value=shown)
    duration = draft.duration_minutes
    if type(duration) is not int or not MIN_DURATION <= duration <= meetings.MAX_DURATION:
        raise ServiceError(
            "meeting_duration_invalid",
            value=_shown(str(duration)),
            min=MIN_DURATION,
            max=format_length(meetings.MAX_DURATION),
        )
    if len(draft.reminder_offsets) > meetings.MAX_OFFSETS:
        raise ServiceError("meeting_too_many_offsets", limit=meetings.MAX_OFFSETS)
    for offset in draft.reminder_offsets:
        if type(offset) is not int or offset < 1:
            raise ServiceError("meeting_offset_unparseable", value=_shown(str(offset)))
        if offset > meetings.MAX_OFFSET:
            raise ServiceError("meeting_offset_too_long", value=format_length(offset))
    if draft.rrule is not None:
        value = _shown(draft.rrule)
        if len(draft.rrule) >= RULE_LIMIT or "\n" in draft.rrule:
            raise ServiceError("meeting_recurrence_unparseable", value=value)
        # The stored string itself is compiled (a floating UNTIL would fail as it would later).
        _check_rule(draft.rrule, _raw_parts(draft.rrule, start_local, value), start_local, value)
    if not draft.audience.chosen:
        raise ServiceError("meeting_no_audience")
