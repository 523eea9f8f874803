"""Announcements: /announce (a dialogue for moderators), the self-updating report, the
Acknowledge button, reminders, cancel and recall, and /announcements (a member's history, or the
moderators' list of scheduled and recent ones).

The dialogue: text (or a photo or document with the text as caption) -> attachment (or Skip) ->
audience -> other language versions -> pin (when the group chat is in the audience) ->
acknowledgement (when members are) -> now or a time -> a preview, exactly as recipients see it ->
Confirm. Confirming writes the announcement and one outbox row per recipient in one transaction;
the delivery worker sends them, and tells `refresh_report` as it goes.

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
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.html_text import TelegramHtmlError, parse_html, split_html
from bot.i18n import _, gettext
from bot.models import Announcement, AttachmentKind, Role
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


# -- the draft --------------------------------------------------------------------------------


@dataclass
class Dialogue:
    """The draft while the moderator writes it (kept in user_data for the dialogue)."""

    language: str
    texts: dict[str, str] = field(default_factory=dict)
    attachment_kind: AttachmentKind | None = None
    attachment_file_id: str | None = None
    audience: Audience = field(default_factory=Audience)
    pin: bool = False
    ask_ack: bool = False
    scheduled_at: datetime | None = None
    adding: str | None = None

    def draft(self) -> announcements.Draft:
        return announcements.Draft(
            texts=dict(self.texts),
            language=self.language,
            audience=self.audience,
            attachment_kind=self.attachment_kind,
            attachment_file_id=self.attachment_file_id,
            pin=self.pin,
            ask_ack=self.ask_ack,
            scheduled_at=self.scheduled_at,
        )

    def preview(self) -> Announcement:
        """An unsaved announcement, for the preview (its Acknowledge button says id 0)."""
        return Announcement(
            id=0,
            language=self.language,
            texts=dict(self.texts),
            attachment_kind=self.attachment_kind,
            attachment_file_id=self.attachment_file_id,
            ask_ack=self.ask_ack,
            pin=self.pin,
        )


def _dialogue(context: CallbackContext) -> Dialogue | None:
    found = (context.user_data or {}).get(DRAFT)
    return found if isinstance(found, Dialogue) else None


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


async def _expired(update: Update, caller: Caller) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, caller.render("announcements/expired.html"))
    return ConversationHandler.END


MessageStep = Callable[[Update, CallbackContext, Caller, Dialogue, Message], Awaitable[int]]
ButtonStep = Callable[[Update, CallbackContext, Caller, Dialogue, CallbackQuery], Awaitable[int]]


def _message_step(handler: MessageStep) -> Callable[[Update, CallbackContext], Awaitable[Any]]:
    """A step of the dialogue answered by a message: the draft, or "this dialogue expired"."""

    @command(role=Role.MODERATOR)
    @wraps(handler)
    async def step(update: Update, context: CallbackContext, caller: Caller) -> int:
        dialogue = _dialogue(context)
        message = update.effective_message
        if dialogue is None or message is None:
            return await _expired(update, caller)
        return await handler(update, context, caller, dialogue, message)

    return step


def _button_step(handler: ButtonStep) -> Callable[[Update, CallbackContext], Awaitable[Any]]:
    """A step of the dialogue answered by a button press: the draft and the press (its data
    matched the handler's pattern, so it is there)."""

    @button(role=Role.MODERATOR)
    @wraps(handler)
    async def step(update: Update, context: CallbackContext, caller: Caller) -> int:
        query = update.callback_query
        dialogue = _dialogue(context)
        if dialogue is None or query is None or query.data is None:
            return await _expired(update, caller)
        return await handler(update, context, caller, dialogue, query)

    return step


def _check_versions(dialogue: Dialogue, attachment: bool) -> None:
    for language, text in dialogue.texts.items():
        announcements.check_text(message_html(text, language), attachment=attachment)


async def _refuse(update: Update, caller: Caller, error: ServiceError) -> None:
    await reply(update, explain(caller.locale, error))


async def _drop_buttons(update: Update) -> None:
    """The step is answered: its buttons go (a markup edit does not count against limits)."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


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


async def _report(
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
        text, markup = await _report(app, session, announcement, progress)
        payload = {"text": text, "reply_markup": markup.to_dict()}
        return await announcements.queue_report_edit(session, announcement, view, payload, now=now)


def _on_progress(app: AppContext) -> Callable[[str, int], Awaitable[None]]:
    async def listener(kind: str, announcement_id: int) -> None:
        await refresh_report(app, announcement_id)

    return listener


# -- the dialogue -----------------------------------------------------------------------------


def _buttons(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


@command(role=Role.MODERATOR)
async def announce(update: Update, context: CallbackContext, caller: Caller) -> int:
    if context.user_data is not None:
        context.user_data[DRAFT] = Dialogue(language=caller.locale)
    await reply(update, caller.render("announcements/ask_text.html"))
    return TEXT


@_message_step
async def receive_text(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    try:
        text = formatted(message)
        announcements.check_text(message_html(text, dialogue.language), attachment=False)
    except ServiceError as error:
        await _refuse(update, caller, error)
        return TEXT
    dialogue.texts = {dialogue.language: text}
    await reply(
        update,
        caller.render("announcements/ask_attachment.html"),
        _buttons([(caller.t("Skip"), "ann:d:skip")]),
    )
    return ATTACHMENT


def _attachment_of(message: Message) -> tuple[AttachmentKind, str] | None:
    if message.photo:
        return AttachmentKind.PHOTO, message.photo[-1].file_id
    if message.document and not message.animation:
        return AttachmentKind.DOCUMENT, message.document.file_id
    return None


@_message_step
async def receive_text_with_file(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    """A photo or document whose caption is the text: both steps at once."""
    attachment = _attachment_of(message)
    if attachment is None or not message.caption:
        await reply(update, caller.render("announcements/need_text.html"))
        return TEXT
    try:
        text = formatted(message)
        announcements.check_text(message_html(text, dialogue.language), attachment=True)
    except ServiceError as error:
        await _refuse(update, caller, error)
        return TEXT
    dialogue.texts = {dialogue.language: text}
    dialogue.attachment_kind, dialogue.attachment_file_id = attachment
    return await _ask_audience(update, caller, dialogue)


@command(role=Role.MODERATOR)
async def need_text(update: Update, context: CallbackContext, caller: Caller) -> int:
    """A sticker, a voice message...: not something an announcement can be."""
    await reply(update, caller.render("announcements/unsupported.html"))
    return TEXT


@_message_step
async def receive_attachment(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    attachment = _attachment_of(message)
    if attachment is None:
        await reply(update, caller.render("announcements/unsupported.html"))
        return ATTACHMENT
    try:
        _check_versions(dialogue, attachment=True)
    except ServiceError as error:
        await _refuse(update, caller, error)
        return ATTACHMENT
    dialogue.attachment_kind, dialogue.attachment_file_id = attachment
    return await _ask_audience(update, caller, dialogue)


@command(role=Role.MODERATOR)
async def need_file(update: Update, context: CallbackContext, caller: Caller) -> int:
    message = update.effective_message
    typed_text = message is not None and message.text is not None
    await reply(
        update,
        caller.render(
            "announcements/need_file.html" if typed_text else "announcements/unsupported.html"
        ),
    )
    return ATTACHMENT


@_button_step
async def skip_attachment(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await _drop_buttons(update)
    return await _ask_audience(update, caller, dialogue)


async def _audience_view(caller: Caller, dialogue: Dialogue) -> tuple[str, InlineKeyboardMarkup]:
    group_id = caller.app.settings.group_chat_id
    audience = dialogue.audience
    people = [
        r
        for r in await announcements.recipients(caller.session, audience, group_chat_id=None)
        if not r.is_group
    ]
    text = caller.render(
        "announcements/ask_audience.html",
        audience=audience,
        people=len(people),
        group_configured=group_id is not None,
    )

    def mark(on: bool, label: str) -> str:
        return ("✓ " if on else "") + label

    rows: list[list[tuple[str, str]]] = []
    first: list[tuple[str, str]] = []
    if group_id is not None:
        first.append((mark(audience.group, caller.t("Group chat")), "ann:d:aud:group"))
    first.append((mark(audience.everyone, caller.t("All members")), "ann:d:aud:all"))
    rows.append(first)
    rows.append(
        [
            (mark(audience.focal_points, caller.t("Focal points")), "ann:d:aud:fp"),
            (mark(audience.moderators, caller.t("Moderators")), "ann:d:aud:mod"),
        ]
    )
    codes = await announcements.countries_with_members(caller.session)
    for start in range(0, len(codes), 4):
        rows.append(
            [
                (mark(code in audience.countries, code), f"ann:d:aud:{code}")
                for code in codes[start : start + 4]
            ]
        )
    rows.append([(caller.t("Next") + " →", "ann:d:aud:next")])
    return text, _buttons(*rows)


async def _ask_audience(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    text, markup = await _audience_view(caller, dialogue)
    await reply(update, text, markup)
    return AUDIENCE


@_button_step
async def choose_audience(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    choice = query.data.removeprefix("ann:d:aud:")
    if choice == "next":
        return await _audience_chosen(update, caller, dialogue)
    if choice == "group" and caller.app.settings.group_chat_id is None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return AUDIENCE
    if choice not in ROLE_CHOICES and choice not in await announcements.countries_with_members(
        caller.session
    ):
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return AUDIENCE
    dialogue.audience = dialogue.audience.toggled(choice)
    await query.answer()
    text, markup = await _audience_view(caller, dialogue)
    await edit(update, text, markup)
    return AUDIENCE


async def _audience_chosen(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    query = update.callback_query
    assert query is not None
    try:
        await announcements.reach(
            caller.session, dialogue.audience, group_chat_id=caller.app.settings.group_chat_id
        )
    except ServiceError as error:
        await query.answer()
        await _refuse(update, caller, error)
        return AUDIENCE
    await _drop_buttons(update)
    return await _ask_versions(update, caller, dialogue)


async def _ask_versions(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    others = [code for code in SUPPORTED_LANGUAGES if code not in dialogue.texts]
    rows = [[(caller.t(ADD_VERSION[code]), f"ann:d:ver:add:{code}")] for code in others]
    if len(dialogue.texts) == 1:
        rows += [[(caller.t(MARK_AS[code]), f"ann:d:ver:lang:{code}")] for code in others]
    rows.append([(caller.t("Next") + " →", "ann:d:ver:next")])
    await reply(
        update,
        caller.render(
            "announcements/ask_versions.html",
            primary=dialogue.language,
            texts=list(dialogue.texts),
            others=others,
        ),
        _buttons(*rows),
    )
    return VERSIONS


@_button_step
async def versions_step(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    parts = query.data.split(":")
    action, code = parts[3], parts[4] if len(parts) > 4 else ""
    if action == "next":
        await _drop_buttons(update)
        return await _after_versions(update, caller, dialogue)
    if code not in SUPPORTED_LANGUAGES or code in dialogue.texts:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return VERSIONS
    if action == "lang":
        if len(dialogue.texts) != 1:
            await query.answer(caller.t("This button is no longer valid."), show_alert=True)
            return VERSIONS
        text = dialogue.texts[dialogue.language]
        try:
            announcements.check_text(
                message_html(text, code), attachment=dialogue.attachment_kind is not None
            )
        except ServiceError as error:
            await query.answer()
            await _refuse(update, caller, error)
            return VERSIONS
        dialogue.language = code
        dialogue.texts = {code: text}
        await _drop_buttons(update)
        return await _ask_versions(update, caller, dialogue)
    dialogue.adding = code
    await _drop_buttons(update)
    await reply(update, caller.render("announcements/ask_version_text.html", language=code))
    return VERSION_TEXT


@_message_step
async def receive_version(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    if dialogue.adding is None:
        return await _expired(update, caller)
    try:
        text = formatted(message)
        announcements.check_text(
            message_html(text, dialogue.adding), attachment=dialogue.attachment_kind is not None
        )
    except ServiceError as error:
        await _refuse(update, caller, error)
        return VERSION_TEXT
    dialogue.texts[dialogue.adding] = text
    dialogue.adding = None
    return await _ask_versions(update, caller, dialogue)


@_message_step
async def need_version_text(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    if dialogue.adding is None:
        return await _expired(update, caller)
    await reply(
        update, caller.render("announcements/ask_version_text.html", language=dialogue.adding)
    )
    return VERSION_TEXT


async def _after_versions(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    if dialogue.audience.group and caller.app.settings.group_chat_id is not None:
        await reply(update, caller.render("announcements/ask_pin.html"), _yes_no(caller, "pin"))
        return PIN
    dialogue.pin = False
    return await _after_pin(update, caller, dialogue)


def _yes_no(caller: Caller, step: str) -> InlineKeyboardMarkup:
    return _buttons([(caller.t("Yes"), f"ann:d:{step}:yes"), (caller.t("No"), f"ann:d:{step}:no")])


@_button_step
async def pin_step(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    dialogue.pin = query.data.endswith(":yes")
    await _drop_buttons(update)
    return await _after_pin(update, caller, dialogue)


async def _after_pin(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    if dialogue.audience.has_members:
        await reply(update, caller.render("announcements/ask_ack.html"), _yes_no(caller, "ack"))
        return ACK
    dialogue.ask_ack = False
    return await _ask_when(update, caller)


@_button_step
async def ack_step(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    dialogue.ask_ack = query.data.endswith(":yes")
    await _drop_buttons(update)
    return await _ask_when(update, caller)


async def _ask_when(update: Update, caller: Caller) -> int:
    tomorrow = caller.now.astimezone(caller.zone).date() + timedelta(days=1)
    example = f"{tomorrow.isoformat()} 10:00"
    await reply(
        update,
        caller.render("announcements/ask_when.html", zone=_zone_name(caller), example=example),
        _buttons([(caller.t("Send now"), "ann:d:now")]),
    )
    return WHEN


def _zone_name(caller: Caller) -> str:
    return str(getattr(caller.zone, "key", None) or caller.zone)


@_button_step
async def send_now(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    dialogue.scheduled_at = None
    await _drop_buttons(update)
    return await _preview(update, context, caller, dialogue)


@_message_step
async def receive_time(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    try:
        dialogue.scheduled_at = announcements.parse_time(
            message.text or "", caller.zone, caller.now
        )
    except ServiceError as error:
        await _refuse(update, caller, error)
        return WHEN
    return await _preview(update, context, caller, dialogue)


async def _preview(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue
) -> int:
    """Each version exactly as its readers will get it, then what happens on Confirm."""
    chat = update.effective_chat
    assert chat is not None
    compose = composer(caller.app.settings.default_language)
    sample = dialogue.preview()
    try:
        for language in dialogue.texts:
            # As a member reading this version sees it (a member id: the Acknowledge button too).
            payload = compose(sample, Recipient(chat.id, -1, language))
            await send_payload(context.bot, chat.id, payload)
    except BadRequest as exc:
        # Telegram would refuse the announcement too (an attachment it does not know, say).
        log.warning("announcement preview refused: %s", exc)
        _drop(context)
        await _refuse(update, caller, ServiceError("announcement_preview_refused"))
        return ConversationHandler.END
    people = [
        r
        for r in await announcements.recipients(
            caller.session, dialogue.audience, group_chat_id=None
        )
        if not r.is_group
    ]
    await reply(
        update,
        caller.render(
            "announcements/summary.html",
            audience=dialogue.audience,
            people=len(people),
            group_configured=caller.app.settings.group_chat_id is not None,
            codes=list(dialogue.texts),
            attachment=dialogue.attachment_kind,
            pin=dialogue.pin,
            ask_ack=dialogue.ask_ack,
            scheduled_at=dialogue.scheduled_at,
            zone=caller.zone,
        ),
        _buttons([(caller.t("Confirm"), "ann:d:confirm"), (caller.t("Cancel"), "ann:d:cancel")]),
    )
    return CONFIRM


@_button_step
async def confirm(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    app = caller.app
    try:
        announcement = await announcements.publish(
            caller.session,
            caller.actor,
            dialogue.draft(),
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=composer(app.settings.default_language),
            report_language=caller.locale,
        )
    except ServiceError as error:
        await _drop_buttons(update)
        await _refuse(update, caller, error)
        if error.code == "announcement_time_past":
            return await _ask_when(update, caller)
        if error.code in ("announcement_audience_empty", "announcement_no_audience"):
            return await _ask_audience(update, caller, dialogue)
        return ConversationHandler.END
    progress = await announcements.progress(caller.session, announcement)
    await caller.commit()
    _drop(context)
    await _drop_buttons(update)
    # The report is the answer; the worker keeps it up to date once it knows the message.
    text, markup = await _report(app, caller.session, announcement, progress)
    sent = await reply(update, text, markup)
    if sent is not None:
        await announcements.set_report(
            caller.session,
            announcement,
            sent.chat_id,
            sent.message_id,
            progress.key(announcement.status),
        )
        await caller.commit()
        # Delivery may have moved on while the report was on its way.
        await refresh_report(app, announcement.id or 0)
    wake_delivery(context)
    return ConversationHandler.END


@button(role=Role.MODERATOR)
async def abandon(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    await _drop_buttons(update)
    await reply(update, caller.render("announcements/dialogue_cancelled.html"))
    return ConversationHandler.END


@command(role=Role.MODERATOR)
async def cancel_dialogue(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    await reply(update, caller.render("announcements/dialogue_cancelled.html"))
    return ConversationHandler.END


@command(role=Role.MODERATOR)
async def use_buttons(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Typing while the step wants a button: say so, stay in the step."""
    await reply(update, caller.render("announcements/use_buttons.html"))


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
        _buttons(*rows) if rows else None,
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
        markup = _buttons([(caller.t("Send them a reminder"), f"ann:remind:{announcement.id}")])
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
    await _drop_buttons(update)
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
            _buttons(
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
    private = only_new & filters.ChatType.PRIVATE
    typed = private & ~filters.COMMAND
    text = typed & filters.TEXT
    files = typed & (filters.PHOTO | filters.Document.ALL) & ~filters.ANIMATION
    other = typed & ~filters.TEXT
    with warnings.catch_warnings():
        # Intended: the dialogue continues by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        dialogue = ConversationHandler(
            entry_points=[CommandHandler("announce", announce, filters=only_new)],
            states={
                TEXT: [
                    MessageHandler(text, receive_text),
                    MessageHandler(files, receive_text_with_file),
                    MessageHandler(other, need_text),
                ],
                ATTACHMENT: [
                    MessageHandler(files, receive_attachment),
                    CallbackQueryHandler(skip_attachment, pattern=r"^ann:d:skip$"),
                    MessageHandler(typed, need_file),
                ],
                AUDIENCE: [
                    CallbackQueryHandler(
                        choose_audience, pattern=r"^ann:d:aud:(group|all|fp|mod|next|[A-Z]{2})$"
                    ),
                    MessageHandler(typed, use_buttons),
                ],
                VERSIONS: [
                    CallbackQueryHandler(
                        versions_step, pattern=r"^ann:d:ver:(next|(add|lang):[a-z]{2})$"
                    ),
                    MessageHandler(typed, use_buttons),
                ],
                VERSION_TEXT: [
                    MessageHandler(text, receive_version),
                    MessageHandler(typed, need_version_text),
                ],
                PIN: [
                    CallbackQueryHandler(pin_step, pattern=r"^ann:d:pin:(yes|no)$"),
                    MessageHandler(typed, use_buttons),
                ],
                ACK: [
                    CallbackQueryHandler(ack_step, pattern=r"^ann:d:ack:(yes|no)$"),
                    MessageHandler(typed, use_buttons),
                ],
                WHEN: [
                    CallbackQueryHandler(send_now, pattern=r"^ann:d:now$"),
                    MessageHandler(text, receive_time),
                    MessageHandler(typed, use_buttons),
                ],
                CONFIRM: [
                    CallbackQueryHandler(confirm, pattern=r"^ann:d:confirm$"),
                    CallbackQueryHandler(abandon, pattern=r"^ann:d:cancel$"),
                    MessageHandler(typed, use_buttons),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="announce",
            per_message=False,
            allow_reentry=True,
        )
    app.add_handler(dialogue, group)
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
