"""One search engine for the glossary and the resource library: forgives typos, word order,
prefixes, the wrong script (Cyrillic typed in Latin and the reverse) and the wrong language.

Plain Python over an in-memory index (no database full-text search), so SQLite and PostgreSQL
give the same results. Each bot process holds one `SearchIndex` per collection; the feature
services keep it in step with the database (`put`/`remove` after their own changes, and a
cheap check of the rows' revisions before each search for changes made by other processes).

The interface below is what the glossary and resources services use; the implementation is
free to change behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldKind(StrEnum):
    """What a piece of text is to its document: decides its weight in the ranking."""

    TERM = "term"  # a glossary term, or a resource's title
    ABBREVIATION = "abbreviation"
    SYNONYM = "synonym"
    TEXT = "text"  # a definition, a summary
    TAG = "tag"
    OTHER = "other"  # issuer, source


@dataclass(frozen=True)
class SearchField:
    text: str
    kind: FieldKind
    # The language the text is in (None: language-neutral, e.g. an abbreviation).
    language: str | None = None


@dataclass
class Document:
    """What the index knows of one row: its texts, and attributes filters look at."""

    key: Hashable  # the row's id
    fields: list[SearchField]
    attributes: dict[str, Any] = field(default_factory=dict)


class MatchQuality(StrEnum):
    EXACT = "exact"  # every query word found as a whole word (or the whole term)
    PREFIX = "prefix"
    FUZZY = "fuzzy"  # within the allowed typos, or through transliteration


@dataclass(frozen=True)
class Hit:
    key: Hashable
    score: float
    quality: MatchQuality
    # The field that matched best (to show "found as: торговля людьми").
    matched: SearchField


class SearchIndex:
    """Documents of one collection, searchable. Not thread-safe; one per process and
    collection."""

    def __init__(self) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def put(self, document: Document) -> None:
        """Add a document, or replace the one with the same key."""
        raise NotImplementedError

    def remove(self, key: Hashable) -> None:
        """Forget a document (archived, deleted); unknown keys are ignored."""
        raise NotImplementedError

    def build(self, documents: Iterable[Document]) -> None:
        """Replace everything with these documents (at start): fast, 10,000 concepts in well
        under a second."""
        raise NotImplementedError

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        language: str | None = None,
        where: Callable[[Document], bool] | None = None,
    ) -> list[Hit]:
        """The best documents for a query, best first: exact before prefix before fuzzy, terms
        before definitions; `language` (the reader's) breaks ties toward fields in it; `where`
        filters on the document (its attributes). Empty or meaningless queries give []."""
        raise NotImplementedError

    def closest(self, query: str, *, limit: int = 3) -> list[Hit]:
        """When `search` finds nothing: the nearest documents anyway (looser), for "did you
        mean"."""
        raise NotImplementedError


def normalize(text: str) -> str:
    """Case, accents, ё/е, punctuation and spacing folded away: what comparisons use."""
    raise NotImplementedError


def to_latin(text: str) -> str:
    """Cyrillic (Russian, Kazakh, Kyrgyz, Tajik, Uzbek Cyrillic) in the Latin letters people
    type ("торговля людьми" -> "torgovlya lyudmi"); other scripts through anyascii."""
    raise NotImplementedError
