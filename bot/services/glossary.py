"""The glossary: entries (one concept, its terms in several languages), their history, the
changes members suggest and moderators review, and the search index kept in step with them.

An entry's content is a `Content`: terms per language (the preferred term first, then
synonyms), abbreviations, definitions per language, source, tags and related entries. Every
change (created, edited, archived, restored) bumps the entry's `revision` and writes a
`GlossaryChange` with the content before and after, and an audit line.

Fields are named by keys, in edits, diffs and the history alike:
  t:<lang>  the terms in a language       d:<lang>  the definition in a language
  abbr      abbreviations                 src       source
  tags      tags                          rel       related entries
  status    published or archived (in the history only)

Suggestions: a member proposes a new entry (`entry_id` None) or an edit (`proposed` is then the
whole entry as it would be). Moderators get it through the outbox (`compose` words it, so this
module stays free of Telegram and templates); one of them approves (the entry is created or
changed), rejects (with an optional reason), or first changes a field of it (`revise`). An edit
is applied field by field: only the fields the member changed, onto the entry as it is at
approval, so an edit made meanwhile by a moderator is not undone.

Search: one `SearchIndex` per process in `indexes["glossary"]`. `synced_index` builds it from
the published entries on first use; afterwards one cheap query compares (count, sum of
revisions) with what the index holds and reloads only the rows whose revision changed, whichever
process changed them. `indexed` puts an entry the caller has just committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    AuditAction,
    ChangeAction,
    EntryStatus,
    GlossaryChange,
    GlossaryEntry,
    GlossarySuggestion,
    Member,
    OutboxAction,
    ReviewStatus,
    Role,
)
from bot.services import audit, members, outbox
from bot.services.errors import ServiceError
from bot.services.outbox import Recipient
from bot.services.search import Document, FieldKind, Hit, SearchField, SearchIndex

# The languages an entry may have terms and definitions in; English and Russian are required.
LANGUAGES = ("en", "ru", "fa", "prs", "ps", "ur", "uz", "kk", "ky", "tg", "tk")
REQUIRED_LANGUAGES = ("en", "ru")
TERM_LIMIT = 300
DEFINITION_LIMIT = 2000
SOURCE_LIMIT = 500
TAG_LIMIT = 50
REASON_LIMIT = 500
NOTE_LIMIT = 500
MAX_TERMS = 20  # per language
MAX_ABBREVIATIONS = 20
MAX_TAGS = 20
MAX_RELATED = 20
# Suggestions one member may have waiting at once.
MAX_PENDING = 20
# What a search looks at of a query (a longer one is cut: nothing is that long).
QUERY_LIMIT = TERM_LIMIT
# Ids are 32-bit integers: a larger number (a forged button) names nothing.
MAX_ID = 2**31 - 1
PAGE_SIZE = 5

KIND = "glossary_suggestion"
INDEX = "glossary"
_SYNC = "glossary:sync"

SIMPLE_FIELDS = ("abbr", "src", "tags", "rel")
_LANGUAGE_FIELD = re.compile(r"^([td]):([a-z]{2,3})$")


# -- content ----------------------------------------------------------------------------------


@dataclass
class Content:
    """What an entry says (everything but its bookkeeping)."""

    terms: dict[str, list[str]] = field(default_factory=dict)
    abbreviations: list[str] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)
    source: str = ""
    tags: list[str] = field(default_factory=list)
    related_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, entry: GlossaryEntry) -> Content:
        return cls.from_dict(
            {
                "terms": entry.terms,
                "abbreviations": entry.abbreviations,
                "definitions": entry.definitions,
                "source": entry.source,
                "tags": entry.tags,
                "related_ids": entry.related_ids,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Content:
        data = data or {}
        return cls(
            terms={
                str(k): [str(t) for t in v]
                for k, v in dict(data.get("terms") or {}).items()
                if isinstance(v, list | tuple)
            },
            abbreviations=[str(a) for a in data.get("abbreviations") or []],
            definitions={str(k): str(v) for k, v in dict(data.get("definitions") or {}).items()},
            source=str(data.get("source") or ""),
            tags=[str(t) for t in data.get("tags") or []],
            related_ids=[int(i) for i in data.get("related_ids") or []],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "terms": {k: list(v) for k, v in self.terms.items()},
            "abbreviations": list(self.abbreviations),
            "definitions": dict(self.definitions),
            "source": self.source,
            "tags": list(self.tags),
            "related_ids": list(self.related_ids),
        }

    def preferred(self, language: str) -> str:
        terms = self.terms.get(language) or []
        return terms[0] if terms else ""

    def headword(self, language: str) -> str:
        """The term a reader of `language` knows it by: theirs, else English, else any."""
        for candidate in (language, "en", "ru", *LANGUAGES):
            if self.preferred(candidate):
                return self.preferred(candidate)
        return ""

    def copy(self) -> Content:
        return Content.from_dict(self.to_dict())


def _ordered(languages: Iterable[str]) -> list[str]:
    present = set(languages)
    return [code for code in LANGUAGES if code in present] + sorted(present - set(LANGUAGES))


def field_keys(*contents: Content) -> list[str]:
    """Every field of these contents, in reading order."""
    languages = _ordered(
        {code for c in contents for code in c.terms}
        | {code for c in contents for code in c.definitions}
    )
    keys = [f"t:{code}" for code in languages if any(code in c.terms for c in contents)]
    keys.append("abbr")
    keys += [f"d:{code}" for code in languages if any(code in c.definitions for c in contents)]
    keys += ["src", "tags", "rel"]
    return keys


def get_field(content: Content, key: str) -> Any:
    match = _LANGUAGE_FIELD.match(key)
    if match:
        kind, language = match.groups()
        if kind == "t":
            return list(content.terms.get(language, []))
        return content.definitions.get(language, "")
    return {
        "abbr": list(content.abbreviations),
        "src": content.source,
        "tags": list(content.tags),
        "rel": list(content.related_ids),
    }[key]


def with_fields(content: Content, updates: dict[str, Any]) -> Content:
    """A copy with some fields replaced (an empty value removes a language)."""
    result = content.copy()
    for key, value in updates.items():
        match = _LANGUAGE_FIELD.match(key)
        if match:
            kind, language = match.groups()
            target: dict[str, Any] = result.terms if kind == "t" else result.definitions
            if value:
                target[language] = list(value) if kind == "t" else str(value)
            else:
                target.pop(language, None)
        elif key == "abbr":
            result.abbreviations = list(value)
        elif key == "src":
            result.source = str(value)
        elif key == "tags":
            result.tags = list(value)
        elif key == "rel":
            result.related_ids = [int(v) for v in value]
        else:
            raise ServiceError("glossary_field_unknown", field=key)
    result.terms = {code: result.terms[code] for code in _ordered(result.terms)}
    result.definitions = {code: result.definitions[code] for code in _ordered(result.definitions)}
    return result


def show_field(value: Any, key: str) -> str:
    """A field's value as one short line of text (for diffs)."""
    if key == "rel":
        return ", ".join(f"#{v}" for v in value)
    if key.startswith("t:"):
        return "; ".join(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    key: str
    old: str
    new: str


def snapshot(entry: GlossaryEntry) -> dict[str, Any]:
    """What the history keeps of an entry: its content and status."""
    data = Content.of(entry).to_dict()
    data["status"] = str(entry.status)
    return data


def diff(
    before: dict[str, Any] | Content | None, after: dict[str, Any] | Content
) -> list[FieldChange]:
    """The fields that differ, old and new as text (status included when both have one)."""
    old = before if isinstance(before, Content) else Content.from_dict(before)
    new = after if isinstance(after, Content) else Content.from_dict(after)
    changes = [
        FieldChange(key, show_field(get_field(old, key), key), show_field(get_field(new, key), key))
        for key in field_keys(old, new)
        if get_field(old, key) != get_field(new, key)
    ]
    if isinstance(before, dict) and isinstance(after, dict):
        old_status, new_status = before.get("status"), after.get("status")
        if old_status and new_status and old_status != new_status:
            changes.append(FieldChange("status", str(old_status), str(new_status)))
    return changes


# -- reading what people type -----------------------------------------------------------------


def _line(text: str) -> str:
    return " ".join(text.split())


def check_language(code: str) -> str:
    code = code.strip().lower()
    if code not in LANGUAGES:
        raise ServiceError("glossary_language_unknown", value=code[:20], known=", ".join(LANGUAGES))
    return code


def clean_terms(pieces: Iterable[str], language: str) -> list[str]:
    """Terms as given (the preferred one first): trimmed, checked, each once."""
    terms: list[str] = []
    seen: set[str] = set()
    for piece in pieces:
        term = _line(piece)
        if not term:
            continue
        if len(term) > TERM_LIMIT:
            raise ServiceError(
                "glossary_term_too_long", lang=language, limit=TERM_LIMIT, length=len(term)
            )
        if fold(term) not in seen:
            seen.add(fold(term))
            terms.append(term)
    if not terms:
        raise ServiceError("glossary_term_empty", lang=language)
    if len(terms) > MAX_TERMS:
        raise ServiceError("glossary_too_many", what="terms", limit=MAX_TERMS)
    return terms


def parse_terms(text: str, language: str) -> list[str]:
    """Terms separated by semicolons or new lines: the preferred one first."""
    return clean_terms(re.split(r"[;\n]", text), language)


def clean_abbreviations(pieces: Iterable[str]) -> list[str]:
    found: list[str] = []
    for piece in pieces:
        abbreviation = _line(piece)
        if not abbreviation:
            continue
        if len(abbreviation) > TERM_LIMIT:
            raise ServiceError(
                "glossary_term_too_long", lang="-", limit=TERM_LIMIT, length=len(abbreviation)
            )
        if abbreviation not in found:
            found.append(abbreviation)
    if len(found) > MAX_ABBREVIATIONS:
        raise ServiceError("glossary_too_many", what="abbreviations", limit=MAX_ABBREVIATIONS)
    return found


def parse_abbreviations(text: str) -> list[str]:
    """Abbreviations separated by commas or semicolons (THB, TIP; STR/SAR is one)."""
    return clean_abbreviations(re.split(r"[,;\n]", text))


def parse_definition(text: str, language: str) -> str:
    definition = text.strip()
    if len(definition) > DEFINITION_LIMIT:
        raise ServiceError(
            "glossary_definition_too_long",
            lang=language,
            limit=DEFINITION_LIMIT,
            length=len(definition),
        )
    return definition


def parse_source(text: str) -> str:
    source = _line(text)
    if len(source) > SOURCE_LIMIT:
        raise ServiceError("glossary_source_too_long", limit=SOURCE_LIMIT, length=len(source))
    return source


def clean_tags(pieces: Iterable[str]) -> list[str]:
    tags: list[str] = []
    for piece in pieces:
        tag = "-".join(piece.strip().lstrip("#").lower().split())
        if not tag:
            continue
        if len(tag) > TAG_LIMIT:
            raise ServiceError("glossary_tag_too_long", limit=TAG_LIMIT)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ServiceError("glossary_too_many", what="tags", limit=MAX_TAGS)
    return tags


def parse_tags(text: str) -> list[str]:
    """Tags separated by commas or spaces, with or without #: kept in lower case."""
    return clean_tags(re.split(r"[,;\s]+", text))


def parse_related(text: str) -> list[int]:
    ids: list[int] = []
    for piece in re.split(r"[,;\s]+", text):
        piece = piece.strip()
        if not piece:
            continue
        match = re.fullmatch(r"#?(\d{1,12})", piece)
        if match is None or not 0 < int(match.group(1)) <= MAX_ID:
            raise ServiceError("glossary_related_bad", value=piece[:40])
        if int(match.group(1)) not in ids:
            ids.append(int(match.group(1)))
    if len(ids) > MAX_RELATED:
        raise ServiceError("glossary_too_many", what="related", limit=MAX_RELATED)
    return ids


_PREFIXED = re.compile(r"^\s*([A-Za-z]{2,3})\s*:\s*(.*)$", re.DOTALL)


def parse_prefixed_terms(text: str) -> dict[str, Any]:
    """Lines like "fa: قاچاق انسان; ..." -> {"t:fa": [...]}; "fa: -" removes a language."""
    updates: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _PREFIXED.match(line)
        if match is None:
            raise ServiceError("glossary_language_line", value=_line(line)[:60])
        language = check_language(match.group(1))
        value = match.group(2).strip()
        updates[f"t:{language}"] = [] if value == "-" else parse_terms(value, language)
    if not updates:
        raise ServiceError("glossary_language_line", value="")
    return updates


def parse_prefixed_definition(text: str) -> dict[str, Any]:
    """ "fa: the definition..." (one language, the text may run over several lines)."""
    match = _PREFIXED.match(text)
    if match is None:
        raise ServiceError("glossary_language_line", value=_line(text)[:60])
    language = check_language(match.group(1))
    value = match.group(2).strip()
    return {f"d:{language}": "" if value == "-" else parse_definition(value, language)}


def _cleared(text: str) -> bool:
    return text.strip() in ("-", "—", "–")


def parse_field(key: str, text: str) -> dict[str, Any]:
    """A typed value for a field -> the updates it makes ("-" clears an optional field)."""
    if key == "t:*":
        return parse_prefixed_terms(text)
    if key == "d:*":
        return parse_prefixed_definition(text)
    match = _LANGUAGE_FIELD.match(key)
    if match:
        kind, language = match.groups()
        check_language(language)
        if _cleared(text):
            return {key: [] if kind == "t" else ""}
        return {
            key: parse_terms(text, language) if kind == "t" else parse_definition(text, language)
        }
    if key not in SIMPLE_FIELDS:
        raise ServiceError("glossary_field_unknown", field=key[:40])
    if _cleared(text):
        return {key: "" if key == "src" else []}
    parser: Callable[[str], Any] = {
        "abbr": parse_abbreviations,
        "src": parse_source,
        "tags": parse_tags,
        "rel": parse_related,
    }[key]
    return {key: parser(text)}


# Field names people type in /editterm (and their canonical keys).
_FIELD_NAMES = {
    "abbr": "abbr",
    "abbreviation": "abbr",
    "abbreviations": "abbr",
    "source": "src",
    "src": "src",
    "tag": "tags",
    "tags": "tags",
    "related": "rel",
    "rel": "rel",
}


def field_key(name: str) -> str:
    """A field as typed ("en", "def:ru", "definition:en", "abbreviations", ...) -> its key."""
    name = name.strip().lower()
    if name in _FIELD_NAMES:
        return _FIELD_NAMES[name]
    match = re.fullmatch(r"(?:def|definition|d)[:_-]([a-z]{2,3})", name)
    if match:
        return f"d:{check_language(match.group(1))}"
    match = re.fullmatch(r"(?:terms?|t)[:_-]([a-z]{2,3})", name)
    if match:
        return f"t:{check_language(match.group(1))}"
    if re.fullmatch(r"[a-z]{2,3}", name):
        if name in LANGUAGES:
            return f"t:{name}"
        raise ServiceError("glossary_language_unknown", value=name, known=", ".join(LANGUAGES))
    raise ServiceError("glossary_field_unknown", field=name[:40])


def parse_line(text: str) -> Content:
    """The one-line form: `English terms | Russian terms | abbreviations | English definition |
    Russian definition | source | tags`; parts after the Russian terms may be left out or
    empty, and a part like `fa: ...` gives another language's terms."""
    parts = [part.strip() for part in text.split("|")]
    positional: list[str] = []
    updates: dict[str, Any] = {}
    for index, part in enumerate(parts):
        match = _PREFIXED.match(part)
        code = match.group(1) if match else ""
        # "fa: ..." gives another language's terms; a lower-case code the glossary does not
        # know ("xx: ...") is a mistake, not text. The first two parts are always terms.
        is_language = code.lower() in LANGUAGES or code.islower()
        if index >= 2 and is_language and code.lower() not in ("en", "ru"):
            updates.update(parse_prefixed_terms(part))
        else:
            positional.append(part)
    if len(positional) > 7:
        raise ServiceError("glossary_line_too_many_parts")
    positional += [""] * (7 - len(positional))
    english, russian, abbreviations, def_en, def_ru, source, tags = positional
    missing = [code for code, text in (("en", english), ("ru", russian)) if not _line(text)]
    if missing:
        raise ServiceError("glossary_needs_en_ru", missing=", ".join(missing))
    updates["t:en"] = parse_terms(english, "en")
    updates["t:ru"] = parse_terms(russian, "ru")
    updates["abbr"] = parse_abbreviations(abbreviations)
    if def_en:
        updates["d:en"] = parse_definition(def_en, "en")
    if def_ru:
        updates["d:ru"] = parse_definition(def_ru, "ru")
    updates["src"] = parse_source(source)
    updates["tags"] = parse_tags(tags)
    return with_fields(Content(), updates)


# -- checking a whole entry -------------------------------------------------------------------


def fold(text: str) -> str:
    """What two terms have to share to be the same term: case, ё and spacing aside."""
    return " ".join(text.casefold().replace("ё", "е").split())


def validate(content: Content) -> Content:
    """The entry is complete and within the limits; returns it cleaned (order, duplicates)."""
    updates: dict[str, Any] = {}
    for language, terms in content.terms.items():
        check_language(language)
        updates[f"t:{language}"] = clean_terms(terms, language) if terms else []
    for language, definition in content.definitions.items():
        check_language(language)
        updates[f"d:{language}"] = parse_definition(definition, language)
    updates["abbr"] = clean_abbreviations(content.abbreviations)
    updates["src"] = parse_source(content.source)
    updates["tags"] = clean_tags(content.tags)
    related = []
    for value in content.related_ids:
        if not 0 < int(value) <= MAX_ID:
            raise ServiceError("glossary_related_bad", value=str(value)[:40])
        if int(value) not in related:
            related.append(int(value))
    if len(related) > MAX_RELATED:
        raise ServiceError("glossary_too_many", what="related", limit=MAX_RELATED)
    updates["rel"] = related
    cleaned = with_fields(Content(), updates)
    missing = [code for code in REQUIRED_LANGUAGES if not cleaned.terms.get(code)]
    if missing:
        raise ServiceError("glossary_needs_en_ru", missing=", ".join(missing))
    return cleaned


async def _check_related(session: AsyncSession, content: Content, entry_id: int | None) -> None:
    wanted = [i for i in content.related_ids if i != entry_id]
    content.related_ids = wanted
    if not wanted:
        return
    found = set(
        (
            await session.exec(select(GlossaryEntry.id).where(col(GlossaryEntry.id).in_(wanted)))
        ).all()
    )
    for value in wanted:
        if value not in found:
            raise ServiceError("glossary_related_unknown", id=value)


async def check_duplicates(session: AsyncSession, content: Content, entry_id: int | None) -> None:
    """No two published entries share a preferred term in the same language."""
    mine = {code: fold(terms[0]) for code, terms in content.terms.items() if terms}
    rows = await session.exec(
        select(GlossaryEntry.id, GlossaryEntry.terms).where(
            GlossaryEntry.status == EntryStatus.PUBLISHED
        )
    )
    for other_id, terms in rows:
        if other_id == entry_id:
            continue
        for code, folded in mine.items():
            theirs = (terms or {}).get(code) or []
            if theirs and fold(str(theirs[0])) == folded:
                raise ServiceError("glossary_duplicate", term=content.preferred(code), id=other_id)


async def checked(session: AsyncSession, content: Content, entry_id: int | None = None) -> Content:
    """Everything an entry must be before it is saved (or suggested)."""
    cleaned = validate(content)
    await _check_related(session, cleaned, entry_id)
    await check_duplicates(session, cleaned, entry_id)
    return cleaned


# -- entries ----------------------------------------------------------------------------------


async def find(session: AsyncSession, entry_id: int) -> GlossaryEntry | None:
    if not 0 < entry_id <= MAX_ID:
        return None
    return await session.get(GlossaryEntry, entry_id)


async def get(session: AsyncSession, entry_id: int) -> GlossaryEntry:
    entry = await find(session, entry_id)
    if entry is None:
        raise ServiceError("glossary_not_found", id=entry_id)
    return entry


async def entries(session: AsyncSession, ids: Iterable[int]) -> dict[int, GlossaryEntry]:
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})
    if not wanted:
        return {}
    rows = await session.exec(select(GlossaryEntry).where(col(GlossaryEntry.id).in_(wanted)))
    return {entry.id: entry for entry in rows if entry.id is not None}


def _apply(entry: GlossaryEntry, content: Content) -> None:
    # New objects for the JSON columns: in-place changes would go unnoticed.
    data = content.to_dict()
    entry.terms = data["terms"]
    entry.abbreviations = data["abbreviations"]
    entry.definitions = data["definitions"]
    entry.source = data["source"]
    entry.tags = data["tags"]
    entry.related_ids = data["related_ids"]


async def _record(
    session: AsyncSession,
    entry: GlossaryEntry,
    action: ChangeAction,
    actor: Member | None,
    before: dict[str, Any] | None,
    *,
    now: datetime,
    suggestion_id: int | None,
) -> GlossaryChange:
    assert entry.id is not None
    change = GlossaryChange(
        entry_id=entry.id,
        revision=entry.revision,
        action=action,
        actor_id=actor.id if actor else None,
        actor_label=audit.label(actor),
        at=now,
        before=before,
        after=snapshot(entry),
        suggestion_id=suggestion_id,
    )
    session.add(change)
    detail = f"glossary entry #{entry.id} {action.value} (revision {entry.revision})"
    if suggestion_id is not None:
        detail += f", suggestion #{suggestion_id}"
    await audit.record(session, AuditAction.GLOSSARY_CHANGED, at=now, actor=actor, detail=detail)
    await session.flush()
    return change


async def create(
    session: AsyncSession,
    actor: Member | None,
    content: Content,
    *,
    now: datetime,
    suggestion_id: int | None = None,
    created_by: Member | None = None,
) -> GlossaryEntry:
    """A new published entry (revision 1) and its first history line."""
    cleaned = await checked(session, content)
    author = created_by or actor
    entry = GlossaryEntry(
        status=EntryStatus.PUBLISHED,
        revision=1,
        created_by_id=author.id if author else None,
        created_at=now,
        updated_at=now,
    )
    _apply(entry, cleaned)
    session.add(entry)
    await session.flush()
    await _record(
        session, entry, ChangeAction.CREATED, actor, None, now=now, suggestion_id=suggestion_id
    )
    return entry


async def change(
    session: AsyncSession,
    actor: Member | None,
    entry: GlossaryEntry,
    updates: dict[str, Any],
    *,
    now: datetime,
    suggestion_id: int | None = None,
) -> list[FieldChange]:
    """Some fields of an entry replaced; what changed (refused when nothing would)."""
    if entry.status != EntryStatus.PUBLISHED:
        raise ServiceError("glossary_archived", id=entry.id)
    current = Content.of(entry)
    proposed = await checked(session, with_fields(current, updates), entry.id)
    changes = diff(current, proposed)
    if not changes:
        raise ServiceError("glossary_unchanged")
    before = snapshot(entry)
    _apply(entry, proposed)
    entry.revision += 1
    entry.updated_at = now
    session.add(entry)
    await session.flush()
    await _record(
        session, entry, ChangeAction.EDITED, actor, before, now=now, suggestion_id=suggestion_id
    )
    return changes


async def set_field(
    session: AsyncSession,
    actor: Member,
    entry: GlossaryEntry,
    name: str,
    value: str,
    *,
    now: datetime,
) -> list[FieldChange]:
    """/editterm: one field, as typed."""
    key = field_key(name)
    return await change(session, actor, entry, parse_field(key, value), now=now)


async def _set_status(
    session: AsyncSession,
    actor: Member,
    entry: GlossaryEntry,
    status: EntryStatus,
    *,
    now: datetime,
) -> GlossaryEntry:
    if entry.status == status:
        raise ServiceError(
            "glossary_already_archived"
            if status == EntryStatus.ARCHIVED
            else "glossary_already_published",
            id=entry.id,
        )
    if status == EntryStatus.PUBLISHED:
        # Meanwhile another entry may have taken its term.
        await check_duplicates(session, Content.of(entry), entry.id)
    before = snapshot(entry)
    entry.status = status
    entry.revision += 1
    entry.updated_at = now
    session.add(entry)
    await session.flush()
    action = ChangeAction.ARCHIVED if status == EntryStatus.ARCHIVED else ChangeAction.RESTORED
    await _record(session, entry, action, actor, before, now=now, suggestion_id=None)
    return entry


async def archive(
    session: AsyncSession, actor: Member, entry: GlossaryEntry, *, now: datetime
) -> GlossaryEntry:
    return await _set_status(session, actor, entry, EntryStatus.ARCHIVED, now=now)


async def restore(
    session: AsyncSession, actor: Member, entry: GlossaryEntry, *, now: datetime
) -> GlossaryEntry:
    return await _set_status(session, actor, entry, EntryStatus.PUBLISHED, now=now)


@dataclass(frozen=True)
class HistoryLine:
    change: GlossaryChange
    changes: list[FieldChange]
    # Who suggested it, when it came from a suggestion ("" when unknown or forgotten).
    suggested_by: str = ""


async def history(
    session: AsyncSession, entry_id: int, page: int = 0, *, page_size: int = PAGE_SIZE
) -> tuple[list[HistoryLine], int, int]:
    """The entry's changes, newest first: one page of them, the page count and the total."""
    await get(session, entry_id)
    total = (
        await session.exec(
            select(func.count())
            .select_from(GlossaryChange)
            .where(GlossaryChange.entry_id == entry_id)
        )
    ).one()
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    rows = list(
        await session.exec(
            select(GlossaryChange)
            .where(GlossaryChange.entry_id == entry_id)
            .order_by(col(GlossaryChange.at).desc(), col(GlossaryChange.id).desc())
            .offset(page * page_size)
            .limit(page_size)
        )
    )
    suggestion_ids = [r.suggestion_id for r in rows if r.suggestion_id is not None]
    authors: dict[int, str] = {}
    if suggestion_ids:
        found = await session.exec(
            select(GlossarySuggestion.id, Member.full_name)
            .join(Member, col(Member.id) == col(GlossarySuggestion.author_id))
            .where(col(GlossarySuggestion.id).in_(suggestion_ids))
        )
        authors = {sid: name for sid, name in found if sid is not None}
    lines = [
        HistoryLine(
            change=row,
            changes=diff(row.before, row.after) if row.before is not None else [],
            suggested_by=authors.get(row.suggestion_id or 0, ""),
        )
        for row in rows
    ]
    return lines, pages, total


async def forget_labels(session: AsyncSession, member: Member, replacement: str) -> None:
    """/forgetme: the member's name leaves the history; the changes stay, for accountability."""
    text = audit.label(member)
    rows = await session.exec(select(GlossaryChange).where(GlossaryChange.actor_id == member.id))
    for row in rows:
        row.actor_label = replacement
        session.add(row)
    if text:
        rows = await session.exec(select(GlossaryChange).where(GlossaryChange.actor_label == text))
        for row in rows:
            row.actor_label = replacement
            session.add(row)
    await session.flush()


# -- suggestions ------------------------------------------------------------------------------


class NoticeKind(StrEnum):
    REVIEW = "review"  # to a moderator: a suggestion to decide on
    APPROVED = "approved"  # to the author
    REJECTED = "rejected"  # to the author
    DECIDED = "decided"  # a moderator's copy, once another decided
    WITHDRAWN = "withdrawn"  # a moderator's copy, once the author withdrew


@dataclass(frozen=True)
class Notice:
    """One message about a suggestion, for one reader: `compose` words it."""

    kind: NoticeKind
    suggestion: GlossarySuggestion
    recipient: Recipient
    # The entry it edits (or, once approved, the entry it made); None for a new one pending.
    entry: GlossaryEntry | None = None
    # For an edit: the fields it changes, against the entry as it was when suggested.
    changes: tuple[FieldChange, ...] = ()
    author: Member | None = None
    # The moderator who decided.
    moderator: Member | None = None


Compose = Callable[[Notice], dict[str, Any]]


async def find_suggestion(session: AsyncSession, suggestion_id: int) -> GlossarySuggestion:
    found = (
        await session.get(GlossarySuggestion, suggestion_id)
        if 0 < suggestion_id <= MAX_ID
        else None
    )
    if found is None:
        raise ServiceError("glossary_suggestion_not_found")
    return found


async def _base(session: AsyncSession, suggestion: GlossarySuggestion) -> Content | None:
    """The entry as it was when the edit was suggested (from its history)."""
    if suggestion.entry_id is None:
        return None
    row = (
        await session.exec(
            select(GlossaryChange)
            .where(
                GlossaryChange.entry_id == suggestion.entry_id,
                col(GlossaryChange.at) <= suggestion.created_at,
            )
            .order_by(col(GlossaryChange.at).desc(), col(GlossaryChange.id).desc())
            .limit(1)
        )
    ).first()
    return Content.from_dict(row.after) if row is not None else None


async def suggested_updates(
    session: AsyncSession, suggestion: GlossarySuggestion
) -> dict[str, Any]:
    """An edit's fields: those the proposal changes against the entry as it was then."""
    proposed = Content.from_dict(suggestion.proposed)
    base = await _base(session, suggestion)
    if base is None:
        entry = await get(session, suggestion.entry_id or 0)
        base = Content.of(entry)
    return {
        key: get_field(proposed, key)
        for key in field_keys(base, proposed)
        if get_field(base, key) != get_field(proposed, key)
    }


async def suggestion_changes(
    session: AsyncSession, suggestion: GlossarySuggestion
) -> tuple[FieldChange, ...]:
    """What an edit changes, against the entry as it was when suggested (() for a new entry)."""
    if suggestion.entry_id is None:
        return ()
    base = await _base(session, suggestion)
    if base is None:
        entry = await find(session, suggestion.entry_id)
        if entry is None:
            return ()
        base = Content.of(entry)
    return tuple(diff(base, Content.from_dict(suggestion.proposed)))


async def notice(
    session: AsyncSession,
    kind: NoticeKind,
    suggestion: GlossarySuggestion,
    recipient: Recipient,
    *,
    moderator: Member | None = None,
    entry: GlossaryEntry | None = None,
) -> Notice:
    """A notice about a suggestion with everything its message shows."""
    if entry is None and suggestion.entry_id is not None:
        entry = await find(session, suggestion.entry_id)
    author = await session.get(Member, suggestion.author_id) if suggestion.author_id else None
    return Notice(
        kind,
        suggestion,
        recipient,
        entry=entry,
        changes=await suggestion_changes(session, suggestion),
        author=author,
        moderator=moderator,
    )


async def _moderators(session: AsyncSession, *, besides: int | None) -> list[Member]:
    return [m for m in await members.with_role_at_least(session, Role.MODERATOR) if m.id != besides]


async def suggest(
    session: AsyncSession,
    author: Member,
    content: Content,
    *,
    now: datetime,
    compose: Compose,
    entry_id: int | None = None,
    note: str = "",
) -> GlossarySuggestion:
    """Store a suggestion and queue it to every moderator and admin (but its author)."""
    note = _line(note)
    if len(note) > NOTE_LIMIT:
        raise ServiceError("glossary_note_too_long", limit=NOTE_LIMIT)
    pending = (
        await session.exec(
            select(func.count())
            .select_from(GlossarySuggestion)
            .where(
                GlossarySuggestion.author_id == author.id,
                GlossarySuggestion.status == ReviewStatus.PENDING,
            )
        )
    ).one()
    if pending >= MAX_PENDING:
        raise ServiceError("glossary_too_many_pending", limit=MAX_PENDING)
    entry: GlossaryEntry | None = None
    if entry_id is not None:
        entry = await get(session, entry_id)
        if entry.status != EntryStatus.PUBLISHED:
            raise ServiceError("glossary_archived", id=entry_id)
    cleaned = await checked(session, content, entry_id)
    if entry is not None and not diff(Content.of(entry), cleaned):
        raise ServiceError("glossary_unchanged")
    suggestion = GlossarySuggestion(
        entry_id=entry_id,
        proposed=cleaned.to_dict(),
        note=note,
        author_id=author.id,
        status=ReviewStatus.PENDING,
        created_at=now,
    )
    session.add(suggestion)
    await session.flush()
    changes = tuple(diff(Content.of(entry), cleaned)) if entry is not None else ()
    await outbox.enqueue(
        session,
        KIND,
        suggestion.id,
        [
            outbox.Outgoing(
                dedup_key=f"{KIND}:{suggestion.id}:review:{moderator.id}",
                chat_id=moderator.telegram_id,
                recipient_id=moderator.id,
                payload=compose(
                    Notice(
                        NoticeKind.REVIEW,
                        suggestion,
                        Recipient.of(moderator),
                        entry=entry,
                        changes=changes,
                        author=author,
                    )
                ),
            )
            for moderator in await _moderators(session, besides=author.id)
        ],
        now=now,
    )
    return suggestion


async def decided_by(session: AsyncSession, suggestion: GlossarySuggestion) -> str:
    reviewer = (
        await session.get(Member, suggestion.reviewed_by_id) if suggestion.reviewed_by_id else None
    )
    return reviewer.full_name if reviewer is not None else ""


async def _pending(session: AsyncSession, suggestion_id: int) -> GlossarySuggestion:
    suggestion = await find_suggestion(session, suggestion_id)
    if suggestion.status != ReviewStatus.PENDING:
        code = (
            "glossary_suggestion_approved"
            if suggestion.status == ReviewStatus.APPROVED
            else "glossary_suggestion_rejected"
        )
        name = await decided_by(session, suggestion) or f"#{suggestion.reviewed_by_id or '?'}"
        raise ServiceError(code, name=name)
    return suggestion


async def pending(session: AsyncSession, suggestion_id: int) -> GlossarySuggestion:
    """A suggestion still waiting for a decision (refused when decided or gone)."""
    return await _pending(session, suggestion_id)


async def revise(
    session: AsyncSession, moderator: Member, suggestion_id: int, updates: dict[str, Any]
) -> GlossarySuggestion:
    """A moderator changes fields of a suggestion before deciding on it."""
    suggestion = await _pending(session, suggestion_id)
    current = Content.from_dict(suggestion.proposed)
    proposed = await checked(session, with_fields(current, updates), suggestion.entry_id)
    if not diff(current, proposed):
        raise ServiceError("glossary_unchanged")
    suggestion.proposed = proposed.to_dict()
    session.add(suggestion)
    await session.flush()
    return suggestion


async def _tell(
    session: AsyncSession,
    suggestion: GlossarySuggestion,
    author_notice: NoticeKind | None,
    copies_notice: NoticeKind,
    *,
    entry: GlossaryEntry | None,
    moderator: Member | None,
    now: datetime,
    compose: Compose,
    pressed: tuple[int, int] | None,
) -> None:
    """The author is told; moderators' copies already sent are edited to say what happened,
    those not sent yet are withdrawn."""
    assert suggestion.id is not None
    copies = await outbox.rows_for(session, KIND, suggestion.id, OutboxAction.SEND)
    await outbox.cancel(session, KIND, suggestion.id)
    author = await session.get(Member, suggestion.author_id) if suggestion.author_id else None
    messages: list[outbox.Outgoing] = []
    if author_notice is not None and author is not None:
        messages.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{suggestion.id}:outcome",
                chat_id=author.telegram_id,
                recipient_id=author.id,
                payload=compose(
                    await notice(
                        session,
                        author_notice,
                        suggestion,
                        Recipient.of(author),
                        moderator=moderator,
                        entry=entry,
                    )
                ),
            )
        )
    for copy in copies:
        if copy.telegram_message_id is None:
            continue  # not sent: withdrawn above
        if pressed is not None and (copy.chat_id, copy.telegram_message_id) == pressed:
            continue  # the moderator who decided sees it where they pressed
        reader = await session.get(Member, copy.recipient_id) if copy.recipient_id else None
        recipient = (
            Recipient.of(reader)
            if reader is not None
            else Recipient(copy.chat_id, copy.recipient_id)
        )
        messages.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{suggestion.id}:{copies_notice.value}:{copy.chat_id}",
                chat_id=copy.chat_id,
                recipient_id=copy.recipient_id,
                action=OutboxAction.EDIT,
                target_message_id=copy.telegram_message_id,
                payload=compose(
                    await notice(
                        session,
                        copies_notice,
                        suggestion,
                        recipient,
                        moderator=moderator,
                        entry=entry,
                    )
                ),
            )
        )
    await outbox.enqueue(session, KIND, suggestion.id, messages, now=now)


async def approve(
    session: AsyncSession,
    moderator: Member,
    suggestion_id: int,
    *,
    now: datetime,
    compose: Compose,
    pressed: tuple[int, int] | None = None,
) -> tuple[GlossarySuggestion, GlossaryEntry]:
    """Publish a suggestion: a new entry, or its fields onto the entry as it is now."""
    suggestion = await _pending(session, suggestion_id)
    proposed = Content.from_dict(suggestion.proposed)
    author = await session.get(Member, suggestion.author_id) if suggestion.author_id else None
    if suggestion.entry_id is None:
        entry = await create(
            session,
            moderator,
            proposed,
            now=now,
            suggestion_id=suggestion.id,
            created_by=author or moderator,
        )
    else:
        entry = await get(session, suggestion.entry_id)
        updates = await suggested_updates(session, suggestion)
        try:
            await change(session, moderator, entry, updates, now=now, suggestion_id=suggestion.id)
        except ServiceError as error:
            # Already there (the same change made meanwhile): approving it changes nothing.
            if error.code != "glossary_unchanged":
                raise
    suggestion.status = ReviewStatus.APPROVED
    suggestion.reviewed_by_id = moderator.id
    suggestion.reviewed_at = now
    session.add(suggestion)
    await session.flush()
    await _tell(
        session,
        suggestion,
        NoticeKind.APPROVED,
        NoticeKind.DECIDED,
        entry=entry,
        moderator=moderator,
        now=now,
        compose=compose,
        pressed=pressed,
    )
    return suggestion, entry


async def reject(
    session: AsyncSession,
    moderator: Member,
    suggestion_id: int,
    reason: str = "",
    *,
    now: datetime,
    compose: Compose,
    pressed: tuple[int, int] | None = None,
) -> GlossarySuggestion:
    reason = _line(reason)
    if len(reason) > REASON_LIMIT:
        raise ServiceError("glossary_reason_too_long", limit=REASON_LIMIT)
    suggestion = await _pending(session, suggestion_id)
    suggestion.status = ReviewStatus.REJECTED
    suggestion.reviewed_by_id = moderator.id
    suggestion.reviewed_at = now
    suggestion.reason = reason
    session.add(suggestion)
    await session.flush()
    entry = await find(session, suggestion.entry_id) if suggestion.entry_id else None
    await _tell(
        session,
        suggestion,
        NoticeKind.REJECTED,
        NoticeKind.DECIDED,
        entry=entry,
        moderator=moderator,
        now=now,
        compose=compose,
        pressed=pressed,
    )
    return suggestion


async def withdraw(
    session: AsyncSession,
    author: Member,
    suggestion_id: int,
    *,
    now: datetime,
    compose: Compose,
) -> None:
    """The author takes back a suggestion still waiting: it goes, and the moderators' copies
    say so."""
    suggestion = await find_suggestion(session, suggestion_id)
    if suggestion.author_id != author.id:
        raise ServiceError("glossary_suggestion_not_yours")
    suggestion = await _pending(session, suggestion_id)
    entry = await find(session, suggestion.entry_id) if suggestion.entry_id else None
    await _tell(
        session,
        suggestion,
        None,
        NoticeKind.WITHDRAWN,
        entry=entry,
        moderator=None,
        now=now,
        compose=compose,
        pressed=None,
    )
    await session.delete(suggestion)
    await session.flush()


# -- search -----------------------------------------------------------------------------------


def document(entry: GlossaryEntry) -> Document:
    """What the search index knows of an entry."""
    fields: list[SearchField] = []
    for language in _ordered(entry.terms or {}):
        for position, term in enumerate(entry.terms[language] or []):
            kind = FieldKind.TERM if position == 0 else FieldKind.SYNONYM
            fields.append(SearchField(str(term), kind, language))
    fields += [SearchField(str(a), FieldKind.ABBREVIATION) for a in entry.abbreviations or []]
    for language in _ordered(entry.definitions or {}):
        if entry.definitions[language]:
            fields.append(SearchField(str(entry.definitions[language]), FieldKind.TEXT, language))
    fields += [SearchField(str(t), FieldKind.TAG) for t in entry.tags or []]
    if entry.source:
        fields.append(SearchField(entry.source, FieldKind.OTHER))
    return Document(
        key=entry.id,
        fields=fields,
        attributes={"tags": list(entry.tags or []), "status": str(entry.status)},
    )


@dataclass
class _Sync:
    """What this process's index holds: each row's revision (archived ones too)."""

    revisions: dict[int, int] = field(default_factory=dict)
    fingerprint: tuple[int, int] = (0, 0)

    def held(self, entry_id: int, revision: int | None) -> None:
        if revision is None:
            self.revisions.pop(entry_id, None)
        else:
            self.revisions[entry_id] = revision
        self.fingerprint = (len(self.revisions), sum(self.revisions.values()))


_CHUNK = 500


def _hold(index: SearchIndex, sync: _Sync, entry: GlossaryEntry) -> None:
    assert entry.id is not None
    if entry.status == EntryStatus.PUBLISHED:
        index.put(document(entry))
    else:
        index.remove(entry.id)
    sync.held(entry.id, entry.revision)


async def synced_index(session: AsyncSession, indexes: dict[str, Any]) -> SearchIndex:
    """This process's glossary index, in step with the database."""
    index = indexes.get(INDEX)
    sync = indexes.get(_SYNC)
    if not isinstance(index, SearchIndex) or not isinstance(sync, _Sync):
        rows = list(await session.exec(select(GlossaryEntry)))
        index = SearchIndex()
        index.build(document(e) for e in rows if e.status == EntryStatus.PUBLISHED)
        sync = _Sync()
        sync.revisions = {e.id: e.revision for e in rows if e.id is not None}
        sync.fingerprint = (len(sync.revisions), sum(sync.revisions.values()))
        indexes[INDEX], indexes[_SYNC] = index, sync
        return index
    count, total = (
        await session.exec(
            select(func.count(), func.coalesce(func.sum(GlossaryEntry.revision), 0)).select_from(
                GlossaryEntry
            )
        )
    ).one()
    if (int(count), int(total)) == sync.fingerprint:
        return index
    now_held = dict((await session.exec(select(GlossaryEntry.id, GlossaryEntry.revision))).all())
    for gone in set(sync.revisions) - set(now_held):
        index.remove(gone)
        sync.held(gone, None)
    stale = [i for i, revision in now_held.items() if sync.revisions.get(i) != revision]
    for start in range(0, len(stale), _CHUNK):
        chunk = stale[start : start + _CHUNK]
        for entry in await session.exec(
            select(GlossaryEntry).where(col(GlossaryEntry.id).in_(chunk))
        ):
            _hold(index, sync, entry)
    return index


def indexed(indexes: dict[str, Any], entry: GlossaryEntry) -> None:
    """An entry this process has just changed and committed: searchable (or not) at once."""
    index = indexes.get(INDEX)
    sync = indexes.get(_SYNC)
    if isinstance(index, SearchIndex) and isinstance(sync, _Sync) and entry.id is not None:
        _hold(index, sync, entry)


@dataclass(frozen=True)
class Found:
    entry: GlossaryEntry
    hit: Hit


def _published(document: Document) -> bool:
    return document.attributes.get("status") == EntryStatus.PUBLISHED.value


def _key(hit: Hit) -> int:
    return int(hit.key)  # type: ignore[call-overload]


async def _entries_for(session: AsyncSession, hits: list[Hit]) -> list[Found]:
    rows = await entries(session, [_key(h) for h in hits])
    return [
        Found(rows[_key(h)], h)
        for h in hits
        if _key(h) in rows and rows[_key(h)].status == EntryStatus.PUBLISHED
    ]


async def search(
    session: AsyncSession,
    indexes: dict[str, Any],
    query: str,
    *,
    language: str | None = None,
    limit: int = 5,
) -> list[Found]:
    """The best published entries for a query, best first."""
    query = query.strip()[:QUERY_LIMIT]
    if not query:
        return []
    index = await synced_index(session, indexes)
    hits = index.search(query, limit=limit, language=language, where=_published)
    return await _entries_for(session, hits)


async def closest(
    session: AsyncSession, indexes: dict[str, Any], query: str, *, limit: int = 3
) -> list[Found]:
    """When nothing matched: the nearest entries anyway."""
    query = query.strip()[:QUERY_LIMIT]
    if not query:
        return []
    index = await synced_index(session, indexes)
    return await _entries_for(session, index.closest(query, limit=limit))
