"""Turning failures into words: service error codes for the user, exceptions for the log."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.html_text import parse_html
from bot.i18n import _, gettext, pick_language
from bot.services.errors import ServiceError

log = logging.getLogger(__name__)

# Every reason a service may refuse, in words. Params are escaped before they are filled in.
MESSAGES: dict[str, str] = {
    "forbidden": _("You may not do that."),
    "not_yourself": _("You cannot change your own role or access; ask another moderator."),
    "configured_admin": _(
        "This person is an admin by the bot's configuration (ADMIN_IDS); change it there."
    ),
    "only_admin_manages_moderators": _("Only an admin can change moderators and admins."),
    "member_not_found": _(
        "No member %(reference)s. Use @username or the number shown by /members."
    ),
    "bad_country": _(
        "%(country)s is not a country code. Use two letters (ISO 3166), for example KZ or AF."
    ),
    "agency_too_long": _("The agency name is too long (at most %(limit)s characters)."),
    "focal_point_needs_country": _(
        "A focal point needs a country: /promote @username focal_point KZ Agency name"
    ),
    "role_unchanged": _("Nothing changed: this member already has that role."),
    "invite_uses_range": _("An invite can be used from 1 to %(max)s times."),
    "invite_days_range": _("An invite can last from 1 to %(max)s days."),
    "invite_not_found": _("That invite does not exist."),
    "note_empty": _("Please write a few words about yourself, or send /cancel."),
    "note_too_long": _(
        "That is too long: at most %(limit)s characters, please. Try again, or send /cancel."
    ),
    "already_member": _("You are already a member of the working group."),
    "request_pending": _(
        "Your request is already with the moderators; I will tell you their answer."
    ),
    "request_not_found": _("That request does not exist any more."),
    "request_decided": _("This request has already been decided."),
    "timezone_unknown": _(
        "I do not know the time zone %(value)s. Try a city (Almaty, Kabul), an IANA name "
        "(Asia/Tehran) or an offset (+4:30)."
    ),
    "timezone_bad_offset": _(
        "%(value)s is not a real UTC offset. Offsets go from -12:00 to +14:00 in steps of "
        "15 minutes."
    ),
    "announcement_text_empty": _("The announcement has no text. Send its text, or /cancel."),
    "announcement_too_long": _(
        "That is too long for Telegram: the announcement would have %(length)s characters, and "
        "a message can have at most %(limit)s. Please shorten it and send it again, or /cancel."
    ),
    "announcement_caption_too_long": _(
        "With a photo or a document the text becomes its caption, and Telegram allows at most "
        "%(limit)s characters there; the announcement would have %(length)s. Send it without "
        "the attachment (Skip), or /cancel and start again with a shorter text."
    ),
    "announcement_bad_markup": _(
        "I could not keep the formatting of that text. Please send it again with simpler "
        "formatting, or /cancel."
    ),
    "announcement_preview_refused": _(
        "Telegram refused to send the preview, so it would refuse the announcement too. "
        "Nothing was sent; start again with /announce."
    ),
    "announcement_time_unparseable": _(
        "I cannot read %(value)s as a date and time. Write it like 2026-12-03 10:00 (in your "
        "time zone), or press Send now."
    ),
    "announcement_time_past": _(
        "That time has already passed. Write a time in the future, like 2026-12-03 10:00, or "
        "press Send now."
    ),
    "announcement_time_too_far": _(
        "That is more than a year ahead. Choose a time within the next twelve months."
    ),
    "announcement_no_audience": _("Choose at least one audience first."),
    "announcement_audience_empty": _(
        "Nobody is in that audience: no active member matches it. Choose another audience."
    ),
    "announcement_not_found": _("That announcement does not exist."),
    "announcement_cancelled": _("That announcement was cancelled: nothing of it was sent."),
    "announcement_recalled": _("That announcement has already been recalled."),
    "announcement_already_sent": _(
        "That announcement has already gone out, so it cannot be cancelled; you can recall it."
    ),
    "announcement_not_sent_yet": _(
        "That announcement has not gone out yet. Cancel it instead, if it should not go."
    ),
    "announcement_too_old_to_recall": _(
        "Telegram lets a bot delete its messages only within 48 hours of sending them, and this "
        "announcement is older than that: it can no longer be recalled."
    ),
    "announcement_no_ack": _("That announcement did not ask for acknowledgement."),
    "announcement_already_reminded": _(
        "A reminder has already been sent for that announcement; there is only one."
    ),
    "announcement_all_acknowledged": _(
        "Everybody it reached has acknowledged it: there is nobody to remind."
    ),
}


def add_messages(messages: dict[str, str]) -> None:
    """A feature's own refusals, added when its handler module is imported."""
    clash = set(messages) & set(MESSAGES)
    if clash:
        raise ValueError(f"error codes defined twice: {sorted(clash)}")
    MESSAGES.update(messages)


def explain(language: str, error: ServiceError, *, plain: bool = False) -> str:
    """The user's words for a service error: HTML (escaped), or plain text for alerts."""
    message = MESSAGES.get(error.code)
    if message is None:
        log.error("no message for service error code %r", error.code)
        message = MESSAGES["forbidden"]
    params = {
        k: (str(v) if plain else html.escape(str(v), quote=False)) for k, v in error.params.items()
    }
    try:
        text = gettext(language, message, **params) if params else gettext(language, message)
    except (KeyError, TypeError, ValueError):
        text = gettext(language, message)
    return text


def _describe(update: object) -> str:
    """Which update failed, without anybody's message text."""
    if not isinstance(update, Update):
        return type(update).__name__
    kind = next(
        (
            name
            for name in (
                "message",
                "edited_message",
                "callback_query",
                "inline_query",
                "chat_member",
                "my_chat_member",
                "poll",
                "poll_answer",
            )
            if getattr(update, name, None) is not None
        ),
        "other",
    )
    chat = update.effective_chat.id if update.effective_chat else None
    user = update.effective_user.id if update.effective_user else None
    return f"update {update.update_id} ({kind}, chat {chat}, user {user})"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its update, tell the user something short; never re-raise."""
    log.error("error while handling %s", _describe(update), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_user is None:
        return
    from handlers.common import app_context

    app = app_context(context)
    # No database here (it may be what failed): the member's language if it is remembered.
    known = app.identities.peek(update.effective_user.id)
    language = pick_language(
        known.language if known is not None else None,
        update.effective_user.language_code,
        app.settings.default_language,
    )
    text = gettext(language, "Sorry, something went wrong on my side. Please try again later.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(parse_html(text)[0][:200], show_alert=True)
        elif update.effective_chat is not None and update.effective_message is not None:
            await context.bot.send_message(
                update.effective_chat.id,
                html.escape(text, quote=False),
                parse_mode=ParseMode.HTML,
            )
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_error_handler(on_error)
