"""Minutes, action items and focal points' deadlines.

Moderators: `/minutes <meeting id>` opens the minutes of the meeting's latest occurrence that has
started (created empty if there are none), with buttons to add notes, a decision or an action
item (the next message, or three for an item: owner, due date, text), to send the minutes to the
meeting's participants (through the outbox) and to export them as an HTML document. One-line
forms: `/decision 12 text`, `/action 12 @alice 2026-12-20 text` (12: the meeting id), and
`/deadline KZ 2026-12-15 text` (an item for every focal point of a country, without minutes).

Members: `/actions` lists their open items (and their country's, for a focal point) with Done
buttons; moderators see everybody's with `/actions all`. Owners are told when an item is set
for them and reminded before the due date (`action_composer`, which the scheduler uses with
`bot.services.actions.process_due`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import AppContext
from bot.html_text import split_html
from bot.i18n import _, gettext, pick_language
from bot.models import ActionItem, Meeting, MeetingMinutes, Role
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services import actions, meetings, timezones
from bot.services.errors import ServiceError
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    edit,
    refuse,
    reply,
    wake_delivery,
    wake_scheduler,
)
from handlers.errors import add_messages, explain

log = logging.getLogger(__name__)

(NOTES, DECISION, OWNER, DUE, TEXT) = range(5)
PENDING = "actions_pending"
# A dialogue left open this long is over: a later message is not taken as minutes.
DIALOGUE_TTL = timedelta(minutes=30)
PAGE_SIZE = 10
NOTES_SHOWN = 1500
ALL_WORDS = ("all", "все", "всё")

add_messages(
    {
        "action_text_empty": _("The text is empty. Write it again, or send /cancel."),
        "action_text_too_long": _(
            "That is too long: %(length)s characters, and at most %(limit)s are allowed. "
            "Please shorten it."
        ),
        "action_due_unparseable": _(
            "I cannot read %(value)s as a date. Write the due date like 2026-12-20 (a date in "
            "your time zone)."
        ),
        "action_due_past": _("%(value)s has already passed. Choose today or a later date."),
        "action_due_too_far": _(
            "%(value)s is more than two years ahead. Choose an earlier due date."
        ),
        "action_owner_missing": _(
            "Say who owns it: @username, a member number from /members, or a country code "
            "(KZ) for all the focal points of that country."
        ),
        "action_owner_unknown": _(
            "I do not know %(reference)s. Use @username, the number /members shows, or a "
            "country code (KZ) for all the focal points of that country."
        ),
        "action_country_without_focal_points": _(
            "%(country)s has no active focal point, so nobody would be reminded. Name a member "
            "instead, or make somebody its focal point first."
        ),
        "action_not_found": _("That action item does not exist."),
        "action_not_yours": _(
            "Only its owner (for a country's item, a focal point of that country) or a "
            "moderator can mark this item done."
        ),
        "action_already_done": _("This item has already been marked done."),
        "minutes_not_found": _("Those minutes do not exist."),
        "minutes_meeting_not_found": _(
            "There is no meeting #%(meeting_id)s. /meetings lists them with their numbers."
        ),
        "minutes_occurrence_not_found": _("That meeting date does not exist any more."),
        "minutes_not_started": _(
            "Meeting #%(meeting_id)s has not taken place yet: minutes are recorded during or "
            "after a meeting."
        ),
        "minutes_notes_full": _(
            "The notes would be longer than %(limit)s characters. Export the minutes, and keep "
            "what remains short."
        ),
        "minutes_too_many_decisions": _("These minutes already have %(limit)s decisions."),
        "minutes_too_many_items": _("These minutes already have %(limit)s action items."),
        "minutes_empty": _(
            "These minutes are empty: add notes, a decision or an action item before sending them."
        ),
        "minutes_nobody": _("Nobody is in this meeting's audience: there is nobody to send to."),
    }
)


# -- composing what the bot sends on its own ---------------------------------------------------


def _language(app: AppContext, chosen: str | None) -> str:
    return pick_language(chosen, None, app.settings.default_language)


def done_markup(item_id: int, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "✅ " + gettext(language, "Done"), callback_data=f"act:done:{item_id}:r"
                )
            ]
        ]
    )


def action_composer(app: AppContext) -> actions.ActionCompose:
    """ActionReminder -> outbox payload: the reminder (or the notice of a new item) in the
    owner's language, with a Done button."""
    settings = app.settings

    def compose(reminder: actions.ActionReminder) -> dict[str, Any]:
        recipient = reminder.recipient
        language = _language(app, recipient.language)
        zone = timezones.zone(recipient.timezone, settings.default_timezone)
        template = "actions/assigned.html" if reminder.assigned else "actions/reminder.html"
        text = render(template, language, r=reminder, item=reminder.item, zone=zone)
        return {
            "text": text,
            "reply_markup": done_markup(reminder.item.id or 0, language).to_dict(),
        }

    return compose


def minutes_composer(app: AppContext) -> actions.MinutesCompose:
    """MinutesNotice -> the messages of the minutes for one chat (in its language, times in its
    zone; the group chat: the default language and the meeting's zone). One render per
    language and zone, however many recipients."""
    settings = app.settings
    made: dict[tuple[int, datetime, str, str], list[str]] = {}

    def compose(notice: actions.MinutesNotice) -> list[dict[str, Any]]:
        recipient = notice.recipient
        if recipient is None or recipient.is_group:
            language = settings.default_language
            zone_text = notice.meeting.timezone
        else:
            language = _language(app, recipient.language)
            zone_text = recipient.timezone or settings.default_timezone
        key = (notice.minutes.id or 0, notice.minutes.updated_at, language, zone_text)
        if key not in made:
            zone = timezones.zone(zone_text, settings.default_timezone)
            text = render(
                "actions/minutes_message.html",
                language,
                n=notice,
                zone=zone,
            )
            made[key] = split_html(text, TELEGRAM_TEXT_LIMIT)
        return [{"text": chunk} for chunk in made[key]]

    return compose


# -- small helpers ------------------------------------------------------------------------------


def _buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def _number(text: str) -> int | None:
    text = text.strip().lstrip("#")
    if not text.isdigit() or len(text) > 10:
        return None
    return int(text)


async def _meeting(caller: Caller, meeting_id: int) -> Meeting:
    try:
        return await meetings.get(caller.session, meeting_id)
    except ServiceError:
        raise ServiceError("minutes_meeting_not_found", meeting_id=meeting_id) from None


async def _fail(update: Update, caller: Caller, error: ServiceError) -> None:
    """Nothing of this update is kept; say why in a message or an alert."""
    await caller.discard()
    query = update.callback_query
    if query is not None:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
    else:
        await reply(update, explain(caller.locale, error))


def _zone_name(caller: Caller) -> str:
    return actions.zone_name(caller.zone)


def _id_at(data: str | None, position: int) -> int:
    return int((data or "").split(":")[position])


def _tail(notes: str) -> str:
    if len(notes) <= NOTES_SHOWN:
        return notes
    return "…" + notes[-NOTES_SHOWN:]


# -- the minutes --------------------------------------------------------------------------------


async def _minutes_view(
    caller: Caller, minutes: MeetingMinutes
) -> tuple[str, InlineKeyboardMarkup]:
    notice = await actions.notice(caller.session, minutes)
    now = caller.now
    recent = await actions.started_occurrences(caller.session, notice.meeting, now)
    text = caller.render(
        "actions/minutes.html",
        n=notice,
        notes=_tail(minutes.notes),
        zone=caller.zone,
        overdue={i.id for i in notice.items if actions.is_overdue(i, now)},
    )
    ident = minutes.id
    rows = [
        [
            ("📝 " + caller.t("Add notes"), f"act:notes:{ident}"),
            ("⚖️ " + caller.t("Add a decision"), f"act:dec:{ident}"),
        ],
        [("📌 " + caller.t("Add an action item"), f"act:item:{ident}")],
        [
            ("📨 " + caller.t("Send to participants"), f"act:send:{ident}"),
            ("📄 " + caller.t("Export"), f"act:exp:{ident}"),
        ],
    ]
    others = [o for o in recent if o.start != minutes.occurrence_start][-4:]
    if others:
        rows.append(
            [
                (
                    "🗓 " + o.start.astimezone(caller.zone).strftime("%Y-%m-%d"),
                    f"act:occ:{notice.meeting.id}:{o.key}",
                )
                for o in others
            ]
        )
    return text, _buttons(*rows)


async def _show_minutes(update: Update, caller: Caller, minutes: MeetingMinutes) -> None:
    text, markup = await _minutes_view(caller, minutes)
    await reply(update, text, markup)


@command(role=Role.MODERATOR)
async def minutes_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    _drop(context)  # a command leaves any half-typed addition
    meeting_id = _number(args_text(update))
    if meeting_id is None:
        await reply(update, caller.render("actions/usage.html", which="minutes"))
        return
    try:
        meeting = await _meeting(caller, meeting_id)
        minutes = await actions.open_minutes(
            caller.session, meeting, actor=caller.actor, now=caller.now
        )
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await caller.commit()
    await _show_minutes(update, caller, minutes)


@command(role=Role.MODERATOR)
async def decision_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    _drop(context)  # a command leaves any half-typed addition
    parts = args_text(update).split(maxsplit=1)
    meeting_id = _number(parts[0]) if parts else None
    if meeting_id is None or len(parts) < 2:
        await reply(update, caller.render("actions/usage.html", which="decision"))
        return
    try:
        text = actions.clean_text(parts[1], multiline=True)
        meeting = await _meeting(caller, meeting_id)
        minutes = await actions.open_minutes(
            caller.session, meeting, actor=caller.actor, now=caller.now
        )
        await actions.add_decision(caller.session, minutes, text, now=caller.now)
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await caller.commit()
    await _show_minutes(update, caller, minutes)


@dataclass
class ItemInput:
    """An action item as typed, checked but not saved."""

    owner: actions.Owner
    due_on: date
    text: str


async def _item_input(caller: Caller, owner: str, due: str, text: str) -> ItemInput:
    clean = actions.clean_text(text)
    found = await actions.resolve_owner(caller.session, owner)
    due_on = actions.parse_due(due, caller.zone, caller.now)
    return ItemInput(found, due_on, clean)


async def _save_item(
    context: CallbackContext,
    caller: Caller,
    wanted: ItemInput,
    minutes: MeetingMinutes | None,
) -> ActionItem:
    item = await actions.create_item(
        caller.session,
        owner=wanted.owner,
        due_on=wanted.due_on,
        timezone_name=_zone_name(caller),
        text=wanted.text,
        actor=caller.actor,
        now=caller.now,
        minutes=minutes,
    )
    await actions.notify_assigned(
        caller.session, item, now=caller.now, compose=action_composer(caller.app)
    )
    return item


async def _after_item(
    update: Update, context: CallbackContext, caller: Caller, item: ActionItem
) -> None:
    await caller.commit()
    wake_delivery(context)
    wake_scheduler(context)
    people = await actions.people_of(caller.session, [item])
    reach = len(await actions.owners_of(caller.session, item))
    await reply(
        update,
        caller.render(
            "actions/created.html",
            item=item,
            people=people,
            reach=reach,
            times=[
                t
                for t in actions.reminder_times(item.due_on, actions.item_zone(item))
                if t > caller.now
            ],
            zone=caller.zone,
        ),
    )


@command(role=Role.MODERATOR)
async def action_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    _drop(context)  # a command leaves any half-typed addition
    parts = args_text(update).split(maxsplit=3)
    meeting_id = _number(parts[0]) if parts else None
    if meeting_id is None or len(parts) < 4:
        await reply(update, caller.render("actions/usage.html", which="action"))
        return
    try:
        wanted = await _item_input(caller, parts[1], parts[2], parts[3])
        meeting = await _meeting(caller, meeting_id)
        minutes = await actions.open_minutes(
            caller.session, meeting, actor=caller.actor, now=caller.now
        )
        item = await _save_item(context, caller, wanted, minutes)
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await _after_item(update, context, caller, item)


@command(role=Role.MODERATOR)
async def deadline_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    _drop(context)  # a command leaves any half-typed addition
    parts = args_text(update).split(maxsplit=2)
    if len(parts) < 3:
        await reply(update, caller.render("actions/usage.html", which="deadline"))
        return
    try:
        wanted = await _item_input(caller, parts[0], parts[1], parts[2])
        item = await _save_item(context, caller, wanted, None)
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await _after_item(update, context, caller, item)


async def _load_minutes(update: Update, caller: Caller) -> MeetingMinutes | None:
    query = update.callback_query
    assert query is not None
    try:
        return await actions.get_minutes(caller.session, _id_at(query.data, 2))
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return None


@button(role=Role.MODERATOR)
async def show_occurrence(update: Update, context: CallbackContext, caller: Caller) -> None:
    """The minutes of another recent date of the meeting."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, meeting_text, key = query.data.split(":")
    try:
        meeting = await _meeting(caller, int(meeting_text))
        try:
            occurrence = await meetings.occurrence(caller.session, meeting, key)
        except ServiceError:
            raise ServiceError("minutes_occurrence_not_found") from None
        minutes = await actions.open_minutes(
            caller.session, meeting, actor=caller.actor, now=caller.now, occurrence=occurrence
        )
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await caller.commit()
    await query.answer()
    await _show_minutes(update, caller, minutes)


@button(role=Role.MODERATOR)
async def send_minutes(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    minutes = await _load_minutes(update, caller)
    if minutes is None or query is None or query.data is None:
        return
    if not query.data.endswith(":yes"):
        notice = await actions.notice(caller.session, minutes)
        if actions.is_empty(minutes, list(notice.items)):
            await _fail(update, caller, ServiceError("minutes_empty"))
            return
        chats = await meetings.recipients(
            caller.session, notice.meeting, group_chat_id=caller.app.settings.group_chat_id
        )
        await query.answer()
        await reply(
            update,
            caller.render(
                "actions/send_confirm.html",
                n=notice,
                people=sum(1 for c in chats if not c.is_group),
                group=any(c.is_group for c in chats),
                zone=caller.zone,
            ),
            _buttons(
                [
                    (caller.t("Yes, send them"), f"act:send:{minutes.id}:yes"),
                    (caller.t("No"), f"act:keep:{minutes.id}"),
                ]
            ),
        )
        return
    try:
        count = await actions.send_minutes(
            caller.session,
            minutes,
            actor=caller.actor,
            now=caller.now,
            group_chat_id=caller.app.settings.group_chat_id,
            compose=minutes_composer(caller.app),
        )
    except ServiceError as error:
        await _fail(update, caller, error)
        return
    await caller.commit()
    wake_delivery(context)
    await query.answer()
    await edit(update, caller.render("actions/sent.html", count=count))


@button(role=Role.MODERATOR)
async def keep_minutes(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit(update, caller.render("actions/not_sent.html"))


def export_name(meeting: Meeting, minutes: MeetingMinutes) -> str:
    local = minutes.occurrence_start.astimezone(meetings.zone_of(meeting))
    return f"minutes-{meeting.id}-{local:%Y-%m-%d}.html"


def minutes_document(notice: actions.MinutesNotice, language: str) -> bytes:
    """The minutes as a standalone HTML document (times in the meeting's zone, named)."""
    zone = meetings.zone_of(notice.meeting)
    text = render("actions/minutes_document.html", language, n=notice, zone=zone)
    return (text + "\n").encode("utf-8")


@button(role=Role.MODERATOR)
async def export(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    minutes = await _load_minutes(update, caller)
    chat = update.effective_chat
    if minutes is None or query is None or chat is None:
        return
    notice = await actions.notice(caller.session, minutes)
    await query.answer()
    await context.bot.send_document(
        chat.id,
        minutes_document(notice, caller.locale),
        filename=export_name(notice.meeting, minutes),
        caption=caller.render("actions/export_caption.html", n=notice, zone=caller.zone),
        parse_mode=ParseMode.HTML,
    )


# -- the dialogue: notes, a decision, an action item ---------------------------------------------


@dataclass
class Pending:
    """What the moderator is adding to which minutes (kept in user_data for the dialogue)."""

    minutes_id: int
    started: datetime
    owner: str | None = None
    due: str | None = None


def _pending(context: CallbackContext, caller: Caller) -> Pending | None:
    found = (context.user_data or {}).get(PENDING)
    if not isinstance(found, Pending) or caller.now - found.started > DIALOGUE_TTL:
        return None
    return found


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(PENDING, None)


async def _expired(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    await reply(update, caller.render("actions/expired.html"))
    return ConversationHandler.END


@button(role=Role.MODERATOR)
async def start_input(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    query = update.callback_query
    minutes = await _load_minutes(update, caller)
    if minutes is None or query is None or query.data is None or minutes.id is None:
        return None
    what = query.data.split(":")[1]
    if context.user_data is not None:
        context.user_data[PENDING] = Pending(minutes.id, caller.now)
    await query.answer()
    meeting = await _meeting_or_none(caller, minutes.meeting_id)
    await reply(update, caller.render(f"actions/ask_{what}.html", meeting=meeting))
    return {"notes": NOTES, "dec": DECISION, "item": OWNER}[what]


async def _meeting_or_none(caller: Caller, meeting_id: int) -> Meeting | None:
    return await meetings.find(caller.session, meeting_id)


async def _pending_minutes(
    update: Update, context: CallbackContext, caller: Caller
) -> tuple[Pending, MeetingMinutes] | None:
    pending = _pending(context, caller)
    if pending is None:
        return None
    minutes = await actions.find_minutes(caller.session, pending.minutes_id)
    if minutes is None:
        return None
    return pending, minutes


async def _receive_text(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    add: Callable[..., Awaitable[Any]],
    state: int,
) -> int:
    """A typed addition to the minutes (notes, a decision): saved, or explained and asked
    again."""
    found = await _pending_minutes(update, context, caller)
    message = update.effective_message
    if found is None or message is None:
        return await _expired(update, context, caller)
    _, minutes = found
    try:
        await add(caller.session, minutes, message.text or "", now=caller.now)
    except ServiceError as error:
        await _fail(update, caller, error)
        return state
    await caller.commit()
    _drop(context)
    await _show_minutes(update, caller, minutes)
    return ConversationHandler.END


@command(role=Role.MODERATOR)
async def receive_notes(update: Update, context: CallbackContext, caller: Caller) -> int:
    return await _receive_text(update, context, caller, actions.add_notes, NOTES)


@command(role=Role.MODERATOR)
async def receive_decision(update: Update, context: CallbackContext, caller: Caller) -> int:
    return await _receive_text(update, context, caller, actions.add_decision, DECISION)


async def _finish_item(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    minutes: MeetingMinutes,
    wanted: ItemInput,
) -> int:
    item = await _save_item(context, caller, wanted, minutes)
    _drop(context)
    await _after_item(update, context, caller, item)
    await _show_minutes(update, caller, minutes)
    return ConversationHandler.END


@command(role=Role.MODERATOR)
async def receive_owner(update: Update, context: CallbackContext, caller: Caller) -> int:
    """The owner; or owner and due date; or all three, in one line."""
    found = await _pending_minutes(update, context, caller)
    message = update.effective_message
    if found is None or message is None:
        return await _expired(update, context, caller)
    pending, minutes = found
    parts = (message.text or "").split(maxsplit=2)
    try:
        if len(parts) == 3:
            wanted = await _item_input(caller, *parts)
            return await _finish_item(update, context, caller, minutes, wanted)
        await actions.resolve_owner(caller.session, parts[0] if parts else "")
        if len(parts) == 2:
            actions.parse_due(parts[1], caller.zone, caller.now)
    except ServiceError as error:
        await _fail(update, caller, error)
        return OWNER
    pending.owner = parts[0]
    if len(parts) == 2:
        pending.due = parts[1]
        await reply(update, caller.render("actions/ask_text.html"))
        return TEXT
    await reply(update, caller.render("actions/ask_due.html", zone=caller.zone))
    return DUE


@command(role=Role.MODERATOR)
async def receive_due(update: Update, context: CallbackContext, caller: Caller) -> int:
    found = await _pending_minutes(update, context, caller)
    message = update.effective_message
    if found is None or message is None:
        return await _expired(update, context, caller)
    pending, _minutes = found
    try:
        actions.parse_due(message.text or "", caller.zone, caller.now)
    except ServiceError as error:
        await _fail(update, caller, error)
        return DUE
    pending.due = (message.text or "").strip()
    await reply(update, caller.render("actions/ask_text.html"))
    return TEXT


@command(role=Role.MODERATOR)
async def receive_item_text(update: Update, context: CallbackContext, caller: Caller) -> int:
    found = await _pending_minutes(update, context, caller)
    message = update.effective_message
    if found is None or message is None:
        return await _expired(update, context, caller)
    pending, minutes = found
    try:
        wanted = await _item_input(
            caller, pending.owner or "", pending.due or "", message.text or ""
        )
        return await _finish_item(update, context, caller, minutes, wanted)
    except ServiceError as error:
        await _fail(update, caller, error)
        if error.code in ("action_text_empty", "action_text_too_long"):
            return TEXT
        # The owner or the date no longer holds (time passed, a focal point left): start over.
        _drop(context)
        return ConversationHandler.END


@command(role=Role.MODERATOR)
async def need_text(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(update, caller.render("actions/need_text.html"))


@command(role=Role.MODERATOR)
async def cancel_dialogue(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    await reply(update, caller.render("actions/dialogue_cancelled.html"))
    return ConversationHandler.END


# -- /actions and Done ---------------------------------------------------------------------------


async def _list_view(
    caller: Caller, everybody: bool, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    everybody = everybody and caller.may(Role.MODERATOR)
    if everybody:
        items = await actions.all_open_items(caller.session)
    else:
        member = caller.actor
        items = (await actions.open_items_for(caller.session, [member])).get(member.id or 0, [])
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    now = caller.now
    text = caller.render(
        "actions/list.html",
        items=shown,
        people=await actions.people_of(caller.session, shown),
        titles=await actions.meeting_titles(caller.session, shown),
        overdue={i.id for i in shown if actions.is_overdue(i, now)},
        everybody=everybody,
        moderator=caller.may(Role.MODERATOR),
        total=len(items),
        page=page + 1,
        pages=pages,
    )
    mode = "a" if everybody else "m"
    rows = [
        [
            InlineKeyboardButton(f"✅ #{i.id}", callback_data=f"act:done:{i.id}:{mode}{page}")
            for i in shown[start : start + 5]
        ]
        for start in range(0, len(shown), 5)
    ]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=f"act:list:{mode}:{page - 1}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=f"act:list:{mode}:{page + 1}"))
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows) if rows else None


@command(role=Role.MEMBER)
async def actions_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    argument = args_text(update).lower()
    if argument and argument not in ALL_WORDS:
        await reply(update, caller.render("actions/usage.html", which="actions"))
        return
    if argument and not caller.may(Role.MODERATOR):
        await refuse(update, caller, Role.MODERATOR)
        return
    text, markup = await _list_view(caller, bool(argument), 0)
    await reply(update, text, markup)


@button(role=Role.MEMBER)
async def list_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, mode, page = query.data.split(":")
    await query.answer()
    text, markup = await _list_view(caller, mode == "a", int(page))
    await edit(update, text, markup)


@button(role=Role.MEMBER)
async def mark_done(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Done, pressed under a reminder (`r`: the message says so), under a list (`m`/`a` and
    the page: the list updates), or anywhere else (`q`: only the answer says so), e.g. a
    meeting reminder's list of open items: `act:done:<item id>:q`."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, ident, where = query.data.split(":")
    try:
        item = await actions.mark_done(caller.session, int(ident), caller.actor, now=caller.now)
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await caller.commit()
    wake_scheduler(context)
    await query.answer(caller.t("Marked done. Thank you!"))
    if where == "r":
        await edit(update, caller.render("actions/done.html", item=item, zone=caller.zone))
        return
    if where == "q":
        return
    text, markup = await _list_view(caller, where.startswith("a"), int(where[1:]))
    await edit(update, text, markup)


@button(role=None, load_member=False)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    """A dialogue button outside its dialogue, or anything else under act: nobody knows."""
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


# -- wiring -------------------------------------------------------------------------------------


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    private = only_new & filters.ChatType.PRIVATE
    typed = private & ~filters.COMMAND
    text = typed & filters.TEXT
    other = typed & ~filters.TEXT
    with warnings.catch_warnings():
        # Intended: the dialogue continues by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        dialogue = ConversationHandler(
            entry_points=[
                CallbackQueryHandler(start_input, pattern=r"^act:(notes|dec|item):\d{1,10}$")
            ],
            states={
                NOTES: [MessageHandler(text, receive_notes), MessageHandler(other, need_text)],
                DECISION: [
                    MessageHandler(text, receive_decision),
                    MessageHandler(other, need_text),
                ],
                OWNER: [MessageHandler(text, receive_owner), MessageHandler(other, need_text)],
                DUE: [MessageHandler(text, receive_due), MessageHandler(other, need_text)],
                TEXT: [
                    MessageHandler(text, receive_item_text),
                    MessageHandler(other, need_text),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="actions",
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )
    app.add_handler(dialogue, group)
    for name, callback in (
        ("minutes", minutes_command),
        ("decision", decision_command),
        ("action", action_command),
        ("deadline", deadline_command),
        ("actions", actions_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=only_new), group)
    for handler, pattern in (
        (show_occurrence, r"^act:occ:\d{1,10}:\d{8}T\d{4}Z$"),
        (send_minutes, r"^act:send:\d{1,10}(:yes)?$"),
        (keep_minutes, r"^act:keep:\d{1,10}$"),
        (export, r"^act:exp:\d{1,10}$"),
        (mark_done, r"^act:done:\d{1,10}:(r|q|[am]\d{1,4})$"),
        (list_page, r"^act:list:[am]:\d{1,4}$"),
        (stale, r"^act:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
