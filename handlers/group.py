"""The working group's chat: people who leave it lose access if that is how they got in.

Telegram reports departures as `chat_member` updates (when the bot is an admin there) and as
service messages with `left_chat_member`; both are handled, so either one is enough.
"""

from __future__ import annotations

import logging

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot.services import members
from handlers.common import CallbackContext, app_context

log = logging.getLogger(__name__)

GONE = (ChatMember.LEFT, ChatMember.BANNED)


def _left(change: ChatMemberUpdated) -> bool:
    old, new = change.old_chat_member, change.new_chat_member
    was_in = old.status not in GONE and getattr(old, "is_member", True) is not False
    is_out = new.status in GONE or (
        new.status == ChatMember.RESTRICTED and getattr(new, "is_member", True) is False
    )
    return was_in and is_out


async def _lose_access(context: CallbackContext, chat_id: int, user_id: int) -> None:
    app = app_context(context)
    if chat_id != app.settings.group_chat_id:
        return
    async with app.db.session() as session:
        if await members.lose_group_access(session, user_id, app.clock.now()):
            log.info("member #%s left the group chat and lost access", user_id)


async def on_chat_member(update: Update, context: CallbackContext) -> None:
    change = update.chat_member
    if change is None:
        return
    if not _left(change):
        # Joined (or changed status): the next message to the bot checks membership afresh.
        app_context(context).not_in_group_until.pop(change.new_chat_member.user.id, None)
        return
    await _lose_access(context, change.chat.id, change.new_chat_member.user.id)


async def on_left_message(update: Update, context: CallbackContext) -> None:
    message = update.effective_message
    if message is None or message.left_chat_member is None:
        return
    await _lose_access(context, message.chat.id, message.left_chat_member.id)


async def on_bot_blocked(update: Update, context: CallbackContext) -> None:
    """my_chat_member in a private chat: the person blocked (or unblocked) the bot."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    if change.new_chat_member.status in GONE:
        app = app_context(context)
        async with app.db.session() as session:
            await members.mark_inactive(session, change.chat.id)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    app.add_handler(ChatMemberHandler(on_chat_member, ChatMemberHandler.CHAT_MEMBER), group)
    app.add_handler(ChatMemberHandler(on_bot_blocked, ChatMemberHandler.MY_CHAT_MEMBER), group)
    app.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, on_left_message), group)
