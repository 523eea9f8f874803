"""What the meetings feature says when it refuses something."""

from bot.i18n import _
from handlers.errors import add_messages

# member_not_found, bad_country, timezone_unknown and timezone_bad_offset, which meeting input
# raises too, are already in handlers/errors.py.
MEETING_ERRORS: dict[str, str] = {
    # The start
    "meeting_time_unparseable": _(
        "I could not read %(value)s as a date and time. Write it like 2026-12-03 10:00, "
        "optionally followed by a time zone (Asia/Almaty, Kabul, +4:30)."
    ),
    "meeting_time_nonexistent": _(
        "%(value)s does not exist in %(zone)s: the clocks jump forward then. "
        "Please choose another time."
    ),
    "meeting_time_past": _("%(value)s has already passed. Please give a time in the future."),
    "meeting_time_too_far": _(
        "%(value)s is too far ahead: a meeting can be scheduled at most %(days)s days ahead."
    ),
    # Reminders and duration
    "meeting_offset_unparseable": _(
        "I could not read %(value)s as a reminder time. Write how long before the meeting, "
        "like 24h, 1h, 30m or 1d, separated by commas; or none for no reminders."
    ),
    "meeting_offset_too_long": _(
        "%(value)s is too early for a reminder: at most one year before the meeting."
    ),
    "meeting_too_many_offsets": _("A meeting can have at most %(limit)s reminders."),
    "meeting_duration_invalid": _(
        "I could not use %(value)s as the length of a meeting. Write it like 90m, 1h30m or 2h: "
        "from %(min)s minutes to %(max)s."
    ),
    # Recurrence
    "meeting_recurrence_unparseable": _(
        "I could not read %(value)s as a repetition. Write weekly, every 2 weeks, monthly, "
        "monthly on the 2nd tuesday, daily or weekdays (optionally with until 2027-06-30 or "
        "x10), an RRULE like FREQ=WEEKLY;BYDAY=TH, or none."
    ),
    "meeting_recurrence_too_often": _(
        "A meeting can repeat at most once a day, at the time it starts."
    ),
    "meeting_recurrence_never": _(
        "The repetition %(value)s never gives a meeting on or after the start. Please check it."
    ),
    "meeting_recurrence_mismatch": _(
        "The first meeting, %(start)s, is not one of the days %(value)s gives (the first "
        "would be %(first)s). Start on one of those days, or choose another repetition."
    ),
    # Text and options
    "meeting_title_empty": _(
        "The meeting needs a title, after the date and a |, like: "
        "/newmeeting 2026-12-03 10:00 | Monthly call | https://meet.example/abc"
    ),
    "meeting_title_too_long": _(
        "The title is too long (%(length)s characters): at most %(limit)s, please."
    ),
    "meeting_location_too_long": _(
        "The link or place is too long: at most %(limit)s characters, please."
    ),
    "meeting_agenda_too_long": _("The agenda is too long: at most %(limit)s characters, please."),
    "meeting_option_unknown": _(
        "I do not know the option %(option)s. The options are --remind, --duration, --repeat, "
        "--agenda, --for and --place."
    ),
    "meeting_option_repeated": _("%(option)s is given twice. Please give it once."),
    "meeting_option_empty": _("%(option)s needs a value after it."),
    "meeting_audience_unknown": _(
        "I do not know who %(value)s is. Write all, focal, country codes (KZ, AF), "
        "@usernames or member numbers, separated by commas."
    ),
    "meeting_no_audience": _(
        "Who is the meeting for? Choose everybody, focal points, some countries or members."
    ),
    # Raised by the meetings service
    "meeting_not_found": _("There is no meeting with that number. /meetings lists them."),
    "meeting_cancelled": _("That meeting has been cancelled."),
    "meeting_occurrence_not_found": _(
        "That meeting does not take place at that time (any more). /meetings lists what is coming."
    ),
    "meeting_audience_empty": _(
        "Nobody is in that audience yet, so nobody would be invited. Please choose another."
    ),
    "meeting_started": _("That meeting has already started, so it cannot be changed now."),
    "rsvp_not_invited": _("This meeting is not for you, so you cannot answer for it."),
    "meeting_nothing_changed": _("Nothing changed: the meeting already looks like that."),
}

add_messages(MEETING_ERRORS)
