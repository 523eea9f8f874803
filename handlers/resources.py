"""The resource library on Telegram: /resources (alias /r) searches with filters and pages the
results, /resource <id> shows one in full; members /propose resources and moderators review
them (Approve / Edit / Reject, from the notice every moderator gets, from /resource or from
/reviews); moderators /addresource directly, edit fields, set who may see a resource, mark it
superseded, archive and restore it. Also the composers of what the bot sends on its own: the
proposals, their outcome and the decided copies (`notice_composer`), and the review reminders
(`review_composer`, for bot/scheduler.py's `review_source`).

In the group chat everybody reads the answer, so a search there shows only what members may see,
whoever asks, and carries no moderator buttons.

/propose and /addresource ask: link -> title -> kind (buttons) -> issuer -> year -> languages ->
countries -> tags -> summary (each optional one can be skipped) -> a preview -> Submit. Or one
line: `/propose https://... | Title | kind | issuer | year` (then optionally `| languages |
countries | tags | summary`), straight to the preview. A bad answer gets its explanation and the
same question again; nothing is saved before Submit.

Callback data (at most 64 bytes; every part is checked again on the press):
  res:p:<page>:q:<query>     a page of results, the query itself in the data (when it fits)
  res:p:<page>:t:<token>     a page of results, the query kept in chat_data under a token
  res:v:<id>                 one resource in full, as a new message
  res:ok:<id>[:l]            approve a proposal (:l: pressed in /reviews, which is redrawn)
  res:no:<id>[:l]            reject a proposal
  res:ed:<id>                the moderators' menu of fields to edit
  res:e:<id>:<field>         edit one field (a typed step, below)
  res:sup:<id>               "superseded by" (a typed step)
  res:vis:<id>:<m|o>         visible to members / to moderators only
  res:ar:<id>[:y]            archive (asks, then does); res:keep:<id> is "No"
  res:rs:<id>                restore an archived resource
  res:d:k:<kind>, res:d:skip, res:d:ok, res:d:no        the dialogue's buttons
  res:...                    anything else: "This button is no longer valid."
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.config import SUPPORTED_LANGUAGES
from bot.context import AppContext
from bot.i18n import _, gettext
from bot.models import Member, Role
from bot.models.knowledge import Resource, ResourceKind, ResourceStatus, Visibility
from bot.render import render
from bot.services import resources, reviews, timezones
from bot.services.errors import ServiceError
from bot.services.resources import Draft, Notice, NoticeKind
from handlers.common import (
    CallbackContext,
    Caller,
    args_text,
    button,
    command,
    dialogue_endings,
    dialogue_steps,
    drop_buttons,
    edit,
    reply,
    wake_delivery,
)
from handlers.errors import add_messages, explain

log = logging.getLogger(__name__)

add_messages(
    {
        "resource_not_found": _("There is no resource #%(id)s. /resources searches the library."),
        "resource_bad_url": _(
            "%(value)s is not a web link. A link starts with http:// or https:// and names a "
            "site, like https://www.unodc.org/..."
        ),
        "resource_url_too_long": _("That link is too long (at most %(limit)s characters)."),
        "resource_title_empty": _("A resource needs a title."),
        "resource_title_too_long": _(
            "That title has %(length)s characters; at most %(limit)s, please."
        ),
        "resource_issuer_too_long": _(
            "That issuer has %(length)s characters; at most %(limit)s, please."
        ),
        "resource_summary_too_long": _(
            "That summary has %(length)s characters; at most %(limit)s, please."
        ),
        "resource_note_too_long": _(
            "That note has %(length)s characters; at most %(limit)s, please."
        ),
        "resource_tag_too_long": _("The tag %(value)s is too long (at most %(limit)s characters)."),
        "resource_too_many": _("That is too many: at most %(limit)s."),
        "resource_bad_kind": _("%(value)s is not a kind of resource. The kinds are: %(kinds)s."),
        "resource_bad_language": _(
            "%(value)s is not a language code. Use ISO 639 codes such as en, ru, fa, prs, ps, "
            "ur, uz, kk, ky, tg, tk."
        ),
        "resource_bad_year": _(
            "%(value)s is not a year I can use: a year from %(min)s to %(max)s, like 2020."
        ),
        "resource_bad_year_filter": _(
            "I cannot read the year filter %(value)s. Write year:2018, year:2020.. (from 2020), "
            "year:..2015 (up to 2015) or year:2018..2020, with years from %(min)s to %(max)s."
        ),
        "resource_bad_field": _("%(value)s is not a field of a resource."),
        "resource_line_unparseable": _(
            "Write it on one line as: /propose https://link | Title | kind | issuer | year, "
            "or send /propose alone and I will ask step by step."
        ),
        "resource_duplicate": _(
            "That link is already in the library, or waiting for review: #%(id)s."
        ),
        "resource_duplicate_hidden": _(
            "That link is already in the library, or waiting for review."
        ),
        "resource_decided": _("Resource #%(id)s has already been reviewed."),
        "resource_not_editable": _("Resource #%(id)s cannot be changed now: it is %(status)s."),
        "resource_nothing_changed": _("Nothing changed: it already is so."),
        "resource_superseded_by_itself": _("A resource cannot be superseded by itself."),
        "resource_supersede_missing": _("There is no published resource #%(id)s to supersede it."),
        "resource_supersede_cycle": _(
            "#%(id)s is itself superseded, through a chain, by this one: that would be a circle."
        ),
        "resource_search_expired": _(
            "That search is no longer available. Please search again with /resources."
        ),
    }
)

KIND_LABELS = {
    ResourceKind.REPORT: _("Report"),
    ResourceKind.GUIDELINE: _("Guideline"),
    ResourceKind.LEGISLATION: _("Legislation"),
    ResourceKind.CASE_LAW: _("Case law"),
    ResourceKind.TRAINING: _("Training"),
    ResourceKind.TOOL: _("Tool"),
}
FIELD_LABELS = {
    "url": _("Link"),
    "title": _("Title"),
    "kind": _("Kind"),
    "issuer": _("Issuer"),
    "year": _("Year"),
    "languages": _("Languages"),
    "countries": _("Countries"),
    "tags": _("Tags"),
    "summary": _("Summary"),
}
ID = r"\d{1,10}"
ASK, PREVIEW = range(2)
DIALOGUE = "resource_dialogue"
SEARCHES = "resource_searches"
KEPT_SEARCHES = 200
MAX_PAGE = 99_999
REVIEW_LIST = 10


# -- small things -------------------------------------------------------------------------------


def data_button(label: str, data: str) -> InlineKeyboardButton:
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(label, callback_data=data)


def _markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _language(app: AppContext, language: str | None) -> str:
    return language if language in SUPPORTED_LANGUAGES else app.settings.default_language


def _parts(update: Update) -> list[str]:
    query = update.callback_query
    assert query is not None and query.data is not None
    return query.data.split(":")


async def _alert(update: Update, caller: Caller, error: ServiceError) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(explain(caller.locale, error, plain=True)[:200], show_alert=True)
    else:
        await reply(update, explain(caller.locale, error))


async def _invalid(update: Update, caller: Caller) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(caller.t("This button is no longer valid."), show_alert=True)


def _staff(caller: Caller) -> bool:
    """May see and act as a moderator here: a moderator, in a private chat."""
    return caller.may(Role.MODERATOR) and caller.is_private


def _indexes(caller: Caller) -> dict[str, Any]:
    return caller.app.indexes


# -- what the bot sends on its own ----------------------------------------------------------------


def review_markup(
    language: str, resource_id: int, *, from_list: bool = False
) -> InlineKeyboardMarkup:
    """Approve / Edit / Reject under a proposal."""
    tail = ":l" if from_list else ""
    return InlineKeyboardMarkup(
        [
            [
                data_button("✅ " + gettext(language, "Approve"), f"res:ok:{resource_id}{tail}"),
                data_button("✏️ " + gettext(language, "Edit"), f"res:ed:{resource_id}"),
                data_button("✖️ " + gettext(language, "Reject"), f"res:no:{resource_id}{tail}"),
            ]
        ]
    )


def notice_composer(app: AppContext) -> resources.Compose:
    """Notice -> outbox payload in the reader's language: the proposal (with Approve / Edit /
    Reject) to a moderator, the outcome to its author, a decided copy for the other moderators."""

    def compose(notice: Notice) -> dict[str, Any]:
        language = _language(app, notice.recipient.language)
        resource = notice.resource
        if notice.kind == NoticeKind.PROPOSED:
            text = render("resources/proposal.html", language, r=resource, author=notice.person)
            return {
                "text": text,
                "reply_markup": review_markup(language, resource.id or 0).to_dict(),
            }
        if notice.kind == NoticeKind.DECIDED:
            return {
                "text": render(
                    "resources/decided.html", language, r=resource, moderator=notice.person
                )
            }
        return {
            "text": render(
                "resources/outcome.html",
                language,
                r=resource,
                approved=notice.kind == NoticeKind.APPROVED,
            )
        }

    return compose


def review_composer(app: AppContext) -> reviews.Compose:
    """Digest -> outbox payload: what waits for a review, in the moderator's language, the
    oldest one's time in their zone."""
    settings = app.settings

    def compose(digest: reviews.Digest) -> dict[str, Any]:
        language = _language(app, digest.recipient.language)
        zone = timezones.zone(digest.recipient.timezone, settings.default_timezone)
        return {"text": render("resources/review_digest.html", language, d=digest, zone=zone)}

    return compose


# -- searching ----------------------------------------------------------------------------------


def _query_data(context: CallbackContext, text: str) -> str:
    """How the page buttons name a query: itself when it fits in the callback data, else a
    token for it kept in the chat's data."""
    if len(f"res:p:{MAX_PAGE}:q:{text}".encode()) <= 64:
        return f"q:{text}"
    chat_data = context.chat_data if context.chat_data is not None else {}
    kept = chat_data.setdefault(SEARCHES, {})
    for token, known in kept.items():
        if known == text:
            return f"t:{token}"
    token = str(chat_data.get(SEARCHES + ":next", 1))
    chat_data[SEARCHES + ":next"] = int(token) + 1
    kept[token] = text
    while len(kept) > KEPT_SEARCHES:
        kept.pop(next(iter(kept)))
    return f"t:{token}"


def _query_of(context: CallbackContext, mode: str, value: str) -> str | None:
    if mode == "q":
        return value
    kept = (context.chat_data or {}).get(SEARCHES, {})
    found = kept.get(value)
    return found if isinstance(found, str) else None


async def _results(
    caller: Caller, context: CallbackContext, text: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of results for a query as typed (ServiceError for a bad filter)."""
    query = resources.parse_query(text, caller.now)
    found = await resources.search_resources(
        caller.session,
        _indexes(caller),
        query,
        moderator=_staff(caller),
        page=page,
        language=caller.locale,
    )
    body = caller.render(
        "resources/results.html",
        found=found,
        q=query,
        moderator=_staff(caller),
        start=found.page * resources.PAGE_SIZE,
    )
    shown = [item.resource for item in found.items] or found.closest
    rows = [[data_button(f"#{r.id}", f"res:v:{r.id}") for r in shown]]
    paging = []
    if found.pages > 1:
        named = _query_data(context, text)
        if found.page > 0:
            paging.append(data_button("«", f"res:p:{found.page - 1}:{named}"))
        if found.page + 1 < found.pages:
            paging.append(data_button("»", f"res:p:{found.page + 1}:{named}"))
    rows.append(paging)
    return body, _markup(rows)


@command(role=Role.MEMBER, private_only=False, load_member=False)
async def resources_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text = " ".join(args_text(update).split())
    try:
        body, markup = await _results(caller, context, text, 0)
    except ServiceError as error:
        await reply(
            update,
            explain(caller.locale, error) + "\n\n" + caller.render("resources/search_help.html"),
        )
        return
    if not text:
        body = caller.render("resources/search_help.html") + "\n\n" + body
    await reply(update, body, markup)


@button(role=Role.MEMBER, load_member=False)
async def results_page(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:p:<page>:<q|t>:<query or token>."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_page, mode, value = query.data.split(":", 4)
    page = int(raw_page)
    text = _query_of(context, mode, value)
    if text is None or page > MAX_PAGE:
        await _alert(update, caller, ServiceError("resource_search_expired"))
        return
    try:
        body, markup = await _results(caller, context, text, page)
    except ServiceError as error:
        await _alert(update, caller, error)
        return
    await query.answer()
    await edit(update, body, markup)


# -- one resource -------------------------------------------------------------------------------


async def view(caller: Caller, resource: Resource) -> tuple[str, InlineKeyboardMarkup | None]:
    """One resource in full, with the moderators' buttons (in a private chat)."""
    staff = _staff(caller)
    item = await resources.item(caller.session, resource, moderator=staff)
    people: dict[str, Member | None] = {"author": None, "reviewer": None}
    if staff:
        for key, member_id in (
            ("author", resource.proposed_by_id),
            ("reviewer", resource.reviewed_by_id),
        ):
            people[key] = (
                await caller.session.get(Member, member_id) if member_id is not None else None
            )
    text = caller.render(
        "resources/detail.html",
        r=resource,
        newer=item.superseded_by,
        moderator=staff,
        zone=caller.zone,
        **people,
    )
    return text, _markup(_moderator_rows(caller, resource)) if staff else None


def _moderator_rows(caller: Caller, resource: Resource) -> list[list[InlineKeyboardButton]]:
    ident = resource.id or 0
    status = resource.status
    if status == ResourceStatus.PENDING:
        return list(review_markup(caller.locale, ident).inline_keyboard)  # type: ignore[arg-type]
    if status == ResourceStatus.ARCHIVED:
        return [[data_button("♻️ " + caller.t("Restore"), f"res:rs:{ident}")]]
    if status != ResourceStatus.PUBLISHED:
        return []
    if resource.visibility == Visibility.MEMBERS:
        visibility = data_button("🔒 " + caller.t("Moderators only"), f"res:vis:{ident}:o")
    else:
        visibility = data_button("👥 " + caller.t("Visible to members"), f"res:vis:{ident}:m")
    return [
        [data_button("✏️ " + caller.t("Edit"), f"res:ed:{ident}"), visibility],
        [
            data_button("⤴️ " + caller.t("Superseded by…"), f"res:sup:{ident}"),
            data_button("🗄 " + caller.t("Archive"), f"res:ar:{ident}"),
        ],
    ]


@command(role=Role.MEMBER, private_only=False)
async def resource_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    ident = resources.parse_id(args_text(update))
    if ident is None:
        await reply(update, caller.render("resources/usage_resource.html"))
        return
    try:
        resource = await resources.visible(caller.session, ident, moderator=_staff(caller))
    except ServiceError as error:
        await reply(update, explain(caller.locale, error))
        return
    text, markup = await view(caller, resource)
    await reply(update, text, markup)


async def _load(update: Update, caller: Caller, position: int = 2) -> Resource | None:
    """The resource a button names, if the presser may see it; else an alert and None."""
    ident = resources.parse_id(_parts(update)[position])
    try:
        if ident is None:
            raise ServiceError("resource_not_found", id=_parts(update)[position][:12])
        return await resources.visible(caller.session, ident, moderator=_staff(caller))
    except ServiceError as error:
        await _alert(update, caller, error)
        return None


@button(role=Role.MEMBER)
async def show(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:v:<id>."""
    resource = await _load(update, caller)
    if resource is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    text, markup = await view(caller, resource)
    await reply(update, text, markup)


# -- reviewing ------------------------------------------------------------------------------------


async def _reviews_view(caller: Caller) -> tuple[str, InlineKeyboardMarkup | None]:
    backlog = await reviews.backlog(caller.session, limit=REVIEW_LIST)
    waiting_suggestions, waiting_resources = await reviews.counts(caller.session)
    authors: dict[int, Member | None] = {}
    for row in [*backlog.resources, *backlog.suggestions]:
        author_id = getattr(row, "proposed_by_id", None) or getattr(row, "author_id", None)
        if author_id is not None and author_id not in authors:
            authors[author_id] = await caller.session.get(Member, author_id)
    text = caller.render(
        "resources/reviews.html",
        b=backlog,
        terms={s.id: _first_term(s.proposed, caller.locale) for s in backlog.suggestions},
        suggestions_total=waiting_suggestions,
        resources_total=waiting_resources,
        authors=authors,
        zone=caller.zone,
    )
    rows = []
    # A glossary suggestion's buttons are the glossary's own (handlers/glossary.py).
    for suggestion in backlog.suggestions:
        ident = suggestion.id or 0
        rows.append(
            [
                data_button(f"✅ 📖{ident}", f"gl:ok:{ident}"),
                data_button(f"✏️ 📖{ident}", f"gl:rv:{ident}"),
                data_button(f"✖️ 📖{ident}", f"gl:rj:{ident}"),
            ]
        )
    for resource in backlog.resources:
        ident = resource.id or 0
        rows.append(
            [
                data_button(f"✅ #{ident}", f"res:ok:{ident}:l"),
                data_button(f"✏️ #{ident}", f"res:ed:{ident}"),
                data_button(f"✖️ #{ident}", f"res:no:{ident}:l"),
            ]
        )
    return text, _markup(rows)


def _first_term(proposed: Any, language: str) -> str:
    """The term a glossary suggestion proposes (in the reader's language if it has one)."""
    terms = proposed.get("terms") if isinstance(proposed, dict) else None
    if not isinstance(terms, dict) or not terms:
        return ""
    for key in (language, "en", "ru", *terms):
        found = terms.get(key)
        if isinstance(found, list) and found:
            return str(found[0])
        if isinstance(found, str) and found:
            return found
    return ""


@command(role=Role.MODERATOR)
async def reviews_command(update: Update, context: CallbackContext, caller: Caller) -> None:
    text, markup = await _reviews_view(caller)
    await reply(update, text, markup)


@button(role=Role.MODERATOR)
async def decide(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:ok|no:<id>[:l]."""
    query = update.callback_query
    assert query is not None
    parts = _parts(update)
    approve = parts[1] == "ok"
    from_list = len(parts) > 3
    ident = resources.parse_id(parts[2])
    pressed = (query.message.chat.id, query.message.message_id) if query.message else None
    try:
        if ident is None:
            raise ServiceError("resource_not_found", id=parts[2][:12])
        resource = await resources.decide(
            caller.session,
            caller.actor,
            ident,
            approve,
            now=caller.now,
            indexes=_indexes(caller),
            compose=notice_composer(caller.app),
            pressed=pressed,
        )
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    await caller.commit()
    wake_delivery(context)
    await query.answer(
        caller.t("Approved: it is in the library.") if approve else caller.t("Rejected.")
    )
    if from_list:
        text, markup = await _reviews_view(caller)
        await edit(update, text, markup)
        return
    await edit(update, caller.render("resources/decided.html", r=resource, moderator=caller.actor))


# -- the moderators' other changes --------------------------------------------------------------


@button(role=Role.MODERATOR)
async def edit_menu(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:ed:<id>: which field to change."""
    resource = await _load(update, caller)
    if resource is None:
        return
    if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.PENDING):
        await _alert(
            update,
            caller,
            ServiceError("resource_not_editable", id=resource.id, status=str(resource.status)),
        )
        return
    ident = resource.id or 0
    buttons = [
        data_button(caller.t(FIELD_LABELS[name]), f"res:e:{ident}:{name}")
        for name in resources.FIELDS
    ]
    assert update.callback_query is not None
    await update.callback_query.answer()
    await reply(
        update,
        caller.render("resources/edit_menu.html", r=resource),
        _markup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]),
    )


async def _change(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    change: Callable[[Resource], Awaitable[Resource]],
) -> None:
    """Apply a moderator's change to the resource a button names, then redraw it in place."""
    resource = await _load(update, caller)
    if resource is None:
        return
    try:
        resource = await change(resource)
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    await caller.commit()
    assert update.callback_query is not None
    await update.callback_query.answer(caller.t("Saved."))
    text, markup = await view(caller, resource)
    await edit(update, text, markup)


@button(role=Role.MODERATOR)
async def set_visibility(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:vis:<id>:<m|o>."""
    visibility = Visibility.MEMBERS if _parts(update)[3] == "m" else Visibility.MODERATORS

    async def change(resource: Resource) -> Resource:
        return await resources.set_visibility(
            caller.session,
            caller.actor,
            resource,
            visibility,
            now=caller.now,
            indexes=_indexes(caller),
        )

    await _change(update, context, caller, change)


@button(role=Role.MODERATOR)
async def restore(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:rs:<id>."""

    async def change(resource: Resource) -> Resource:
        return await resources.restore(
            caller.session, caller.actor, resource, now=caller.now, indexes=_indexes(caller)
        )

    await _change(update, context, caller, change)


@button(role=Role.MODERATOR)
async def archive(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:ar:<id>[:y]: asks first, then archives."""
    resource = await _load(update, caller)
    if resource is None:
        return
    query = update.callback_query
    assert query is not None
    ident = resource.id or 0
    if len(_parts(update)) < 4:
        if resource.status != ResourceStatus.PUBLISHED:
            await _alert(
                update,
                caller,
                ServiceError("resource_not_editable", id=ident, status=str(resource.status)),
            )
            return
        await query.answer()
        await reply(
            update,
            caller.render("resources/confirm_archive.html", r=resource),
            _markup(
                [
                    [
                        data_button(caller.t("Yes, archive it"), f"res:ar:{ident}:y"),
                        data_button(caller.t("No"), f"res:keep:{ident}"),
                    ]
                ]
            ),
        )
        return
    try:
        await resources.archive(
            caller.session, caller.actor, resource, now=caller.now, indexes=_indexes(caller)
        )
    except ServiceError as error:
        await caller.discard()
        await _alert(update, caller, error)
        return
    await caller.commit()
    await query.answer()
    await edit(update, caller.render("resources/archived.html", r=resource))


@button(role=Role.MODERATOR)
async def keep(update: Update, context: CallbackContext, caller: Caller) -> None:
    """res:keep:<id>: "No" to archiving."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await edit(update, caller.render("resources/kept.html", resource_id=int(_parts(update)[2])))


@button(role=Role.MEMBER, load_member=False)
async def stale(update: Update, context: CallbackContext, caller: Caller) -> None:
    """Anything under res: that no handler took (forged, or from a dialogue that is over)."""
    await _invalid(update, caller)


# -- the dialogue: /propose, /addresource, and the typed edits ----------------------------------


@dataclass
class Dialogue:
    """What has been said so far (kept in user_data while the dialogue lasts)."""

    mode: str  # "new" (propose or add) or "edit"
    draft: Draft
    field: str = "url"  # the field being asked for ("superseded": the replacement's number)
    resource_id: int = 0


def _dialogue(context: CallbackContext) -> Dialogue | None:
    found = (context.user_data or {}).get(DIALOGUE)
    return found if isinstance(found, Dialogue) else None


def _keep(context: CallbackContext, dialogue: Dialogue) -> None:
    if context.user_data is not None:
        context.user_data[DIALOGUE] = dialogue


def _drop(context: CallbackContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DIALOGUE, None)


async def _expired(update: Update, caller: Caller) -> int:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, caller.render("resources/expired.html"))
    return ConversationHandler.END


def _with_error(caller: Caller, error: ServiceError | None) -> str:
    return "" if error is None else explain(caller.locale, error) + "\n\n"


def _sample(caller: Caller, draft: Draft, resource_id: int | None = None) -> Resource:
    """An unsaved resource, for the preview."""
    return Resource(
        id=resource_id,
        title=draft.title,
        url=draft.url,
        summary=draft.summary,
        kind=draft.kind or ResourceKind.REPORT,
        issuer=draft.issuer,
        year=draft.year,
        languages=list(draft.languages),
        countries=list(draft.countries),
        tags=list(draft.tags),
        visibility=draft.visibility,
        status=ResourceStatus.PUBLISHED if caller.may(Role.MODERATOR) else ResourceStatus.PENDING,
        created_at=caller.now,
        updated_at=caller.now,
    )


async def _ask(
    update: Update,
    caller: Caller,
    dialogue: Dialogue,
    *,
    error: ServiceError | None = None,
    first: bool = False,
) -> int:
    name = dialogue.field
    rows: list[list[InlineKeyboardButton]] = []
    if name == "kind":
        kinds = [
            data_button(caller.t(KIND_LABELS[kind]), f"res:d:k:{kind.value}")
            for kind in ResourceKind
        ]
        rows = [kinds[i : i + 3] for i in range(0, len(kinds), 3)]
    elif name not in resources.REQUIRED:
        label = caller.t("Skip") if dialogue.mode == "new" else caller.t("Clear")
        rows = [[data_button(label, "res:d:skip")]]
    current = None
    if dialogue.mode == "edit":
        current = _sample(caller, dialogue.draft, dialogue.resource_id)
    await reply(
        update,
        _with_error(caller, error)
        + caller.render(
            "resources/ask.html",
            field=name,
            first=first,
            mode=dialogue.mode,
            current=current,
            resource_id=dialogue.resource_id,
            max_year=resources.max_year(caller.now),
            limit=resources.MAX_SUMMARY,
        ),
        _markup(rows),
    )
    return ASK


async def _preview(update: Update, caller: Caller, dialogue: Dialogue) -> int:
    sample = _sample(caller, dialogue.draft)
    direct = caller.may(Role.MODERATOR)
    await reply(
        update,
        caller.render(
            "resources/preview.html",
            body=Markup(
                caller.render(
                    "resources/detail.html",
                    r=sample,
                    newer=None,
                    moderator=False,
                    zone=caller.zone,
                    author=None,
                    reviewer=None,
                )
            ),
            direct=direct,
        ),
        _markup(
            [
                [
                    data_button(
                        caller.t("Add to the library") if direct else caller.t("Submit"),
                        "res:d:ok",
                    ),
                    data_button(caller.t("Cancel"), "res:d:no"),
                ]
            ]
        ),
    )
    return PREVIEW


async def _start(update: Update, context: CallbackContext, caller: Caller) -> int:
    """/propose and /addresource: one line to the preview, or the first question."""
    _drop(context)
    text = args_text(update)
    dialogue = Dialogue(mode="new", draft=Draft())
    if text:
        try:
            dialogue.draft = resources.parse_line(text, caller.now)
            await resources.check_link(
                caller.session, dialogue.draft.url, moderator=caller.may(Role.MODERATOR)
            )
        except ServiceError as error:
            await reply(
                update,
                _with_error(caller, error) + caller.render("resources/one_line_help.html"),
            )
            return ConversationHandler.END
        _keep(context, dialogue)
        return await _preview(update, caller, dialogue)
    _keep(context, dialogue)
    return await _ask(update, caller, dialogue, first=True)


@command(role=Role.MEMBER)
async def propose(update: Update, context: CallbackContext, caller: Caller) -> int:
    return await _start(update, context, caller)


@command(role=Role.MODERATOR)
async def add_resource(update: Update, context: CallbackContext, caller: Caller) -> int:
    return await _start(update, context, caller)


async def _edit_guard(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue
) -> int | None:
    """Editing is for moderators: one who lost the role mid-dialogue is stopped there."""
    if dialogue.mode != "edit" or caller.may(Role.MODERATOR):
        return None
    _drop(context)
    if update.callback_query is not None:
        await _alert(update, caller, ServiceError("forbidden"))
    else:
        await reply(update, explain(caller.locale, ServiceError("forbidden")))
    return ConversationHandler.END


_message_step, _button_step = dialogue_steps(Role.MEMBER, _dialogue, _expired, _edit_guard)
abandon, cancel_dialogue, use_buttons, need_text = dialogue_endings(Role.MEMBER, _drop, "resources")


async def _take(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, text: str | None
) -> int:
    """An answer to the current question: the next question, the preview, or (editing) saved."""
    if dialogue.mode == "edit":
        return await _save_edit(update, context, caller, dialogue, text)
    try:
        dialogue.draft = resources.with_field(dialogue.draft, dialogue.field, text, caller.now)
        if dialogue.field == "url":
            await resources.check_link(
                caller.session, dialogue.draft.url, moderator=caller.may(Role.MODERATOR)
            )
    except ServiceError as error:
        return await _ask(update, caller, dialogue, error=error)
    position = resources.FIELDS.index(dialogue.field)
    if position + 1 < len(resources.FIELDS):
        dialogue.field = resources.FIELDS[position + 1]
        return await _ask(update, caller, dialogue)
    return await _preview(update, caller, dialogue)


@_message_step
async def receive(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, message: Message
) -> int:
    return await _take(update, context, caller, dialogue, message.text or "")


@_button_step
async def skip(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    if dialogue.field in resources.REQUIRED:
        await _invalid(update, caller)
        return ASK
    await drop_buttons(update)
    return await _take(update, context, caller, dialogue, None)


@_button_step
async def choose_kind(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    if dialogue.field != "kind":
        await _invalid(update, caller)
        return ASK
    await drop_buttons(update)
    return await _take(update, context, caller, dialogue, query.data.rsplit(":", 1)[1])


@_button_step
async def submit(
    update: Update,
    context: CallbackContext,
    caller: Caller,
    dialogue: Dialogue,
    query: CallbackQuery,
) -> int:
    if dialogue.mode != "new":
        return await _expired(update, caller)
    try:
        resource = await resources.create(
            caller.session,
            caller.actor,
            dialogue.draft,
            now=caller.now,
            indexes=_indexes(caller),
            compose=notice_composer(caller.app),
        )
    except ServiceError as error:
        await caller.discard()
        _drop(context)
        await drop_buttons(update)
        await reply(update, _with_error(caller, error) + caller.render("resources/not_saved.html"))
        return ConversationHandler.END
    await caller.commit()
    _drop(context)
    wake_delivery(context)
    await drop_buttons(update)
    await reply(update, caller.render("resources/saved_new.html", r=resource))
    return ConversationHandler.END


# -- typed edits: one field, or "superseded by" ------------------------------------------------


async def _editable(update: Update, caller: Caller, resource_id: int) -> Resource | None:
    """A resource a moderator can still change, or an explanation and None."""
    try:
        resource = await resources.get(caller.session, resource_id)
        if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.PENDING):
            raise ServiceError("resource_not_editable", id=resource.id, status=str(resource.status))
    except ServiceError as error:
        await _alert(update, caller, error)
        return None
    return resource


@button(role=Role.MODERATOR)
async def start_edit(update: Update, context: CallbackContext, caller: Caller) -> int:
    """res:e:<id>:<field> and res:sup:<id>."""
    parts = _parts(update)
    ident = resources.parse_id(parts[2])
    resource = await _editable(update, caller, ident or 0) if ident else None
    if resource is None:
        if ident is None:
            await _alert(update, caller, ServiceError("resource_not_found", id=parts[2][:12]))
        return ConversationHandler.END
    name = parts[3] if parts[1] == "e" else "superseded"
    dialogue = Dialogue(
        mode="edit", draft=Draft.of(resource), field=name, resource_id=resource.id or 0
    )
    _drop(context)
    _keep(context, dialogue)
    assert update.callback_query is not None
    await update.callback_query.answer()
    return await _ask(update, caller, dialogue)


async def _save_edit(
    update: Update, context: CallbackContext, caller: Caller, dialogue: Dialogue, text: str | None
) -> int:
    resource = await _editable(update, caller, dialogue.resource_id)
    if resource is None:
        _drop(context)
        return ConversationHandler.END
    session, indexes = caller.session, _indexes(caller)
    try:
        if dialogue.field == "superseded":
            raw = (text or "").strip()
            if raw.lower() in ("", "-", "—", "none", "нет"):
                replacement = None
            else:
                replacement = resources.parse_id(raw)
                if replacement is None:
                    raise ServiceError("resource_supersede_missing", id=raw[:12])
            resource = await resources.supersede(
                session, caller.actor, resource, replacement, now=caller.now, indexes=indexes
            )
        else:
            value = resources.parse_field(dialogue.field, text, caller.now)
            resource = await resources.edit(
                session,
                caller.actor,
                resource,
                dialogue.field,
                value,
                now=caller.now,
                indexes=indexes,
            )
    except ServiceError as error:
        await caller.discard()
        if error.code == "resource_nothing_changed":
            _drop(context)
            await reply(update, explain(caller.locale, error))
            return ConversationHandler.END
        resource = await _editable(update, caller, dialogue.resource_id)
        if resource is None:
            _drop(context)
            return ConversationHandler.END
        dialogue.draft = Draft.of(resource)
        return await _ask(update, caller, dialogue, error=error)
    await caller.commit()
    _drop(context)
    text_, markup = await view(caller, resource)
    await reply(update, caller.t("Saved.") + "\n\n" + text_, markup)
    return ConversationHandler.END


# -- wiring -------------------------------------------------------------------------------------


def conversation() -> ConversationHandler:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    typed = only_new & filters.ChatType.PRIVATE & ~filters.COMMAND
    kinds = "|".join(kind.value for kind in ResourceKind)
    fields = "|".join(resources.FIELDS)
    with warnings.catch_warnings():
        # Intended: the dialogue goes on by text messages, so it is tracked per chat and user.
        warnings.filterwarnings("ignore", message="If 'per_message=False'")
        return ConversationHandler(
            entry_points=[
                CommandHandler("propose", propose, filters=only_new),
                CommandHandler("addresource", add_resource, filters=only_new),
                CallbackQueryHandler(start_edit, pattern=rf"^res:e:{ID}:({fields})$"),
                CallbackQueryHandler(start_edit, pattern=rf"^res:sup:{ID}$"),
            ],
            states={
                ASK: [
                    CallbackQueryHandler(choose_kind, pattern=rf"^res:d:k:({kinds})$"),
                    CallbackQueryHandler(skip, pattern=r"^res:d:skip$"),
                    MessageHandler(typed & filters.TEXT, receive),
                    MessageHandler(typed & ~filters.TEXT, need_text),
                ],
                PREVIEW: [
                    CallbackQueryHandler(submit, pattern=r"^res:d:ok$"),
                    CallbackQueryHandler(abandon, pattern=r"^res:d:no$"),
                    MessageHandler(typed, use_buttons),
                ],
            },
            fallbacks=[CommandHandler("cancel", cancel_dialogue, filters=only_new)],
            name="resources",
            persistent=True,
            per_message=False,
            allow_reentry=True,
        )


def register(app: Application, group: int) -> None:  # type: ignore[type-arg]
    only_new = filters.UpdateType.MESSAGE
    app.add_handler(conversation(), group)
    app.add_handler(CommandHandler(["resources", "r"], resources_command, filters=only_new), group)
    app.add_handler(CommandHandler("resource", resource_command, filters=only_new), group)
    app.add_handler(CommandHandler("reviews", reviews_command, filters=only_new), group)
    for handler, pattern in (
        (results_page, r"^res:p:\d{1,5}:(q:.*|t:\d{1,9})$"),
        (show, rf"^res:v:{ID}$"),
        (decide, rf"^res:(ok|no):{ID}(:l)?$"),
        (edit_menu, rf"^res:ed:{ID}$"),
        (set_visibility, rf"^res:vis:{ID}:[mo]$"),
        (archive, rf"^res:ar:{ID}(:y)?$"),
        (keep, rf"^res:keep:{ID}$"),
        (restore, rf"^res:rs:{ID}$"),
        (stale, r"^res:"),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=pattern), group)
