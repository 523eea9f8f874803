"""/poll: a quick poll or a secret ballot, in one line or step by step (moderators).

With text after it, the one-line form (`polls.parse_line`):
`/poll Next meeting? | 3 Dec | 10 Dec | 17 Dec --close 3d`, with --secret, --multi,
--audience group|all|focal|KZ,AF, --per-country, --quorum N. Without, it asks: question ->
options (one per message and "Done", or all on separate lines of one message) -> quick or secret
-> one answer or several -> audience -> deadline (1, 3, 7 days, or typed) -> quorum (secret
ballots: Skip or a number). Either way a preview follows, then Confirm. A bad answer gets its
explanation and the same question again; nothing is saved before Confirm.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.html_text import utf16_len
from bot.models import BallotScope, PollKind, Role
from bot.services import meetings, polls
from bot.services.errors import ServiceError
from bot.services.meeting_input import clean_text
from bot.services.polls import PollAudience, PollDraft
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    command,
    dialogue_endings,
    dialogue_steps,
    drop_buttons,
    edit,
    reply,
)
from handlers.errors import explain
from handlers.polls import data_button, wake

QUESTION, OPTIONS, KIND, MULTI, AUDIENCE, DEADLINE, QUORUM, CONFIRM = range(8)
DRAFT = "poll_dialogue"
DAYS = ("1", "3", "7")


@dataclass
class Dialogue:
    zone: str
    question: str = ""
    options: list[str] = field(default_factory=list)
    kind: PollKind = PollKind.QUICK
    multiple: bool = False
    audience: PollAudience = field(default_factory=PollAudience)
    scope: BallotScope = BallotScope.MEMBERS
    draft: PollDraft | None = None

    def as_draft(self, **changes: Any) -> PollDraft:
        base = PollDraft(
            question=self.question,
            options=list(self.options),
            kind=self.kind,
            multiple=self.multiple,
            audience=self.audience if self.audience.chosen else None,
            scope=self.scope,
        )
        return replace(base, **changes)


def _dialogue(context: CallbackContext) -> Dialogue | None:
    found = (context.user_data or {}).get(DRAFT)
    return found if isinstance(found, Dialogue) else None


def _keep(context: CallbackContext, dialogue: Dialogue) -> None:
    if context.user_data is not None:
        context.user_data[DRAFT] = dialogue


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _zone_name(caller: Caller) -> str:
    return str(getattr(caller.zone, "key", None) or caller.zone)


def _with_error(caller: Caller, error: ServiceError | None) -> str:
    return "" if error is None else explain(caller.locale, error) + "\n\n"


def _markup(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[data_button(label, data) for label, data in row] for row in rows])


async def _expired(update: Update, caller: Caller) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, caller.render("polls/expired.html"))
    return ConversationHandler.END


_message_step, _button_step = dialogue_steps(Role.MODERATOR, _dialogue, _expired)
abandon, cancel_dialogue, use_buttons, need_text = dialogue_endings(Role.MODERATOR, _drop, "polls")


# -- the questions ------------------------------------------------------------------------------


async def _ask_question(
    update: Update, caller: Caller, *, error: ServiceError | None = None
) -> int:
    await reply(update, _with_error(caller, error) + caller.render("polls/ask_question.html"))
    return QUESTION


async def _ask_options(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    done = len(dialogue.options) >= polls.MIN_OPTIONS
    await reply(
        update,
        _with_error(caller, error)
        + caller.render(
            "polls/ask_options.html",
            options=dialogue.options,
            most=polls.MAX_OPTIONS,
            least=polls.MIN_OPTIONS,
        ),
        _markup([(caller.t("Done"), "pl:d:done")]) if done else None,
    )
    return OPTIONS


async def _ask_kind(update: Update, caller: Caller) -> int:
    await reply(
        update,
        caller.render("polls/ask_kind.html"),
        _markup(
            [(caller.t("Quick poll"), "pl:d:kind:q")],
            [(caller.t("Secret ballot"), "pl:d:kind:s")],
        ),
    )
    return KIND


async def _ask_multi(update: Update, caller: Caller) -> int:
    await reply(
        update,
        caller.render("polls/ask_multi.html"),
        _markup(
            [
                (caller.t("One answer"), "pl:d:multi:1"),
                (caller.t("Several answers"), "pl:d:multi:n"),
            ]
        ),
    )
    return MULTI


async def _people(caller: Caller, dialogue: Dialogue) -> int:
    """How many would get it (secret: how many may vote; per country: how many countries)."""
    audience = dialogue.audience
    found = await polls.audience_members(caller.session, audience)
    if dialogue.kind == PollKind.SECRET and dialogue.scope != BallotScope.MEMBERS:
        found = [m for m in found if m.role == Role.FOCAL_POINT.value]
        if dialogue.scope == BallotScope.COUNTRIES:
            return len({m.country for m in found if m.country})
    return len(found)


async def _audience_view(caller: Caller, dialogue: Dialogue) -> tuple[str, InlineKeyboardMarkup]:
    audience = dialogue.audience
    secret = dialogue.kind == PollKind.SECRET
    group = caller.app.settings.group_chat_id is not None and not secret
    per_country = dialogue.scope == BallotScope.COUNTRIES
    text = caller.render(
        "polls/ask_audience.html",
        aud=audience,
        per_country=per_country,
        people=await _people(caller, dialogue) if audience.has_members else 0,
        secret=secret,
    )

    def mark(on: bool, label: str) -> str:
        return ("✓ " if on else "") + label

    rows: list[list[tuple[str, str]]] = []
    if group:
        rows.append([(mark(audience.group, caller.t("The group chat")), "pl:d:aud:grp")])
    rows.append(
        [
            (mark(audience.everyone, caller.t("All members")), "pl:d:aud:all"),
            (mark(audience.focal_points and not per_country, caller.t("Focal points")),
             "pl:d:aud:fp"),
        ]
    )  # fmt: skip
    if secret:
        rows.append([(mark(per_country, caller.t("One vote per country")), "pl:d:aud:pc")])
    codes = await meetings.countries_with_members(caller.session)
    for start in range(0, len(codes), 4):
        rows.append(
            [
                (mark(code in audience.countries, code), f"pl:d:aud:{code}")
                for code in codes[start : start + 4]
            ]
        )
    rows.append([(caller.t("Next") + " →", "pl:d:aud:next")])
    return text, _markup(*rows)


async def _ask_audience(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    text, markup = await _audience_view(caller, dialogue)
    await reply(update, _with_error(caller, error) + text, markup)
    return AUDIENCE


async def _ask_deadline(
    update: Update, caller: Caller, *, error: ServiceError | None = None
) -> int:
    await reply(
        update,
        _with_error(caller, error)
        + caller.render("polls/ask_deadline.html", zone=_zone_name(caller)),
        _markup(
            [
                (caller.t("1 day"), "pl:d:days:1"),
                (caller.t("3 days"), "pl:d:days:3"),
                (caller.t("7 days"), "pl:d:days:7"),
            ]
        ),
    )
    return DEADLINE


async def _ask_quorum(update: Update, caller: Caller, *, error: ServiceError | None = None) -> int:
    await reply(
        update,
        _with_error(caller, error) + caller.render("polls/ask_quorum.html"),
        _markup([(caller.t("No quorum"), "pl:d:skip")]),
    )
    return QUORUM


def _audience_of(caller: Caller, draft: PollDraft) -> PollAudience:
    """The audience open_poll will use (None: the group chat when configured, else all)."""
    if draft.audience is not None:
        return draft.audience
    group = draft.kind == PollKind.QUICK and caller.app.settings.group_chat_id is not None
    return PollAudience(group=group, everyone=not group)


async def _preview(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    draft = dialogue.draft
    assert draft is not None
    audience = _audience_of(caller, draft)
    counting = replace(dialogue, audience=audience, kind=draft.kind, scope=draft.scope)
    people = await _people(caller, counting) if audience.has_members else 0
    closes_at = draft.closes_at or caller.now + polls.DEFAULT_OPEN
    await reply(
        update,
        caller.render(
            "polls/preview.html",
            d=draft,
            aud=audience,
            secret=draft.kind == PollKind.SECRET,
            per_country=draft.scope == BallotScope.COUNTRIES,
            people=people,
            closes_at=closes_at,
            zone=caller.zone,
        ),
        _markup([(caller.t("Confirm"), "pl:d:ok"), (caller.t("Cancel"), "pl:d:no")]),
    )
    return CONFIRM


# -- /poll --------------------------------------------------------------------------------------


@command(role=Role.MODERATOR)
async def new_poll(update: Update, context: CallbackContext, caller: Caller) -> int:
    _drop(context)
    text = args_text(update)
    dialogue = Dialogue(zone=_zone_name(caller))
    if not text:
        _keep(context, dialogue)
        return await _ask_question(update, caller)
    try:
        draft = polls.parse_line(text, now=caller.now, zone_name=dialogue.zone)
        if draft.kind == PollKind.SECRET and draft.audience is None:
            draft.audience = PollAudience(everyone=True)
        if draft.kind == PollKind.SECRET and draft.scope == BallotScope.COUNTRIES:
            audience = draft.audience or PollAudience()
            draft.audience = replace(audience, everyone=False, focal_points=True)
        polls.validate(draft, caller.now)
        audience = _audience_of(caller, draft)
        if audience.group and caller.app.settings.group_chat_id is None:
            raise ServiceError("poll_no_group")
        counting = replace(dialogue, audience=audience, kind=draft.kind, scope=draft.scope)
        if audience.has_members:
            eligible = await _people(caller, counting)
            if not eligible:
                raise ServiceError("poll_audience_empty")
            if draft.quorum is not None and draft.quorum > eligible and not audience.group:
                raise ServiceError("poll_quorum_too_high", quorum=draft.quorum, eligible=eligible)
    except ServiceError as error:
        await reply(update, _with_error(caller, error) + caller.render("polls/one_line_help.html"))
        return ConversationHandler.END
    dialogue.draft = draft
    _keep(context, dialogue)
    return await _preview(update, caller, dialogue)


@_message_step
async def receive_question(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    question = clean_text(message.text or "")
    try:
        polls.validate(PollDraft(question=question, options=["1", "2"]), caller.now)
    except ServiceError as error:
        return await _ask_question(update, caller, error=error)
    dialogue.question = question
    return await _ask_options(update, caller, dialogue)


def _add_option(dialogue: Dialogue, typed: str) -> None:
    """One more option, checked against those already there (the service's limits)."""
    option = clean_text(typed)
    number = len(dialogue.options) + 1
    if not option:
        raise ServiceError("poll_option_empty", number=number)
    if number > polls.MAX_OPTIONS:
        raise ServiceError("poll_too_many_options", max=polls.MAX_OPTIONS)
    if utf16_len(option) > polls.OPTION_LIMIT:
        raise ServiceError("poll_option_too_long", number=number, limit=polls.OPTION_LIMIT)
    key = " ".join(option.split()).casefold()
    if any(" ".join(o.split()).casefold() == key for o in dialogue.options):
        raise ServiceError("poll_option_duplicate", option=option[:60])
    dialogue.options.append(option)


@_message_step
async def receive_option(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    lines = [line for line in (message.text or "").splitlines() if line.strip()] or [""]
    before = list(dialogue.options)
    try:
        for line in lines:
            _add_option(dialogue, line)
    except ServiceError as error:
        dialogue.options = before  # all of the message, or none of it
        return await _ask_options(update, caller, dialogue, error=error)
    if len(dialogue.options) == polls.MAX_OPTIONS:
        return await _ask_kind(update, caller)
    return await _ask_options(update, caller, dialogue)


@_button_step
async def options_done(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    if len(dialogue.options) < polls.MIN_OPTIONS:
        error = ServiceError("poll_too_few_options", min=polls.MIN_OPTIONS)
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return OPTIONS
    await drop_buttons(update)
    return await _ask_kind(update, caller)


@_button_step
async def choose_kind(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    dialogue.kind = PollKind.SECRET if query.data.endswith(":s") else PollKind.QUICK
    dialogue.scope = BallotScope.MEMBERS
    dialogue.audience = PollAudience()
    return await _ask_multi(update, caller)


@_button_step
async def choose_multi(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    dialogue.multiple = query.data.endswith(":n")
    return await _ask_audience(update, caller, dialogue)


def _toggled(dialogue: Dialogue, choice: str) -> None:
    audience = dialogue.audience
    if choice == "grp":
        dialogue.audience = replace(audience, group=not audience.group)
    elif choice == "all":
        dialogue.audience = replace(audience, everyone=not audience.everyone, focal_points=False)
        dialogue.scope = BallotScope.MEMBERS
    elif choice == "fp":
        on = not (audience.focal_points and dialogue.scope == BallotScope.FOCAL_POINTS)
        dialogue.audience = replace(audience, focal_points=on, everyone=False)
        dialogue.scope = BallotScope.FOCAL_POINTS if on and dialogue.kind == PollKind.SECRET \
            else BallotScope.MEMBERS  # fmt: skip
    elif choice == "pc":
        on = dialogue.scope != BallotScope.COUNTRIES
        dialogue.scope = BallotScope.COUNTRIES if on else BallotScope.MEMBERS
        dialogue.audience = replace(audience, focal_points=on, everyone=False)
    else:
        dialogue.audience = replace(audience, countries=audience.countries ^ {choice})


@_button_step
async def choose_audience(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    choice = query.data.removeprefix("pl:d:aud:")
    secret = dialogue.kind == PollKind.SECRET
    if choice == "next":
        try:
            if not dialogue.audience.chosen:
                raise ServiceError("poll_no_audience")
            if dialogue.audience.has_members and not await _people(caller, dialogue):
                raise ServiceError("poll_audience_empty")
        except ServiceError as error:
            await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
            return AUDIENCE
        await drop_buttons(update)
        return await _ask_deadline(update, caller)
    valid = {"all", "fp"} | ({"pc"} if secret else set())
    if not secret and caller.app.settings.group_chat_id is not None:
        valid.add("grp")
    if choice not in valid and choice not in await meetings.countries_with_members(caller.session):
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)
        return AUDIENCE
    _toggled(dialogue, choice)
    await query.answer()
    text, markup = await _audience_view(caller, dialogue)
    await edit(update, text, markup)
    return AUDIENCE


async def _set_deadline(update: Update, caller: Caller, dialogue: Dialogue, text: str) -> int:
    try:
        closes_at = polls.parse_close(text, now=caller.now, zone_name=dialogue.zone)
        draft = dialogue.as_draft(closes_at=closes_at)
        polls.validate(draft, caller.now)
    except ServiceError as error:
        return await _ask_deadline(update, caller, error=error)
    dialogue.draft = draft
    if dialogue.kind == PollKind.SECRET:
        return await _ask_quorum(update, caller)
    return await _preview(update, caller, dialogue)


@_message_step
async def receive_deadline(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    return await _set_deadline(update, caller, dialogue, message.text or "")


@_button_step
async def choose_deadline(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    return await _set_deadline(update, caller, dialogue, query.data.rsplit(":", 1)[1] + "d")


@_message_step
async def receive_quorum(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    assert dialogue.draft is not None
    try:
        quorum = polls.parse_quorum(message.text or "")
        eligible = await _people(caller, dialogue)
        if quorum > eligible:
            raise ServiceError("poll_quorum_too_high", quorum=quorum, eligible=eligible)
    except ServiceError as error:
        return await _ask_quorum(update, caller, error=error)
    dialogue.draft = replace(dialogue.draft, quorum=quorum)
    return await _preview(update, caller, dialogue)


@_button_step
async def skip_quorum(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    assert dialogue.draft is not None
    await drop_buttons(update)
    dialogue.draft = replace(dialogue.draft, quorum=None)
    return await _preview(update, caller, dialogue)


@_button_step
async def confirm(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    from handlers.polls import notice_composer

    assert dialogue.draft is not None
    app = caller.app
    try:
        poll = await polls.open_poll(
            caller.session,
            caller.actor,
            dialogue.draft,
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=notice_composer(app),
        )
    except ServiceError as error:
        await caller.discard()
        await drop_buttons(update)
        if error.code in ("poll_close_past", "poll_close_too_far"):
            return await _ask_deadline(update, caller, error=error)
        _drop(context)
        await reply(update, _with_error(caller, error) + caller.render("polls/not_saved.html"))
        return ConversationHandler.END
    await caller.commit()
    _drop(context)
    wake(context)
    await drop_buttons(update)
    await reply(update, caller.render("polls/created.html", p=poll))
    return ConversationHandler.END


def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    typed = only_new & filters.ChatType.PRIVATE & ~filters.COMMAND
    text = typed & filters.TEXT
    other = typed & ~filters.TEXT

    def asks(step: Callable[..., Any], *buttons: CallbackQueryHandler) -> list[Any]:  # type: ignore[type-arg]
        return [*buttons, MessageHandler(text, step), MessageHandler(other, need_text)]

    def choose(step: Callable[..., Any], pattern: str) -> list[Any]:
        return [CallbackQueryHandler(step, pattern=pattern), MessageHandler(typed, use_buttons)]

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        return ConversationHandler(
            entry_points=[CommandHandler("poll", new_poll, filters=only_new)],
            states={
                QUESTION: asks(receive_question),
                OPTIONS: asks(
                    receive_option, CallbackQueryHandler(options_done, pattern=r"^pl:d:done$")
                ),
                KIND: choose(choose_kind, r"^pl:d:kind:[qs]$"),
                MULTI: choose(choose_multi, r"^pl:d:multi:[1n]$"),
                AUDIENCE: choose(choose_audience, r"^pl:d:aud:(grp|all|fp|pc|next|[A-Z]{2})$"),
                DEADLINE: asks(
                    receive_deadline,
                    CallbackQueryHandler(
                        choose_deadline, pattern=rf"^pl:d:days:({'|'.join(DAYS)})$"
                    ),
                ),
                QUORUM: asks(
                    receive_quorum, CallbackQueryHandler(skip_quorum, pattern=r"^pl:d:skip$")
                ),
                CONFIRM: [
                    CallbackQueryHandler(confirm, pattern=r"^pl:d:ok$"),
                    CallbackQueryHandler(abandon, pattern=r"^pl:d:no$"),
                    MessageHandler(typed, use_buttons),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="poll",
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )
