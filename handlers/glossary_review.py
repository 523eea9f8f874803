"""The glossary's dialogues, in private chat: a new entry (/suggest for members, /newterm for
moderators, who publish at once), an edit (a member's "Suggest an edit" or /suggest <id>; a
moderator's "Edit" or /editterm), a moderator changing a suggestion before deciding (its Edit
button), and a rejection's reason (its Reject button).

A new entry: English terms -> Russian terms -> other languages (Skip) -> abbreviations (Skip)
-> English definition (Skip) -> Russian definition (Skip) -> source (Skip) -> tags (Skip) ->
a preview -> Send (or Publish). `/suggest a | b | ...` (and /newterm) reads the one-line form
and goes straight to the preview; `/suggest words` starts with those words as the English (or,
in Cyrillic, the Russian) term. An edit: a field's button -> its new value -> what changes,
"old -> new" -> Send (or Save), or another field first. A bad answer gets its explanation and
the same question again; nothing is saved or sent before the last button.

`/editterm <id> <field> <value>` changes one field at once; `/editterm <id>` opens the edit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.i18n import _
from bot.models import EntryStatus, GlossaryEntry, Role
from bot.services import glossary
from bot.services.errors import ServiceError
from bot.services.glossary import Content, NoticeKind
from bot.services.outbox import Recipient
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    dialogue_endings,
    dialogue_steps,
    drop_buttons,
    reply,
    wake_delivery,
)
from handlers.errors import explain
from handlers.glossary import (
    ID,
    MISSED,
    Related,
    _data,
    entry_message,
    entry_view,
    language_names,
    review_composer,
    review_markup,
)

ASK, FIELD, CONFIRM, REASON = range(4)
DRAFT = "glossary_dialogue"
NEW_STEPS = ("t:en", "t:ru", "t:*", "abbr", "d:en", "d:ru", "src", "tags")
OPTIONAL = frozenset({"t:*", "d:*", "abbr", "d:en", "d:ru", "src", "tags", "rel"})
FIELD_BUTTONS = ("t:en", "t:ru", "t:*", "abbr", "d:en", "d:ru", "d:*", "src", "tags", "rel")
FIELD_PATTERN = r"t:[a-z]{2,3}|t:\*|d:[a-z]{2,3}|d:\*|abbr|src|tags|rel"
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
FIELD_LABELS = {
    "t:*": _("Terms (other languages)"),
    "d:*": _("Definition (another language)"),
    "abbr": _("Abbreviations"),
    "src": _("Source"),
    "tags": _("Tags"),
    "rel": _("Related entries"),
}


class Mode(StrEnum):
    SUGGEST = "suggest"  # a member's new entry
    NEWTERM = "newterm"  # a moderator's new entry, published at once
    SUGGEST_EDIT = "suggest_edit"  # a member's edit of an entry
    EDIT = "edit"  # a moderator's edit, saved at once
    REVISE = "revise"  # a moderator changing a suggestion before deciding
    REJECT = "reject"  # a moderator's reason for rejecting


MODERATOR_MODES = frozenset({Mode.NEWTERM, Mode.EDIT, Mode.REVISE, Mode.REJECT})


@dataclass
class Dialogue:
    """What has been said so far (kept in user_data while the dialogue lasts)."""

    mode: Mode
    content: Content = field(default_factory=Content)
    # Edits: the entry (or the suggestion) as it was, to show what changes.
    original: Content | None = None
    entry_id: int | None = None
    suggestion_id: int | None = None
    # A new entry: the questions still to ask; the one asked now.
    queue: list[str] = field(default_factory=list)
    key: str = ""
    # Edits: the fields changed so far.
    updates: dict[str, Any] = field(default_factory=dict)
    # A new entry, after its preview: changing a field shows what it says now.
    reviewing: bool = False

    @property
    def is_new(self) -> bool:
        return self.mode in (Mode.SUGGEST, Mode.NEWTERM)


def _dialogue(context: CallbackContext) -> Dialogue | None:
    found = (context.user_data or {}).get(DRAFT)
    return found if isinstance(found, Dialogue) else None


def _keep(context: CallbackContext, dialogue: Dialogue) -> None:
    if context.user_data is not None:
        context.user_data[DRAFT] = dialogue


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)


def _with_error(caller: Caller, error: ServiceError | None) -> str:
    return "" if error is None else explain(caller.locale, error) + "\n\n"


async def _expired(update: Update, caller: Caller) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, caller.render("glossary/expired.html"))
    return ConversationHandler.END


def _markup(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_data(label, data) for label, data in row] for row in rows])


_message_step, _button_step = dialogue_steps(Role.MEMBER, _dialogue, _expired)
abandon, cancel_dialogue, use_buttons, need_text = dialogue_endings(
    Role.MEMBER, _drop, "glossary", cancelled="cancelled"
)


# -- the questions ------------------------------------------------------------------------------


def field_label(caller: Caller, key: str) -> str:
    names = language_names(caller.locale)
    if key in FIELD_LABELS:
        return caller.t(FIELD_LABELS[key])
    language = names.get(key[2:], key[2:])
    if key.startswith("t:"):
        return caller.t("Terms (%(lang)s)", lang=language)
    return caller.t("Definition (%(lang)s)", lang=language)


async def _ask(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    key = dialogue.key
    current = None
    if (not dialogue.is_new or dialogue.reviewing) and key not in ("t:*", "d:*"):
        current = glossary.show_field(glossary.get_field(dialogue.content, key), key)
    skippable = dialogue.is_new and key in OPTIONAL
    text = caller.render(
        "glossary/ask.html",
        key=key,
        language=language_names(caller.locale).get(key[2:], key[2:]) if ":" in key else "",
        new=dialogue.is_new,
        first=dialogue.is_new and key == "t:en",
        command="/newterm" if dialogue.mode == Mode.NEWTERM else "/suggest",
        current=current,
        optional=key not in ("t:en", "t:ru"),
        skippable=skippable,
        limit=glossary.DEFINITION_LIMIT if key.startswith("d:") else glossary.TERM_LIMIT,
    )
    markup = _markup([(caller.t("Skip"), "gl:d:skip")]) if skippable else None
    await reply(update, _with_error(caller, error) + text, markup)
    return ASK


async def _choose(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    buttons = [(field_label(caller, key), f"gl:d:f:{key}") for key in FIELD_BUTTONS]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([(caller.t("Cancel"), "gl:d:no")])
    text = caller.render(
        "glossary/choose_field.html",
        headword=dialogue.content.headword(caller.locale),
        mode=str(dialogue.mode),
        entry_id=dialogue.entry_id,
        suggestion_id=dialogue.suggestion_id,
    )
    await reply(update, _with_error(caller, error) + text, _markup(*rows))
    return FIELD


SEND_LABELS = {
    Mode.SUGGEST: _("Send to the moderators"),
    Mode.SUGGEST_EDIT: _("Send to the moderators"),
    Mode.NEWTERM: _("Publish"),
    Mode.EDIT: _("Save"),
    Mode.REVISE: _("Save"),
}


async def _preview(
    update: Update, caller: Caller, dialogue: Dialogue, *, error: ServiceError | None = None
) -> int:
    view = None
    changes: list[glossary.FieldChange] = []
    if dialogue.is_new:
        view = entry_view(
            dialogue.content,
            0,
            caller.locale,
            related=[Related(i, f"#{i}") for i in dialogue.content.related_ids],
            all_definitions=True,
        )
    else:
        changes = glossary.diff(dialogue.original or Content(), dialogue.content)
    text = caller.render(
        "glossary/preview.html",
        mode=str(dialogue.mode),
        v=view,
        changes=changes,
        names=language_names(caller.locale),
        headword=(dialogue.original or dialogue.content).headword(caller.locale),
        entry_id=dialogue.entry_id,
        suggestion_id=dialogue.suggestion_id,
    )
    markup = _markup(
        [("✅ " + caller.t(SEND_LABELS[dialogue.mode]), "gl:d:send")],
        [("✏️ " + caller.t("Change a field"), "gl:d:more"), (caller.t("Cancel"), "gl:d:no")],
    )
    await reply(update, _with_error(caller, error) + text, markup)
    return CONFIRM


async def _next(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    """The next question of a new entry, or the preview."""
    if dialogue.is_new and dialogue.queue:
        dialogue.key = dialogue.queue.pop(0)
        return await _ask(update, caller, dialogue)
    if not dialogue.is_new and not glossary.diff(dialogue.original or Content(), dialogue.content):
        return await _choose(update, caller, dialogue, error=ServiceError("glossary_unchanged"))
    return await _preview(update, caller, dialogue)


# -- starting -----------------------------------------------------------------------------------


async def _start_new(
    update: Update, context: CallbackContext, caller: Caller, mode: Mode, text: str
) -> int:
    """A new entry: the one-line form, a first term, or from the beginning."""
    _drop(context)
    dialogue = Dialogue(mode, queue=list(NEW_STEPS))
    text = text.strip()
    if "|" in text:
        try:
            dialogue.content = await glossary.checked(caller.session, glossary.parse_line(text))
        except ServiceError as error:
            await reply(update, explain(caller.locale, error))
            return ConversationHandler.END
        dialogue.queue = []
        _keep(context, dialogue)
        return await _preview(update, caller, dialogue)
    if text:
        key = "t:ru" if CYRILLIC.search(text) else "t:en"
        try:
            dialogue.content = glossary.with_fields(
                Content(), glossary.parse_field(key, text[: glossary.TERM_LIMIT * 4])
            )
            await glossary.check_duplicates(caller.session, dialogue.content, None)
        except ServiceError as error:
            await reply(update, explain(caller.locale, error))
            return ConversationHandler.END
        dialogue.queue.remove(key)
    _keep(context, dialogue)
    return await _next(update, caller, dialogue)


async def _start_edit(
    update: Update, context: CallbackContext, caller: Caller, mode: Mode, entry_id: int
) -> int:
    _drop(context)
    try:
        entry = await glossary.get(caller.session, entry_id)
        if entry.status != EntryStatus.PUBLISHED:
            raise ServiceError("glossary_archived", id=entry_id)
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return ConversationHandler.END
    content = Content.of(entry)
    dialogue = Dialogue(mode, content=content, original=content.copy(), entry_id=entry.id)
    _keep(context, dialogue)
    return await _choose(update, caller, dialogue)


async def _private_press(update: Update, caller: Caller) -> bool:
    """A dialogue starts from a button only in a private chat (a forged press elsewhere)."""
    query = update.callback_query
    if query is None:
        return False
    if not caller.is_private:
        await query.answer(caller.t("Please use this in a private chat with me."), show_alert=True)
        return False
    await query.answer()
    return True


def _id_of(query: CallbackQuery) -> int:
    return int((query.data or "").rsplit(":", 1)[1])


@command(role=Role.MEMBER)
async def suggest_command(update: Update, context: CallbackContext, caller: Caller) -> int:
    text = args_text(update)
    match = re.fullmatch(r"#?(\d{1,12})", text)
    if match:
        return await _start_edit(update, context, caller, Mode.SUGGEST_EDIT, int(match.group(1)))
    return await _start_new(update, context, caller, Mode.SUGGEST, text)


@command(role=Role.MODERATOR)
async def newterm_command(update: Update, context: CallbackContext, caller: Caller) -> int:
    return await _start_new(update, context, caller, Mode.NEWTERM, args_text(update))


@button(role=Role.MEMBER)
async def suggest_missed(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    """ "Suggest this term" under a lookup that found nothing."""
    if not await _private_press(update, caller):
        return None
    missed = str((context.user_data or {}).pop(MISSED, "") or "")
    return await _start_new(update, context, caller, Mode.SUGGEST, missed.replace("|", " "))


@button(role=Role.MEMBER)
async def suggest_edit(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    query = update.callback_query
    if query is None or not await _private_press(update, caller):
        return None
    return await _start_edit(update, context, caller, Mode.SUGGEST_EDIT, _id_of(query))


@button(role=Role.MODERATOR)
async def edit_entry(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    query = update.callback_query
    if query is None or not await _private_press(update, caller):
        return None
    return await _start_edit(update, context, caller, Mode.EDIT, _id_of(query))


@button(role=Role.MODERATOR)
async def revise_suggestion(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    query = update.callback_query
    if query is None:
        return None
    try:
        suggestion = await glossary.pending(caller.session, _id_of(query))
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return ConversationHandler.END
    if not await _private_press(update, caller):
        return None
    _drop(context)
    content = Content.from_dict(suggestion.proposed)
    dialogue = Dialogue(
        Mode.REVISE,
        content=content,
        original=content.copy(),
        entry_id=suggestion.entry_id,
        suggestion_id=suggestion.id,
    )
    _keep(context, dialogue)
    return await _choose(update, caller, dialogue)


@button(role=Role.MODERATOR)
async def reject_suggestion(update: Update, context: CallbackContext, caller: Caller) -> int | None:
    query = update.callback_query
    if query is None:
        return None
    try:
        suggestion = await glossary.pending(caller.session, _id_of(query))
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return ConversationHandler.END
    if not await _private_press(update, caller):
        return None
    _drop(context)
    _keep(context, Dialogue(Mode.REJECT, suggestion_id=suggestion.id))
    await reply(
        update,
        caller.render("glossary/ask_reason.html", suggestion_id=suggestion.id),
        _markup([(caller.t("Reject without a reason"), "gl:d:noreason")]),
    )
    return REASON


# -- /editterm ----------------------------------------------------------------------------------


@command(role=Role.MODERATOR)
async def editterm_command(update: Update, context: CallbackContext, caller: Caller) -> int:
    parts = args_text(update).split(maxsplit=2)
    match = re.fullmatch(r"#?(\d{1,12})", parts[0]) if parts else None
    if match is None:
        await reply(update, caller.render("glossary/editterm_usage.html"))
        return ConversationHandler.END
    entry_id = int(match.group(1))
    if len(parts) == 1:
        return await _start_edit(update, context, caller, Mode.EDIT, entry_id)
    _drop(context)
    try:
        entry = await glossary.get(caller.session, entry_id)
        if parts[1].lower() == "status":
            value = parts[2].strip().lower() if len(parts) > 2 else ""
            if value not in ("archived", "published"):
                raise ServiceError("glossary_field_unknown", field=f"status {value}"[:40])
            if value == "archived":
                await glossary.archive(caller.session, caller.actor, entry, now=caller.now)
            else:
                await glossary.restore(caller.session, caller.actor, entry, now=caller.now)
            changes = [glossary.FieldChange("status", "", value)]
        else:
            key = glossary.field_key(parts[1])
            if len(parts) == 2:
                # The field without a value: ask for it.
                if entry.status != EntryStatus.PUBLISHED:
                    raise ServiceError("glossary_archived", id=entry_id)
                dialogue = Dialogue(
                    Mode.EDIT,
                    content=Content.of(entry),
                    original=Content.of(entry),
                    entry_id=entry.id,
                    key=key,
                )
                _keep(context, dialogue)
                return await _ask(update, caller, dialogue)
            changes = await glossary.set_field(
                caller.session, caller.actor, entry, parts[1], parts[2], now=caller.now
            )
    except ServiceError as error:
        await caller.discard()
        await reply(update, explain(caller.locale, error))
        return ConversationHandler.END
    await caller.commit()
    glossary.indexed(caller.app.indexes, entry)
    await _saved(update, caller, entry, changes)
    return ConversationHandler.END


async def _saved(
    update: Update,
    caller: Caller,
    entry: GlossaryEntry,
    changes: list[glossary.FieldChange] | None,
) -> None:
    """What was saved, and the entry as it is now (one message, with its buttons)."""
    if changes is None:
        header = caller.render("glossary/published.html", entry_id=entry.id)
    else:
        header = caller.render(
            "glossary/saved.html",
            entry_id=entry.id,
            revision=entry.revision,
            changes=changes,
            names=language_names(caller.locale),
        )
    text, markup = await entry_message(caller, entry)
    await reply(update, header + "\n\n" + text, markup)


# -- the answers --------------------------------------------------------------------------------


@_message_step
async def receive(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    try:
        updates = glossary.parse_field(dialogue.key, message.text or "")
        content = glossary.with_fields(dialogue.content, updates)
        if dialogue.is_new:
            if dialogue.key in ("t:en", "t:ru"):
                # Say at once that the entry exists, not after all the questions.
                await glossary.check_duplicates(caller.session, content, None)
        else:
            content = await glossary.checked(caller.session, content, dialogue.entry_id)
    except ServiceError as error:
        return await _ask(update, caller, dialogue, error=error)
    dialogue.content = content
    dialogue.updates.update(updates)
    return await _next(update, caller, dialogue)


@_button_step
async def skip(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    if not (dialogue.is_new and dialogue.key in OPTIONAL):
        return await _ask(update, caller, dialogue)
    return await _next(update, caller, dialogue)


@_button_step
async def choose_field(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    key = (query.data or "")[len("gl:d:f:") :]
    await drop_buttons(update)
    if dialogue.mode == Mode.REJECT or key not in FIELD_BUTTONS:
        return await _choose(update, caller, dialogue)
    dialogue.key = key
    return await _ask(update, caller, dialogue)


@_button_step
async def more(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    dialogue.reviewing = True
    return await _choose(update, caller, dialogue)


@_button_step
async def send(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    if dialogue.mode in MODERATOR_MODES and not caller.may(Role.MODERATOR):
        _drop(context)
        await reply(update, caller.render("common/not_allowed.html", role="moderator"))
        return ConversationHandler.END
    session, actor = caller.session, caller.actor
    compose = review_composer(caller.app)
    try:
        if dialogue.mode == Mode.SUGGEST:
            suggestion = await glossary.suggest(
                session, actor, dialogue.content, now=caller.now, compose=compose
            )
        elif dialogue.mode == Mode.SUGGEST_EDIT:
            entry = await glossary.get(session, dialogue.entry_id or 0)
            suggestion = await glossary.suggest(
                session,
                actor,
                glossary.with_fields(Content.of(entry), dialogue.updates),
                entry_id=entry.id,
                now=caller.now,
                compose=compose,
            )
        elif dialogue.mode == Mode.NEWTERM:
            entry = await glossary.create(session, actor, dialogue.content, now=caller.now)
        elif dialogue.mode == Mode.EDIT:
            entry = await glossary.get(session, dialogue.entry_id or 0)
            changes = await glossary.change(session, actor, entry, dialogue.updates, now=caller.now)
        else:
            suggestion = await glossary.revise(
                session, actor, dialogue.suggestion_id or 0, dialogue.updates
            )
    except ServiceError as error:
        await caller.discard()
        if error.code in (
            "glossary_not_found",
            "glossary_archived",
            "glossary_suggestion_not_found",
            "glossary_suggestion_approved",
            "glossary_suggestion_rejected",
            "glossary_too_many_pending",
        ):
            _drop(context)
            await reply(update, explain(caller.locale, error))
            return ConversationHandler.END
        return await _preview(update, caller, dialogue, error=error)
    await caller.commit()
    _drop(context)
    if dialogue.mode in (Mode.SUGGEST, Mode.SUGGEST_EDIT):
        wake_delivery(context)
        await reply(
            update,
            caller.render("glossary/submitted.html", suggestion_id=suggestion.id),
            _markup([("↩️ " + caller.t("Withdraw"), f"gl:wd:{suggestion.id}")]),
        )
    elif dialogue.mode == Mode.REVISE:
        notice = await glossary.notice(
            session,
            NoticeKind.REVIEW,
            suggestion,
            Recipient(caller.user.id, actor.id, caller.locale),
        )
        await reply(
            update,
            caller.t("Saved. The suggestion now reads:") + "\n\n" + compose(notice)["text"],
            review_markup(caller.locale, suggestion.id or 0),
        )
    else:
        glossary.indexed(caller.app.indexes, entry)
        await _saved(update, caller, entry, None if dialogue.mode == Mode.NEWTERM else changes)
    return ConversationHandler.END


async def _reject(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, reason: str
) -> int:
    if not caller.may(Role.MODERATOR):
        _drop(context)
        await reply(update, caller.render("common/not_allowed.html", role="moderator"))
        return ConversationHandler.END
    try:
        suggestion = await glossary.reject(
            caller.session,
            caller.actor,
            dialogue.suggestion_id or 0,
            reason,
            now=caller.now,
            compose=review_composer(caller.app),
        )
    except ServiceError as error:
        await caller.discard()
        if error.code == "glossary_reason_too_long":
            await reply(update, explain(caller.locale, error))
            return REASON
        _drop(context)
        await reply(update, explain(caller.locale, error))
        return ConversationHandler.END
    await caller.commit()
    _drop(context)
    wake_delivery(context)
    await reply(update, caller.render("glossary/rejected.html", suggestion_id=suggestion.id))
    return ConversationHandler.END


@_message_step
async def receive_reason(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    return await _reject(update, context, caller, dialogue, message.text or "")


@_button_step
async def no_reason(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    await drop_buttons(update)
    return await _reject(update, context, caller, dialogue, "")


# -- wiring -------------------------------------------------------------------------------------


def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    typed = only_new & filters.ChatType.PRIVATE & ~filters.COMMAND
    text = typed & filters.TEXT
    other = typed & ~filters.TEXT

    def answers(step: Callable[..., Any], *buttons: CallbackQueryHandler) -> list[Any]:  # type: ignore[type-arg]
        return [*buttons, MessageHandler(text, step), MessageHandler(other, need_text)]

    cancel = CallbackQueryHandler(abandon, pattern=r"^gl:d:no$")
    with warnings.catch_warnings():
        # Intended: the dialogue goes on by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        return ConversationHandler(
            entry_points=[
                CommandHandler("suggest", suggest_command, filters=only_new),
                CommandHandler("newterm", newterm_command, filters=only_new),
                CommandHandler("editterm", editterm_command, filters=only_new),
                CallbackQueryHandler(suggest_missed, pattern=r"^gl:new$"),
                CallbackQueryHandler(suggest_edit, pattern=rf"^gl:sug:{ID}$"),
                CallbackQueryHandler(edit_entry, pattern=rf"^gl:ed:{ID}$"),
                CallbackQueryHandler(revise_suggestion, pattern=rf"^gl:rv:{ID}$"),
                CallbackQueryHandler(reject_suggestion, pattern=rf"^gl:rj:{ID}$"),
            ],
            states={
                ASK: answers(receive, CallbackQueryHandler(skip, pattern=r"^gl:d:skip$")),
                FIELD: [
                    CallbackQueryHandler(choose_field, pattern=rf"^gl:d:f:({FIELD_PATTERN})$"),
                    cancel,
                    MessageHandler(typed, use_buttons),
                ],
                CONFIRM: [
                    CallbackQueryHandler(send, pattern=r"^gl:d:send$"),
                    CallbackQueryHandler(more, pattern=r"^gl:d:more$"),
                    cancel,
                    MessageHandler(typed, use_buttons),
                ],
                REASON: answers(
                    receive_reason, CallbackQueryHandler(no_reason, pattern=r"^gl:d:noreason$")
                ),
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="glossary",
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )
