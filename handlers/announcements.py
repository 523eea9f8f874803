"""Announcements: /announce (a dialogue for moderators), the self-updating report, the
Acknowledge button, reminders, cancel and recall, and /announcements (a member's history, or the
moderators' list of scheduled and recent ones).

The dialogue itself is in `handlers.announcements_dialogue`. Confirming writes the announcement and
one outbox row per recipient in one transaction; the delivery worker sends them, and tells
`refresh_report` as it goes.

The report follows delivery through the outbox (EDIT rows, kind "announcement_report") rather than
by editing from here: the worker that sends the announcement may run in another process than the
handler, edits then share the worker's rate limits with the broadcast instead of competing with
it, survive a restart, and are retried like any message. The worker calls the listener as
delivery goes on (not for every message) and once it is idle; an edit is queued only when the
figures changed, and an edit still queued when a newer one is made is withdrawn, so a large
audience makes a handful of edits, at the per-chat pace the worker keeps anyway.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from bot.context import AppContext
from bot.html_text import TelegramHtmlError, parse_html, split_html
from bot.i18n import _, gettext
from bot.models import Announcement, Role
from bot.render import render
from bot.services import announcements, timezones
from bot.services.announcements import Audience, Recipient
from bot.services.errors import ServiceError
from handlers.common import (
    NO_PREVIEW,
    CallbackContext,
    Caller,
    button,
    command,
    drop_buttons,
    edit,
    reply,
    wake_delivery,
)
from handlers.errors import explain

log = logging.getLogger(__name__)

KIND = announcements.KIND
(TEXT, ATTACHMENT, AUDIENCE, VERSIONS, VERSION_TEXT, PIN, ACK, WHEN, CONFIRM) = range(9)
DRAFT = "announcement_draft"
# Audience buttons that are not countries (those are upper-case ISO codes).
ROLE_CHOICES = ("group", "all", "fp", "mod")
EXCERPT = 240
# Formatting a moderator may use; everything else (mentions, hashtags, URLs Telegram finds by
# itself, custom emoji a bot may not send) arrives as plain text.
KEPT = frozenset(
    {
        MessageEntity.BOLD,
        MessageEntity.ITALIC,
        MessageEntity.UNDERLINE,
        MessageEntity.STRIKETHROUGH,
        MessageEntity.SPOILER,
        MessageEntity.CODE,
        MessageEntity.PRE,
        MessageEntity.TEXT_LINK,
        MessageEntity.TEXT_MENTION,
        MessageEntity.BLOCKQUOTE,
        MessageEntity.EXPANDABLE_BLOCKQUOTE,
    }
)
ADD_VERSION = {"en": _("Add an English version"), "ru": _("Add a Russian version")}
MARK_AS = {"en": _("My text is in English"), "ru": _("My text is in Russian")}


# -- the moderator's text ---------------------------------------------------------------------


def _slice(entity: MessageEntity, offset: int, length: int) -> MessageEntity:
    return MessageEntity(
        entity.type,
        offset,
        length,
        url=entity.url,
        user=entity.user,
        language=entity.language,
    )


def _escaped(entity: MessageEntity) -> MessageEntity:
    """python-telegram-bot puts a link's URL and a code block's language into attributes as
    they are: escape them for Telegram HTML (and name the language as Telegram expects)."""
    url = entity.url
    if entity.type == MessageEntity.TEXT_LINK and url is not None:
        url = html.escape(url, quote=True)
    language = entity.language
    if entity.type == MessageEntity.PRE and language:
        language = "language-" + html.escape(language, quote=True)
    return MessageEntity(
        entity.type, entity.offset, entity.length, url=url, user=entity.user, language=language
    )


def _nested(entities: list[MessageEntity]) -> list[MessageEntity]:
    """Telegram allows entities that cross (bold over half a link); HTML only nests. Split an
    entity where it crosses the end of one that encloses its start, outer ones first."""

    def order(entity: MessageEntity) -> tuple[int, int]:
        return entity.offset, -entity.length

    queue = sorted((e for e in entities if e.type in KEPT and e.length > 0), key=order)
    result: list[MessageEntity] = []
    ends: list[int] = []
    while queue:
        entity = queue.pop(0)
        while ends and ends[-1] <= entity.offset:
            ends.pop()
        end = entity.offset + entity.length
        if ends and end > ends[-1]:
            cut = ends[-1]
            queue.append(_slice(entity, cut, end - cut))
            queue.sort(key=order)
            entity = _slice(entity, entity.offset, cut - entity.offset)
            end = cut
        result.append(_escaped(entity))
        ends.append(end)
    return result


def formatted(message: Message) -> str:
    """The text (or caption) as Telegram HTML: the moderator's formatting kept through its
    entities, everything else escaped by python-telegram-bot. Raises ServiceError when the
    result would not read exactly as typed."""
    if message.text is not None:
        text, entities = message.text, list(message.entities)
    else:
        text, entities = message.caption or "", list(message.caption_entities)
    announcements.check_not_empty(text)
    normalized = Message(
        message.message_id, message.date, message.chat, text=text, entities=_nested(entities)
    )
    result = normalized.text_html or ""
    try:
        plain, _entities = parse_html(result)
    except TelegramHtmlError:
        raise ServiceError("announcement_bad_markup") from None
    if plain != text:
        raise ServiceError("announcement_bad_markup")
    return result


def message_html(text: str, language: str) -> str:
    """An announcement as recipients read it (their version's language)."""
    return render("announcements/message.html", language, text=Markup(text))


def excerpt(text: str, limit: int = EXCERPT) -> Markup:
    """The beginning of a version, still valid HTML."""
    chunks = split_html(text, limit)
    return Markup(chunks[0] + ("…" if len(chunks) > 1 else ""))


def buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


# -- the outgoing messages --------------------------------------------------------------------


def ack_markup(announcement_id: int, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "👍 " + gettext(language, "Acknowledge"),
                    callback_data=f"ann:ack:{announcement_id}",
                )
            ]
        ]
    )


