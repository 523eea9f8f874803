"""Moderators manage people: /members, /promote, /demote, /setcountry, /remove."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.models import Member, Role
from bot.services import countries, members
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
from handlers.menu import publish_for

ROLE_WORDS: dict[str, Role] = {
    "member": Role.MEMBER,
    "участник": Role.MEMBER,
    "focal_point": Role.FOCAL_POINT,
    "focal": Role.FOCAL_POINT,
    "fp": Role.FOCAL_POINT,
    "фокальный": Role.FOCAL_POINT,
    "координатор": Role.FOCAL_POINT,
    "moderator": Role.MODERATOR,
    "mod": Role.MODERATOR,
    "модератор": Role.MODERATOR,
    "admin": Role.ADMIN,
    "админ": Role.ADMIN,
    "администратор": Role.ADMIN,
}


def _filter_of(text: str) -> tuple[str | None, Role | None]:
    text = text.strip()
    if not text:
        return None, None
    if text.lower() in ROLE_WORDS:
        return None, ROLE_WORDS[text.lower()]
    return countries.normalize(text) or "??", None


async def _show_members(
    caller: Caller, page_number: int, filter_text: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    country, role = _filter_of(filter_text)
    rows, pages, total = await members.page(caller.session, page_number, country=country, role=role)
    page_number = min(max(page_number, 0), pages - 1)
    text = caller.render(
        "members/list.html",
        members=rows,
        page=page_number + 1,
        pages=pages,
        total=total,
        filter=filter_text,
    )
    buttons = []
    if page_number > 0:
        buttons.append(
            InlineKeyboardButton("◀", callback_data=f"members:{page_number - 1}:{filter_text}")
        )
    if page_number + 1 < pages:
        buttons.append(
            InlineKeyboardButton("▶", callback_data=f"members:{page_number + 1}:{filter_text}")
        )
    return text, InlineKeyboardMarkup([buttons]) if buttons else None


@command(role=Role.MODERATOR)
async def members_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    filter_text = args_text(update)
    if filter_text and _filter_of(filter_text)[0] == "??":
        await reply(update, caller.render("members/bad_filter.html", value=filter_text[:40]))
        return
    text, markup = await _show_members(
        caller, 0, filter_text.lower() if filter_text.lower() in ROLE_WORDS else filter_text.upper()
    )
    await reply(update, text, markup)


@button(role=Role.MODERATOR)
async def members_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, raw_page, filter_text = query.data.split(":", 2)
    if filter_text and _filter_of(filter_text)[0] == "??":
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return
    text, markup = await _show_members(caller, int(raw_page), filter_text)
    await query.answer()
    await edit(update, text, markup)


async def _changed(
    update: Update, context: CallbackContext, caller: Caller, target: Member, template: str
) -> None:
    await caller.commit()
    await reply(update, caller.render(template, member=target))
    await publish_for(context.bot, target)


@command(role=Role.MODERATOR)
async def promote_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    parts = args_text(update).split(maxsplit=3)
    if len(parts) < 2 or parts[1].lower() not in ROLE_WORDS:
        await reply(update, caller.render("members/usage_promote.html"))
        return
    try:
        target = await members.find(caller.session, parts[0])
        await members.set_role(
            caller.session,
            caller.actor,
            target,
            ROLE_WORDS[parts[1].lower()],
            now=caller.now,
            admin_ids=caller.app.admin_ids,
            country=parts[2] if len(parts) > 2 else None,
            agency=parts[3] if len(parts) > 3 else None,
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await _changed(update, context, caller, target, "members/role_changed.html")


@command(role=Role.MODERATOR)
async def demote_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    parts = args_text(update).split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ROLE_WORDS):
        await reply(update, caller.render("members/usage_demote.html"))
        return
    try:
        target = await members.find(caller.session, parts[0])
        new_role = ROLE_WORDS[parts[1].lower()] if len(parts) == 2 else Role.MEMBER
        if new_role.rank >= Role(target.role).rank:
            await reply(update, caller.render("members/usage_demote.html"))
            return
        await members.set_role(
            caller.session,
            caller.actor,
            target,
            new_role,
            now=caller.now,
            admin_ids=caller.app.admin_ids,
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await _changed(update, context, caller, target, "members/role_changed.html")


@command(role=Role.MODERATOR)
async def setcountry_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    parts = args_text(update).split(maxsplit=2)
    if len(parts) < 2:
        await reply(update, caller.render("members/usage_setcountry.html"))
        return
    try:
        target = await members.find(caller.session, parts[0])
        await members.set_country(
            caller.session,
            caller.actor,
            target,
            parts[1],
            now=caller.now,
            admin_ids=caller.app.admin_ids,
            agency=parts[2] if len(parts) > 2 else None,
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await caller.commit()
    await reply(update, caller.render("members/country_changed.html", member=target))


@command(role=Role.MODERATOR)
async def remove_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    parts = args_text(update).split(maxsplit=1)
    if not parts:
        await reply(update, caller.render("members/usage_remove.html"))
        return
    try:
        target = await members.find(caller.session, parts[0])
        await members.remove(
            caller.session,
            caller.actor,
            target,
            now=caller.now,
            admin_ids=caller.app.admin_ids,
            reason=parts[1] if len(parts) > 1 else "",
        )
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await _changed(update, context, caller, target, "members/removed.html")


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    for name, callback in (
        ("members", members_command),
        ("promote", promote_command),
        ("demote", demote_command),
        ("setcountry", setcountry_command),
        ("remove", remove_command),
    ):
        app.add_handler(CommandHandler(name, callback, filters=only_new), group)
    app.add_handler(
        CallbackQueryHandler(members_page, pattern=r"^members:\d{1,5}:[a-z_A-Z]{0,12}$"), group
    )
