"""Meetings on Telegram: /meetings (the coming ones, paged), /meeting <id> (the details, RSVP,
"Add to calendar", and the moderators' Edit, Move, Cancel), and `notice_composer`, which words
every message the bot sends about a meeting on its own (invitations, changes, cancellations,
reminders) for each reader: their language, their zone (named), RSVP buttons in private chats.

The /newmeeting dialogue and the typed steps of Edit and Move are in `meetings_dialogue`.

Callback data (at most 64 bytes, every part checked again on the press):
  mtg:list:<page>                       a page of /meetings
  mtg:view:<id>                         the details, as a new message
  mtg:v:<id>[:<occurrence>]             the details of an occurrence, in place
  mtg:r:<id>:<occurrence>:<y|n|m>       RSVP from a notice (its buttons show the answer)
  mtg:rv:<id>:<occurrence>:<y|n|m>      RSVP from the details (redrawn with the counts)
  mtg:ics:<id>                          the .ics file
  mtg:edit:<id>                         the moderators' choice of what to edit
  mtg:xo:<id>:<occurrence>[:y]          cancel one occurrence (asks, then does)
  mtg:xs:<id>[:y]                       cancel the meeting or the whole series (asks, then does)
  mtg:keep:<id>                         "No" to either
  mtg:e:<id>:<field>, mtg:mv:<id>:<occurrence>, mtg:d:...   the dialogues (meetings_dialogue)
  mtg:...                               anything else: "This button is no longer valid."
An occurrence is named by its start (`meetings.occurrence_key`, 20261203T0400Z).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import datetime, tzinfo
from typing import Any

from babel.dates import format_date, get_day_names
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.i18n import _, gettext, ngettext
from bot.models import Meeting, MeetingStatus, Role, RsvpAnswer
from bot.render import render
from bot.services import calendar, meetings, timezones
from bot.services.errors import ServiceError
from bot.services.meetings import MeetingAudience, Notice, NoticeKind, Occurrence
from handlers import meeting_messages  # noqa: F401  (registers the meeting error messages)
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    edit,
    reply,
    wake_delivery,
    wake_scheduler,
)
from handlers.errors import explain

log = logging.getLogger(__name__)

ANSWERS = {"y": RsvpAnswer.YES, "n": RsvpAnswer.NO, "m": RsvpAnswer.MAYBE}
LETTER = {answer: letter for letter, answer in ANSWERS.items()}
ANSWER_ICONS = {RsvpAnswer.YES: "✅", RsvpAnswer.NO: "❌", RsvpAnswer.MAYBE: "🤔"}
ANSWER_LABELS = {RsvpAnswer.YES: _("Yes"), RsvpAnswer.NO: _("No"), RsvpAnswer.MAYBE: _("Maybe")}
# Kinds of notice that are about an occurrence still to come: they carry the RSVP buttons.
WITH_BUTTONS = frozenset(
    {NoticeKind.INVITE, NoticeKind.CHANGED, NoticeKind.OCCURRENCE_MOVED, NoticeKind.REMINDER}
)
ID = r"\d{1,10}"
KEY = r"\d{8}T\d{4}Z"
LATER = 3  # further dates of a series shown in the details
CACHE_LIMIT = 4096


# -- words ------------------------------------------------------------------------------------

_RULE_DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_ORDINAL = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


def _ordinal(language: str, n: int) -> str:
    words = {
        1: gettext(language, "first"),
        2: gettext(language, "second"),
        3: gettext(language, "third"),
        4: gettext(language, "fourth"),
        5: gettext(language, "fifth"),
        -1: gettext(language, "last"),
        -2: gettext(language, "second to last"),
    }
    return words.get(n, str(n))


def recurrence_words(meeting: Meeting, language: str) -> str:
    """The meeting's RRULE in words ("every 2 weeks on Thursday"), its days as the meeting's own
    zone has them; "" for a single meeting. A rule it cannot word is shown as written."""
    rule = meeting.rrule
    if not rule:
        return ""
    try:
        parts = dict(part.split("=", 1) for part in rule.upper().split(";") if part)
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError:
        return rule
    days = get_day_names("wide", locale=language)
    local = meeting.starts_at.astimezone(meetings.zone_of(meeting))
    freq = parts.get("FREQ")
    by_day = [d for d in parts.get("BYDAY", "").split(",") if d]
    text: str
    if freq == "DAILY":
        text = (
            gettext(language, "every day")
            if interval == 1
            else ngettext(language, "every %(num)d day", "every %(num)d days", interval)
        )
    elif freq == "WEEKLY":
        names = []
        for code in by_day or [list(_RULE_DAYS)[local.weekday()]]:
            match = _ORDINAL.match(code)
            if match is None:
                return rule
            names.append(days[_RULE_DAYS[match.group(2)]])
        day_list = ", ".join(names)
        if interval == 1:
            text = gettext(language, "every week on %(days)s", days=day_list)
        else:
            text = ngettext(
                language,
                "every %(num)d week on %(days)s",
                "every %(num)d weeks on %(days)s",
                interval,
                days=day_list,
            )
    elif freq == "MONTHLY":
        match = _ORDINAL.match(by_day[0]) if len(by_day) == 1 else None
        if match is not None and match.group(1):
            on = gettext(
                language,
                "on the %(nth)s %(day)s",
                nth=_ordinal(language, int(match.group(1))),
                day=days[_RULE_DAYS[match.group(2)]],
            )
        elif not by_day:
            day = parts.get("BYMONTHDAY", str(local.day))
            on = gettext(language, "on day %(day)s", day=day)
        else:
            return rule
        if interval == 1:
            text = gettext(language, "every month %(on)s", on=on)
        else:
            text = ngettext(
                language,
                "every %(num)d month %(on)s",
                "every %(num)d months %(on)s",
                interval,
                on=on,
            )
    elif freq == "YEARLY":
        text = (
            gettext(language, "every year")
            if interval == 1
            else ngettext(language, "every %(num)d year", "every %(num)d years", interval)
        )
    else:
        return rule
    if "COUNT" in parts and parts["COUNT"].isdigit():
        text += ", " + ngettext(language, "%(num)d time", "%(num)d times", int(parts["COUNT"]))
    elif "UNTIL" in parts:
        until = parts["UNTIL"][:8]
        if until.isdigit():
            moment = datetime.strptime(until, "%Y%m%d").date()
            text += ", " + gettext(
                language, "until %(date)s", date=format_date(moment, "d MMM y", locale=language)
            )
    return text


def _zone_label(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


# -- buttons ----------------------------------------------------------------------------------


def data_button(label: str, data: str) -> InlineKeyboardButton:
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(label, callback_data=data)


def rsvp_row(
    language: str,
    meeting_id: int,
    occurrence_key: str,
    *,
    chosen: RsvpAnswer | None = None,
    action: str = "r",
) -> list[InlineKeyboardButton]:
    row = []
    for answer in (RsvpAnswer.YES, RsvpAnswer.NO, RsvpAnswer.MAYBE):
        label = ANSWER_ICONS[answer] + " " + gettext(language, ANSWER_LABELS[answer])
        if answer == chosen:
            label = "• " + label + " •"
        row.append(
            data_button(label, f"mtg:{action}:{meeting_id}:{occurrence_key}:{LETTER[answer]}")
        )
    return row


def calendar_button(language: str, meeting_id: int) -> InlineKeyboardButton:
    return data_button("📅 " + gettext(language, "Add to calendar"), f"mtg:ics:{meeting_id}")


def notice_markup(
    language: str, meeting_id: int, occurrence_key: str, chosen: RsvpAnswer | None = None
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            rsvp_row(language, meeting_id, occurrence_key, chosen=chosen),
            [calendar_button(language, meeting_id)],
        ]
    )


# -- what the bot sends on its own ------------------------------------------------------------


def _meeting_key(meeting: Meeting) -> tuple[Any, ...]:
    """Everything of a meeting a notice shows: two notices of equal keys read the same."""
    return (
        meeting.id,
        meeting.title,
        meeting.location,
        meeting.agenda,
        meeting.duration_minutes,
        meeting.rrule,
        meeting.timezone,
        meeting.starts_at,
        meeting.status,
    )


def _actions(language: str, notice: Notice) -> list[dict[str, str]]:
    return [
        {"text": item.text, "due": format_date(item.due_on, "d MMM y", locale=language)}
        for item in notice.actions
    ]


def notice_composer(app: AppContext) -> meetings.Compose:
    """Notice -> outbox payload, for each reader: the group chat in the default language and
    the meeting's own zone, a member in theirs. A text is rendered once per (notice, language,
    zone) however many readers share them; only a reader with open action items gets one of
    their own."""
    settings = app.settings
    texts: dict[tuple[Any, ...], str] = {}
    markups: dict[tuple[Any, ...], dict[str, Any]] = {}
    words: dict[tuple[Any, ...], str] = {}

    def compose(notice: Notice) -> dict[str, Any]:
        meeting, recipient, occ = notice.meeting, notice.recipient, notice.occurrence
        group = recipient.is_group
        if group:
            language, zone = settings.default_language, meetings.zone_of(meeting)
        else:
            language = (
                recipient.language
                if recipient.language in SUPPORTED_LANGUAGES
                else settings.default_language
            )
            zone = timezones.zone(recipient.timezone, settings.default_timezone)
        minutes = notice.offset_minutes or 0
        if notice.late and occ is not None:
            # Late: say how long is really left, not the offset it was meant for.
            left = (occ.start - app.clock.now()).total_seconds()
            minutes = max(1, round(left / 60))
        changes = tuple(getattr(notice, "changes", ()) or ())
        key = (
            notice.kind,
            _meeting_key(meeting),
            occ,
            notice.previous_start,
            minutes,
            notice.late,
            language,
            _zone_label(zone),
            group,
            changes,
        )
        text = texts.get(key) if not notice.actions else None
        if text is None:
            repeat_key = (_meeting_key(meeting), language)
            if repeat_key not in words:
                words[repeat_key] = recurrence_words(meeting, language)
            text = render(
                "meetings/notice.html",
                language,
                kind=str(notice.kind),
                m=meeting,
                occ=occ,
                zone=zone,
                repeat=words[repeat_key],
                previous=notice.previous_start,
                minutes=minutes,
                late=notice.late,
                changes=changes,
                actions=_actions(language, notice),
                group=group,
            )
            if not notice.actions:
                if len(texts) >= CACHE_LIMIT:
                    texts.clear()
                    words.clear()
                texts[key] = text
        payload: dict[str, Any] = {"text": text}
        if (
            not group
            and notice.kind in WITH_BUTTONS
            and occ is not None
            and not occ.cancelled
            and meeting.status == MeetingStatus.SCHEDULED
        ):
            markup_key = (meeting.id, occ.key, language)
            if markup_key not in markups:
                if len(markups) >= CACHE_LIMIT:
                    markups.clear()
                markups[markup_key] = notice_markup(language, meeting.id or 0, occ.key).to_dict()
            payload["reply_markup"] = markups[markup_key]
        return payload

    return compose


def wake(context: CallbackContext) -> None:
    """Meetings changed and were committed: delivery and the scheduler should look now."""
    wake_delivery(context)
    wake_scheduler(context)


# -- reading ------------------------------------------------------------------------------------


async def _visible(caller: Caller, meeting_id: int) -> Meeting:
    """The meeting, if it exists and the caller may see it (else ServiceError)."""
    meeting = await meetings.find(caller.session, meeting_id)
    if meeting is None:
        raise ServiceError("meeting_not_found")
    if not meetings.may_see(meeting, caller.actor):
        raise ServiceError("rsvp_not_invited")
    return meeting


async def view(
    caller: Caller, meeting: Meeting, occ: Occurrence | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The details of a meeting (its next occurrence, or `occ`) for the caller, with buttons."""
    session, now, language = caller.session, caller.now, caller.locale
    ident = meeting.id or 0
    changes = await meetings.exceptions(session, ident)
    scheduled = meeting.status == MeetingStatus.SCHEDULED
    first: Occurrence | None = None
    if scheduled:
        coming = meetings.occurrences(meeting, changes, after=now)
        first = coming[0] if coming else None
    if occ is None:
        occ = first
    later: list[Occurrence] = []
    if occ is not None and meeting.rrule and scheduled:
        later = [
            o
            for o in meetings.occurrences(meeting, changes, after=occ.start, limit=LATER + 1)
            if o.start > occ.start
        ][:LATER]
    moderator = caller.may(Role.MODERATOR)
    invited = meetings.is_invited(meeting, caller.actor)
    counts: Counter[RsvpAnswer] = Counter()
    names = None
    mine = None
    if occ is not None:
        counts = await meetings.rsvp_counts(session, ident, occ.start)
        if moderator:
            names = {
                str(answer): people
                for answer, people in (await meetings.rsvp_names(session, ident, occ.start)).items()
            }
        mine = await meetings.rsvp_of(session, ident, occ.start, caller.actor.id or 0)
    active = scheduled and occ is not None and not occ.cancelled and occ.end > now
    text = caller.render(
        "meetings/detail.html",
        m=meeting,
        occ=occ,
        zone=caller.zone,
        repeat=recurrence_words(meeting, language),
        aud=MeetingAudience.of(meeting),
        named=len(meeting.member_ids or ()),
        later=[o.start for o in later],
        counts={str(k): v for k, v in counts.items()},
        names=names,
        mine=str(mine) if mine else None,
        invited=invited and active,
    )
    rows: list[list[InlineKeyboardButton]] = []
    if active and invited and occ is not None:
        rows.append(rsvp_row(language, ident, occ.key, chosen=mine, action="rv"))
    if scheduled:
        rows.append([calendar_button(language, ident)])
    navigation = []
    if occ is not None and first is not None and occ.start != first.start:
        navigation.append(data_button("« " + caller.t("Next meeting"), f"mtg:v:{ident}"))
    if later:
        navigation.append(data_button(caller.t("Later") + " ›", f"mtg:v:{ident}:{later[0].key}"))
    if navigation:
        rows.append(navigation)
    if moderator and scheduled:
        rows.append([data_button("✏️ " + caller.t("Edit"), f"mtg:edit:{ident}")])
        if active and occ is not None and occ.start > now:
            one = [data_button("🕑 " + caller.t("Move this one"), f"mtg:mv:{ident}:{occ.key}")]
            if meeting.rrule:
                one.append(
                    data_button("✖️ " + caller.t("Cancel this one"), f"mtg:xo:{ident}:{occ.key}")
                )
            rows.append(one)
        label = caller.t("Cancel the series") if meeting.rrule else caller.t("Cancel the meeting")
        rows.append([data_button("🗑 " + label, f"mtg:xs:{ident}")])
    return text, InlineKeyboardMarkup(rows) if rows else None


def _meeting_id(text: str) -> int | None:
    text = text.strip().lstrip("#")
    return int(text) if text.isdigit() and len(text) <= 10 else None


@command(role=Role.MEMBER)
async def meeting_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    ident = _meeting_id(args_text(update))
    if ident is None:
        await reply(update, caller.render("meetings/usage_meeting.html"))
        return
    try:
        meeting = await _visible(caller, ident)
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    text, markup = await view(caller, meeting)
    await reply(update, text, markup)


async def _list(caller: Caller, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    size = meetings.PAGE_SIZE
    items, total = await meetings.upcoming(
        caller.session, caller.actor, now=caller.now, page=page, page_size=size
    )
    pages = max(1, -(-total // size))
    if page >= pages and total:
        page = pages - 1
        items, total = await meetings.upcoming(
            caller.session, caller.actor, now=caller.now, page=page, page_size=size
        )
    text = caller.render(
        "meetings/list.html",
        items=[
            {"m": m, "occ": occ, "repeat": recurrence_words(m, caller.locale)} for m, occ in items
        ],
        zone=caller.zone,
        page=page + 1,
        pages=pages,
        total=total,
    )
    rows: list[list[InlineKeyboardButton]] = []
    numbers = [data_button(f"#{m.id}", f"mtg:view:{m.id}") for m, _ in items]
    if numbers:
        rows.append(numbers)
    paging = []
    if page > 0:
        paging.append(data_button("«", f"mtg:list:{page - 1}"))
    if page + 1 < pages:
        paging.append(data_button("»", f"mtg:list:{page + 1}"))
    if paging:
        rows.append(paging)
    return text, InlineKeyboardMarkup(rows) if rows else None


@command(role=Role.MEMBER)
async def meetings_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text, markup = await _list(caller, 0)
    await reply(update, text, markup)


def _parts(update: Update) -> list[str]:
    query = update.callback_query
    assert query is not None and query.data is not None
    return query.data.split(":")


async def _alert(update: Update, caller: Caller, error: ServiceError) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)


async def _invalid(update: Update, caller: Caller) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


@button(role=Role.MEMBER)
async def list_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    page = int(_parts(update)[2])
    if page > 10_000:
        await _invalid(update, caller)
        return
    text, markup = await _list(caller, page)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await edit(update, text, markup)


async def _load(update: Update, caller: Caller, position: int = 2) -> Meeting | None:
    """The meeting a button names, or an alert (none, or not the caller's) and None."""
    try:
        return await _visible(caller, int(_parts(update)[position]))
    except ServiceError as error:
        await _alert(update, caller, error)
        return None


async def _occurrence(
    update: Update, caller: Caller, meeting: Meeting, key: str
) -> Occurrence | None:
    try:
        return await meetings.occurrence(caller.session, meeting, key)
    except ServiceError as error:
        await _alert(update, caller, error)
        return None


@button(role=Role.MEMBER)
async def show(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:view:<id>: the details as a new message (from the list)."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    text, markup = await view(caller, meeting)
    await reply(update, text, markup)


@button(role=Role.MEMBER)
async def show_in_place(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:v:<id>[:<occurrence>]: another occurrence of the series, in the same message."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    parts = _parts(update)
    occ = None
    if len(parts) > 3:
        occ = await _occurrence(update, caller, meeting, parts[3])
        if occ is None:
            return
    assert update.callback_query is not None
    await update.callback_query.answer()
    text, markup = await view(caller, meeting, occ)
    await edit(update, text, markup)


@button(role=Role.MEMBER)
async def rsvp(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:r|rv:<id>:<occurrence>:<answer>."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    _, action, _, key, letter = _parts(update)
    occ = await _occurrence(update, caller, meeting, key)
    if occ is None:
        return
    answer = ANSWERS[letter]
    try:
        await meetings.set_rsvp(caller.session, meeting, occ, caller.actor, answer, now=caller.now)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    await caller.commit()
    query = update.callback_query
    assert query is not None
    await query.answer(caller.t("Your answer: %(answer)s", answer=caller.t(ANSWER_LABELS[answer])))
    if action == "rv":
        text, markup = await view(caller, meeting, occ)
        await edit(update, text, markup)
        return
    try:
        await query.edit_message_reply_markup(
            notice_markup(caller.locale, meeting.id or 0, occ.key, chosen=answer)
        )
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


@button(role=Role.MEMBER)
async def ics(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:ics:<id>: the meeting as an .ics file calendar programs import."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    if meeting.status != MeetingStatus.SCHEDULED:
        await _alert(update, caller, ServiceError("meeting_cancelled"))
        return
    changes = await meetings.exceptions(caller.session, meeting.id or 0)
    data = calendar.meeting_ics(meeting, changes, now=caller.now)
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    await query.answer()
    await context.bot.send_document(
        chat.id if chat is not None else caller.user.id,
        document=data,
        filename=f"meeting-{meeting.id}.ics",
        caption=caller.render("meetings/ics_caption.html", m=meeting),
        parse_mode=ParseMode.HTML,
    )


# -- the moderators' actions --------------------------------------------------------------------


@button(role=Role.MODERATOR)
async def edit_menu(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:edit:<id>: what to change (each a step of the dialogue in meetings_dialogue)."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    if meeting.status != MeetingStatus.SCHEDULED:
        await _alert(update, caller, ServiceError("meeting_cancelled"))
        return
    ident = meeting.id or 0
    fields = [
        ("title", caller.t("Title")),
        ("time", caller.t("Time")),
        ("place", caller.t("Link or place")),
        ("agenda", caller.t("Agenda")),
        ("dur", caller.t("Duration")),
        ("rem", caller.t("Reminders")),
        ("rep", caller.t("Repetition")),
    ]
    rows = [
        [data_button(label, f"mtg:e:{ident}:{code}") for code, label in fields[i : i + 2]]
        for i in range(0, len(fields), 2)
    ]
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(
        update,
        caller.render("meetings/edit_menu.html", m=meeting),
        InlineKeyboardMarkup(rows),
    )


@button(role=Role.MODERATOR)
async def cancel_occurrence(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:xo:<id>:<occurrence>[:y]."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    parts = _parts(update)
    occ = await _occurrence(update, caller, meeting, parts[3])
    if occ is None:
        return
    await _ask_then_cancel(
        update, context, caller, meeting, occ, f"mtg:xo:{meeting.id}:{occ.key}", len(parts) >= 5
    )


@button(role=Role.MODERATOR)
async def cancel_series(update: Update, context: CallbackContext, caller: Caller) -> None:
    """mtg:xs:<id>[:y]."""
    meeting = await _load(update, caller)
    if meeting is None:
        return
    confirmed = len(_parts(update)) >= 4
    await _ask_then_cancel(
        update, context, caller, meeting, None, f"mtg:xs:{meeting.id}", confirmed
    )


async def _ask_then_cancel(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    meeting: Meeting,
    occ: Occurrence | None,
    data: str,
    confirmed: bool,
) -> None:
    """Cancel one occurrence (`occ`) or the whole meeting (None): first ask, then do it when the
    moderator confirms (the same button data with ":y")."""
    query = update.callback_query
    assert query is not None
    if meeting.status != MeetingStatus.SCHEDULED or (occ is not None and occ.cancelled):
        await _alert(update, caller, ServiceError("meeting_cancelled"))
        return
    if not confirmed:
        await query.answer()
        await reply(
            update,
            caller.render("meetings/confirm_cancel.html", m=meeting, occ=occ, zone=caller.zone),
            InlineKeyboardMarkup(
                [
                    [
                        data_button(caller.t("Yes, cancel it"), f"{data}:y"),
                        data_button(caller.t("No"), f"mtg:keep:{meeting.id}"),
                    ]
                ]
            ),
        )
        return
    app = caller.app
    common = {
        "now": caller.now,
        "group_chat_id": app.settings.group_chat_id,
        "compose": notice_composer(app),
    }
    try:
        if occ is None:
            await meetings.cancel(caller.session, caller.actor, meeting, **common)
        else:
            await meetings.cancel_occurrence(caller.session, caller.actor, meeting, occ, **common)
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    await caller.commit()
    wake(context)
    await query.answer()
    await edit(
        update,
        caller.render(
            "meetings/cancelled.html", m=meeting, occ=occ, zone=caller.zone, one=occ is not None
        ),
    )


@button(role=Role.MODERATOR)
async def keep(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit(update, caller.render("meetings/kept.html", meeting_id=int(_parts(update)[2])))


@button(role=Role.MEMBER)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Anything under mtg: that no handler took (forged, or from a dialogue that is over)."""
    await _invalid(update, caller)


# -- wiring -----------------------------------------------------------------------------------


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    from handlers import meetings_dialogue

    only_new = filters.UpdateType.MESSAGE
    app.add_handler(meetings_dialogue.conversation(), group)
    app.add_handler(CommandHandler("meetings", meetings_command, filters=only_new), group)
    app.add_handler(CommandHandler("meeting", meeting_command, filters=only_new), group)
    for handler, pattern in (
        (list_page, r"^mtg:list:\d{1,5}$"),
        (show, rf"^mtg:view:{ID}$"),
        (show_in_place, rf"^mtg:v:{ID}(:{KEY})?$"),
        (rsvp, rf"^mtg:rv?:{ID}:{KEY}:[ynm]$"),
        (ics, rf"^mtg:ics:{ID}$"),
        (edit_menu, rf"^mtg:edit:{ID}$"),
        (cancel_occurrence, rf"^mtg:xo:{ID}:{KEY}(:y)?$"),
        (cancel_series, rf"^mtg:xs:{ID}(:y)?$"),
        (keep, rf"^mtg:keep:{ID}$"),
        (stale, r"^mtg:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