def composer(default_language: str, *, with_ack: bool = True) -> announcements.Compose:
    """Recipient -> outbox payload: the version in their language (the group chat: the default
    language's), the attachment, the Acknowledge button (members only), the pin (group only).
    One render per version, however many recipients."""
    made: dict[tuple[str, bool], dict[str, Any]] = {}

    def compose(announcement: Announcement, recipient: Recipient) -> dict[str, Any]:
        wanted = default_language if recipient.is_group else recipient.language
        language, text = announcements.version(announcement, wanted)
        key = (language, recipient.is_group)
        if key not in made:
            payload: dict[str, Any] = {"text": message_html(text, language)}
            if announcement.attachment_kind and announcement.attachment_file_id:
                payload[str(announcement.attachment_kind)] = announcement.attachment_file_id
            if announcement.ask_ack and with_ack and not recipient.is_group:
                payload["reply_markup"] = ack_markup(announcement.id or 0, language).to_dict()
            if announcement.pin and recipient.is_group:
                payload["pin"] = True
            made[key] = payload
        return dict(made[key])

    return compose


def reminder_composer(app: AppContext) -> announcements.Compose:
    settings = app.settings

    def compose(announcement: Announcement, recipient: Recipient) -> dict[str, Any]:
        language, text = announcements.version(announcement, recipient.language)
        zone = timezones.zone(recipient.timezone, settings.default_timezone)
        return {
            "text": render(
                "announcements/reminder.html",
                language,
                sent_at=announcement.scheduled_at,
                zone=zone,
                excerpt=excerpt(text),
            ),
            "reply_markup": ack_markup(announcement.id or 0, language).to_dict(),
        }

    return compose


async def send_payload(bot: Bot, chat_id: int, payload: dict[str, Any]) -> Message:
    """Send a payload the way the delivery worker does (for previews and reading one again)."""
    markup = (
        InlineKeyboardMarkup.de_json(payload["reply_markup"], bot)
        if payload.get("reply_markup")
        else None
    )
    if payload.get("photo"):
        return await bot.send_photo(
            chat_id,
            payload["photo"],
            caption=payload.get("text") or None,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    if payload.get("document"):
        return await bot.send_document(
            chat_id,
            payload["document"],
            caption=payload.get("text") or None,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    return await bot.send_message(
        chat_id,
        payload["text"],
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        link_preview_options=NO_PREVIEW,
    )


# -- the report -------------------------------------------------------------------------------


def _report_markup(announcement_id: int, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    gettext(language, "Details"), callback_data=f"ann:view:{announcement_id}"
                )
            ]
        ]
    )


async def report(
    app: AppContext,
    session: AsyncSession,
    announcement: Announcement,
    progress: announcements.Progress,
) -> tuple[str, InlineKeyboardMarkup]:
    """The report, in the author's language and zone."""
    author = await announcements.author(session, announcement)
    language = announcement.report_language or app.settings.default_language
    zone = timezones.zone(author.timezone if author else None, app.settings.default_timezone)
    text = render(
        "announcements/report.html",
        language,
        a=announcement,
        p=progress,
        audience=Audience.of(announcement),
        zone=zone,
        now=app.clock.now(),
    )
    return text, _report_markup(announcement.id or 0, language)


async def refresh_report(app: AppContext, announcement_id: int) -> bool:
    """Recount and queue an edit of the report when it would read differently. Also, once an
    announcement is recalled, deletes what was still in flight when it was."""
    now = app.clock.now()
    async with app.db.session() as session:
        announcement = await announcements.find(session, announcement_id)
        if announcement is None or announcement.report_message_id is None:
            return False
        await announcements.delete_sent(session, announcement, now=now)
        progress = await announcements.progress(session, announcement)
        view = progress.key(announcement.status)
        if view == announcement.report_view:
            return False
        text, markup = await report(app, session, announcement, progress)
        payload = {"text": text, "reply_markup": markup.to_dict()}
        return await announcements.queue_report_edit(session, announcement, view, payload, now=now)


def _on_progress(app: AppContext) -> Callable[[str, int], Awaitable[None]]:
    async def listener(kind: str, announcement_id: int) -> None:
        await refresh_report(app, announcement_id)

    return listener


# -- acknowledgement --------------------------------------------------------------------------


def _id_of(data: str | None, position: int = 2) -> int:
    return int((data or "").split(":")[position])


@button(role=Role.MEMBER)
async def acknowledge(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    announcement_id = _id_of(query.data)
    if announcement_id == 0:
        await query.answer(caller.t("This is the preview: nothing is recorded."))
        return
    try:
        first = await announcements.acknowledge(
            caller.session, announcement_id, caller.actor, now=caller.now
        )
    except ServiceError:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return
    await caller.commit()
    if first:
        await query.answer(caller.t("Thank you: your acknowledgement is recorded."))
        await refresh_report(caller.app, announcement_id)
        wake_delivery(context)
    else:
        await query.answer(caller.t("Thank you: you have already acknowledged it."))


# -- the moderators' actions ------------------------------------------------------------------


async def _load(update: Update, caller: Caller) -> Announcement | None:
    query = update.callback_query
    assert query is not None
    try:
        return await announcements.get(caller.session, _id_of(query.data))
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return None


async def _alert(update: Update, caller: Caller, error: ServiceError) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)


@button(role=Role.MODERATOR)
async def view(update: Update, context: CallbackContext, caller: Caller) -> None:
    announcement = await _load(update, caller)
    if announcement is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await _show_detail(update, caller, announcement)


