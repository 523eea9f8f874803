"""A member's own settings: /language (buttons) and /timezone."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.config import SUPPORTED_LANGUAGES
from bot.models import Role
from bot.services import members, timezones
from bot.services.errors import ServiceError
from handlers.common import CallbackContext, Caller, args_text, button, command, edit, reply
from handlers.errors import explain
from handlers.menu import publish_for

# Each language is offered in its own name, so anyone can find theirs.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def _language_buttons(current: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if code == current else "") + LANGUAGE_NAMES[code],
                    callback_data=f"lang:{code}",
                )
                for code in SUPPORTED_LANGUAGES
            ]
        ]
    )


@command(role=Role.MEMBER)
async def language_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(update, caller.render("settings/language.html"), _language_buttons(caller.locale))


@button(role=Role.MEMBER)
async def choose_language(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and caller.member is not None
    code = query.data.removeprefix("lang:")
    await members.set_language(caller.session, caller.member, code)
    caller.became(caller.member)
    await query.answer()
    await edit(update, caller.render("settings/language_set.html", name=LANGUAGE_NAMES[code]))
    if Role(caller.member.role).at_least(Role.MODERATOR):
        await publish_for(context.bot, caller.member)


def _zone_buttons() -> InlineKeyboardMarkup:
    rows, row = [], []
    for name in timezones.SUGGESTED:
        row.append(InlineKeyboardButton(name.split("/")[-1], callback_data=f"tz:{name}"))
        if len(row) == 3:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows)


@command(role=Role.MEMBER)
async def timezone_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text = args_text(update)
    if not text:
        await reply(
            update,
            caller.render("settings/timezone.html", zone=caller.zone, now=caller.now),
            _zone_buttons(),
        )
        return
    try:
        name = timezones.parse(text)
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    assert caller.member is not None
    await members.set_timezone(caller.session, caller.member, name)
    caller.became(caller.member)
    await reply(
        update, caller.render("settings/timezone_set.html", zone=caller.zone, now=caller.now)
    )


@button(role=Role.MEMBER)
async def choose_zone(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and caller.member is not None
    name = query.data.removeprefix("tz:")
    if name not in timezones.SUGGESTED:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return
    await members.set_timezone(caller.session, caller.member, name)
    caller.became(caller.member)
    await query.answer()
    await edit(
        update, caller.render("settings/timezone_set.html", zone=caller.zone, now=caller.now)
    )


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("language", language_command, filters=only_new), group)
    app.add_handler(CommandHandler("timezone", timezone_command, filters=only_new), group)
    languages = "|".join(SUPPORTED_LANGUAGES)
    app.add_handler(CallbackQueryHandler(choose_language, pattern=rf"^lang:({languages})$"), group)
    app.add_handler(CallbackQueryHandler(choose_zone, pattern=r"^tz:[A-Za-z_/+-]{1,40}$"), group)
