"""The moderators' meeting dialogues: /newmeeting (one line, or step by step), and the typed
steps of Edit and Move that start from the buttons under /meeting.

/newmeeting with text after it reads the one-line form (`meeting_input.parse_line`); without,
it asks: title -> date and time (the moderator's zone, or one typed with it) -> link or place
(Skip) -> repetition -> reminders -> audience. Either way a preview follows (the invitation as
the moderator will get it, and who gets it), then Confirm. A bad answer gets its explanation
and the same question again; nothing is saved before Confirm.

Edit: a field's button -> the new value (typed, or a button) -> "old -> new", Confirm.
Move (one occurrence): the new date and time -> "from -> to", Confirm.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup
from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.models import Meeting, MeetingStatus, Role
from bot.services import meeting_input, meetings, members, timezones
from bot.services.errors import ServiceError
from bot.services.meetings import MeetingAudience, MeetingDraft, Notice, NoticeKind, Recipient
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    dialogue_endings,
    dialogue_steps,
    drop_buttons,
    edit,
    reply,
)
from handlers.errors import explain
from handlers.meetings import (
    ID,
    KEY,
    data_button,
    notice_composer,
    recurrence_words,
    wake,
)

(
    TITLE,
    WHEN,
    PLACE,
    REPEAT,
    REMIND,
    AUDIENCE,
    CONFIRM,
    EDIT_VALUE,
    EDIT_CONFIRM,
    MOVE_WHEN,
    MOVE_CONFIRM,
) = range(11)
DRAFT = "meeting_dialogue"
FIELDS = ("title", "time", "place", "agenda", "dur", "rem", "rep")
REPEATS = ("once", "w", "2w", "m")
# Names the one-line form may mention: @username or #12 (the number /members shows).
MENTION = re.compile(r"(?<![\w@#])(@[A-Za-z0-9_]{1,64}|#\d{1,10})\b")
MAX_MENTIONS = 50


@dataclass
class Dialogue:
    """What the moderator has said so far (kept in user_data while the dialogue lasts)."""

    mode: str  # "new", "edit" or "move"
    zone: str  # the moderator's zone, for times typed without one
    draft: MeetingDraft | None = None
    audience: MeetingAudience = field(default_factory=MeetingAudience)
    # Edit and move: which meeting, which field or occurrence, and the new value.
    meeting_id: int = 0
    field: str = ""
    value: Any = None
    occurrence_key: str = ""
    new_start: datetime | None = None


def _dialogue(context: CallbackContext) -> Dialogue | None:
    found = (context.user_data or {}).get(DRAFT)
    return found if isinstance(found, Dialogue) else None


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _zone_name(caller: Caller) -> str:
    return str(getattr(caller.zone, "key", None) or caller.zone)


async def _expired(update: Update, caller: Caller) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, caller.render("meetings/expired.html"))
    return ConversationHandler.END


def _with_error(caller: Caller, error: ServiceError | None) -> str:
    """The explanation of a refused answer, to go before the question asked again."""
    return "" if error is None else explain(caller.locale, error) + "\n\n"


def _markup(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[data_button(label, data) for label, data in row] for row in rows])


_message_step, _button_step = dialogue_steps(Role.MODERATOR, _dialogue, _expired)
abandon, cancel_dialogue, use_buttons, need_text = dialogue_endings(
    Role.MODERATOR, _drop, "meetings"
)


# -- checking as we go --------------------------------------------------------------------------


def _placeholder(caller: Caller, dialogue: Dialogue) -> MeetingDraft:
    """A valid draft to check one answer against: tomorrow, in the moderator's zone."""
    return MeetingDraft(
        title="-",
        starts_at=caller.now + timedelta(days=1),
        timezone=dialogue.zone,
    )


def _check(caller: Caller, draft: MeetingDraft, *, allow_past_start: bool = False) -> None:
    meeting_input.validate_draft(draft, caller.now, allow_past_start=allow_past_start)


def _local(start: datetime, zone_name: str) -> datetime:
    """A start as its wall-clock time in a meeting's zone (aware), as recurrences want it."""
    return start.astimezone(timezones.zone(zone_name, "UTC"))


def _when(caller: Caller, text: str, zone: str) -> tuple[datetime, str]:
    """A typed date and time, optionally with a zone: the moment, and the zone it was meant
    in (the typed one, else `zone`)."""
    return meeting_input.parse_start(text, zone, caller.now)


# What the repetition buttons say, in the words parse_recurrence reads.
REPEAT_WORDS = {"once": "once", "w": "weekly", "2w": "every 2 weeks", "m": "monthly"}


def _rule_for(choice: str, start_local: datetime) -> str | None:
    """A repetition button as an RRULE ("monthly": on the start's n-th weekday)."""
    return meeting_input.parse_recurrence(REPEAT_WORDS[choice], start_local)


# -- the questions ------------------------------------------------------------------------------


async def _ask_title(
    update: Update, caller: Caller, *, first: bool = False, error: ServiceError | None = None
) -> int:
    if error is not None and error.code == "meeting_title_empty":
        # Its general message is about the one-line form.
        text = caller.render("meetings/title_empty.html") + "\n\n"
    else:
        text = _with_error(caller, error)
    await reply(update, text + caller.render("meetings/ask_title.html", first=first))
    return TITLE


def _example(caller: Caller) -> str:
    tomorrow = caller.now.astimezone(caller.zone).date() + timedelta(days=1)
    return f"{tomorrow.isoformat()} 10:00"


async def _ask_when(update: Update, caller: Caller, *, error: ServiceError | None = None) -> int:
    await reply(
        update,
        _with_error(caller, error)
        + caller.render(
            "meetings/ask_when.html", zone=_zone_name(caller), example=_example(caller)
        ),
    )
    return WHEN


async def _ask_place(update: Update, caller: Caller, *, error: ServiceError | None = None) -> int:
    await reply(
        update,
        _with_error(caller, error) + caller.render("meetings/ask_place.html"),
        _markup([(caller.t("Skip"), "mtg:d:skip")]),
    )
    return PLACE


def _repeat_buttons(caller: Caller) -> list[tuple[str, str]]:
    return [
        (caller.t("Once"), "mtg:d:rep:once"),
        (caller.t("Weekly"), "mtg:d:rep:w"),
        (caller.t("Every 2 weeks"), "mtg:d:rep:2w"),
        (caller.t("Monthly"), "mtg:d:rep:m"),
    ]


async def _ask_repeat(update: Update, caller: Caller, *, error: ServiceError | None = None) -> int:
    await reply(
        update,
        _with_error(caller, error) + caller.render("meetings/ask_repeat.html"),
        _markup(_repeat_buttons(caller)[:2], _repeat_buttons(caller)[2:]),
    )
    return REPEAT


def _remind_buttons(caller: Caller) -> list[tuple[str, str]]:
    return [
        (caller.t("24 hours and 1 hour before"), "mtg:d:rem:def"),
        (caller.t("No reminders"), "mtg:d:rem:none"),
    ]


async def _ask_remind(update: Update, caller: Caller, *, error: ServiceError | None = None) -> int:
    await reply(
        update,
        _with_error(caller, error) + caller.render("meetings/ask_reminders.html"),
        _markup(*[[b] for b in _remind_buttons(caller)]),
    )
    return REMIND


def _sample(caller: Caller, draft: MeetingDraft, meeting_id: int = 0) -> Meeting:
    """An unsaved meeting, for counting its audience and for the preview."""
    audience = draft.audience
    return Meeting(
        id=meeting_id,
        title=draft.title,
        location=draft.location,
        agenda=draft.agenda,
        starts_at=draft.starts_at,
        timezone=draft.timezone,
        duration_minutes=draft.duration_minutes,
        rrule=draft.rrule,
        reminder_offsets=sorted(set(draft.reminder_offsets), reverse=True),
        to_everyone=audience.everyone,
        to_focal_points=audience.focal_points,
        countries=sorted(audience.countries),
        member_ids=sorted(audience.member_ids),
        created_at=caller.now,
        updated_at=caller.now,
        reminded_through=caller.now,
    )


async def _people(caller: Caller, draft: MeetingDraft) -> int:
    if not draft.audience.chosen:
        return 0
    return len(await meetings.audience_members(caller.session, _sample(caller, draft)))


def _toggled(audience: MeetingAudience, choice: str) -> MeetingAudience:
    if choice == "all":
        return replace(audience, everyone=not audience.everyone, focal_points=False)
    if choice == "fp":
        return replace(audience, focal_points=not audience.focal_points, everyone=False)
    return replace(audience, countries=audience.countries ^ {choice})


async def _audience_view(caller: Caller, dialogue: Dialogue) -> tuple[str, InlineKeyboardMarkup]:
    assert dialogue.draft is not None
    audience = dialogue.audience
    people = await _people(caller, replace(dialogue.draft, audience=audience))
    text = caller.render(
        "meetings/ask_audience.html",
        aud=audience,
        named=len(audience.member_ids),
        people=people,
        group=caller.app.settings.group_chat_id is not None,
    )

    def mark(on: bool, label: str) -> str:
        return ("✓ " if on else "") + label

    rows: list[list[tuple[str, str]]] = [
        [
            (mark(audience.everyone, caller.t("Everyone")), "mtg:d:aud:all"),
            (mark(audience.focal_points, caller.t("Focal points")), "mtg:d:aud:fp"),
        ]
    ]
    codes = await meetings.countries_with_members(caller.session)
    for start in range(0, len(codes), 4):
        rows.append(
            [
                (mark(code in audience.countries, code), f"mtg:d:aud:{code}")
                for code in codes[start : start + 4]
            ]
        )
    rows.append([(caller.t("Next") + " →", "mtg:d:aud:next")])
    return text, _markup(*rows)


