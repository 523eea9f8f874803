"""/audit: admins read who admitted, refused, removed or changed whom, newest first."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.models import Role
from bot.services import audit
from handlers.common import CallbackContext, Caller, button, command, edit, reply


async def _page(caller: Caller, number: int) -> tuple[str, InlineKeyboardMarkup | None]:
    entries, pages = await audit.page(caller.session, number)
    number = min(max(number, 0), pages - 1)
    text = caller.render(
        "audit/list.html", entries=entries, page=number + 1, pages=pages, zone=caller.zone
    )
    buttons = []
    if number > 0:
        buttons.append(InlineKeyboardButton("◀", callback_data=f"audit:{number - 1}"))
    if number + 1 < pages:
        buttons.append(InlineKeyboardButton("▶", callback_data=f"audit:{number + 1}"))
    return text, InlineKeyboardMarkup([buttons]) if buttons else None


@command(role=Role.ADMIN)
async def audit_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text, markup = await _page(caller, 0)
    await reply(update, text, markup)


@button(role=Role.ADMIN)
async def audit_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    text, markup = await _page(caller, int(query.data.split(":")[1]))
    await query.answer()
    await edit(update, text, markup)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    app.add_handler(
        CommandHandler("audit", audit_command, filters=filters.UpdateType.MESSAGE), group
    )
    app.add_handler(CallbackQueryHandler(audit_page, pattern=r"^audit:\d{1,5}$"), group)
