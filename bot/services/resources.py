"""The resource library: reference documents (reports, guidelines, legislation, case law, training,
tools) with their link, issuer, year, languages, countries and tags; searched with the one search
engine (bot/services/search.py) and narrowed by filters typed in the query; proposed by members
and reviewed by moderators, or added by moderators directly.

Who sees what: members see published resources meant for members; moderators also see those meant
for moderators only, and (by number) proposals, rejected and archived ones. A resource a reader may
not see does not exist for them: not in search, not in a page, not by its number.

The search index of this process (`AppContext.indexes["resources"]`) holds the published
resources. Before each search `synced_index` compares one cheap aggregate of the table
(`count(*)`, `sum(revision)`) with what the index reflects and reloads only the rows whose
revision changed, so a change made by another bot process is found at the next search; this
process's own changes are `put` at once. Every change raises the row's `revision` (the reminder
bookkeeping of bot/services/reviews.py, `reminded_at`, is not a change of the resource).

Messages the bot starts (a proposal to every moderator, the outcome to its author, the other
moderators' copies edited to say who decided) go through the outbox, worded by a `compose`
callback the handler module provides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AuditAction, Member, OutboxAction, Role
from bot.models.knowledge import Resource, ResourceKind, ResourceStatus, Visibility
from bot.services import audit, countries, members, outbox, search
from bot.services.errors import ServiceError
from bot.services.outbox import Recipient
from bot.services.search import Document, FieldKind, SearchField, SearchIndex

KIND = "resource"  # outbox rows: proposals to moderators, outcomes to authors, decided copies
INDEX = "resources"  # the key of this collection in AppContext.indexes
_SYNC = "resources:sync"  # what the index reflects (bookkeeping of synced_index)

MAX_TITLE = 300
MAX_URL = 1000
MAX_ISSUER = 200
MAX_SUMMARY = 2000
MAX_TAG = 40
MAX_TAGS = 15
MAX_LANGUAGES = 15
MAX_COUNTRIES = 30
MAX_NOTE = 500
MIN_YEAR = 1900
PAGE_SIZE = 5
# Hits a search looks at (pages beyond are not worth reading: refine the query).
MAX_RESULTS = 100
CLOSEST = 3
# Ids are 32-bit integers: a larger number (a forged button) names nothing.
MAX_ID = 2**31 - 1
_CHUNK = 500

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# -- kinds, languages, countries: the words people type ------------------------------------------

# What people type for each kind ("kind:reports", "type:law"), folded by `_fold_word`.
_KIND_WORDS: dict[ResourceKind, tuple[str, ...]] = {
    ResourceKind.REPORT: (
        "report",
        "reports",
        "study",
        "studies",
        "research",
        "publication",
        "publications",
        "отчет",
        "отчеты",
        "доклад",
        "доклады",
    ),
    ResourceKind.GUIDELINE: (
        "guideline",
        "guidelines",
        "guidance",
        "guide",
        "guides",
        "manual",
        "manuals",
        "handbook",
        "handbooks",
        "руководство",
        "руководства",
    ),
    ResourceKind.LEGISLATION: (
        "legislation",
        "law",
        "laws",
        "statute",
        "statutes",
        "treaty",
        "treaties",
        "convention",
        "conventions",
        "законодательство",
        "закон",
        "законы",
    ),
    ResourceKind.CASE_LAW: (
        "case_law",
        "caselaw",
        "cases",
        "case",
        "judgment",
        "judgments",
        "judgement",
        "judgements",
        "jurisprudence",
        "судебная_практика",
        "практика",
    ),
    ResourceKind.TRAINING: (
        "training",
        "trainings",
        "course",
        "courses",
        "curriculum",
        "обучение",
        "тренинг",
        "тренинги",
        "курс",
        "курсы",
    ),
    ResourceKind.TOOL: (
        "tool",
        "tools",
        "toolkit",
        "toolkits",
        "checklist",
        "checklists",
        "инструмент",
        "инструменты",
    ),
}
KINDS = tuple(kind.value for kind in ResourceKind)
# Language codes CLDR does not list as languages but the group uses (Dari).
_EXTRA_LANGUAGES = {"prs": "Dari"}


def _fold_word(text: str) -> str:
    """Lower case, ё as е, spaces and dashes as underscores: how kind words are compared."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower().replace("ё", "е"))


@cache
def _kind_lookup() -> dict[str, ResourceKind]:
    return {_fold_word(word): kind for kind, words in _KIND_WORDS.items() for word in words}


def parse_kind(text: str) -> ResourceKind:
    """A kind as typed: its name (report, case_law, "case law") or a common other word for it
    (reports, law, guidance, toolkit...)."""
    kind = _kind_lookup().get(_fold_word(text or ""))
    if kind is None:
        raise ServiceError("resource_bad_kind", value=_shown(text), kinds=", ".join(KINDS))
    return kind


@cache
def _language_lookup() -> dict[str, str]:
    """Language codes, and their English and Russian names, folded -> code."""
    found: dict[str, str] = {}
    for display in ("en", "ru"):
        for code, name in Locale.parse(display).languages.items():
            if code.isalpha() and 2 <= len(code) <= 3:
                found.setdefault(name.lower().replace("ё", "е"), code)
    for code in Locale.parse("en").languages:
        if code.isalpha() and 2 <= len(code) <= 3:
            found[code.lower()] = code.lower()
    for code, name in _EXTRA_LANGUAGES.items():
        found[code] = code
        found[name.lower()] = code
    found["дари"] = "prs"
    return found


def parse_language(text: str) -> str:
    """A language code (ISO 639: en, ru, fa, prs, ps, ur, uz, kk, ky, tg, tk...) or its English or
    Russian name."""
    code = _language_lookup().get((text or "").strip().lower().replace("ё", "е"))
    if code is None:
        code = _language_lookup().get((text or "").strip().lower())
    if code is None:
        raise ServiceError("resource_bad_language", value=_shown(text))
    return code


@cache
def _country_names() -> dict[str, str]:
    found: dict[str, str] = {}
    for display in ("en", "ru"):
        for code, name in Locale.parse(display).territories.items():
            if countries.normalize(code) is not None:
                found[name.lower().replace("ё", "е")] = code
    return found


def parse_country(text: str) -> str:
    """An ISO 3166 alpha-2 code (KZ), or the country's English or Russian name."""
    value = (text or "").strip()
    code = countries.normalize(value) if len(value) == 2 else None
    if code is None:
        code = _country_names().get(value.lower().replace("ё", "е"))
    if code is None:
        raise ServiceError("bad_country", country=_shown(value))
    return code


def _shown(text: str | None) -> str:
    """A bad value, as an explanation quotes it (short, one line)."""
    value = " ".join((text or "").split())
    return value if len(value) <= 40 else value[:39] + "…"


def _items(text: str) -> list[str]:
    """A list as typed: separated by commas (or semicolons), else by spaces."""
    text = _CONTROL.sub("", text or "").strip()
    if not text:
        return []
    parts = re.split(r"[,;]", text) if re.search(r"[,;]", text) else text.split()
    return [p.strip() for p in parts if p.strip()]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def parse_languages(text: str) -> list[str]:
    found = _unique(parse_language(item) for item in _items(text))
    if len(found) > MAX_LANGUAGES:
        raise ServiceError("resource_too_many", limit=MAX_LANGUAGES)
    return found


def parse_countries(text: str) -> list[str]:
    found = _unique(parse_country(item) for item in _items(text))
    if len(found) > MAX_COUNTRIES:
        raise ServiceError("resource_too_many", limit=MAX_COUNTRIES)
    return found


def clean_tag(text: str) -> str:
    tag = " ".join(_CONTROL.sub("", text or "").replace("#", " ").split()).lower()
    if len(tag) > MAX_TAG:
        raise ServiceError("resource_tag_too_long", value=_shown(tag), limit=MAX_TAG)
    return tag


def parse_tags(text: str) -> list[str]:
    """Tags, separated by commas or spaces, with or without #."""
    raw = text or ""
    if "," not in raw and ";" not in raw:
        raw = raw.replace("#", " ")
    found = _unique(t for t in (clean_tag(item) for item in _items(raw)) if t)
    if len(found) > MAX_TAGS:
        raise ServiceError("resource_too_many", limit=MAX_TAGS)
    return found


def fold_tag(tag: str) -> str:
    """Tags compare without case, spaces, dashes or underscores: #money-laundering finds the
    tag "money laundering"."""
    return re.sub(r"[\W_]+", "", tag.lower().replace("ё", "е"))


def max_year(now: datetime) -> int:
    return now.year + 1


def parse_year(text: str, now: datetime) -> int:
    value = (text or "").strip()
    top = max_year(now)
    if not (value.isdigit() and len(value) == 4 and MIN_YEAR <= int(value) <= top):
        raise ServiceError("resource_bad_year", value=_shown(value), min=MIN_YEAR, max=top)
    return int(value)


def clean_url(text: str) -> str:
    """A web link: http(s), a host name with a dot (or an IP address), no spaces."""
    url = (text or "").strip()
    if len(url) > MAX_URL:
        raise ServiceError("resource_url_too_long", limit=MAX_URL)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (a bad port raises)
    except ValueError:
        raise ServiceError("resource_bad_url", value=_shown(url)) from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not host
        or "." not in host
        or re.search(r"[\s<>\"'\\^`{|}]", url)
        or _CONTROL.search(url)
    ):
        raise ServiceError("resource_bad_url", value=_shown(url))
    return url


def _line(text: str) -> str:
    return " ".join(_CONTROL.sub("", text or "").split())


def clean_title(text: str) -> str:
    title = _line(text)
    if not title:
        raise ServiceError("resource_title_empty")
    if len(title) > MAX_TITLE:
        raise ServiceError("resource_title_too_long", length=len(title), limit=MAX_TITLE)
    return title


def clean_issuer(text: str) -> str:
    issuer = _line(text)
    if len(issuer) > MAX_ISSUER:
        raise ServiceError("resource_issuer_too_long", length=len(issuer), limit=MAX_ISSUER)
    return issuer


def clean_summary(text: str) -> str:
    summary = _CONTROL.sub("", text or "")
    summary = "\n".join(line.rstrip() for line in summary.strip().splitlines())
    summary = re.sub(r"\n{3,}", "\n\n", summary)
    if len(summary) > MAX_SUMMARY:
        raise ServiceError("resource_summary_too_long", length=len(summary), limit=MAX_SUMMARY)
    return summary


def clean_note(text: str) -> str:
    note = _line(text)
    if len(note) > MAX_NOTE:
        raise ServiceError("resource_note_too_long", length=len(note), limit=MAX_NOTE)
    return note


# -- drafts -------------------------------------------------------------------------------------

# The fields of a resource a person types, in the order the dialogue asks for them.
FIELDS = ("url", "title", "kind", "issuer", "year", "languages", "countries", "tags", "summary")
REQUIRED = ("url", "title", "kind")


@dataclass(frozen=True)
class Draft:
    """A resource as typed, before it is saved (checked field by field as it is typed)."""

    url: str = ""
    title: str = ""
    kind: ResourceKind | None = None
    issuer: str = ""
    year: int | None = None
    languages: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str = ""
    visibility: Visibility = Visibility.MEMBERS

    @classmethod
    def of(cls, resource: Resource) -> Draft:
        return cls(
            url=resource.url,
            title=resource.title,
            kind=ResourceKind(resource.kind),
            issuer=resource.issuer,
            year=resource.year,
            languages=tuple(resource.languages or ()),
            countries=tuple(resource.countries or ()),
            tags=tuple(resource.tags or ()),
            summary=resource.summary,
            visibility=Visibility(resource.visibility),
        )


def parse_field(name: str, text: str | None, now: datetime) -> Any:
    """One field's value as typed; None or "-" clears an optional field."""
    raw = (text or "").strip()
    if name not in FIELDS:
        raise ServiceError("resource_bad_field", value=_shown(name))
    if name not in REQUIRED and raw in ("", "-", "—"):
        if name == "year":
            return None
        return "" if name in ("issuer", "summary") else ()
    if name == "url":
        return clean_url(raw)
    if name == "title":
        return clean_title(raw)
    if name == "kind":
        return parse_kind(raw)
    if name == "issuer":
        return clean_issuer(raw)
    if name == "year":
        return parse_year(raw, now)
    if name == "languages":
        return tuple(parse_languages(raw))
    if name == "countries":
        return tuple(parse_countries(raw))
    if name == "tags":
        return tuple(parse_tags(raw))
    return clean_summary(text or "")


def with_field(draft: Draft, name: str, text: str | None, now: datetime) -> Draft:
    return replace(draft, **{name: parse_field(name, text, now)})


def validate(draft: Draft, now: datetime) -> Draft:
    """A whole draft checked again (a one-line proposal, or before saving)."""
    if not draft.url:
        raise ServiceError("resource_bad_url", value="")
    if draft.kind is None:
        raise ServiceError("resource_bad_kind", value="", kinds=", ".join(KINDS))
    checked = replace(
        draft,
        url=clean_url(draft.url),
        title=clean_title(draft.title),
        issuer=clean_issuer(draft.issuer),
        summary=clean_summary(draft.summary),
        languages=tuple(parse_language(code) for code in draft.languages),
        countries=tuple(parse_country(code) for code in draft.countries),
        tags=tuple(clean_tag(tag) for tag in draft.tags),
    )
    if draft.year is not None:
        parse_year(str(draft.year), now)
    if len(checked.tags) > MAX_TAGS or len(checked.languages) > MAX_LANGUAGES:
        raise ServiceError("resource_too_many", limit=MAX_TAGS)
    if len(checked.countries) > MAX_COUNTRIES:
        raise ServiceError("resource_too_many", limit=MAX_COUNTRIES)
    return checked


def parse_line(text: str, now: datetime) -> Draft:
    """`https://... | Title | kind | issuer | year | languages | countries | tags | summary`:
    the link, title and kind needed, the rest optional (empty or "-" to leave one out)."""
    parts = [part.strip() for part in (text or "").split("|")]
    if len(parts) < 3:
        raise ServiceError("resource_line_unparseable")
    summary = " | ".join(parts[8:]) if len(parts) > 8 else ""
    parts = [*parts[:8], summary]
    draft = Draft()
    for name, value in zip(FIELDS, parts, strict=False):
        draft = with_field(draft, name, value, now)
    return validate(draft, now)


# -- the search index ---------------------------------------------------------------------------


def document(resource: Resource) -> Document:
    """What the index knows of a resource: its title (as a term), tags, summary and issuer, and
    the attributes filters and visibility look at."""
    languages = list(resource.languages or ())
    language = languages[0] if len(languages) == 1 else None
    fields = [SearchField(resource.title, FieldKind.TERM, language)]
    fields.extend(SearchField(tag, FieldKind.TAG) for tag in resource.tags or ())
    if resource.summary:
        fields.append(SearchField(resource.summary, FieldKind.TEXT, language))
    if resource.issuer:
        fields.append(SearchField(resource.issuer, FieldKind.OTHER))
    return Document(
        key=resource.id,
        fields=fields,
        attributes={
            "tags": frozenset(fold_tag(tag) for tag in resource.tags or ()),
            "countries": frozenset(resource.countries or ()),
            "languages": frozenset(resource.languages or ()),
            "kind": str(resource.kind),
            "year": resource.year,
            "visibility": str(resource.visibility),
            "status": str(resource.status),
            "superseded": resource.superseded_by_id,
        },
    )


@dataclass
class _Sync:
    """What an index reflects: each row's revision (-1: reload at the next check) and the
    table's (count, sum of revisions) when they were all loaded (None: look row by row)."""

    index: SearchIndex
    revisions: dict[int, int] = field(default_factory=dict)
    signature: tuple[int, int] | None = None


def _indexed(resource: Resource) -> bool:
    return resource.status == ResourceStatus.PUBLISHED


async def _signature(session: AsyncSession) -> tuple[int, int]:
    count, total = (
        await session.exec(
            select(func.count(), func.coalesce(func.sum(Resource.revision), 0)).select_from(
                Resource
            )
        )
    ).one()
    return int(count), int(total)


async def _load(session: AsyncSession, ids: list[int]) -> list[Resource]:
    found: list[Resource] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.extend(await session.exec(select(Resource).where(col(Resource.id).in_(chunk))))
    return found


async def synced_index(session: AsyncSession, indexes: dict[str, Any]) -> SearchIndex:
    """This process's index of the published resources, in step with the database: built on
    first use; then one aggregate query per call, and the rows whose revision changed reloaded
    when it differs from what the index reflects."""
    state = indexes.get(_SYNC)
    index = indexes.get(INDEX)
    if index is None or not isinstance(state, _Sync) or state.index is not index:
        index = search.SearchIndex()
        state = _Sync(index)
        current = {
            row_id: revision
            for row_id, revision in await session.exec(select(Resource.id, Resource.revision))
        }
        rows = list(
            await session.exec(select(Resource).where(Resource.status == ResourceStatus.PUBLISHED))
        )
        index.build(document(row) for row in rows)
        current.update({row.id: row.revision for row in rows if row.id is not None})
        state.revisions = current
        state.signature = (len(current), sum(current.values()))
        indexes[INDEX] = index
        indexes[_SYNC] = state
        return index
    signature = await _signature(session)
    if signature == state.signature:
        return index
    current = {
        row_id: revision
        for row_id, revision in await session.exec(select(Resource.id, Resource.revision))
    }
    for gone in set(state.revisions) - set(current):
        index.remove(gone)
        del state.revisions[gone]
    changed = [row_id for row_id, rev in current.items() if state.revisions.get(row_id) != rev]
    for row in await _load(session, changed):
        _reflect(state, row)
    state.revisions.update({k: v for k, v in current.items() if k not in state.revisions})
    state.signature = (len(state.revisions), sum(state.revisions.values()))
    return index


def _reflect(state: _Sync, resource: Resource) -> None:
    if resource.id is None:
        return
    if _indexed(resource):
        state.index.put(document(resource))
    else:
        state.index.remove(resource.id)
    state.revisions[resource.id] = resource.revision


def refresh(indexes: dict[str, Any], resource: Resource) -> None:
    """After a change made here: the index shows it at once (checked against the database again
    at the next search, in case the change was not committed)."""
    state = indexes.get(_SYNC)
    if not isinstance(state, _Sync) or state.index is not indexes.get(INDEX):
        return  # no index yet: it is built from the database on first use
    _reflect(state, resource)
    if resource.id is not None:
        state.revisions[resource.id] = -1
    state.signature = None


# -- searching ----------------------------------------------------------------------------------

_FILTER = re.compile(r"(?<!\S)(?P<key>[^\W\d_]+):(?P<value>\"[^\"]*\"|\S*)")
_TAG = re.compile(r"(?<!\S)#(?P<tag>[^\s#]+)")
_YEARS = re.compile(r"^(?P<start>\d{1,4})?\s*(?P<range>\.\.|-|–|—)?\s*(?P<end>\d{1,4})?$")
_FILTER_KEYS = {
    "country": ("country", "countries", "c", "страна", "страны"),
    "lang": ("lang", "langs", "language", "languages", "l", "язык", "языки"),
    "kind": ("kind", "kinds", "type", "types", "k", "вид", "тип"),
    "year": ("year", "years", "y", "год", "годы"),
    "tag": ("tag", "tags", "тег", "теги"),
}
_KEY_OF = {alias: key for key, aliases in _FILTER_KEYS.items() for alias in aliases}


@dataclass(frozen=True)
class Query:
    """A search as typed: the words, and the filters (tags all required; a resource matches a
    filter of countries, languages or kinds when it has any of those listed)."""

    words: str = ""
    tags: tuple[str, ...] = ()
    countries: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    year_from: int | None = None
    year_to: int | None = None

    @property
    def has_filters(self) -> bool:
        return bool(
            self.tags
            or self.countries
            or self.languages
            or self.kinds
            or self.year_from is not None
            or self.year_to is not None
        )

    def canonical(self) -> str:
        """The query as the bot understood it, in the filters' own syntax."""
        parts = [self.words] if self.words else []
        parts += ["#" + tag.replace(" ", "_") for tag in self.tags]
        for key, values in (
            ("kind", self.kinds),
            ("country", self.countries),
            ("lang", self.languages),
        ):
            if values:
                parts.append(f"{key}:{','.join(sorted(values))}")
        if self.year_from is not None or self.year_to is not None:
            if self.year_from == self.year_to:
                parts.append(f"year:{self.year_from}")
            else:
                start = self.year_from if self.year_from is not None else ""
                end = self.year_to if self.year_to is not None else ""
                parts.append(f"year:{start}..{end}")
        return " ".join(parts)

    def matches(self, attributes: dict[str, Any]) -> bool:
        if self.tags and not {fold_tag(t) for t in self.tags} <= attributes["tags"]:
            return False
        if self.countries and not self.countries & attributes["countries"]:
            return False
        if self.languages and not self.languages & attributes["languages"]:
            return False
        if self.kinds and attributes["kind"] not in self.kinds:
            return False
        year = attributes["year"]
        if self.year_from is not None and (year is None or year < self.year_from):
            return False
        return not (self.year_to is not None and (year is None or year > self.year_to))


def _parse_years(value: str, now: datetime) -> tuple[int | None, int | None]:
    top = max_year(now)
    match = _YEARS.match(value.strip())
    bad = ServiceError("resource_bad_year_filter", value=_shown(value), min=MIN_YEAR, max=top)
    if match is None or not (match.group("start") or match.group("end")):
        raise bad
    start = int(match.group("start")) if match.group("start") else None
    end = int(match.group("end")) if match.group("end") else None
    if not match.group("range"):
        end = start
    for year in (start, end):
        if year is not None and not MIN_YEAR <= year <= top:
            raise bad
    if start is not None and end is not None and start > end:
        raise bad
    return start, end


def parse_query(text: str, now: datetime) -> Query:
    """Words and filters: `#tag`, `country:KZ`, `lang:ru`, `kind:report` (or `type:reports`...),
    `year:2018`, `year:2020..`, `year:..2015`, `year:2018..2020`; a filter may list values
    (`country:KZ,KG`). A filter with a value it cannot use is refused (ServiceError)."""
    text = _CONTROL.sub(" ", text or "")[:500]
    tags: list[str] = []
    found: dict[str, set[str]] = {"country": set(), "lang": set(), "kind": set()}
    year_from: int | None = None
    year_to: int | None = None

    def take_filter(match: re.Match[str]) -> str:
        nonlocal year_from, year_to
        key = _KEY_OF.get(match.group("key").lower())
        if key is None:
            return match.group(0)  # not a filter (a word with a colon): searched as words
        value = match.group("value").strip('"')
        if key == "year":
            start, end = _parse_years(value, now)
            year_from = start if year_from is None or start is None else max(year_from, start)
            year_to = end if year_to is None or end is None else min(year_to, end)
            return " "
        values = [v for v in re.split(r"[,;]", value) if v.strip()] or [""]
        for item in values:
            if key == "country":
                found["country"].add(parse_country(item))
            elif key == "lang":
                found["lang"].add(parse_language(item))
            elif key == "kind":
                found["kind"].add(parse_kind(item).value)
            elif item.strip():
                tags.append(clean_tag(item))
        return " "

    rest = _FILTER.sub(take_filter, text)

    def take_tag(match: re.Match[str]) -> str:
        tag = clean_tag(match.group("tag"))
        if tag:
            tags.append(tag)
        return " "

    rest = _TAG.sub(take_tag, rest)
    return Query(
        words=" ".join(rest.split()),
        tags=tuple(_unique(tags)),
        countries=frozenset(found["country"]),
        languages=frozenset(found["lang"]),
        kinds=frozenset(found["kind"]),
        year_from=year_from,
        year_to=year_to,
    )


def may_see(resource: Resource, *, moderator: bool) -> bool:
    """Members: published resources meant for members. Moderators: every resource."""
    if moderator:
        return True
    return resource.status == ResourceStatus.PUBLISHED and resource.visibility == Visibility.MEMBERS


def _visible_attributes(attributes: dict[str, Any], *, moderator: bool) -> bool:
    if attributes["status"] != ResourceStatus.PUBLISHED:
        return False
    return moderator or attributes["visibility"] == Visibility.MEMBERS


@dataclass(frozen=True)
class Item:
    """One resource in a list, and what replaced it (when the reader may see that one)."""

    resource: Resource
    superseded_by: Resource | None = None

    @property
    def superseded(self) -> bool:
        return self.resource.superseded_by_id is not None


@dataclass(frozen=True)
class Results:
    items: list[Item]
    total: int
    page: int  # from 0
    pages: int
    # No hit for the words: the nearest titles the reader may see.
    closest: list[Resource] = field(default_factory=list)


async def _with_replacements(
    session: AsyncSession, rows: list[Resource], *, moderator: bool
) -> list[Item]:
    return [Item(row, await _replacement(session, row, moderator=moderator)) for row in rows]