async def _ask_audience(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    text, markup = await _audience_view(caller, dialogue)
    await reply(update, _with_error(caller, error) + text, markup)
    return AUDIENCE


async def _preview(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    """The invitation as the moderator would get it, then who gets it, and Confirm."""
    draft = dialogue.draft
    assert draft is not None
    sample = _sample(caller, draft)
    coming = meetings.occurrences(sample, [], after=caller.now)
    actor = caller.actor
    compose = notice_composer(caller.app)
    payload = compose(
        Notice(
            kind=NoticeKind.INVITE,
            meeting=sample,
            occurrence=coming[0] if coming else None,
            recipient=Recipient(caller.user.id, -1, caller.locale, actor.timezone),
        )
    )
    await reply(
        update,
        caller.render(
            "meetings/preview.html",
            invitation=Markup(payload["text"]),
            d=draft,
            aud=draft.audience,
            named=len(draft.audience.member_ids),
            people=await _people(caller, draft),
            group=caller.app.settings.group_chat_id is not None and draft.audience.is_everybody,
            zone=caller.zone,
            later=[
                o.start for o in meetings.occurrences(sample, [], after=caller.now, limit=4)[1:]
            ],
        ),
        _markup([(caller.t("Confirm"), "mtg:d:ok"), (caller.t("Cancel"), "mtg:d:no")]),
    )
    return CONFIRM


# -- /newmeeting --------------------------------------------------------------------------------


async def _resolver(caller: Caller, text: str) -> Callable[[str], int | None]:
    """@names and #numbers in the text, looked up now (parse_line asks synchronously)."""
    found: dict[str, int | None] = {}
    for reference in MENTION.findall(text)[:MAX_MENTIONS]:
        key = reference.lower()
        if key in found:
            continue
        try:
            member = await members.find(caller.session, reference)
        except ServiceError:
            found[key] = None
        else:
            found[key] = member.id

    def resolve(reference: str) -> int | None:
        reference = reference.strip().lower()
        if not reference.startswith(("@", "#")) and reference.isdigit():
            reference = "#" + reference
        return found.get(reference)

    return resolve


@command(role=Role.MODERATOR)
async def new_meeting(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    text = args_text(update)
    dialogue = Dialogue(mode="new", zone=_zone_name(caller))
    if not text:
        if context.user_data is not None:
            context.user_data[DRAFT] = dialogue
        return await _ask_title(update, caller, first=True)
    try:
        draft = meeting_input.parse_line(
            text,
            default_zone=dialogue.zone,
            now=caller.now,
            resolve_member=await _resolver(caller, text),
        )
        _check(caller, draft)
        if draft.audience.chosen and not await _people(caller, draft):
            raise ServiceError("meeting_audience_empty")
    except ServiceError as error:
        await reply(
            update, _with_error(caller, error) + caller.render("meetings/one_line_help.html")
        )
        return ConversationHandler.END
    dialogue.draft = draft
    dialogue.audience = draft.audience
    if context.user_data is not None:
        context.user_data[DRAFT] = dialogue
    return await _preview(update, caller, dialogue)


@_message_step
async def receive_title(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    try:
        title = meeting_input.parse_title(message.text or "")
        _check(caller, replace(_placeholder(caller, dialogue), title=title))
    except ServiceError as error:
        return await _ask_title(update, caller, error=error)
    dialogue.draft = replace(_placeholder(caller, dialogue), title=title)
    return await _ask_when(update, caller)


@_message_step
async def receive_when(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    assert dialogue.draft is not None
    try:
        moment, zone = _when(caller, message.text or "", dialogue.zone)
        draft = replace(dialogue.draft, starts_at=moment, timezone=zone)
        _check(caller, draft)
    except ServiceError as error:
        return await _ask_when(update, caller, error=error)
    dialogue.draft = draft
    return await _ask_place(update, caller)


@_message_step
async def receive_place(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    assert dialogue.draft is not None
    try:
        draft = replace(dialogue.draft, location=meeting_input.parse_location(message.text or ""))
        _check(caller, draft)
    except ServiceError as error:
        return await _ask_place(update, caller, error=error)
    dialogue.draft = draft
    return await _ask_repeat(update, caller)


@_button_step
async def skip_place(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    return await _ask_repeat(update, caller)


async def _set_repeat(update: Update, caller: Caller, dialogue: Dialogue, rule: str | None) -> int:
    """Check a repetition against the draft: on to the reminders, or the question again."""
    assert dialogue.draft is not None
    draft = replace(dialogue.draft, rrule=rule)
    try:
        _check(caller, draft)
    except ServiceError as error:
        return await _ask_repeat(update, caller, error=error)
    dialogue.draft = draft
    return await _ask_remind(update, caller)


@_message_step
async def receive_repeat(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    assert dialogue.draft is not None
    try:
        rule = meeting_input.parse_recurrence(
            message.text or "", _local(dialogue.draft.starts_at, dialogue.draft.timezone)
        )
    except ServiceError as error:
        return await _ask_repeat(update, caller, error=error)
    return await _set_repeat(update, caller, dialogue, rule)


@_button_step
async def choose_repeat(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    assert dialogue.draft is not None
    await drop_buttons(update)
    try:
        rule = _rule_for(
            query.data.rsplit(":", 1)[1], _local(dialogue.draft.starts_at, dialogue.draft.timezone)
        )
    except ServiceError as error:
        return await _ask_repeat(update, caller, error=error)
    return await _set_repeat(update, caller, dialogue, rule)


async def _set_offsets(
    update: Update, caller: Caller, dialogue: Dialogue, offsets: list[int]
) -> int:
    assert dialogue.draft is not None
    draft = replace(dialogue.draft, reminder_offsets=offsets)
    try:
        _check(caller, draft)
    except ServiceError as error:
        return await _ask_remind(update, caller, error=error)
    dialogue.draft = draft
    return await _ask_audience(update, caller, dialogue)


@_message_step
async def receive_remind(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    try:
        offsets = meeting_input.parse_offsets(message.text or "")
    except ServiceError as error:
        return await _ask_remind(update, caller, error=error)
    return await _set_offsets(update, caller, dialogue, offsets)


@_button_step
async def choose_remind(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    offsets = list(meetings.DEFAULT_OFFSETS) if query.data.endswith(":def") else []
    return await _set_offsets(update, caller, dialogue, offsets)


@_button_step
async def choose_audience(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    assert dialogue.draft is not None
    choice = query.data.removeprefix("mtg:d:aud:")
    if choice == "next":
        draft = replace(dialogue.draft, audience=dialogue.audience)
        try:
            if not dialogue.audience.chosen:
                raise ServiceError("meeting_no_audience")
            if not await _people(caller, draft):
                raise ServiceError("meeting_audience_empty")
        except ServiceError as error:
            await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
            return AUDIENCE
        dialogue.draft = draft
        await drop_buttons(update)
        return await _preview(update, caller, dialogue)
    if choice not in ("all", "fp") and choice not in await meetings.countries_with_members(
        caller.session
    ):
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return AUDIENCE
    dialogue.audience = _toggled(dialogue.audience, choice)
    await query.answer()
    text, markup = await _audience_view(caller, dialogue)
    await edit(update, text, markup)
    return AUDIENCE


@_button_step
async def confirm(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    assert dialogue.draft is not None
    app = caller.app
    try:
        meeting = await meetings.create(
            caller.session,
            caller.actor,
            dialogue.draft,
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=notice_composer(app),
        )
    except ServiceError as error:
        await caller.discard()
        await drop_buttons(update)
        if error.code.startswith("meeting_audience") or error.code == "meeting_no_audience":
            return await _ask_audience(update, caller, dialogue, error=error)
        if error.code.startswith("meeting_time"):
            return await _ask_when(update, caller, error=error)
        _drop(context)
        await reply(update, _with_error(caller, error) + caller.render("meetings/not_saved.html"))
        return ConversationHandler.END
    people = await _people(caller, dialogue.draft)
    await caller.commit()
    _drop(context)
    wake(context)
    await drop_buttons(update)
    await reply(update, caller.render("meetings/created.html", m=meeting, people=people))
    return ConversationHandler.END


# -- edit ---------------------------------------------------------------------------------------


async def _meeting(update: Update, caller: Caller, meeting_id: int) -> Meeting | None:
    """A meeting that can still change, or an explanation and None."""
    try:
        meeting = await meetings.get(caller.session, meeting_id)
        if meeting.status != MeetingStatus.SCHEDULED:
            raise ServiceError("meeting_cancelled")
    except ServiceError as error:
        query = update.callback_query
        if query is not None:
            await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        else:
            await reply(update, explain(caller.locale, error))
        return None
    return meeting


def _current(caller: Caller, meeting: Meeting, name: str) -> dict[str, Any]:
    return {
        "field": name,
        "m": meeting,
        "zone": caller.zone,
        "repeat": recurrence_words(meeting, caller.locale),
    }


async def _ask_value(
    update: Update,
    caller: Caller,
    meeting: Meeting,
    name: str,
    *,
    error: ServiceError | None = None,
) -> int:
    rows: list[list[tuple[str, str]]] = []
    if name == "rep":
        rows = [_repeat_buttons(caller)[:2], _repeat_buttons(caller)[2:]]
    elif name == "rem":
        rows = [[b] for b in _remind_buttons(caller)]
    elif name in ("place", "agenda") and (meeting.location if name == "place" else meeting.agenda):
        rows = [[(caller.t("Remove it"), "mtg:d:skip")]]
    await reply(
        update,
        _with_error(caller, error)
        + caller.render(
            "meetings/ask_value.html",
            example=_example(caller),
            zone_name=_zone_name(caller),
            **_current(caller, meeting, name),
        ),
        _markup(*rows) if rows else None,
    )
    return EDIT_VALUE


@button(role=Role.MODERATOR)
async def start_edit(update: Update, context: CallbackContext, caller: Caller) -> int:
    """mtg:e:<id>:<field>."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_id, name = query.data.split(":")
    meeting = await _meeting(update, caller, int(raw_id))
    if meeting is None:
        return ConversationHandler.END
    _drop(context)
    if context.user_data is not None:
        context.user_data[DRAFT] = Dialogue(
            mode="edit", zone=_zone_name(caller), meeting_id=meeting.id or 0, field=name
        )
    await query.answer()
    return await _ask_value(update, caller, meeting, name)


def _next_start(caller: Caller, meeting: Meeting, changes: list[Any]) -> datetime:
    """Where an ongoing series restarts when its repetition changes: its next occurrence."""
    if meeting.starts_at > caller.now:
        return meeting.starts_at
    coming = meetings.occurrences(
        meeting, changes, after=caller.now, limit=len(changes) + 2, include_cancelled=True
    )
    later = [o.original_start for o in coming if o.original_start > caller.now]
    return min(later) if later else meeting.starts_at


async def _parse_value(caller: Caller, meeting: Meeting, name: str, text: str | None) -> Any:
    """The typed (or, None: removed) new value of a field, checked as the meeting would have it.
    Returns the keyword arguments for meetings.update."""
    changes = await meetings.exceptions(caller.session, meeting.id or 0)
    draft = MeetingDraft(
        title=meeting.title,
        starts_at=meeting.starts_at,
        timezone=meeting.timezone,
        duration_minutes=meeting.duration_minutes,
        location=meeting.location,
        agenda=meeting.agenda,
        rrule=meeting.rrule,
        reminder_offsets=list(meeting.reminder_offsets),
        audience=MeetingAudience.of(meeting),
    )
    value: dict[str, Any]
    if name == "title":
        value = {"title": meeting_input.parse_title(text or "")}
    elif name == "time":
        moment, zone = _when(caller, text or "", _zone_name(caller))
        value = {"starts_at": moment}
        if zone != _zone_name(caller):
            # A zone typed with the time: the series keeps its wall time there from now on.
            # Without one, the time is the moderator's and the series keeps its own zone.
            value["timezone"] = zone
    elif name == "place":
        value = {"location": meeting_input.parse_location(text or "")}
    elif name == "agenda":
        value = {"agenda": meeting_input.parse_agenda(text or "")}
    elif name == "dur":
        value = {"duration_minutes": meeting_input.parse_duration(text or "")}
    elif name == "rem":
        value = {"reminder_offsets": meeting_input.parse_offsets(text or "")}
    else:
        start = _next_start(caller, meeting, changes)
        value = {
            "rrule": meeting_input.parse_recurrence(text or "", _local(start, meeting.timezone))
        }
        if start != meeting.starts_at:
            value["starts_at"] = start
    checked = replace(draft, **value)
    # An ongoing series keeps its first (past) start unless the time or repetition changes.
    _check(caller, checked, allow_past_start="starts_at" not in value)
    return value


async def _take_value(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    value: Any,
) -> int:
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None:
        _drop(context)
        return ConversationHandler.END
    dialogue.value = value
    await reply(
        update,
        caller.render(
            "meetings/confirm_edit.html",
            new=_preview_value(caller, meeting, value),
            **_current(caller, meeting, dialogue.field),
        ),
        _markup([(caller.t("Confirm"), "mtg:d:ok"), (caller.t("Cancel"), "mtg:d:no")]),
    )
    return EDIT_CONFIRM


def _preview_value(caller: Caller, meeting: Meeting, value: dict[str, Any]) -> dict[str, Any]:
    """The new value as the confirmation shows it (a meeting with the change, unsaved)."""
    changed = Meeting(**{name: getattr(meeting, name) for name in Meeting.model_fields})
    for name, new in value.items():
        setattr(changed, name, new.astimezone(UTC) if name == "starts_at" else new)
    return {"m": changed, "repeat": recurrence_words(changed, caller.locale)}


@_message_step
async def receive_value(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    if dialogue.mode != "edit":
        return await _expired(update, caller)
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None:
        _drop(context)
        return ConversationHandler.END
    try:
        value = await _parse_value(caller, meeting, dialogue.field, message.text)
    except ServiceError as error:
        return await _ask_value(update, caller, meeting, dialogue.field, error=error)
    return await _take_value(update, context, caller, dialogue, value)


@_button_step
async def value_button(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    """Repetition or reminders by button, or Remove (the link or place, the agenda)."""
    if dialogue.mode != "edit":
        return await _expired(update, caller)
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None:
        _drop(context)
        return ConversationHandler.END
    data, name = query.data, dialogue.field
    value: dict[str, Any]
    if data.startswith("mtg:d:rep:") and name == "rep":
        changes = await meetings.exceptions(caller.session, meeting.id or 0)
        start = _next_start(caller, meeting, changes)
        try:
            value = {"rrule": _rule_for(data.rsplit(":", 1)[1], _local(start, meeting.timezone))}
        except ServiceError as error:
            return await _ask_value(update, caller, meeting, name, error=error)
        if start != meeting.starts_at:
            value["starts_at"] = start
    elif data.startswith("mtg:d:rem:") and name == "rem":
        value = {
            "reminder_offsets": list(meetings.DEFAULT_OFFSETS) if data.endswith(":def") else []
        }
    elif data == "mtg:d:skip" and name in ("place", "agenda"):
        value = {"location": ""} if name == "place" else {"agenda": ""}
    else:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return EDIT_VALUE
    await drop_buttons(update)
    return await _take_value(update, context, caller, dialogue, value)


@_button_step
async def confirm_edit(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None or not isinstance(dialogue.value, dict):
        _drop(context)
        return ConversationHandler.END
    app = caller.app
    try:
        await meetings.update(
            caller.session,
            caller.actor,
            meeting,
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=notice_composer(app),
            **dialogue.value,
        )
    except ServiceError as error:
        await caller.discard()
        await drop_buttons(update)
        meeting = await _meeting(update, caller, dialogue.meeting_id)
        if meeting is None:
            _drop(context)
            return ConversationHandler.END
        return await _ask_value(update, caller, meeting, dialogue.field, error=error)
    ident = meeting.id
    await caller.commit()
    _drop(context)
    wake(context)
    await drop_buttons(update)
    await reply(update, caller.render("meetings/edited.html", meeting_id=ident))
    return ConversationHandler.END


# -- move one occurrence ------------------------------------------------------------------------


async def _ask_move(
    update: Update,
    caller: Caller,
    meeting: Meeting,
    start: datetime,
    *,
    error: ServiceError | None = None,
) -> int:
    await reply(
        update,
        _with_error(caller, error)
        + caller.render(
            "meetings/ask_move.html",
            m=meeting,
            start=start,
            zone=caller.zone,
            zone_name=_zone_name(caller),
            example=_example(caller),
        ),
    )
    return MOVE_WHEN


@button(role=Role.MODERATOR)
async def start_move(update: Update, context: CallbackContext, caller: Caller) -> int:
    """mtg:mv:<id>:<occurrence>."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_id, key = query.data.split(":")
    meeting = await _meeting(update, caller, int(raw_id))
    if meeting is None:
        return ConversationHandler.END
    try:
        occ = await meetings.occurrence(caller.session, meeting, key)
        if occ.cancelled:
            raise ServiceError("meeting_cancelled")
        if occ.start <= caller.now:
            raise ServiceError("meeting_started")
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return ConversationHandler.END
    _drop(context)
    if context.user_data is not None:
        context.user_data[DRAFT] = Dialogue(
            mode="move", zone=_zone_name(caller), meeting_id=meeting.id or 0, occurrence_key=key
        )
    await query.answer()
    return await _ask_move(update, caller, meeting, occ.start)


@_message_step
async def receive_move(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None or dialogue.mode != "move":
        _drop(context)
        return ConversationHandler.END
    try:
        occ = await meetings.occurrence(caller.session, meeting, dialogue.occurrence_key)
        moment, _zone = _when(caller, message.text or "", dialogue.zone)
        if moment <= caller.now:
            raise ServiceError("meeting_time_past", value=(message.text or "")[:40])
    except ServiceError as error:
        if error.code == "meeting_occurrence_not_found":
            _drop(context)
            await reply(update, explain(caller.locale, error))
            return ConversationHandler.END
        start = meetings.parse_occurrence_key(dialogue.occurrence_key) or caller.now
        return await _ask_move(update, caller, meeting, start, error=error)
    dialogue.new_start = moment
    await reply(
        update,
        caller.render(
            "meetings/confirm_move.html", m=meeting, old=occ.start, new=moment, zone=caller.zone
        ),
        _markup([(caller.t("Confirm"), "mtg:d:ok"), (caller.t("Cancel"), "mtg:d:no")]),
    )
    return MOVE_CONFIRM


@_button_step
async def confirm_move(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    meeting = await _meeting(update, caller, dialogue.meeting_id)
    if meeting is None or dialogue.new_start is None:
        _drop(context)
        return ConversationHandler.END
    app = caller.app
    ident = meeting.id
    try:
        occ = await meetings.occurrence(caller.session, meeting, dialogue.occurrence_key)
        await meetings.move_occurrence(
            caller.session,
            caller.actor,
            meeting,
            occ,
            dialogue.new_start,
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=notice_composer(app),
        )
    except ServiceError as error:
        await caller.discard()
        await drop_buttons(update)
        if error.code in ("meeting_time_past", "meeting_time_too_far", "meeting_nothing_changed"):
            meeting = await _meeting(update, caller, dialogue.meeting_id)
            start = meetings.parse_occurrence_key(dialogue.occurrence_key)
            if meeting is not None and start is not None:
                return await _ask_move(update, caller, meeting, start, error=error)
        _drop(context)
        await reply(update, _with_error(caller, error) + caller.render("meetings/not_saved.html"))
        return ConversationHandler.END
    await caller.commit()
    _drop(context)
    wake(context)
    await drop_buttons(update)
    await reply(
        update,
        caller.render(
            "meetings/moved.html", meeting_id=ident, new=dialogue.new_start, zone=caller.zone
        ),
    )
    return ConversationHandler.END


# -- wiring -------------------------------------------------------------------------------------


def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    typed = only_new & filters.ChatType.PRIVATE & ~filters.COMMAND
    text = typed & filters.TEXT
    other = typed & ~filters.TEXT
    ok, no = r"^mtg:d:ok$", r"^mtg:d:no$"

    def asks(step: Callable[..., Any], *buttons: CallbackQueryHandler) -> list[Any]:  # type: ignore[type-arg]
        return [*buttons, MessageHandler(text, step), MessageHandler(other, need_text)]

    def confirms(step: Callable[..., Any]) -> list[Any]:
        return [
            CallbackQueryHandler(step, pattern=ok),
            CallbackQueryHandler(abandon, pattern=no),
            MessageHandler(typed, use_buttons),
        ]

    with warnings.catch_warnings():
        # Intended: the dialogue goes on by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        return ConversationHandler(
            entry_points=[
                CommandHandler("newmeeting", new_meeting, filters=only_new),
                CallbackQueryHandler(start_edit, pattern=rf"^mtg:e:{ID}:({'|'.join(FIELDS)})$"),
                CallbackQueryHandler(start_move, pattern=rf"^mtg:mv:{ID}:{KEY}$"),
            ],
            states={
                TITLE: asks(receive_title),
                WHEN: asks(receive_when),
                PLACE: asks(
                    receive_place, CallbackQueryHandler(skip_place, pattern=r"^mtg:d:skip$")
                ),
                REPEAT: asks(
                    receive_repeat,
                    CallbackQueryHandler(
                        choose_repeat, pattern=rf"^mtg:d:rep:({'|'.join(REPEATS)})$"
                    ),
                ),
                REMIND: asks(
                    receive_remind,
                    CallbackQueryHandler(choose_remind, pattern=r"^mtg:d:rem:(def|none)$"),
                ),
                AUDIENCE: [
                    CallbackQueryHandler(
                        choose_audience, pattern=r"^mtg:d:aud:(all|fp|next|[A-Z]{2})$"
                    ),
                    MessageHandler(typed, use_buttons),
                ],
                CONFIRM: confirms(confirm),
                EDIT_VALUE: asks(
                    receive_value,
                    CallbackQueryHandler(
                        value_button,
                        pattern=rf"^mtg:d:(skip|rem:(def|none)|rep:({'|'.join(REPEATS)}))$",
                    ),
                ),
                EDIT_CONFIRM: confirms(confirm_edit),
                MOVE_WHEN: asks(receive_move),
                MOVE_CONFIRM: confirms(confirm_move),
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="newmeeting",
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )
