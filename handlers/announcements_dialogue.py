"""The /announce dialogue: text (or a photo or document with the text as caption) ->
attachment (or Skip) -> audience -> other language versions -> pin (when the group chat is in the
audience) -> acknowledgement (when members are) -> now or a time -> a preview, exactly as
recipients see it -> Confirm. The rest of the feature is in handlers.announcements.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.config import SUPPORTED_LANGUAGES
from bot.models import Announcement, AttachmentKind, Role
from bot.services import announcements
from bot.services.announcements import Audience, Recipient
from bot.services.errors import ServiceError
from handlers.announcements import (
    ACK,
    ADD_VERSION,
    ATTACHMENT,
    AUDIENCE,
    CONFIRM,
    DRAFT,
    MARK_AS,
    PIN,
    ROLE_CHOICES,
    TEXT,
    VERSION_TEXT,
    VERSIONS,
    WHEN,
    buttons,
    composer,
    drop_buttons,
    formatted,
    message_html,
    refresh_report,
    report,
    send_payload,
)
from handlers.common import (
    CallbackContext,
    Caller,
    command,
    dialogue_endings,
    dialogue_steps,
    edit,
    reply,
    wake_delivery,
)
from handlers.errors import explain

log = logging.getLogger(__name__)


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


_message_step, _button_step = dialogue_steps(Role.MODERATOR, _dialogue, _expired)
# Its own need_text: an announcement may also be a photo or a document.
abandon, cancel_dialogue, use_buttons, _ = dialogue_endings(Role.MODERATOR, _drop, "announcements")


def _check_versions(dialogue: Dialogue, attachment: bool) -> None:
    for language, text in dialogue.texts.items():
        announcements.check_text(message_html(text, language), attachment=attachment)


async def _refuse(update: Update, caller: Caller, error: ServiceError) -> None:
    await reply(update, explain(caller.locale, error))


# -- the dialogue -----------------------------------------------------------------------------


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
        buttons([(caller.t("Skip"), "ann:d:skip")]),
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
    await drop_buttons(update)
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
    return text, buttons(*rows)


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
    await drop_buttons(update)
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
        buttons(*rows),
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
        await drop_buttons(update)
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
        await drop_buttons(update)
        return await _ask_versions(update, caller, dialogue)
    dialogue.adding = code
    await drop_buttons(update)
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
    return buttons([(caller.t("Yes"), f"ann:d:{step}:yes"), (caller.t("No"), f"ann:d:{step}:no")])


@_button_step
async def pin_step(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    dialogue.pin = query.data.endswith(":yes")
    await drop_buttons(update)
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
    await drop_buttons(update)
    return await _ask_when(update, caller)


async def _ask_when(update: Update, caller: Caller) -> int:
    tomorrow = caller.now.astimezone(caller.zone).date() + timedelta(days=1)
    example = f"{tomorrow.isoformat()} 10:00"
    await reply(
        update,
        caller.render("announcements/ask_when.html", zone=_zone_name(caller), example=example),
        buttons([(caller.t("Send now"), "ann:d:now")]),
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
    await drop_buttons(update)
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
        buttons([(caller.t("Confirm"), "ann:d:confirm"), (caller.t("Cancel"), "ann:d:cancel")]),
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
        await drop_buttons(update)
        await _refuse(update, caller, error)
        if error.code == "announcement_time_past":
            return await _ask_when(update, caller)
        if error.code in ("announcement_audience_empty", "announcement_no_audience"):
            return await _ask_audience(update, caller, dialogue)
        return ConversationHandler.END
    progress = await announcements.progress(caller.session, announcement)
    await caller.commit()
    _drop(context)
    await drop_buttons(update)
    # The report is the answer; the worker keeps it up to date once it knows the message.
    text, markup = await report(app, caller.session, announcement, progress)
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


# -- wiring -----------------------------------------------------------------------------------


def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    """The /announce dialogue, registered by handlers.announcements.register."""
    only_new = filters.UpdateType.MESSAGE
    private = only_new & filters.ChatType.PRIVATE
    typed = private & ~filters.COMMAND
    text = typed & filters.TEXT
    files = typed & (filters.PHOTO | filters.Document.ALL) & ~filters.ANIMATION
    other = typed & ~filters.TEXT
    with warnings.catch_warnings():
        # Intended: the dialogue continues by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        return ConversationHandler(
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
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )
