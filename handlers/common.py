"""What every handler does first: find out who is asking, in which language, and whether they may.

`command(...)` and `button(...)` wrap a handler: they open one database session (one transaction)
for the update, resolve the caller (admitting a member of the group chat on first contact), pick the
language, check the role, and refuse politely when the caller may not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import wraps
from typing import Any, Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.context import AppContext
from bot.db import UnitOfWork
from bot.html_text import parse_html, split_html
from bot.i18n import gettext, pick_language
from bot.models import Admission, Member, MemberStatus, Role
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services import members, timezones
from bot.services.identity import Identity

log = logging.getLogger(__name__)

CallbackContext = ContextTypes.DEFAULT_TYPE
# getChatMember statuses of people who are in a chat.
IN_CHAT = ("creator", "administrator", "member", "restricted")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def app_context(context: CallbackContext) -> AppContext:
    return context.bot_data["app"]  # type: ignore[no-any-return]


@dataclass
class Caller:
    """The person behind an update, as the bot sees them.

    `identity` (always resolved, usually from memory) decides the role, language and zone;
    `member` (the database row, for handlers that change something) is loaded only on request.
    """

    user: User
    identity: Identity | None
    member: Member | None
    locale: str
    work: UnitOfWork
    app: AppContext
    chat_type: str

    @property
    def session(self) -> AsyncSession:
        """This update's session (one transaction), made on first use."""
        return self.work.session

    @property
    def actor(self) -> Member:
        """The caller's row, for handlers that act (they run with `load_member=True`)."""
        if self.member is None:
            raise RuntimeError("this handler needs load_member=True")
        return self.member

    @property
    def role(self) -> Role | None:
        return self.identity.role if self.identity and self.identity.has_access else None

    @property
    def zone(self) -> tzinfo:
        name = self.identity.timezone if self.identity else None
        return timezones.zone(name, self.app.settings.default_timezone)

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    @property
    def is_private(self) -> bool:
        return self.chat_type == ChatType.PRIVATE

    def may(self, role: Role | None) -> bool:
        return role is None or (self.role is not None and self.role.at_least(role))

    def t(self, message: str, **params: object) -> str:
        return gettext(self.locale, message, **params)

    def render(self, template: str, **context: Any) -> str:
        return render(template, self.locale, **context)

    def profile(self) -> members.Profile:
        return profile_of(self.user)

    async def commit(self) -> None:
        """Make this update's changes durable now: before the delivery worker is woken for
        rows it queued, or before an answer that says a change was made."""
        await self.work.commit()

    async def discard(self) -> None:
        """Drop this update's changes not yet committed: a refused request changes nothing,
        even when a service had written part of it before it refused."""
        await self.work.rollback()

    def became(self, member: Member | None) -> None:
        """The caller's row changed during this update (admitted, language set, forgotten)."""
        self.member = member
        self.identity = Identity.of(member) if member is not None else None
        self.locale = _language(self.identity, self.user, self.app)


def profile_of(user: User) -> members.Profile:
    return members.Profile(user.id, user.full_name, user.username)


GROUP_CHECK_INTERVAL = timedelta(minutes=1)


async def _in_group_chat(context: CallbackContext, group_id: int, user_id: int) -> bool:
    app = app_context(context)
    now = app.clock.now()
    if app.not_in_group_until.get(user_id, now) > now:
        return False
    try:
        chat_member = await context.bot.get_chat_member(group_id, user_id)
    except TelegramError as exc:
        log.warning("could not check the group membership of a user: %s", exc)
        return False
    inside = chat_member.status in IN_CHAT and getattr(chat_member, "is_member", True) is not False
    if inside:
        app.not_in_group_until.pop(user_id, None)
    else:
        if len(app.not_in_group_until) > 10_000:
            app.not_in_group_until.clear()
        app.not_in_group_until[user_id] = now + GROUP_CHECK_INTERVAL
    return inside


async def resolve(
    update: Update, context: CallbackContext, work: UnitOfWork, *, load_member: bool = True
) -> Caller | None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None or user.is_bot:
        return None
    app = app_context(context)
    profile = profile_of(user)
    known, identity = app.identities.fresh(user.id)
    if not known:
        identity = await app.identities.lookup(work.session, user.id)
    member: Member | None = None
    group_id = app.settings.group_chat_id
    if identity is None and group_id is not None:
        # Someone in the working group's chat is a member: admit on first contact.
        seen_in_group = chat is not None and chat.id == group_id
        if seen_in_group or await _in_group_chat(context, group_id, user.id):
            member = await members.admit(
                work.session, profile, via=Admission.GROUP, now=app.clock.now()
            )
    elif identity is not None:
        # Keep name and username current, and wake an inactive member up: they wrote to us.
        stale = identity.has_access and (
            not identity.matches(profile) or identity.status == MemberStatus.INACTIVE
        )
        if load_member or stale:
            member = await members.by_telegram_id(work.session, user.id)
            if member is not None and stale:
                await members.refresh_profile(work.session, member, profile)
    if member is not None:
        identity = Identity.of(member)
    return Caller(
        user=user,
        identity=identity,
        member=member,
        locale=_language(identity, user, app),
        work=work,
        app=app,
        chat_type=chat.type if chat else ChatType.PRIVATE,
    )


def locale_of(member: Member, user: User, app: AppContext) -> str:
    """The language to answer a member in, when their row was loaded without a Caller."""
    return _language(Identity.of(member), user, app)


def _language(identity: Identity | None, user: User, app: AppContext) -> str:
    """The member's choice, else Telegram's language_code, else the default."""
    chosen = identity.language if identity is not None and identity.has_access else None
    return pick_language(chosen, user.language_code, app.settings.default_language)


Handler = Callable[[Update, CallbackContext, Caller], Awaitable[Any]]


async def reply(
    update: Update,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Answer in the chat the update came from, split safely when long."""
    message = update.effective_message
    if message is None:
        return None
    chunks = split_html(text, TELEGRAM_TEXT_LIMIT)
    sent: Message | None = None
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        sent = await message.reply_text(
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
            link_preview_options=NO_PREVIEW,
            do_quote=False,
        )
    return sent


async def edit(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the text of the message whose button was pressed.

    An edit cannot become two messages: text over Telegram's limit keeps its first part only.
    Pressing a button that changes nothing is not an error for the person who pressed it.
    """
    query = update.callback_query
    if query is None:
        return
    first = split_html(text, TELEGRAM_TEXT_LIMIT)[0]
    try:
        await query.edit_message_text(
            first, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def refuse(update: Update, caller: Caller, role: Role | None) -> None:
    """Say no without telling a stranger anything about the group."""
    if caller.role is None:
        text = caller.render("common/not_admitted.html")
    else:
        text = caller.render("common/not_allowed.html", role=role.value if role else "")
    if update.callback_query is not None:
        await update.callback_query.answer(_plain(text)[:200], show_alert=True)
    else:
        await reply(update, text)


def _plain(html: str) -> str:
    return parse_html(html)[0]


Wrapped = Callable[[Update, CallbackContext], Awaitable[Any]]


def _guarded(
    handler: Handler, role: Role | None, *, private_only: bool, load_member: bool
) -> Wrapped:
    @wraps(handler)
    async def wrapper(update: Update, context: CallbackContext) -> Any:
        app = app_context(context)
        async with app.db.unit_of_work() as work:
            caller = await resolve(update, context, work, load_member=load_member)
            if caller is None:
                return None
            if not caller.may(role):
                await refuse(update, caller, role)
                return None
            if private_only and not caller.is_private:
                await reply(update, caller.render("common/private_only.html"))
                return None
            return await handler(update, context, caller)

    return wrapper


def command(
    role: Role | None = Role.MEMBER, *, private_only: bool = True, load_member: bool = True
) -> Callable[[Handler], Wrapped]:
    """Wrap a command handler: session, caller, role check, private-chat check.

    `load_member=False` for handlers that only read who the caller is (no database round trip
    when the caller is known).
    """
    return lambda handler: _guarded(
        handler, role, private_only=private_only, load_member=load_member
    )


def button(
    role: Role | None = Role.MEMBER, *, load_member: bool = True
) -> Callable[[Handler], Wrapped]:
    """Wrap a callback-query handler: the role is checked again on every press."""
    return lambda handler: _guarded(handler, role, private_only=False, load_member=load_member)


class HasBotData(Protocol):
    """A CallbackContext, or the Application itself (for work done outside an update)."""

    @property
    def bot_data(self) -> Any: ...


def wake_delivery(context: HasBotData) -> None:
    """Rows were queued and committed: the delivery worker should look now."""
    worker = context.bot_data.get("delivery")
    if worker is not None:
        worker.wake()


def wake_scheduler(context: HasBotData) -> None:
    """Meetings or action items changed and were committed: re-arm the reminder timer."""
    scheduler = context.bot_data.get("scheduler")
    if scheduler is not None:
        scheduler.wake()


def args_text(update: Update) -> str:
    """Everything after the command word, as typed (keeps spaces inside the arguments)."""
    message = update.effective_message
    text = message.text if message and message.text else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


# -- dialogues ----------------------------------------------------------------------------------


async def drop_buttons(update: Update) -> None:
    """A step is answered: its buttons go (a markup edit does not count against limits)."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


D = TypeVar("D")
MessageStep = Callable[[Update, CallbackContext, Caller, D, Message], Awaitable[int]]
ButtonStep = Callable[[Update, CallbackContext, Caller, D, CallbackQuery], Awaitable[int]]
Step = Callable[[Update, CallbackContext], Awaitable[Any]]


def dialogue_steps(
    role: Role,
    load: Callable[[CallbackContext], D | None],
    expired: Callable[[Update, Caller], Awaitable[int]],
    guard: Callable[[Update, CallbackContext, Caller, D], Awaitable[int | None]] | None = None,
) -> tuple[Callable[[MessageStep[D]], Step], Callable[[ButtonStep[D]], Step]]:
    """The decorators of a dialogue's steps, one for steps answered by a message and one for
    button presses: the caller's role checked, the dialogue's state loaded (`load`), or
    `expired` said when there is none (a restart, a stale button); `guard` may end the dialogue
    first (returning the next state) when the state no longer allows the step."""

    def message_step(handler: MessageStep[D]) -> Step:
        @command(role=role)
        @wraps(handler)
        async def step(update: Update, context: CallbackContext, caller: Caller) -> int:
            dialogue = load(context)
            message = update.effective_message
            if dialogue is None or message is None:
                return await expired(update, caller)
            ended = await guard(update, context, caller, dialogue) if guard else None
            if ended is not None:
                return ended
            return await handler(update, context, caller, dialogue, message)

        return step

    def button_step(handler: ButtonStep[D]) -> Step:
        @button(role=role)
        @wraps(handler)
        async def step(update: Update, context: CallbackContext, caller: Caller) -> int:
            query = update.callback_query
            dialogue = load(context)
            if dialogue is None or query is None or query.data is None:
                return await expired(update, caller)
            ended = await guard(update, context, caller, dialogue) if guard else None
            if ended is not None:
                return ended
            return await handler(update, context, caller, dialogue, query)

        return step

    return message_step, button_step


def dialogue_endings(
    role: Role,
    drop: Callable[[CallbackContext], None],
    folder: str,
    *,
    cancelled: str = "dialogue_cancelled",
) -> tuple[Step, Step, Step, Step]:
    """The replies every dialogue shares, from its templates in `folder`: its Cancel button,
    /cancel (whoever is in the dialogue, even one whose role changed meanwhile), a typed message
    where a button is expected, and a message that is not text where text is."""
    from telegram.ext import ConversationHandler

    @button(role=role)
    async def abandon(update: Update, context: CallbackContext, caller: Caller) -> int:
        drop(context)
        await drop_buttons(update)
        await reply(update, caller.render(f"{folder}/{cancelled}.html"))
        return ConversationHandler.END

    @command(role=None)
    async def cancel_dialogue(update: Update, context: CallbackContext, caller: Caller) -> int:
        drop(context)
        await reply(update, caller.render(f"{folder}/{cancelled}.html"))
        return ConversationHandler.END

    @command(role=role)
    async def use_buttons(update: Update, context: CallbackContext, caller: Caller) -> None:
        await reply(update, caller.render(f"{folder}/use_buttons.html"))

    @command(role=role)
    async def need_text(update: Update, context: CallbackContext, caller: Caller) -> None:
        await reply(update, caller.render(f"{folder}/need_text.html"))

    return abandon, cancel_dialogue, use_buttons, need_text
