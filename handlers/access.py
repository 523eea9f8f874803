"""Getting in: /start with or without an invite code, and asking the moderators for access."""

from __future__ import annotations

import logging
import warnings

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import gettext, pick_language
from bot.models import AccessRequest, Member, OutboxAction, Role
from bot.render import render
from bot.services import access_requests, invites, members, outbox
from bot.services.errors import ServiceError
from handlers.common import (
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

WAITING_FOR_NOTE = 1
# Outbox rows of this feature: the requests to moderators, the outcome, the updated copies.
KIND = "access_request"


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
    await outbox.enqueue(
        caller.session,
        KIND,
        request.id,
        [
            _ask(moderator, request, caller.app.settings.default_language)
            for moderator in moderators
        ],
        now=caller.now,
    )
    await caller.commit()
    wake_delivery(context)
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


def _ask(moderator: Member, request: AccessRequest, default_language: str) -> outbox.Outgoing:
    """The request, as one moderator gets it: in their language, with Approve and Deny."""
    language = moderator.language or default_language
    return outbox.Outgoing(
        dedup_key=f"{KIND}:{request.id}:ask:{moderator.id}",
        chat_id=moderator.telegram_id,
        recipient_id=moderator.id,
        payload={
            "text": render("access/request_for_moderators.html", language, request=request),
            "reply_markup": _decision_buttons(request.id or 0, language).to_dict(),
        },
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
    # The person is told; the other moderators' copies lose their buttons and say who decided.
    language = pick_language(request.language, None, caller.app.settings.default_language)
    told = [
        outbox.Outgoing(
            dedup_key=f"{KIND}:{request.id}:outcome",
            chat_id=request.telegram_id,
            payload={
                "text": render(
                    "access/approved.html" if approve else "access/denied.html", language
                )
            },
        )
    ]
    pressed = (query.message.chat.id, query.message.message_id) if query.message else None
    language_default = caller.app.settings.default_language
    for copy in await outbox.rows_for(caller.session, KIND, request.id or 0, OutboxAction.SEND):
        if copy.telegram_message_id is None or (copy.chat_id, copy.telegram_message_id) == pressed:
            continue
        moderator = await members.by_telegram_id(caller.session, copy.chat_id)
        copy_language = (moderator.language if moderator else None) or language_default
        told.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{request.id}:decided:{copy.chat_id}",
                chat_id=copy.chat_id,
                action=OutboxAction.EDIT,
                target_message_id=copy.telegram_message_id,
                payload={
                    "text": render(
                        "access/decided.html",
                        copy_language,
                        request=request,
                        approved=approve,
                        moderator=caller.actor,
                    )
                },
            )
        )
    await outbox.enqueue(caller.session, KIND, request.id, told, now=caller.now)
    await caller.commit()
    wake_delivery(context)
    await query.answer()
    await edit(
        update,
        caller.render(
            "access/decided.html", request=request, approved=approve, moderator=caller.actor
        ),
    )


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
            persistent=True,
            per_message=False,
        )
    app.add_handler(dialogue, group)
    app.add_handler(CommandHandler("start", start, filters=only_new), group)
    app.add_handler(CallbackQueryHandler(decide, pattern=r"^access:(approve|deny):\d{1,9}$"), group)
