"""/invite creates an invite deep link; /invites lists the live ones, with a Revoke button each."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.models import Role
from bot.services import invites
from bot.services.errors import ServiceError
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    edit,
    reply,
)
from handlers.errors import explain

_USES_RE = re.compile(r"^(\d{1,4})x?$")
_DAYS_RE = re.compile(r"^(\d{1,3})d$")


def link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


@command(role=Role.MODERATOR)
async def invite_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    uses, days = 1, invites.DEFAULT_DAYS
    for word in args_text(update).lower().split():
        if match := _DAYS_RE.match(word):
            days = int(match.group(1))
        elif match := _USES_RE.match(word):
            uses = int(match.group(1))
        else:
            await reply(update, caller.render("invites/usage.html"))
            return
    try:
        invite = await invites.create(
            caller.session,
            caller.actor,
            now=caller.now,
            max_uses=uses,
            days=days,
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await reply(
        update,
        caller.render(
            "invites/created.html",
            invite=invite,
            link=link(context.bot.username, invite.code),
            zone=caller.zone,
        ),
    )


async def _list(caller: Caller, bot_username: str) -> tuple[str, InlineKeyboardMarkup | None]:
    live = await invites.active(caller.session, caller.now)
    text = caller.render(
        "invites/list.html",
        invites=live,
        zone=caller.zone,
        links={i.id: link(bot_username, i.code) for i in live},
    )
    rows = [
        [
            InlineKeyboardButton(
                caller.t("Revoke #%(id)s", id=i.id), callback_data=f"invite:revoke:{i.id}"
            )
        ]
        for i in live[:20]
    ]
    return text, InlineKeyboardMarkup(rows) if rows else None


@command(role=Role.MODERATOR)
async def invites_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text, markup = await _list(caller, context.bot.username)
    await reply(update, text, markup)


@button(role=Role.MODERATOR)
async def revoke(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    try:
        await invites.revoke(
            caller.session,
            caller.actor,
            int(query.data.rsplit(":", 1)[1]),
            now=caller.now,
        )
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await query.answer(caller.t("Revoked."))
    text, markup = await _list(caller, context.bot.username)
    await edit(update, text, markup)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("invite", invite_command, filters=only_new), group)
    app.add_handler(CommandHandler("invites", invites_command, filters=only_new), group)
    app.add_handler(CallbackQueryHandler(revoke, pattern=r"^invite:revoke:\d{1,9}$"), group)