async def _replacement(
    session: AsyncSession, resource: Resource, *, moderator: bool
) -> Resource | None:
    if resource.superseded_by_id is None:
        return None
    newer = await session.get(Resource, resource.superseded_by_id)
    return newer if newer is not None and may_see(newer, moderator=moderator) else None


async def _in_order(session: AsyncSession, ids: list[int]) -> list[Resource]:
    by_id = {row.id: row for row in await _load(session, ids)}
    return [by_id[i] for i in ids if i in by_id]


async def search_resources(
    session: AsyncSession,
    indexes: dict[str, Any],
    query: Query,
    *,
    moderator: bool,
    page: int = 0,
    language: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Results:
    """One page of what the reader may see: the best matches for the words (filters applied),
    or without words everything the filters let through, newest first."""
    page = max(0, page)
    if query.words:
        index = await synced_index(session, indexes)

        def where(doc: Document) -> bool:
            return _visible_attributes(doc.attributes, moderator=moderator) and query.matches(
                doc.attributes
            )

        hits = index.search(query.words, limit=MAX_RESULTS, language=language, where=where)
        ids = _unique_ids(hit.key for hit in hits)
        if not ids:
            near = index.closest(
                query.words,
                limit=CLOSEST * 4,
                where=lambda doc: _visible_attributes(doc.attributes, moderator=moderator),
            )
            candidates = await _in_order(session, _unique_ids(hit.key for hit in near))
            closest = [
                r
                for r in candidates
                if _indexed(r) and may_see(r, moderator=moderator) and r.id is not None
            ][:CLOSEST]
            return Results([], 0, 0, 1, closest)
    else:
        statement = select(Resource).where(Resource.status == ResourceStatus.PUBLISHED)
        if not moderator:
            statement = statement.where(Resource.visibility == Visibility.MEMBERS)
        rows = await session.exec(
            statement.order_by(
                col(Resource.year).is_(None),
                col(Resource.year).desc(),
                col(Resource.created_at).desc(),
                col(Resource.id).desc(),
            )
        )
        ids = [
            row.id for row in rows if row.id is not None and query.matches(document(row).attributes)
        ]
    total = len(ids)
    pages = max(1, -(-total // page_size))
    page = min(page, pages - 1)
    chosen = await _in_order(session, ids[page * page_size : (page + 1) * page_size])
    # (Checked again on the rows themselves: the index is never the last word on who sees what.)
    chosen = [row for row in chosen if _indexed(row) and may_see(row, moderator=moderator)]
    return Results(
        await _with_replacements(session, chosen, moderator=moderator), total, page, pages
    )


def _unique_ids(keys: Iterable[Any]) -> list[int]:
    return _unique(int(k) for k in keys if isinstance(k, int))  # type: ignore[arg-type]


# -- reading one --------------------------------------------------------------------------------


def parse_id(text: str | None) -> int | None:
    """A resource number as typed (12 or #12); None when it is not one (or beyond 32 bits)."""
    value = (text or "").strip().lstrip("#")
    if not value.isdigit() or len(value) > 10 or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)


async def get(session: AsyncSession, resource_id: int) -> Resource:
    if not 0 < resource_id <= MAX_ID:
        raise ServiceError("resource_not_found", id=resource_id)
    resource = await session.get(Resource, resource_id)
    if resource is None:
        raise ServiceError("resource_not_found", id=resource_id)
    return resource


async def visible(session: AsyncSession, resource_id: int, *, moderator: bool) -> Resource:
    """The resource, if the reader may see it; else the same refusal as for one that does not
    exist (a member learns nothing of what is meant for moderators)."""
    resource = await get(session, resource_id)
    if not may_see(resource, moderator=moderator):
        raise ServiceError("resource_not_found", id=resource_id)
    return resource


async def item(session: AsyncSession, resource: Resource, *, moderator: bool) -> Item:
    return Item(resource, await _replacement(session, resource, moderator=moderator))


async def pending(session: AsyncSession, *, limit: int | None = None) -> list[Resource]:
    """Proposals waiting for a moderator, oldest first."""
    statement = (
        select(Resource)
        .where(Resource.status == ResourceStatus.PENDING)
        .order_by(col(Resource.created_at), col(Resource.id))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(await session.exec(statement))


# -- notices ------------------------------------------------------------------------------------


class NoticeKind(StrEnum):
    PROPOSED = "proposed"  # to each moderator, with Approve / Edit / Reject
    APPROVED = "approved"  # to the author
    REJECTED = "rejected"  # to the author
    DECIDED = "decided"  # another moderator's copy of the proposal, edited: who decided


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    resource: Resource
    recipient: Recipient
    # Who proposed it (PROPOSED), who decided (DECIDED, APPROVED, REJECTED).
    person: Member | None = None


Compose = Callable[[Notice], dict[str, Any]]


def _ask_key(resource_id: int, member_id: int | None) -> str:
    return f"{KIND}:{resource_id}:ask:{member_id}"


def _is_moderator(member: Member) -> bool:
    return Role(member.role).at_least(Role.MODERATOR)


def _ensure_moderator(actor: Member) -> None:
    if not _is_moderator(actor):
        raise ServiceError("forbidden")


# -- changing -----------------------------------------------------------------------------------


async def _duplicate(
    session: AsyncSession, url: str, *, moderator: bool, exclude: int | None
) -> None:
    """Refuse a link already in the library or proposed (by its number, when the person may see
    it)."""
    wanted = url.rstrip("/").lower()
    rows = await session.exec(
        select(Resource).where(
            col(Resource.status).in_([ResourceStatus.PUBLISHED, ResourceStatus.PENDING]),
            func.lower(Resource.url).in_([wanted, wanted + "/"]),
        )
    )
    for row in rows:
        if row.id == exclude:
            continue
        if may_see(row, moderator=moderator):
            raise ServiceError("resource_duplicate", id=row.id)
        raise ServiceError("resource_duplicate_hidden")


async def check_link(session: AsyncSession, url: str, *, moderator: bool) -> None:
    """Refuse, before anything is saved, a link already in the library or proposed."""
    await _duplicate(session, url, moderator=moderator, exclude=None)


def _record(resource: Resource, draft: Draft) -> None:
    assert draft.kind is not None
    resource.url = draft.url
    resource.title = draft.title
    resource.kind = draft.kind
    resource.issuer = draft.issuer
    resource.year = draft.year
    resource.languages = list(draft.languages)
    resource.countries = list(draft.countries)
    resource.tags = list(draft.tags)
    resource.summary = draft.summary
    resource.visibility = draft.visibility


async def _audit(
    session: AsyncSession, actor: Member, resource: Resource, what: str, now: datetime
) -> None:
    await audit.record(
        session,
        AuditAction.RESOURCE_CHANGED,
        at=now,
        actor=actor,
        subject_label=f"resource #{resource.id}: {resource.title}"[:300],
        detail=what,
    )


async def create(
    session: AsyncSession,
    author: Member,
    draft: Draft,
    *,
    now: datetime,
    indexes: dict[str, Any],
    compose: Compose,
) -> Resource:
    """A moderator's resource is published at once; a member's is a proposal: pending, and
    every moderator gets it (through the outbox) with Approve / Edit / Reject."""
    draft = validate(draft, now)
    moderator = _is_moderator(author)
    await _duplicate(session, draft.url, moderator=moderator, exclude=None)
    assert draft.kind is not None
    resource = Resource(
        title=draft.title,
        kind=draft.kind,
        status=ResourceStatus.PUBLISHED if moderator else ResourceStatus.PENDING,
        proposed_by_id=author.id,
        created_at=now,
        updated_at=now,
    )
    _record(resource, draft if moderator else replace(draft, visibility=Visibility.MEMBERS))
    if moderator:
        resource.reviewed_by_id = author.id
        resource.reviewed_at = now
    session.add(resource)
    await session.flush()
    assert resource.id is not None
    if moderator:
        await _audit(session, author, resource, "added", now)
        refresh(indexes, resource)
        return resource
    moderators = await members.with_role_at_least(session, Role.MODERATOR)
    await outbox.enqueue(
        session,
        KIND,
        resource.id,
        [
            outbox.Outgoing(
                dedup_key=_ask_key(resource.id, moderator_row.id),
                chat_id=moderator_row.telegram_id,
                recipient_id=moderator_row.id,
                payload=compose(
                    Notice(
                        NoticeKind.PROPOSED, resource, Recipient.of(moderator_row), person=author
                    )
                ),
            )
            for moderator_row in moderators
        ],
        now=now,
    )
    return resource


async def decide(
    session: AsyncSession,
    moderator: Member,
    resource_id: int,
    approve: bool,
    *,
    now: datetime,
    indexes: dict[str, Any],
    compose: Compose,
    note: str = "",
    pressed: tuple[int, int] | None = None,
) -> Resource:
    """Approve (publish) or reject a proposal. Its author is told; every other moderator's copy
    of the proposal is edited to say who decided (`pressed`, the chat and message whose button
    was pressed, is left to the caller); copies not delivered yet are withdrawn."""
    _ensure_moderator(moderator)
    resource = await get(session, resource_id)
    if resource.status != ResourceStatus.PENDING:
        raise ServiceError("resource_decided", id=resource_id)
    note = clean_note(note)
    if approve:
        await _duplicate(session, resource.url, moderator=True, exclude=resource.id)
    resource.status = ResourceStatus.PUBLISHED if approve else ResourceStatus.REJECTED
    resource.reviewed_by_id = moderator.id
    resource.reviewed_at = now
    resource.review_note = note
    resource.updated_at = now
    resource.revision += 1
    session.add(resource)
    await session.flush()
    await _audit(session, moderator, resource, "approved" if approve else "rejected", now)
    refresh(indexes, resource)
    copies = await outbox.rows_for(session, KIND, resource_id, OutboxAction.SEND)
    await outbox.cancel(session, KIND, resource_id)
    told: list[outbox.Outgoing] = []
    author = (
        await session.get(Member, resource.proposed_by_id)
        if resource.proposed_by_id is not None
        else None
    )
    if author is not None and members.has_access(author) and author.id != moderator.id:
        told.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{resource_id}:outcome",
                chat_id=author.telegram_id,
                recipient_id=author.id,
                payload=compose(
                    Notice(
                        NoticeKind.APPROVED if approve else NoticeKind.REJECTED,
                        resource,
                        Recipient.of(author),
                        person=moderator,
                    )
                ),
            )
        )
    for copy in copies:
        if ":ask:" not in copy.dedup_key or copy.telegram_message_id is None:
            continue
        if pressed is not None and (copy.chat_id, copy.telegram_message_id) == pressed:
            continue
        reader = (
            await session.get(Member, copy.recipient_id) if copy.recipient_id is not None else None
        )
        recipient = (
            Recipient.of(reader) if reader is not None else Recipient(copy.chat_id, -1, None, None)
        )
        told.append(
            outbox.Outgoing(
                dedup_key=f"{KIND}:{resource_id}:decided:{copy.chat_id}",
                chat_id=copy.chat_id,
                action=OutboxAction.EDIT,
                target_message_id=copy.telegram_message_id,
                payload=compose(Notice(NoticeKind.DECIDED, resource, recipient, person=moderator)),
            )
        )
    await outbox.enqueue(session, KIND, resource_id, told, now=now)
    return resource


def _editable(resource: Resource) -> None:
    if resource.status not in (ResourceStatus.PUBLISHED, ResourceStatus.PENDING):
        raise ServiceError("resource_not_editable", id=resource.id, status=str(resource.status))


async def _changed(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    what: str,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    resource.updated_at = now
    resource.revision += 1
    session.add(resource)
    await session.flush()
    await _audit(session, moderator, resource, what, now)
    refresh(indexes, resource)
    return resource


async def edit(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    name: str,
    value: Any,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    """Change one field (a value from `parse_field`) of a published resource or a proposal."""
    _ensure_moderator(moderator)
    _editable(resource)
    if name not in FIELDS:
        raise ServiceError("resource_bad_field", value=_shown(name))
    draft = validate(replace(Draft.of(resource), **{name: value}), now)
    if getattr(draft, name) == getattr(Draft.of(resource), name):
        raise ServiceError("resource_nothing_changed")
    if name == "url":
        await _duplicate(session, draft.url, moderator=True, exclude=resource.id)
    _record(resource, draft)
    return await _changed(session, moderator, resource, f"{name} edited", now=now, indexes=indexes)


async def set_visibility(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    visibility: Visibility,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    _ensure_moderator(moderator)
    _editable(resource)
    if resource.visibility == visibility:
        raise ServiceError("resource_nothing_changed")
    resource.visibility = visibility
    return await _changed(
        session, moderator, resource, f"visible to {visibility}", now=now, indexes=indexes
    )


async def supersede(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    replacement_id: int | None,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    """Mark a resource as superseded by another (published) one, or (None) no longer."""
    _ensure_moderator(moderator)
    _editable(resource)
    if replacement_id is not None:
        if replacement_id == resource.id:
            raise ServiceError("resource_superseded_by_itself")
        newer = (
            await session.get(Resource, replacement_id) if 0 < replacement_id <= MAX_ID else None
        )
        if newer is None or newer.status != ResourceStatus.PUBLISHED:
            raise ServiceError("resource_supersede_missing", id=replacement_id)
        # No circles: what replaces it must not be replaced, through any chain, by it.
        seen = {resource.id}
        step: Resource | None = newer
        while step is not None and step.superseded_by_id is not None:
            if step.superseded_by_id in seen:
                raise ServiceError("resource_supersede_cycle", id=replacement_id)
            seen.add(step.id)
            step = await session.get(Resource, step.superseded_by_id)
    if resource.superseded_by_id == replacement_id:
        raise ServiceError("resource_nothing_changed")
    resource.superseded_by_id = replacement_id
    what = f"superseded by #{replacement_id}" if replacement_id else "no longer superseded"
    return await _changed(session, moderator, resource, what, now=now, indexes=indexes)


async def archive(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    """Withdraw a published resource: kept, not found by search or by members."""
    _ensure_moderator(moderator)
    if resource.status != ResourceStatus.PUBLISHED:
        raise ServiceError("resource_not_editable", id=resource.id, status=str(resource.status))
    resource.status = ResourceStatus.ARCHIVED
    return await _changed(session, moderator, resource, "archived", now=now, indexes=indexes)


async def restore(
    session: AsyncSession,
    moderator: Member,
    resource: Resource,
    *,
    now: datetime,
    indexes: dict[str, Any],
) -> Resource:
    """An archived resource published again."""
    _ensure_moderator(moderator)
    if resource.status != ResourceStatus.ARCHIVED:
        raise ServiceError("resource_not_editable", id=resource.id, status=str(resource.status))
    await _duplicate(session, resource.url, moderator=True, exclude=resource.id)
    resource.status = ResourceStatus.PUBLISHED
    return await _changed(session, moderator, resource, "restored", now=now, indexes=indexes)
