"""Recall of the search engine on the starter content: the labelled queries of
tests/search_queries.json (typos, transliteration both ways, abbreviations, cross-language, word
order, prefixes, resource filters) must find the entry they name in the top 3, for at least 95 %
of them.

The documents are the seed files (bot/seed/glossary.json, bot/seed/resources.json) as the
glossary and resources services index them (their `document()`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.models.knowledge import GlossaryEntry, Resource
from bot.services import glossary, resources
from bot.services.search import Document, SearchIndex

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "tests" / "search_queries.json"
SEED = ROOT / "bot" / "seed"
TARGET = 0.95
TOP = 3
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((SEED / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _glossary() -> tuple[SearchIndex, dict[str, Any]]:
    """The index, and each entry's key by its English preferred term."""
    index, by_name = SearchIndex(), {}
    documents = []
    for row in _load("glossary.json"):
        entry = GlossaryEntry(
            id=row["id"],
            terms=row["terms"],
            abbreviations=row.get("abbreviations", []),
            definitions=row.get("definitions", {}),
            source=row.get("source", ""),
            tags=row.get("tags", []),
            related_ids=row.get("related", []),
            created_at=NOW,
            updated_at=NOW,
        )
        documents.append(glossary.document(entry))
        by_name[row["terms"]["en"][0]] = row["id"]
    index.build(documents)
    return index, by_name


def _resources() -> tuple[SearchIndex, dict[str, Any]]:
    index, by_name = SearchIndex(), {}
    documents = []
    for row in _load("resources.json"):
        resource = Resource(
            id=row["id"],
            title=row["title"],
            url=row.get("url", ""),
            summary=row.get("summary", ""),
            kind=row["kind"],
            issuer=row.get("issuer", ""),
            year=row.get("year"),
            languages=row.get("languages", []),
            countries=row.get("countries", []),
            tags=row.get("tags", []),
            visibility=row.get("visibility", "members"),
            superseded_by_id=row.get("superseded_by"),
            status=row.get("status", "published"),
            created_at=NOW,
            updated_at=NOW,
        )
        documents.append(resources.document(resource))
        by_name[row["title"]] = row["id"]
    index.build(documents)
    return index, by_name


def _where(spec: dict[str, Any] | None) -> Callable[[Document], bool] | None:
    """{"kind": "report"}: equal, or contained when the attribute is a collection;
    year_from / year_to: bounds of the year."""
    if not spec:
        return None

    def where(document: Document) -> bool:
        attributes = document.attributes
        for name, wanted in spec.items():
            if name in ("year_from", "year_to"):
                year = attributes.get("year")
                if year is None or (year < wanted if name == "year_from" else year > wanted):
                    return False
                continue
            value = attributes.get(name)
            if isinstance(value, (set, frozenset, list, tuple)):
                if wanted not in value:
                    return False
            elif value != wanted:
                return False
        return True

    return where


@pytest.fixture(scope="module")
def indexes() -> dict[str, tuple[SearchIndex, dict[str, Any]]]:
    return {"glossary": _glossary(), "resources": _resources()}


def test_the_labelled_set_is_big_and_varied() -> None:
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
    assert len(queries) >= 80
    kinds = Counter(q["kind"] for q in queries)
    for kind in (
        "typo",
        "translit-to-cyrillic",
        "translit-to-latin",
        "abbreviation",
        "cross-language",
        "word-order",
        "prefix",
        "filter",
    ):
        assert kinds[kind] >= 3, kind


def test_recall_at_3(indexes: dict[str, tuple[SearchIndex, dict[str, Any]]]) -> None:
    queries = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
    misses: list[str] = []
    unknown: list[str] = []
    for item in queries:
        index, by_name = indexes[item["index"]]
        if item["expect"] not in by_name:
            unknown.append(f"{item['index']}: {item['expect']!r}")
            continue
        hits = index.search(
            item["query"], limit=10, language=item.get("language"), where=_where(item.get("where"))
        )
        found = [hit.key for hit in hits]
        if by_name[item["expect"]] not in found[:TOP]:
            names = {key: name for name, key in by_name.items()}
            got = ", ".join(repr(names.get(key, key)) for key in found[:TOP]) or "nothing"
            misses.append(
                f"  [{item['kind']}] {item['query']!r}: want {item['expect']!r}, got {got}"
            )
    assert not unknown, f"expected entries missing from the seed: {unknown}"
    recall = 1 - len(misses) / len(queries)
    print(f"recall@{TOP}: {recall:.1%} of {len(queries)} queries")
    assert recall >= TARGET, (
        f"recall@{TOP} {recall:.1%} < {TARGET:.0%} ({len(misses)} misses of {len(queries)}):\n"
        + "\n".join(misses)
    )
