"""Getting in: /start with or without an invite code, and asking the moderators for access."""

from __future__ import annotations

import logging
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import gettext, pick_language
from bot.models import AccessRequest, Member, Role
from bot.render import render
from bot.services import access_requests, invites, members
from bot.services.errors import ServiceError
from handlers.common import NO_PREVIEW, CallbackContext, Caller, button, command, edit, reply
from handlers.errors import explain

log = logging.getLogger(__name__)

WAITING_FOR_NOTE = 1


@command(role=None)
async def start(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    payload = context.args[0] if context.args else ""
    if payload and invites.looks_like_code(payload):
        outcome = await invites.redeem(
            caller.session,
            payload,
            caller.profile(),
            now=caller.now,
            language=caller.locale,
        )
        if outcome is invites.Redemption.ADMITTED:
            caller.became(await members.by_telegram_id(caller.session, caller.user.id))
        await reply(update, caller.render("access/invite_result.html", outcome=outcome.value))
        return None
    if caller.role is not None:
        await reply(
            update,
            caller.render(
                "access/welcome_member.html", name=caller.user.first_name, role=caller.role.value
            ),
        )
        return None
    if await access_requests.pending_for(caller.session, caller.user.id) is not None:
        await reply(update, caller.render("access/request_pending.html"))
        return None
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(caller.t("Request access"), callback_data="access:ask")]]
    )
    await reply(update, caller.render("access/welcome_stranger.html"), markup)
    return None


@button(role=None)
async def ask_for_note(update: Update, context: CallbackContext, caller: Caller) -> int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if caller.role is not None:
        await reply(update, caller.render("access/already_member.html"))
        return ConversationHandler.END
    await reply(update, caller.render("access/ask_note.html"))
    return WAITING_FOR_NOTE


@command(role=None)
async def receive_note(update: Update, context: CallbackContext, caller: Caller) -> int:
    message = update.effective_message
    assert message is not None
    try:
        request = await access_requests.create(
            caller.session,
            caller.profile(),
            message.text or "",
            now=caller.now,
            language=caller.locale,
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        # A note that is empty or too long can be sent again; anything else ends the dialogue.
        return (
            WAITING_FOR_NOTE
            if error.code in ("note_empty", "note_too_long")
            else (ConversationHandler.END)
        )
    moderators = await members.with_role_at_least(caller.session, Role.MODERATOR)
    await caller.session.commit()
    await notify_moderators(context, caller, moderators, request)
    await reply(update, caller.render("access/request_sent.html"))
    return ConversationHandler.END


@command(role=None)
async def cancel_dialogue(update: Update, context: CallbackContext, caller: Caller) -> int:
    await reply(update, caller.render("access/cancelled.html"))
    return ConversationHandler.END


def _decision_buttons(request_id: int, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    gettext(language, "Approve"), callback_data=f"access:approve:{request_id}"
                ),
                InlineKeyboardButton(
                    gettext(language, "Deny"), callback_data=f"access:deny:{request_id}"
                ),
            ]
        ]
    )


async def notify_moderators(
    context: CallbackContext, caller: Caller, moderators: list[Member], request: AccessRequest
) -> None:
    """Sent directly for now; the delivery outbox will carry these once it exists."""
    for moderator in moderators:
        language = moderator.language or caller.app.settings.default_language
        text = render("access/request_for_moderators.html", language, request=request)
        try:
            await context.bot.send_message(
                moderator.telegram_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=_decision_buttons(request.id or 0, language),
                link_preview_options=NO_PREVIEW,
            )
        except Forbidden:
            # Blocked the bot: kept, marked inactive, skipped until they write again.
            await members.mark_inactive(caller.session, moderator.telegram_id)
        except TelegramError as exc:
            log.warning(
                "could not tell moderator #%s about access request #%s: %s",
                moderator.id,
                request.id,
                exc,
            )


@button(role=Role.MODERATOR)
async def decide(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, verdict, raw_id = query.data.split(":")
    approve = verdict == "approve"
    try:
        request = await access_requests.decide(
            caller.session,
            caller.actor,
            int(raw_id),
            approve,
            now=caller.now,
        )
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await caller.session.commit()
    await query.answer()
    await edit(
        update,
        caller.render(
            "access/decided.html", request=request, approved=approve, moderator=caller.member
        ),
    )
    language = pick_language(request.language, None, caller.app.settings.default_language)
    template = "access/approved.html" if approve else "access/denied.html"
    try:
        await context.bot.send_message(
            request.telegram_id,
            render(template, language),
            parse_mode=ParseMode.HTML,
        )
    except Forbidden:
        log.info("the person behind access request #%s has blocked the bot", request.id)
    except TelegramError as exc:
        log.warning("could not tell the outcome of access request #%s: %s", request.id, exc)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    with warnings.catch_warnings():
        # Intended: the dialogue continues by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        dialogue = ConversationHandler(
            entry_points=[CallbackQueryHandler(ask_for_note, pattern=r"^access:ask$")],
            states={
                WAITING_FOR_NOTE: [
                    MessageHandler(only_new & filters.TEXT & ~filters.COMMAND, receive_note)
                ]
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="access_request",
            per_message=False,
        )
    app.add_handler(dialogue, group)
    app.add_handler(CommandHandler("start", start, filters=only_new), group)
    app.add_handler(
        CallbackQueryHandler(decide, pattern=r"^access:(approve|deny):\d{1,10}$"), group
    )
