"""/help, /cancel outside a dialogue, and what the bot says to anything it does not understand."""

from __future__ import annotations

from functools import lru_cache

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.i18n import gettext
from bot.models import Role
from bot.render import render
from handlers.common import CallbackContext, Caller, button, command, reply
from handlers.menu import available


@lru_cache(maxsize=64)
def help_text(role: Role | None, locale: str, in_group: bool) -> str:
    """The help for a role, in a language: the same for everybody who has both, so made once."""
    commands = [
        (c.name, gettext(locale, c.description)) for c in available(role, in_group=in_group)
    ]
    return render(
        "help/help.html",
        locale,
        commands=commands,
        role=role.value if role else None,
        in_group=in_group,
    )


@command(role=None, private_only=False, load_member=False)
async def help_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(update, help_text(caller.role, caller.locale, not caller.is_private))


@command(role=None, load_member=False)
async def cancel_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(update, caller.render("help/nothing_to_cancel.html"))


@command(role=None, load_member=False)
async def unknown_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(update, caller.render("help/unknown_command.html"))


@command(role=None, load_member=False)
async def plain_text(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Text outside any dialogue: point to /help (or /start for a stranger)."""
    await reply(update, caller.render("help/plain_text.html", admitted=caller.role is not None))


@button(role=None, load_member=False)
async def stale_button(update: Update, context: CallbackContext, caller: Caller) -> None:
    """A button whose data no handler knows: an old message, or forged data."""
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("help", help_command, filters=only_new), group)
    app.add_handler(
        CommandHandler("cancel", cancel_command, filters=only_new & filters.ChatType.PRIVATE),
        group,
    )


def register_fallbacks(app: Application, group: int) -> None:  # type: ignore[type-arg]
    """Last in line: anything no feature took."""
    private_new = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(private_new & filters.COMMAND, unknown_command), group)
    app.add_handler(MessageHandler(private_new & ~filters.COMMAND, plain_text), group)
    app.add_handler(CallbackQueryHandler(stale_button), group)