async def _show_detail(update: Update, caller: Caller, announcement: Announcement) -> None:
    progress = await announcements.progress(caller.session, announcement)
    _, text = announcements.version(announcement, caller.locale)
    ident = announcement.id or 0
    now = caller.now
    rows: list[list[tuple[str, str]]] = []
    standing = announcement.status == "active"
    if standing and announcement.ask_ack and announcement.scheduled_at <= now:
        rows.append([(caller.t("Not acknowledged"), f"ann:unack:{ident}")])
    if standing and announcement.scheduled_at > now:
        rows.append([(caller.t("Cancel it"), f"ann:cancel:{ident}")])
    elif standing:
        rows.append([(caller.t("Recall"), f"ann:recall:{ident}")])
    await reply(
        update,
        caller.render(
            "announcements/detail.html",
            a=announcement,
            p=progress,
            audience=Audience.of(announcement),
            author=await announcements.author(caller.session, announcement),
            codes=list(announcement.texts),
            excerpt=excerpt(text),
            zone=caller.zone,
            now=now,
        ),
        buttons(*rows) if rows else None,
    )


@button(role=Role.MODERATOR)
async def not_acknowledged(update: Update, context: CallbackContext, caller: Caller) -> None:
    announcement = await _load(update, caller)
    if announcement is None:
        return
    if not announcement.ask_ack:
        await _alert(update, caller, ServiceError("announcement_no_ack"))
        return
    people = await announcements.unacknowledged(caller.session, announcement)
    assert update.callback_query is not None
    await update.callback_query.answer()
    markup = None
    if people and announcement.reminded_at is None and announcement.status == "active":
        markup = buttons([(caller.t("Send them a reminder"), f"ann:remind:{announcement.id}")])
    await reply(
        update,
        caller.render(
            "announcements/unacknowledged.html", a=announcement, people=people, zone=caller.zone
        ),
        markup,
    )


@button(role=Role.MODERATOR)
async def remind(update: Update, context: CallbackContext, caller: Caller) -> None:
    announcement = await _load(update, caller)
    if announcement is None:
        return
    try:
        count = await announcements.remind(
            caller.session, announcement, now=caller.now, compose=reminder_composer(caller.app)
        )
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    await caller.commit()
    wake_delivery(context)
    await drop_buttons(update)
    await reply(update, caller.render("announcements/reminded.html", count=count))


@button(role=Role.MODERATOR)
async def recall(update: Update, context: CallbackContext, caller: Caller) -> None:
    announcement = await _load(update, caller)
    query = update.callback_query
    if announcement is None or query is None or query.data is None:
        return
    try:
        await announcements.check_recall(caller.session, announcement, caller.now)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    ident = announcement.id
    if not query.data.endswith(":yes"):
        await query.answer()
        progress = await announcements.progress(caller.session, announcement)
        await reply(
            update,
            caller.render("announcements/recall_confirm.html", a=announcement, p=progress),
            buttons(
                [
                    (caller.t("Yes, recall it"), f"ann:recall:{ident}:yes"),
                    (caller.t("No"), f"ann:keep:{ident}"),
                ]
            ),
        )
        return
    try:
        count = await announcements.recall(
            caller.session, announcement, now=caller.now, actor=caller.actor
        )
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    await caller.commit()
    await refresh_report(caller.app, ident or 0)
    wake_delivery(context)
    await query.answer()
    await edit(update, caller.render("announcements/recalled.html", a=announcement, count=count))


@button(role=Role.MODERATOR)
async def keep(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit(update, caller.render("announcements/not_recalled.html", a_id=_id_of(query.data)))


@button(role=Role.MODERATOR)
async def cancel_scheduled(update: Update, context: CallbackContext, caller: Caller) -> None:
    announcement = await _load(update, caller)
    if announcement is None:
        return
    try:
        await announcements.cancel(caller.session, announcement, now=caller.now, actor=caller.actor)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    await caller.commit()
    await refresh_report(caller.app, announcement.id or 0)
    wake_delivery(context)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(update, caller.render("announcements/cancelled.html", a=announcement))


@button(role=Role.MODERATOR)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    """A dialogue button outside its dialogue, or anything else under ann: nobody knows."""
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


# -- /announcements ---------------------------------------------------------------------------


@command(role=Role.MEMBER)
async def announcements_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    if caller.may(Role.MODERATOR):
        await _moderators_list(update, caller)
        return
    items = await announcements.history(caller.session, caller.actor, now=caller.now)
    await reply(
        update,
        caller.render(
            "announcements/history.html",
            items=[_item(caller, a) for a in items],
            zone=caller.zone,
        ),
        _number_buttons("read", [a.id or 0 for a in items]),
    )


def _item(caller: Caller, announcement: Announcement, **extra: Any) -> dict[str, Any]:
    _, text = announcements.version(announcement, caller.locale)
    return {
        "a": announcement,
        "audience": Audience.of(announcement),
        "excerpt": excerpt(text, 160),
        **extra,
    }


def _number_buttons(action: str, ids: list[int]) -> InlineKeyboardMarkup | None:
    if not ids:
        return None
    rows = [
        [InlineKeyboardButton(f"#{i}", callback_data=f"ann:{action}:{i}") for i in ids[s : s + 5]]
        for s in range(0, len(ids), 5)
    ]
    return InlineKeyboardMarkup(rows)


async def _moderators_list(update: Update, caller: Caller) -> None:
    now = caller.now
    upcoming = await announcements.scheduled(caller.session, now=now)
    past = await announcements.recent(caller.session, now=now)
    past_items = [_item(caller, a, p=await announcements.progress(caller.session, a)) for a in past]
    markup = _number_buttons("view", [a.id or 0 for a in upcoming[:10] + past])
    cancels = [
        [
            InlineKeyboardButton(
                caller.t("Cancel #%(id)s", id=a.id), callback_data=f"ann:cancel:{a.id}"
            )
        ]
        for a in upcoming[:10]
    ]
    keyboard = list(markup.inline_keyboard) if markup else []
    keyboard = [list(row) for row in keyboard] + cancels
    await reply(
        update,
        caller.render(
            "announcements/list_moderators.html",
            upcoming=[_item(caller, a) for a in upcoming],
            past=past_items,
            zone=caller.zone,
            now=now,
        ),
        InlineKeyboardMarkup(keyboard) if keyboard else None,
    )


@button(role=Role.MEMBER)
async def read(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    try:
        announcement = await announcements.readable(
            caller.session, _id_of(query.data), caller.actor, now=caller.now
        )
    except ServiceError:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return
    member_id = caller.actor.id or 0
    with_ack = (
        announcement.ask_ack
        and await announcements.reached(caller.session, announcement, member_id)
        and not await announcements.acknowledged_by(caller.session, announcement.id or 0, member_id)
    )
    compose = composer(caller.app.settings.default_language, with_ack=with_ack)
    payload = compose(announcement, Recipient(caller.user.id, member_id, caller.locale))
    await query.answer()
    try:
        await send_payload(context.bot, caller.user.id, payload)
    except TelegramError as exc:
        log.warning("could not show announcement %s again: %s", announcement.id, exc)
        await reply(update, explain(caller.locale, ServiceError("announcement_not_found")))


# -- wiring -----------------------------------------------------------------------------------


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    from handlers import announcements_dialogue

    app.add_handler(announcements_dialogue.conversation(), group)
    app.add_handler(CommandHandler("announcements", announcements_command, filters=only_new), group)
    for handler, pattern in (
        (acknowledge, r"^ann:ack:\d{1,10}$"),
        (read, r"^ann:read:\d{1,10}$"),
        (view, r"^ann:view:\d{1,10}$"),
        (not_acknowledged, r"^ann:unack:\d{1,10}$"),
        (remind, r"^ann:remind:\d{1,10}$"),
        (recall, r"^ann:recall:\d{1,10}(:yes)?$"),
        (keep, r"^ann:keep:\d{1,10}$"),
        (cancel_scheduled, r"^ann:cancel:\d{1,10}$"),
        (stale, r"^ann:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
    worker = app.bot_data.get("delivery")
    if worker is not None:
        worker.on_progress(KIND, _on_progress(app.bot_data["app"]))
