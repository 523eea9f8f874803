"""/privacy (what is kept about you) and /forgetme (delete it, after a confirmation)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot.services import access_requests, members
from handlers.common import CallbackContext, Caller, button, command, edit, reply


@command(role=None, private_only=False, load_member=False)
async def privacy_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    await reply(
        update,
        caller.render("privacy/privacy.html", member=caller.identity if caller.role else None),
    )


@command(role=None)
async def forgetme_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    pending = await access_requests.pending_for(caller.session, caller.user.id)
    if caller.member is None and pending is None:
        await reply(update, caller.render("privacy/nothing_kept.html"))
        return
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(caller.t("Yes, delete my data"), callback_data="forget:yes"),
                InlineKeyboardButton(caller.t("No, keep it"), callback_data="forget:no"),
            ]
        ]
    )
    await reply(
        update,
        caller.render(
            "privacy/forget_confirm.html", is_admin=caller.user.id in caller.app.admin_ids
        ),
        markup,
    )


@button(role=None)
async def forget_answer(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.data != "forget:yes":
        await edit(update, caller.render("privacy/forget_kept.html"))
        return
    if caller.member is not None:
        await members.forget(caller.session, caller.member, caller.now)
    else:
        await access_requests.forget(caller.session, caller.user.id)
    # Their dialogue drafts too, in memory (the stored copy went with the rows above).
    context.application.drop_user_data(caller.user.id)
    await edit(update, caller.render("privacy/forgotten.html"))


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("privacy", privacy_command, filters=only_new), group)
    app.add_handler(CommandHandler("forgetme", forgetme_command, filters=only_new), group)
    app.add_handler(CallbackQueryHandler(forget_answer, pattern=r"^forget:(yes|no)$"), group)
