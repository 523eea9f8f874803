"""The glossary on Telegram: /glossary (/g) in private chat and in the group, inline mode
(`@bot words` in any chat), an entry's view and its buttons, /history, the moderators'
Archive / Restore and Approve, the author's Withdraw, and `review_composer`, which words every
message the bot sends on its own about a suggestion (to moderators, to its author).

The dialogues (/suggest, /newterm, /editterm, and the Edit and Reject buttons of a
suggestion) are in `glossary_review`.

Callback data (at most 64 bytes; every id is checked again on the press):
  gl:v:<id>             an entry, as a new message
  gl:h:<id>:<page>      a page of its history, in place
  gl:ar:<id>            archive it (moderators), in place
  gl:rs:<id>            restore it (moderators), in place
  gl:ok:<suggestion>    approve a suggestion (moderators)
  gl:wd:<suggestion>    withdraw one's own suggestion
  gl:new, gl:sug:<id>, gl:ed:<id>, gl:rv:<suggestion>, gl:rj:<suggestion>, gl:d:...
                        the dialogues (glossary_review)
  gl:...                anything else: "This button is no longer valid."
Related entries and other hits are `/g_<id>` commands in the text: a tap shows the entry.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from babel import Locale
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.html_text import split_html
from bot.i18n import _, gettext
from bot.models import EntryStatus, GlossaryEntry, Role
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services import glossary
from bot.services.errors import ServiceError
from bot.services.glossary import Content, Found, Notice, NoticeKind
from bot.services.outbox import Recipient
from bot.services.search import FieldKind
from handlers.common import (
    NO_PREVIEW,
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    edit,
    reply,
    wake_delivery,
)
from handlers.errors import add_messages, explain

log = logging.getLogger(__name__)

ID = r"\d{1,10}"
# How many hits a lookup shows: the best in full, the others by name.
LOOKUP_LIMIT = 5
INLINE_LIMIT = 10
INLINE_CACHE_SECONDS = 10
DESCRIPTION_LIMIT = 120
# A definition in the group chat, where answers are short.
GROUP_DEFINITION_LIMIT = 300
# A definition in a moderator's review copy (all languages must fit one message).
REVIEW_DEFINITION_LIMIT = 700
# The query a "Suggest this term" button starts /suggest with.
MISSED = "glossary_missed"
# /g_12 (a tap on a related entry), also as /g_12@botname in the group.
ENTRY_COMMAND = re.compile(r"^/g_(\d{1,10})(?:@\w+)?$")
JOIN = "join"

GLOSSARY_ERRORS: dict[str, str] = {
    "glossary_not_found": _("There is no glossary entry #%(id)s."),
    "glossary_field_unknown": _(
        "%(field)s is not a field of an entry. Use a language code for its terms (en, ru, fa, "
        "…), def:en, def:ru, … for a definition, or abbr, source, tags, related."
    ),
    "glossary_language_unknown": _(
        "%(value)s is not one of the glossary's languages. Use one of: %(known)s."
    ),
    "glossary_term_empty": _("A term cannot be empty. Please write it, or /cancel."),
    "glossary_term_too_long": _(
        "That term is too long: %(length)s characters, and a term can have at most %(limit)s."
    ),
    "glossary_too_many": _("That is too many: at most %(limit)s."),
    "glossary_definition_too_long": _(
        "That definition is too long: %(length)s characters, and a definition can have at most "
        "%(limit)s."
    ),
    "glossary_source_too_long": _(
        "That source is too long: %(length)s characters, at most %(limit)s."
    ),
    "glossary_tag_too_long": _("A tag can have at most %(limit)s characters."),
    "glossary_related_bad": _(
        "%(value)s is not an entry number. Write the numbers of related entries, like 12, 15."
    ),
    "glossary_related_unknown": _("There is no glossary entry #%(id)s to relate it to."),
    "glossary_language_line": _(
        "Write each language on a line of its own: its code, a colon and the text, like "
        "fa: قاچاق انسان"
    ),
    "glossary_line_too_many_parts": _(
        "The one-line form has at most seven parts: English terms | Russian terms | "
        "abbreviations | English definition | Russian definition | source | tags."
    ),
    "glossary_needs_en_ru": _(
        "An entry needs its term in English and in Russian (missing: %(missing)s)."
    ),
    "glossary_duplicate": _(
        "The glossary already has an entry for %(term)s: /g_%(id)s. Suggest a change to it "
        "instead: /suggest %(id)s"
    ),
    "glossary_unchanged": _("Nothing would change: the entry already says that."),
    "glossary_archived": _("Entry #%(id)s is archived: it cannot be changed unless restored."),
    "glossary_already_archived": _("Entry #%(id)s is already archived."),
    "glossary_already_published": _("Entry #%(id)s is already published."),
    "glossary_note_too_long": _("That note is too long: at most %(limit)s characters."),
    "glossary_reason_too_long": _("That reason is too long: at most %(limit)s characters."),
    "glossary_too_many_pending": _(
        "You already have %(limit)s suggestions waiting for the moderators. Please wait for "
        "their answer first."
    ),
    "glossary_suggestion_not_found": _("That suggestion does not exist any more."),
    "glossary_suggestion_approved": _("This suggestion was already approved by %(name)s."),
    "glossary_suggestion_rejected": _("This suggestion was already rejected by %(name)s."),
    "glossary_suggestion_not_yours": _("That is not your suggestion."),
}
add_messages(GLOSSARY_ERRORS)


# -- words ------------------------------------------------------------------------------------


@cache
def language_names(locale: str) -> dict[str, str]:
    """Each glossary language's name, in the reader's language ("Russian", "русский")."""
    languages = Locale.parse(locale).languages
    names = {}
    for code in glossary.LANGUAGES:
        name = languages.get("fa_AF" if code == "prs" else code) or code
        names[code] = name[:1].upper() + name[1:]
    return names


@dataclass(frozen=True)
class Definition:
    name: str  # the language's name, when it is not the reader's
    text: str


@dataclass(frozen=True)
class OtherTerms:
    name: str
    terms: list[str]


@dataclass(frozen=True)
class Related:
    id: int
    headword: str


@dataclass
class EntryView:
    """An entry as one reader sees it: their language first."""

    id: int
    headword: str
    synonyms: list[str]
    definitions: list[Definition]
    others: list[OtherTerms]
    abbreviations: list[str]
    source: str
    tags: list[str]
    related: list[Related] = field(default_factory=list)
    archived: bool = False
    found_as: str = ""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def entry_view(
    content: Content,
    entry_id: int,
    reader: str,
    *,
    archived: bool = False,
    found_as: str = "",
    related: list[Related] | None = None,
    all_definitions: bool = False,
    definition_limit: int = glossary.DEFINITION_LIMIT,
) -> EntryView:
    names = language_names(reader)
    order = [reader, "en", "ru", *glossary.LANGUAGES]
    head = next((code for code in order if content.terms.get(code)), reader)
    terms = content.terms.get(head, [])
    definitions: list[Definition] = []
    if all_definitions:
        for code, text in content.definitions.items():
            if text:
                definitions.append(
                    Definition(names.get(code, code), _short(text, definition_limit))
                )
    else:
        code = next((c for c in order if content.definitions.get(c)), None)
        if code is not None:
            definitions.append(
                Definition(
                    "" if code == reader else names.get(code, code),
                    _short(content.definitions[code], definition_limit),
                )
            )
    return EntryView(
        id=entry_id,
        headword=terms[0] if terms else "—",
        synonyms=terms[1:],
        definitions=definitions,
        others=[
            OtherTerms(names.get(code, code), list(values))
            for code, values in content.terms.items()
            if code != head and values
        ],
        abbreviations=list(content.abbreviations),
        source=content.source,
        tags=list(content.tags),
        related=list(related or []),
        archived=archived,
        found_as=found_as,
    )


def found_as(found: Found, headword: str) -> str:
    """The term the query matched, when it is not the one shown first (a synonym, another
    language's term, an abbreviation, a transliteration)."""
    matched = found.hit.matched
    if matched.kind not in (FieldKind.TERM, FieldKind.SYNONYM, FieldKind.ABBREVIATION):
        return ""
    return "" if glossary.fold(matched.text) == glossary.fold(headword) else matched.text


async def _related(caller: Caller, entry: GlossaryEntry) -> list[Related]:
    rows = await glossary.entries(caller.session, entry.related_ids or [])
    return [
        Related(i, Content.of(rows[i]).headword(caller.locale))
        for i in entry.related_ids or []
        if i in rows and rows[i].status == EntryStatus.PUBLISHED
    ]


async def view_of(
    caller: Caller, entry: GlossaryEntry, *, found: str = "", compact: bool = False
) -> EntryView:
    """The entry for the caller; `compact` (the group chat): a shorter definition, no related
    entries or tags."""
    view = entry_view(
        Content.of(entry),
        entry.id or 0,
        caller.locale,
        archived=entry.status != EntryStatus.PUBLISHED,
        found_as=found,
        related=[] if compact else await _related(caller, entry),
        definition_limit=GROUP_DEFINITION_LIMIT if compact else glossary.DEFINITION_LIMIT,
    )
    if compact:
        view.tags = []
    return view


def _name_link(entry: GlossaryEntry, reader: str) -> str:
    return f"{Content.of(entry).headword(reader)} /g_{entry.id}"


def _data(label: str, data: str) -> InlineKeyboardButton:
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(label, callback_data=data)


def entry_markup(caller: Caller, entry: GlossaryEntry) -> InlineKeyboardMarkup | None:
    """Under an entry in a private chat: suggest an edit (a moderator: edit), the history,
    and for moderators archive or restore."""
    if not caller.is_private:
        return None
    ident = entry.id or 0
    moderator = caller.may(Role.MODERATOR)
    published = entry.status == EntryStatus.PUBLISHED
    first: list[InlineKeyboardButton] = []
    if published:
        if moderator:
            first.append(_data("✏️ " + caller.t("Edit"), f"gl:ed:{ident}"))
        else:
            first.append(_data("✏️ " + caller.t("Suggest an edit"), f"gl:sug:{ident}"))
    first.append(_data("🕘 " + caller.t("History"), f"gl:h:{ident}:0"))
    rows = [first]
    if moderator:
        rows.append(
            [_data("🗄 " + caller.t("Archive"), f"gl:ar:{ident}")]
            if published
            else [_data("♻️ " + caller.t("Restore"), f"gl:rs:{ident}")]
        )
    return InlineKeyboardMarkup(rows)


async def entry_message(
    caller: Caller, entry: GlossaryEntry, *, found: str = "", also: list[str] | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    text = caller.render(
        "glossary/entry.html",
        v=await view_of(caller, entry, found=found, compact=not caller.is_private),
        also=also or [],
        links=True,
    )
    return text, entry_markup(caller, entry)


# -- /glossary, /g ----------------------------------------------------------------------------


def _entry_id(text: str) -> int | None:
    match = re.fullmatch(r"#?(\d{1,12})", text.strip())
    return int(match.group(1)) if match else None


async def _show_by_id(update: Update, caller: Caller, entry_id: int) -> None:
    entry = await glossary.find(caller.session, entry_id)
    if entry is None:
        await reply(update, explain(caller.locale, ServiceError("glossary_not_found", id=entry_id)))
        return
    text, markup = await entry_message(caller, entry)
    await reply(update, text, markup)


async def _not_found(update: Update, context: CallbackContext, caller: Caller, query: str) -> None:
    closest = await glossary.closest(caller.session, caller.app.indexes, query, limit=3)
    text = caller.render(
        "glossary/not_found.html",
        query=_short(query, 100),
        closest=[_name_link(f.entry, caller.locale) for f in closest],
        group=not caller.is_private,
    )
    markup = None
    if caller.is_private:
        if context.user_data is not None:
            context.user_data[MISSED] = query[: glossary.TERM_LIMIT]
        markup = InlineKeyboardMarkup([[_data("➕ " + caller.t("Suggest this term"), "gl:new")]])
    await reply(update, text, markup)


@command(role=Role.MEMBER, private_only=False, load_member=False)
async def glossary_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = args_text(update)
    if not query:
        await reply(update, caller.render("glossary/usage.html", bot=context.bot.username))
        return
    entry_id = _entry_id(query)
    if entry_id is not None:
        await _show_by_id(update, caller, entry_id)
        return
    found = await glossary.search(
        caller.session, caller.app.indexes, query, language=caller.locale, limit=LOOKUP_LIMIT
    )
    if not found:
        await _not_found(update, context, caller, query)
        return
    best = found[0]
    headword = Content.of(best.entry).headword(caller.locale)
    text, markup = await entry_message(
        caller,
        best.entry,
        found=found_as(best, headword),
        also=[_name_link(f.entry, caller.locale) for f in found[1:]],
    )
    await reply(update, text, markup)


@command(role=Role.MEMBER, private_only=False, load_member=False)
async def entry_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    """/g_12: a tap on a related entry or another hit."""
    message = update.effective_message
    match = ENTRY_COMMAND.match((message.text or "").strip()) if message else None
    if match is None:
        await reply(update, caller.render("glossary/usage.html", bot=context.bot.username))
        return
    await _show_by_id(update, caller, int(match.group(1)))


@button(role=Role.MEMBER, load_member=False)
async def show(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    entry = await glossary.find(caller.session, int(query.data.split(":")[2]))
    if entry is None:
        await query.answer(caller.t("That entry does not exist."), show_alert=True)
        return
    await query.answer()
    text, markup = await entry_message(caller, entry)
    await reply(update, text, markup)


# -- inline mode ------------------------------------------------------------------------------


def inline_text(caller: Caller, entry: GlossaryEntry, found: str) -> str:
    """An entry as a message sent into any chat: no commands, no buttons."""
    view = entry_view(Content.of(entry), entry.id or 0, caller.locale, found_as=found, related=[])
    text = caller.render("glossary/entry.html", v=view, also=[], links=False)
    return split_html(text, TELEGRAM_TEXT_LIMIT)[0]


@command(role=None, private_only=False, load_member=False)
async def inline_query(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.inline_query
    if query is None:
        return
    if caller.role is None:
        # Nothing about the group; a way in instead.
        await query.answer(
            [],
            cache_time=INLINE_CACHE_SECONDS,
            is_personal=True,
            button=InlineQueryResultsButton(
                text=caller.t("Only for members of the working group"), start_parameter=JOIN
            ),
        )
        return
    words = query.query.strip()
    found = (
        await glossary.search(
            caller.session, caller.app.indexes, words, language=caller.locale, limit=INLINE_LIMIT
        )
        if words
        else []
    )
    results = []
    for hit in found:
        content = Content.of(hit.entry)
        headword = content.headword(caller.locale)
        matched = found_as(hit, headword)
        view = entry_view(content, hit.entry.id or 0, caller.locale)
        parts = [f"({matched})"] if matched else []
        if view.definitions:
            parts.append(_short(view.definitions[0].text, DESCRIPTION_LIMIT))
        description = " ".join(parts)
        results.append(
            InlineQueryResultArticle(
                id=str(hit.entry.id),
                title=_short(headword, 200),
                description=description or None,
                input_message_content=InputTextMessageContent(
                    inline_text(caller, hit.entry, matched),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                ),
            )
        )
    await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=True)


# -- /history ---------------------------------------------------------------------------------


async def history_view(
    caller: Caller, entry_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    entry = await glossary.get(caller.session, entry_id)
    lines, pages, total = await glossary.history(caller.session, entry_id, page)
    page = min(max(page, 0), pages - 1)
    text = caller.render(
        "glossary/history.html",
        headword=Content.of(entry).headword(caller.locale),
        entry_id=entry_id,
        lines=lines,
        page=page,
        pages=pages,
        total=total,
        zone=caller.zone,
        names=language_names(caller.locale),
    )
    navigation = []
    if page > 0:
        navigation.append(_data("« " + caller.t("Newer"), f"gl:h:{entry_id}:{page - 1}"))
    if page < pages - 1:
        navigation.append(_data(caller.t("Older") + " »", f"gl:h:{entry_id}:{page + 1}"))
    return text, InlineKeyboardMarkup([navigation]) if navigation else None


@command(role=Role.MEMBER, load_member=False)
async def history_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    entry_id = _entry_id(args_text(update))
    if entry_id is None:
        await reply(update, caller.render("glossary/history_usage.html"))
        return
    try:
        text, markup = await history_view(caller, entry_id, 0)
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    await reply(update, text, markup)


@button(role=Role.MEMBER, load_member=False)
async def history_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_id, raw_page = query.data.split(":")
    try:
        text, markup = await history_view(caller, int(raw_id), int(raw_page))
    except ServiceError as error:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await query.answer()
    await edit(update, text, markup)


# -- moderators: archive, restore -------------------------------------------------------------


@button(role=Role.MODERATOR)
async def archive_or_restore(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, action, raw_id = query.data.split(":")
    try:
        entry = await glossary.get(caller.session, int(raw_id))
        if action == "ar":
            await glossary.archive(caller.session, caller.actor, entry, now=caller.now)
        else:
            await glossary.restore(caller.session, caller.actor, entry, now=caller.now)
    except ServiceError as error:
        await caller.discard()
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await caller.commit()
    glossary.indexed(caller.app.indexes, entry)
    await query.answer(caller.t("Archived.") if action == "ar" else caller.t("Restored."))
    text, markup = await entry_message(caller, entry)
    await edit(update, text, markup)


# -- suggestions: the messages about them, Approve, Withdraw ----------------------------------


def review_markup(language: str, suggestion_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_data("✅ " + gettext(language, "Approve"), f"gl:ok:{suggestion_id}")],
            [
                _data("✏️ " + gettext(language, "Edit"), f"gl:rv:{suggestion_id}"),
                _data("❌ " + gettext(language, "Reject"), f"gl:rj:{suggestion_id}"),
            ],
        ]
    )


def review_text(notice: Notice, language: str) -> str:
    suggestion = notice.suggestion
    proposed = Content.from_dict(suggestion.proposed)
    current = Content.of(notice.entry) if notice.entry is not None else proposed
    view = None
    if suggestion.entry_id is None:
        view = entry_view(
            proposed,
            0,
            language,
            related=[Related(i, f"#{i}") for i in proposed.related_ids],
            all_definitions=True,
            definition_limit=REVIEW_DEFINITION_LIMIT,
        )
    state = {
        NoticeKind.REVIEW: "",
        NoticeKind.DECIDED: str(suggestion.status),
        NoticeKind.WITHDRAWN: "withdrawn",
    }.get(notice.kind, "")
    text = render(
        "glossary/review.html",
        language,
        n=suggestion,
        headword=current.headword(language),
        author=notice.author.full_name if notice.author else "",
        note=suggestion.note,
        changes=list(notice.changes),
        v=view,
        names=language_names(language),
        state=state,
        moderator=notice.moderator.full_name if notice.moderator else "",
        reason=suggestion.reason,
    )
    return split_html(text, TELEGRAM_TEXT_LIMIT)[0]


def review_composer(app: AppContext) -> glossary.Compose:
    """Notice -> outbox payload, in the reader's language."""
    default = app.settings.default_language

    def compose(notice: Notice) -> dict[str, Any]:
        language = (
            notice.recipient.language
            if notice.recipient.language in SUPPORTED_LANGUAGES
            else default
        )
        suggestion = notice.suggestion
        if notice.kind in (NoticeKind.APPROVED, NoticeKind.REJECTED):
            content = (
                Content.of(notice.entry)
                if notice.entry is not None
                else Content.from_dict(suggestion.proposed)
            )
            return {
                "text": render(
                    "glossary/outcome.html",
                    language,
                    approved=notice.kind == NoticeKind.APPROVED,
                    headword=_short(content.headword(language), 200),
                    entry_id=notice.entry.id if notice.entry is not None else 0,
                    reason=suggestion.reason,
                )
            }
        payload: dict[str, Any] = {"text": review_text(notice, language)}
        if notice.kind == NoticeKind.REVIEW:
            payload["reply_markup"] = review_markup(language, suggestion.id or 0).to_dict()
        return payload

    return compose


def _pressed(update: Update) -> tuple[int, int] | None:
    query = update.callback_query
    message = query.message if query is not None else None
    return (message.chat.id, message.message_id) if message is not None else None


@button(role=Role.MODERATOR)
async def approve(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    compose = review_composer(caller.app)
    try:
        suggestion, entry = await glossary.approve(
            caller.session,
            caller.actor,
            int(query.data.split(":")[2]),
            now=caller.now,
            compose=compose,
            pressed=_pressed(update),
        )
    except ServiceError as error:
        await caller.discard()
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await caller.commit()
    glossary.indexed(caller.app.indexes, entry)
    wake_delivery(context)
    await query.answer(caller.t("Approved and published."))
    notice = await glossary.notice(
        caller.session,
        NoticeKind.DECIDED,
        suggestion,
        Recipient(caller.user.id, caller.actor.id, caller.locale),
        moderator=caller.actor,
        entry=entry,
    )
    await edit(update, compose(notice)["text"])


@button(role=Role.MEMBER)
async def withdraw(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    try:
        await glossary.withdraw(
            caller.session,
            caller.actor,
            int(query.data.split(":")[2]),
            now=caller.now,
            compose=review_composer(caller.app),
        )
    except ServiceError as error:
        await caller.discard()
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
        return
    await caller.commit()
    wake_delivery(context)
    await query.answer()
    await edit(update, caller.render("glossary/withdrawn.html"))


@button(role=None, load_member=False)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    from handlers import glossary_review

    only_new = filters.UpdateType.MESSAGE
    app.add_handler(glossary_review.conversation(), group)
    app.add_handler(CommandHandler(["glossary", "g"], glossary_command, filters=only_new), group)
    app.add_handler(MessageHandler(only_new & filters.Regex(ENTRY_COMMAND), entry_command), group)
    app.add_handler(CommandHandler("history", history_command, filters=only_new), group)
    app.add_handler(InlineQueryHandler(inline_query), group)
    for handler, pattern in (
        (show, rf"^gl:v:{ID}$"),
        (history_page, rf"^gl:h:{ID}:\d{{1,5}}$"),
        (archive_or_restore, rf"^gl:(ar|rs):{ID}$"),
        (approve, rf"^gl:ok:{ID}$"),
        (withdraw, rf"^gl:wd:{ID}$"),
        (stale, r"^gl:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
