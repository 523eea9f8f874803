"""Polls on Telegram: quick polls (Telegram's own anonymous polls), secret ballots (buttons in
private chats), /polls (open polls with my status; `/polls <id>` one poll), results with bars,
the chart and the CSV, and `notice_composer`, which words every message the bot sends about a
poll on its own (the poll itself, ballots, reminders, results, cancellations) for each reader.

The /poll dialogue is in `polls_dialogue`.

Secret ballots (invariant 5): a press casts the vote through the ballot box (a group commit
of `polls.cast`, bot/services/ballot_box.py) and the message is edited to "Your vote has been
recorded", without the choice; the callback answer does not show it either; nothing here logs a
choice. The selection of a multiple-choice ballot lives only in the buttons of the voter's own
message (the mask in their callback data), never on the server.

Callback data (at most 64 bytes, every part checked again on the press):
  pl:b:<id>:<option>          cast a single-choice vote
  pl:t:<id>:<mask>            multiple choice: show this selection (a hex bit mask)
  pl:c:<id>:<mask>            multiple choice: cast this selection
  pl:r:<id>                   the results (closed ballots; quick polls any time), a new message
  pl:g:<id>                   the results as a chart (PNG)
  pl:csv:<id>                 the results as CSV (moderators)
  pl:x:<id>[:y]               close now (asks, then does; moderators)
  pl:k:<id>[:y]               cancel (asks, then does; moderators)
  pl:keep:<id>                "No" to either
  pl:d:...                    the /poll dialogue (polls_dialogue)
  pl:...                      anything else: "This button is no longer valid."
"""

from __future__ import annotations

import functools
import logging
from datetime import tzinfo
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, PollHandler, filters

from bot import charts
from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.i18n import _, gettext
from bot.models import BallotScope, Poll, PollKind, PollStatus, Role
from bot.render import render
from bot.services import polls, timezones
from bot.services.ballot_box import BallotBox, Press
from bot.services.errors import ServiceError
from bot.services.outbox import Claimed
from bot.services.polls import PollNotice, Tally
from handlers.common import (
    CallbackContext,
    Caller,
    HasBotData,
    Wrapped,
    app_context,
    args_text,
    button,
    command,
    edit,
    locale_of,
    reply,
    wake_delivery,
    wake_scheduler,
)
from handlers.errors import add_messages, explain

log = logging.getLogger(__name__)

ID = r"\d{1,10}"
MASK = r"[0-9a-f]{1,3}"  # 12 options: at most 0xfff
BAR_CELLS = 10
CACHE_LIMIT = 4096

add_messages(
    {
        "poll_close_unparseable": _(
            "I could not read %(value)s as a deadline. Write how long the poll stays open (3d, "
            "36h, 2d12h) or when it closes (2026-12-03 18:00, in your time zone)."
        ),
        "poll_flag_needs_value": _("%(flag)s needs a value, for example --close 3d."),
        "poll_flag_unknown": _(
            "I do not know the option %(flag)s. The options are --close, --secret, --multi, "
            "--audience, --per-country and --quorum."
        ),
        "poll_flag_repeated": _("%(flag)s is there twice; give it once."),
        "poll_flag_takes_no_value": _("%(flag)s takes no value; write it on its own."),
        "poll_audience_unknown": _(
            "I do not know the audience %(value)s. Use group, all, focal, or country codes "
            "such as KZ,AF."
        ),
        "poll_quorum_invalid": _("%(value)s is not a quorum: write a whole number, 1 or more."),
        "poll_question_empty": _("The poll needs a question."),
        "poll_question_too_long": _(
            "The question is too long for Telegram: %(length)s characters, at most %(limit)s."
        ),
        "poll_too_few_options": _("A poll needs at least %(min)s options."),
        "poll_too_many_options": _("A poll can have at most %(max)s options."),
        "poll_option_empty": _("Option %(number)s is empty."),
        "poll_option_too_long": _(
            "Option %(number)s is too long for Telegram: at most %(limit)s characters."
        ),
        "poll_option_duplicate": _("The option %(option)s is there twice; each must differ."),
        "poll_close_past": _("That deadline has already passed. Give one in the future."),
        "poll_close_too_far": _("A poll can stay open at most %(days)s days."),
        "poll_scope_needs_secret": _("One vote per country is for secret ballots (--secret)."),
        "poll_no_audience": _("Choose who gets the poll first."),
        "poll_secret_to_group": _(
            "A secret ballot goes to members in private chats, not to the group chat."
        ),
        "poll_no_group": _("No group chat is configured (GROUP_CHAT_ID)."),
        "poll_audience_empty": _("Nobody is in that audience: no active member matches it."),
        "poll_quorum_too_high": _(
            "A quorum of %(quorum)s is more than the %(eligible)s who may vote."
        ),
        "poll_not_found": _("That poll does not exist."),
        "poll_bad_choice": _("This button is no longer valid."),
        "poll_not_secret": _("This button is no longer valid."),
        "poll_closed": _("This poll is closed."),
        "poll_not_eligible": _("You are not among the voters of this ballot."),
        "poll_already_voted": _("You have already voted."),
        "poll_country_voted": _("Your country has already voted."),
        "poll_results_hidden": _("The results are shown when the ballot closes."),
        "poll_nothing_chosen": _("Choose at least one option first."),
    }
)


# -- words ------------------------------------------------------------------------------------


def _zone_label(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def bar(count: int, total: int) -> str:
    """▇▇▇▇▁▁ 12 (40 %): cells filled in proportion to the share of `total`."""
    share = count / total if total else 0.0
    filled = round(share * BAR_CELLS)
    return "▇" * filled + "▁" * (BAR_CELLS - filled) + f" {count} ({round(share * 100)} %)"


def result_rows(poll: Poll, tally: Tally) -> list[dict[str, Any]]:
    total = tally.voters or sum(tally.counts)
    return [
        {"text": text, "bar": bar(count, total), "count": count}
        for text, count in zip(poll.options, tally.counts, strict=False)
    ]


def results_text(language: str, poll: Poll, tally: Tally, zone: tzinfo, *, live: bool) -> str:
    return render(
        "polls/results.html",
        language,
        p=poll,
        rows=result_rows(poll, tally),
        t=tally,
        countries=poll.scope == BallotScope.COUNTRIES,
        live=live,
        zone=zone,
    )


def turnout_note(language: str, poll: Poll, tally: Tally) -> str:
    """The chart's note: the turnout and the quorum, plain text."""
    if tally.eligible is not None:
        note = gettext(
            language,
            "%(voters)s of %(eligible)s voted",
            voters=tally.voters,
            eligible=tally.eligible,
        )
    else:
        note = gettext(language, "%(voters)s voted", voters=tally.voters)
    if poll.quorum is not None:
        if tally.quorum_met:
            note += "; " + gettext(language, "quorum of %(quorum)s reached", quorum=poll.quorum)
        else:
            note += "; " + gettext(
                language,
                "quorum of %(quorum)s not reached: the result is not valid",
                quorum=poll.quorum,
            )
    return note


# -- buttons ----------------------------------------------------------------------------------


def data_button(label: str, data: str) -> InlineKeyboardButton:
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(label, callback_data=data)


def ballot_markup(language: str, poll: Poll, mask: int = 0) -> InlineKeyboardMarkup:
    """One button per option (single choice: pressing votes); multiple choice: toggles that
    show the selection, and "Cast my vote"."""
    ident = poll.id or 0
    if not poll.multiple:
        return InlineKeyboardMarkup(
            [[data_button(text, f"pl:b:{ident}:{i}")] for i, text in enumerate(poll.options)]
        )
    rows = [
        [
            data_button(
                ("☑ " if mask & (1 << i) else "☐ ") + text,
                f"pl:t:{ident}:{mask ^ (1 << i):x}",
            )
        ]
        for i, text in enumerate(poll.options)
    ]
    rows.append([data_button("🗳 " + gettext(language, "Cast my vote"), f"pl:c:{ident}:{mask:x}")])
    return InlineKeyboardMarkup(rows)


def results_markup(
    language: str, poll: Poll, *, moderator: bool, with_text: bool = False
) -> InlineKeyboardMarkup:
    ident = poll.id or 0
    row = []
    if with_text:
        row.append(data_button("📊 " + gettext(language, "Results"), f"pl:r:{ident}"))
    row.append(data_button("🖼 " + gettext(language, "Chart"), f"pl:g:{ident}"))
    if moderator:
        row.append(data_button("📄 CSV", f"pl:csv:{ident}"))
    return InlineKeyboardMarkup([row])


# -- what the bot sends on its own ------------------------------------------------------------


def notice_composer(app: AppContext) -> polls.Compose:
    """PollNotice -> outbox payload, for each reader: the group chat in the default language
    and zone, a member in theirs. A text is rendered once per (notice, poll, language, zone)."""
    settings = app.settings
    texts: dict[tuple[Any, ...], str] = {}
    markups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def compose(notice: PollNotice) -> dict[str, Any]:
        poll, recipient = notice.poll, notice.recipient
        if notice.kind == "quick":
            # Telegram's poll: plain text (no parse mode), so what was typed shows as typed.
            return {
                "poll": {
                    "question": poll.question,
                    "options": list(poll.options),
                    "multiple": bool(poll.multiple),
                }
            }
        group = recipient.is_group
        language = (
            recipient.language
            if not group and recipient.language in SUPPORTED_LANGUAGES
            else settings.default_language
        )
        zone = timezones.zone(None if group else recipient.timezone, settings.default_timezone)
        tally = notice.tally
        key = (
            notice.kind,
            poll.id,
            poll.status,
            language,
            _zone_label(zone),
            group,
            tuple(tally.counts) if tally else None,
            tally.voters if tally else None,
        )
        text = texts.get(key)
        if text is None:
            if notice.kind == "results" and tally is not None:
                text = results_text(language, poll, tally, zone, live=False)
            else:
                text = render(
                    "polls/notice.html",
                    language,
                    kind=notice.kind,
                    p=poll,
                    zone=zone,
                    countries=poll.scope == BallotScope.COUNTRIES,
                )
            if len(texts) >= CACHE_LIMIT:
                texts.clear()
            texts[key] = text
        payload: dict[str, Any] = {"text": text}
        if group:
            return payload
        markup_key: tuple[Any, ...] | None = None
        if notice.kind in ("ballot", "reminder"):
            markup_key = ("ballot", poll.id, language)
            make = lambda: ballot_markup(language, poll)  # noqa: E731
        elif notice.kind == "results":
            author = recipient.member_id is not None and recipient.member_id == poll.created_by_id
            markup_key = ("results", poll.id, language, author)
            make = lambda: results_markup(language, poll, moderator=author)  # noqa: E731
        if markup_key is not None:
            if markup_key not in markups:
                if len(markups) >= CACHE_LIMIT:
                    markups.clear()
                markups[markup_key] = make().to_dict()
            payload["reply_markup"] = markups[markup_key]
        return payload

    return compose


def wake(context: HasBotData) -> None:
    """Polls changed and were committed: delivery and the scheduler should look now."""
    wake_delivery(context)
    wake_scheduler(context)


# -- Telegram's side of quick polls -----------------------------------------------------------


def sent_hook(app: AppContext) -> Any:
    """For the delivery worker: a quick poll's message went out; remember Telegram's poll id."""

    async def hook(row: Claimed, message: Message) -> None:
        if message.poll is None or row.ref_id is None:
            return
        async with app.db.session() as session:
            await polls.record_sent(
                session, row.ref_id, row.chat_id, message.message_id, message.poll.id
            )

    return hook


async def poll_update(update: Update, context: CallbackContext) -> None:
    """Telegram's `poll` update: one message's latest counts (anonymous: no voter in it)."""
    state = update.poll
    if state is None:
        return
    app: AppContext = context.bot_data["app"]
    async with app.db.session() as session:
        await polls.record_poll_update(
            session,
            state.id,
            [option.voter_count for option in state.options],
            state.total_voter_count,
            state.is_closed,
        )


# -- reading ----------------------------------------------------------------------------------


def _parts(update: Update) -> list[str]:
    query = update.callback_query
    assert query is not None and query.data is not None
    return query.data.split(":")


async def _alert(update: Update, caller: Caller, error: ServiceError) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)


async def _invalid(update: Update, caller: Caller) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


async def _may_see(caller: Caller, poll: Poll) -> bool:
    """Moderators see every poll; others the polls they got (or the group chat got)."""
    if caller.may(Role.MODERATOR):
        return True
    if poll.status == PollStatus.OPEN:
        found = await polls.open_for(caller.session, caller.actor, now=caller.now)
        return any(p.id == poll.id for p, _ in found)
    # Closed: whoever was sent it (the results notice went to them). The group's polls too.
    return _in_audience(poll, caller)


def _in_audience(poll: Poll, caller: Caller) -> bool:
    """Whether the caller is in the poll's audience as it stands now (for closed polls)."""
    member = caller.actor
    if poll.to_group:
        return True
    narrowed = not poll.countries or member.country in poll.countries
    if poll.to_focal_points:
        return member.role == Role.FOCAL_POINT.value and narrowed
    return (poll.to_everyone or bool(poll.countries)) and narrowed


async def _load(update: Update, caller: Caller, position: int = 2) -> Poll | None:
    """The poll a button names, if the caller may see it, else an alert and None."""
    parts = _parts(update)
    poll = await polls.find(caller.session, int(parts[position]))
    if poll is None:
        await _alert(update, caller, ServiceError("poll_not_found"))
        return None
    if not await _may_see(caller, poll):
        await _alert(update, caller, ServiceError("poll_not_found"))
        return None
    return poll


async def _shown_tally(caller: Caller, poll: Poll) -> Tally:
    """What may be shown: a quick poll's tally any time, a secret ballot's once it closed."""
    if poll.status == PollStatus.CANCELLED:
        raise ServiceError("poll_closed")
    return await polls.results(caller.session, poll)


def _list_markup(
    caller: Caller, items: list[tuple[Poll, bool | None]]
) -> InlineKeyboardMarkup | None:
    if not caller.may(Role.MODERATOR):
        return None
    rows = []
    for poll, _voted in items:
        ident = poll.id or 0
        rows.append(
            [
                data_button(f"⏹ #{ident} " + caller.t("Close now"), f"pl:x:{ident}"),
                data_button(f"✖️ #{ident} " + caller.t("Cancel"), f"pl:k:{ident}"),
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


@command(role=Role.MEMBER)
async def polls_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    """/polls: open polls and ballots with my status; /polls <id>: one poll."""
    text = args_text(update).lstrip("#")
    if text:
        if not text.isdigit() or len(text) > 10:
            await reply(update, caller.render("polls/usage_polls.html"))
            return
        poll = await polls.find(caller.session, int(text))
        if poll is None or not await _may_see(caller, poll):
            await reply(update, explain(caller.locale, ServiceError("poll_not_found")))
            return
        body, markup = await _detail(caller, poll)
        await reply(update, body, markup)
        return
    items = await polls.open_for(caller.session, caller.actor, now=caller.now)
    await reply(
        update,
        caller.render(
            "polls/list.html",
            items=[{"p": p, "voted": v} for p, v in items],
            zone=caller.zone,
            moderator=caller.may(Role.MODERATOR),
        ),
        _list_markup(caller, items),
    )


async def _detail(caller: Caller, poll: Poll) -> tuple[str, InlineKeyboardMarkup | None]:
    moderator = caller.may(Role.MODERATOR)
    voted: bool | None = None
    if poll.status == PollStatus.OPEN and poll.kind == PollKind.SECRET:
        found = await polls.open_for(caller.session, caller.actor, now=caller.now)
        voted = next((v for p, v in found if p.id == poll.id), None)
    text = caller.render(
        "polls/detail.html",
        p=poll,
        zone=caller.zone,
        voted=voted,
        countries=poll.scope == BallotScope.COUNTRIES,
    )
    ident = poll.id or 0
    rows: list[list[InlineKeyboardButton]] = []
    shows_results = poll.status == PollStatus.CLOSED or (
        poll.kind == PollKind.QUICK and poll.status == PollStatus.OPEN
    )
    if shows_results:
        rows.extend(results_markup(caller.locale, poll, moderator=moderator, with_text=True)
                    .inline_keyboard)  # fmt: skip
    if moderator and poll.status == PollStatus.OPEN:
        rows.append(
            [
                data_button("⏹ " + caller.t("Close now"), f"pl:x:{ident}"),
                data_button("✖️ " + caller.t("Cancel"), f"pl:k:{ident}"),
            ]
        )
    return text, InlineKeyboardMarkup([list(r) for r in rows]) if rows else None


# -- voting -----------------------------------------------------------------------------------


async def _cast(
    update: Update, context: CallbackContext, caller: Caller, choices: list[int]
) -> None:
    """The ordinary path of a vote (people the ballot box does not know as active members):
    the caller was resolved (admitted, woken up or refused) like for any update."""
    query = update.callback_query
    assert query is not None
    poll = await polls.find(caller.session, int(_parts(update)[2]))
    if poll is None or poll.kind != PollKind.SECRET:
        await _invalid(update, caller)
        return
    app = caller.app
    try:
        await polls.vote(
            caller.session,
            poll,
            caller.actor,
            choices,
            now=caller.now,
            group_chat_id=app.settings.group_chat_id,
            compose=notice_composer(app),
        )
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    closed = poll.status != PollStatus.OPEN
    await caller.commit()
    if closed:
        wake(context)
    await query.answer(caller.t("Your vote has been recorded."))
    await edit(update, caller.render("polls/recorded.html", p=poll))


@button(role=Role.MEMBER)
async def _vote_single_resolved(update: Update, context: CallbackContext, caller: Caller) -> None:
    await _cast(update, context, caller, [int(_parts(update)[3])])


@button(role=Role.MEMBER)
async def _vote_multiple_resolved(update: Update, context: CallbackContext, caller: Caller) -> None:
    await _cast(update, context, caller, _chosen(update))


def ballot_box(app: Application) -> BallotBox:  # type: ignore[type-arg]
    """This process's ballot box, made on first use."""
    box = app.bot_data.get("ballot_box")
    if box is None:
        context: AppContext = app.bot_data["app"]
        box = BallotBox(
            context.db,
            context.clock,
            notice_composer(context),
            group_chat_id=context.settings.group_chat_id,
            on_closed=lambda: wake(app),
        )
        app.bot_data["ballot_box"] = box
    return box  # type: ignore[no-any-return]


async def _press(
    update: Update, context: CallbackContext, choices: list[int], resolved: Wrapped
) -> None:
    """Cast a secret vote through the ballot box (votes that arrive together are written in one
    transaction); the message then says it was recorded, and nothing about what. Handlers that
    call this run with block=False: the next update is taken while the vote waits for its
    transaction, which is what lets votes gather."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or user.is_bot:
        return
    press = Press(user.id, int(_parts(update)[2]), tuple(choices))
    outcome = await ballot_box(context.application).cast(press)
    if outcome.unknown or outcome.member is None:
        await resolved(update, context)
        return
    app = app_context(context)
    locale = locale_of(outcome.member, user, app)
    refused = outcome.refused
    if refused is not None and refused.code in ("poll_not_found", "poll_not_secret"):
        await query.answer(gettext(locale, "This button is no longer valid."), show_alert=True)
    elif refused is not None:
        await query.answer(explain(locale, refused, plain=True)[:200], show_alert=True)
    else:
        assert outcome.poll is not None and outcome.poll.id is not None
        await query.answer(gettext(locale, "Your vote has been recorded."))
        await edit(update, _recorded_text(locale, outcome.poll.id, outcome.poll.question))


@functools.lru_cache(maxsize=64)
def _recorded_text(locale: str, poll_id: int, question: str) -> str:
    """The same for every voter of a ballot who reads this language: made once."""
    return render("polls/recorded.html", locale, p={"id": poll_id, "question": question})


async def vote_single(update: Update, context: CallbackContext) -> None:
    """pl:b:<id>:<option>."""
    await _press(update, context, [int(_parts(update)[3])], _vote_single_resolved)


def _mask(update: Update) -> int:
    return int(_parts(update)[3], 16)


def _chosen(update: Update) -> list[int]:
    mask = _mask(update)
    return [i for i in range(mask.bit_length()) if mask & (1 << i)]


@button(role=Role.MEMBER)
async def toggle(update: Update, context: CallbackContext, caller: Caller) -> None:
    """pl:t:<id>:<mask>: redraw the buttons with this selection (nothing is stored)."""
    query = update.callback_query
    assert query is not None
    poll = await polls.find(caller.session, int(_parts(update)[2]))
    mask = _mask(update)
    if poll is None or poll.kind != PollKind.SECRET or not poll.multiple:
        await _invalid(update, caller)
        return
    if mask >> len(poll.options):
        await _invalid(update, caller)
        return
    if poll.status != PollStatus.OPEN:
        await _alert(update, caller, ServiceError("poll_closed"))
        return
    await query.answer()
    try:
        await query.edit_message_reply_markup(ballot_markup(caller.locale, poll, mask))
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


@button(role=Role.MEMBER)
async def _nothing_chosen(update: Update, context: CallbackContext, caller: Caller) -> None:
    await _alert(update, caller, ServiceError("poll_nothing_chosen"))


async def vote_multiple(update: Update, context: CallbackContext) -> None:
    """pl:c:<id>:<mask>."""
    if _mask(update) == 0:
        await _nothing_chosen(update, context)
        return
    await _press(update, context, _chosen(update), _vote_multiple_resolved)


# -- results ----------------------------------------------------------------------------------


@button(role=Role.MEMBER)
async def show_results(update: Update, context: CallbackContext, caller: Caller) -> None:
    """pl:r:<id>: the results as a new message."""
    poll = await _load(update, caller)
    if poll is None:
        return
    try:
        tally = await _shown_tally(caller, poll)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(
        update,
        results_text(caller.locale, poll, tally, caller.zone, live=poll.status == PollStatus.OPEN),
        results_markup(caller.locale, poll, moderator=caller.may(Role.MODERATOR)),
    )


@button(role=Role.MEMBER)
async def chart(update: Update, context: CallbackContext, caller: Caller) -> None:
    """pl:g:<id>: the results as a PNG chart."""
    poll = await _load(update, caller)
    if poll is None:
        return
    try:
        tally = await _shown_tally(caller, poll)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    png = charts.results_png(
        poll.question,
        list(poll.options),
        list(tally.counts),
        turnout_note(caller.locale, poll, tally),
    )
    query = update.callback_query
    assert query is not None
    await query.answer()
    message = update.effective_message
    assert message is not None
    await message.reply_photo(
        png,
        caption=caller.render("polls/chart_caption.html", p=poll),
        parse_mode=ParseMode.HTML,
        do_quote=False,
    )


@button(role=Role.MODERATOR)
async def csv_export(update: Update, context: CallbackContext, caller: Caller) -> None:
    """pl:csv:<id>: the results as a CSV file (totals only)."""
    poll = await _load(update, caller)
    if poll is None:
        return
    try:
        tally = await _shown_tally(caller, poll)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    data = ("\ufeff" + polls.results_csv(poll, tally)).encode("utf-8")
    query = update.callback_query
    assert query is not None
    await query.answer()
    message = update.effective_message
    assert message is not None
    await message.reply_document(
        data,
        filename=f"poll-{poll.id}.csv",
        caption=caller.render("polls/csv_caption.html", p=poll),
        parse_mode=ParseMode.HTML,
        do_quote=False,
    )


# -- the moderators' actions ------------------------------------------------------------------


async def _ask_or_do(update: Update, context: CallbackContext, caller: Caller, what: str) -> None:
    """pl:x|k:<id>[:y]: close now or cancel, first asking, then doing it on ":y"."""
    poll = await _load(update, caller)
    if poll is None:
        return
    query = update.callback_query
    assert query is not None
    if poll.status != PollStatus.OPEN:
        await _alert(update, caller, ServiceError("poll_closed"))
        return
    ident = poll.id or 0
    if len(_parts(update)) < 4:
        await query.answer()
        yes = caller.t("Yes, close it") if what == "x" else caller.t("Yes, cancel it")
        await reply(
            update,
            caller.render("polls/confirm.html", p=poll, close=what == "x"),
            InlineKeyboardMarkup(
                [
                    [
                        data_button(yes, f"pl:{what}:{ident}:y"),
                        data_button(caller.t("No"), f"pl:keep:{ident}"),
                    ]
                ]
            ),
        )
        return
    app = caller.app
    try:
        if what == "x":
            await polls.close(
                caller.session,
                poll,
                now=caller.now,
                actor=caller.actor,
                group_chat_id=app.settings.group_chat_id,
                compose=notice_composer(app),
            )
        else:
            await polls.cancel(
                caller.session,
                poll,
                now=caller.now,
                actor=caller.actor,
                compose=notice_composer(app),
                group_chat_id=app.settings.group_chat_id,
            )
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    await caller.commit()
    wake(context)
    await query.answer()
    await edit(update, caller.render("polls/done.html", p=poll, closed=what == "x"))


@button(role=Role.MODERATOR)
async def close_now(update: Update, context: CallbackContext, caller: Caller) -> None:
    await _ask_or_do(update, context, caller, "x")


@button(role=Role.MODERATOR)
async def cancel_poll(update: Update, context: CallbackContext, caller: Caller) -> None:
    await _ask_or_do(update, context, caller, "k")


@button(role=Role.MODERATOR)
async def keep(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit(update, caller.render("polls/kept.html", poll_id=int(_parts(update)[2])))


@button(role=Role.MEMBER)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Anything under pl: that no handler took (forged, or from a dialogue that is over)."""
    await _invalid(update, caller)


# -- wiring -----------------------------------------------------------------------------------


def register_votes(app: Application, group: int) -> None:  # type: ignore[type-arg]
    """The ballot buttons. Votes do not block the next update: see `_press`."""
    for handler, pattern in (
        (vote_single, rf"^pl:b:{ID}:\d{{1,2}}$"),
        (vote_multiple, rf"^pl:c:{ID}:{MASK}$"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern, block=False), group)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    from handlers import polls_dialogue

    only_new = filters.UpdateType.MESSAGE
    app.add_handler(polls_dialogue.conversation(), group)
    app.add_handler(CommandHandler("polls", polls_command, filters=only_new), group)
    for handler, pattern in (
        (toggle, rf"^pl:t:{ID}:{MASK}$"),
        (show_results, rf"^pl:r:{ID}$"),
        (chart, rf"^pl:g:{ID}$"),
        (csv_export, rf"^pl:csv:{ID}$"),
        (close_now, rf"^pl:x:{ID}(:y)?$"),
        (cancel_poll, rf"^pl:k:{ID}(:y)?$"),
        (keep, rf"^pl:keep:{ID}$"),
        (stale, r"^pl:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
    app.add_handler(PollHandler(poll_update), group)
    worker = app.bot_data.get("delivery")
    if worker is not None:
        worker.on_sent(polls.KIND, sent_hook(app.bot_data["app"]))
