"""Time zones people type: an IANA name, a city of the region, or a UTC offset like +4:30."""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.services.errors import ServiceError

# Cities members name, in the spellings they use, to the zone that keeps their clocks.
CITIES: dict[str, str] = {
    "almaty": "Asia/Almaty",
    "алматы": "Asia/Almaty",
    "алма-ата": "Asia/Almaty",
    "astana": "Asia/Almaty",
    "астана": "Asia/Almaty",
    "nur-sultan": "Asia/Almaty",
    "bishkek": "Asia/Bishkek",
    "бишкек": "Asia/Bishkek",
    "dushanbe": "Asia/Dushanbe",
    "душанбе": "Asia/Dushanbe",
    "ashgabat": "Asia/Ashgabat",
    "ashkhabad": "Asia/Ashgabat",
    "ашхабад": "Asia/Ashgabat",
    "tashkent": "Asia/Tashkent",
    "toshkent": "Asia/Tashkent",
    "ташкент": "Asia/Tashkent",
    "samarkand": "Asia/Samarkand",
    "самарканд": "Asia/Samarkand",
    "kabul": "Asia/Kabul",
    "кабул": "Asia/Kabul",
    "کابل": "Asia/Kabul",
    "tehran": "Asia/Tehran",
    "тегеран": "Asia/Tehran",
    "تهران": "Asia/Tehran",
    "islamabad": "Asia/Karachi",
    "исламабад": "Asia/Karachi",
    "اسلام آباد": "Asia/Karachi",
    "karachi": "Asia/Karachi",
    "lahore": "Asia/Karachi",
    "aktobe": "Asia/Aqtobe",
    "aqtobe": "Asia/Aqtobe",
    "актобе": "Asia/Aqtobe",
    "atyrau": "Asia/Atyrau",
    "атырау": "Asia/Atyrau",
    "vienna": "Europe/Vienna",
    "wien": "Europe/Vienna",
    "вена": "Europe/Vienna",
    "london": "Europe/London",
    "лондон": "Europe/London",
    "moscow": "Europe/Moscow",
    "москва": "Europe/Moscow",
    "istanbul": "Europe/Istanbul",
    "стамбул": "Europe/Istanbul",
    "brussels": "Europe/Brussels",
    "брюссель": "Europe/Brussels",
    "new york": "America/New_York",
    "нью-йорк": "America/New_York",
    "utc": "UTC",
}
# Shown as buttons: the region's clocks first.
SUGGESTED = (
    "Asia/Almaty",
    "Asia/Bishkek",
    "Asia/Dushanbe",
    "Asia/Ashgabat",
    "Asia/Tashkent",
    "Asia/Kabul",
    "Asia/Tehran",
    "Asia/Karachi",
    "Europe/Vienna",
    "Europe/London",
)
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
MAX_INPUT = 64


@cache
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse(text: str) -> str:
    """A canonical zone name to store: 'Asia/Kabul', or 'UTC+04:30' for a bare offset."""
    text = " ".join(text.split())
    if not text or len(text) > MAX_INPUT:
        raise ServiceError("timezone_unknown", value=text[:MAX_INPUT])
    lowered = text.lower()
    if lowered in CITIES:
        return CITIES[lowered]
    if lowered in _zones_by_lower():
        return _zones_by_lower()[lowered]
    match = _OFFSET_RE.match(text)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        # Real offsets run from UTC-12:00 to UTC+14:00, in quarter hours.
        limit = 14 if sign == "+" else 12
        if minutes not in (0, 15, 30, 45) or hours > limit or (hours == limit and minutes):
            raise ServiceError("timezone_bad_offset", value=text)
        return f"UTC{sign}{hours:02d}:{minutes:02d}" if hours or minutes else "UTC"
    raise ServiceError("timezone_unknown", value=text)


def zone(name: str | None, default: str) -> tzinfo:
    """The tzinfo for a stored name, falling back to the default for anything unknown."""
    for candidate in (name, default):
        if not candidate:
            continue
        match = re.fullmatch(r"UTC([+-])(\d{2}):(\d{2})", candidate)
        if match:
            delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
            return timezone(delta if match.group(1) == "+" else -delta, candidate)
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")
