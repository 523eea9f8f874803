"""The starter content (bot/seed): enough of it, complete in English and Russian, cited, with
public links from the organisations that publish the material; and `seed()` loads it once."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.models import GlossaryChange, GlossaryEntry, Resource
from bot.services import knowledge_io
from bot.services.knowledge_io import GLOSSARY, RESOURCES

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ORGANISATION_DOMAINS = (
    "unodc.org",
    "fatf-gafi.org",
    "osce.org",
    "iom.int",
    "ilo.org",
    "coe.int",
    "egmontgroup.org",
    "icat.un.org",
    "un.org",
)
# Concepts the working group needs on day one, by an English term or abbreviation.
CORE_CONCEPTS = [
    "trafficking in persons",
    "THB",
    "TIP",
    "HT",
    "smuggling of migrants",
    "SOM",
    "exploitation",
    "forced labour",
    "sexual exploitation",
    "debt bondage",
    "servitude",
    "removal of organs",
    "irrelevance of consent",
    "abuse of a position of vulnerability",
    "child",
    "victim identification",
    "NRM",
    "non-punishment principle",
    "victim compensation",
    "reflection period",
    "IFF",
    "money laundering",
    "AML",
    "predicate offence",
    "FIU",
    "STR",
    "SAR",
    "beneficial owner",
    "CDD",
    "KYC",
    "PEP",
    "hawala",
    "IVTS",
    "correspondent banking",
    "VASP",
    "asset recovery",
    "confiscation",
    "freezing",
    "seizure",
    "MLA",
    "extradition",
    "JIT",
    "parallel financial investigation",
    "organized criminal group",
    "serious crime",
    "transnational offence",
    "document fraud",
    "fraudulent travel or identity document",
    "smuggled migrant",
    "migrant",
    "facilitation of irregular entry",
    "targeted financial sanctions",
]
# Russian terms as the official UN and FATF Russian texts have them.
RUSSIAN_TERMS = [
    "торговля людьми",
    "незаконный ввоз мигрантов",
    "подразделение финансовой разведки",
    "сообщение о подозрительной операции",
    "бенефициарный владелец",
    "взаимная правовая помощь",
    "совместная следственная группа",
    "принцип ненаказуемости",
    "отмывание денежных средств",
    "незаконные финансовые потоки",
    "организованная преступная группа",
    "долговая кабала",
]


def starter(collection: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(knowledge_io.starter_text(collection))
    return items


@pytest.fixture(scope="module")
def glossary() -> list[dict[str, Any]]:
    return starter(GLOSSARY)


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return starter(RESOURCES)


@pytest.mark.parametrize("collection", [GLOSSARY, RESOURCES])
def test_the_starter_files_pass_the_import_checks(collection: str) -> None:
    rows, problems = knowledge_io.read(
        collection, knowledge_io.starter_text(collection), "json", now=NOW
    )
    assert problems == []
    assert [row.data["id"] for row in rows] == list(range(1, len(rows) + 1))


def test_at_least_40_entries_complete_in_english_and_russian(
    glossary: list[dict[str, Any]],
) -> None:
    assert len(glossary) >= 40
    for entry in glossary:
        assert entry["terms"]["en"] and entry["terms"]["ru"], entry["id"]
        assert entry["definitions"]["en"].strip() and entry["definitions"]["ru"].strip()
        assert entry["source"].strip(), entry["id"]
        assert entry["tags"], entry["id"]
        # Definitions are short: one to three sentences, in the same shape in both languages.
        for language in ("en", "ru"):
            definition = entry["definitions"][language]
            assert len(definition) <= 700, (entry["id"], language)
            assert definition.endswith("."), (entry["id"], language)
        # Russian terms are in Cyrillic; English ones are not.
        for term in entry["terms"]["ru"]:
            assert re.search("[а-яё]", term, re.IGNORECASE), term
        for term in entry["terms"]["en"]:
            assert not re.search("[а-яё]", term, re.IGNORECASE), term


def test_no_duplicate_ids_terms_or_abbreviations(glossary: list[dict[str, Any]]) -> None:
    ids = [entry["id"] for entry in glossary]
    assert len(ids) == len(set(ids))
    seen: dict[str, int] = {}
    for entry in glossary:
        names = [t for terms in entry["terms"].values() for t in terms] + entry["abbreviations"]
        for name in names:
            key = name.casefold()
            assert key not in seen, f"{name!r} in entries {seen.get(key)} and {entry['id']}"
            seen[key] = entry["id"]


def test_related_entries_exist_and_are_not_the_entry_itself(
    glossary: list[dict[str, Any]],
) -> None:
    ids = {entry["id"] for entry in glossary}
    for entry in glossary:
        assert entry["related"], entry["id"]
        assert set(entry["related"]) <= ids - {entry["id"]}, entry["id"]
        assert len(entry["related"]) == len(set(entry["related"])), entry["id"]


def test_core_concepts_and_official_russian_terms_are_there(
    glossary: list[dict[str, Any]],
) -> None:
    english = {t.casefold() for e in glossary for t in e["terms"]["en"] + e["abbreviations"]}
    missing = [c for c in CORE_CONCEPTS if c.casefold() not in english]
    assert not missing
    russian = {t for e in glossary for t in e["terms"]["ru"]}
    assert not [t for t in RUSSIAN_TERMS if t not in russian]


@pytest.mark.parametrize(
    ("term", "citation"),
    [
        ("trafficking in persons", "Trafficking in Persons, Especially Women and Children (2000)"),
        ("trafficking in persons", "art. 3(a)"),
        ("smuggling of migrants", "Smuggling of Migrants by Land, Sea and Air (2000), art. 3(a)"),
        ("organized criminal group", "Transnational Organized Crime (2000), art. 2(a)"),
        ("serious crime", "art. 2(b)"),
        ("predicate offence", "art. 2(h)"),
        ("mutual legal assistance", "art. 18"),
        ("joint investigation team", "art. 19"),
        ("confiscation", "art. 2(g)"),
        ("freezing", "art. 2(f)"),
        ("customer due diligence", "R.10"),
        ("politically exposed person", "R.12"),
        ("hawala", "R.14"),
        ("virtual asset", "R.15"),
        ("suspicious transaction report", "R.20"),
        ("financial intelligence unit", "R.29"),
        ("recovery and reflection period", "Council of Europe Convention"),
        ("recovery and reflection period", "art. 13"),
        ("non-punishment principle", "art. 26"),
        ("forced labour", "(No. 29), art. 2(1)"),
        ("debt bondage", "(1956), art. 1(a)"),
        ("child", "3(d)"),
        ("child", "Convention on the Rights of the Child (1989), art. 1"),
        ("fraudulent travel or identity document", "art. 3(c)"),
    ],
)
def test_sources_cite_the_instrument_and_article(
    glossary: list[dict[str, Any]], term: str, citation: str
) -> None:
    entry = next(e for e in glossary if e["terms"]["en"][0] == term)
    assert citation in entry["source"]


def test_at_least_20_resources_with_public_links(resources: list[dict[str, Any]]) -> None:
    assert len(resources) >= 20
    ids = [r["id"] for r in resources]
    assert len(ids) == len(set(ids))
    for field in ("url", "title"):
        values = [r[field] for r in resources]
        assert len(values) == len(set(values)), field
    issuers = {r["issuer"] for r in resources}
    for organisation in ("UNODC", "FATF", "OSCE", "IOM"):
        assert any(organisation in issuer for issuer in issuers), organisation
    for resource in resources:
        parts = urlsplit(resource["url"])
        assert parts.scheme == "https", resource["url"]
        host = parts.netloc.lower()
        assert any(host == d or host.endswith("." + d) for d in ORGANISATION_DOMAINS), host
        assert resource["summary"].strip() and len(resource["summary"]) <= 500
        assert resource["kind"] in {k.value for k in knowledge_io.ResourceKind}
        assert resource["visibility"] == "members" and resource["status"] == "published"
        assert resource["countries"] == []
        assert set(resource["languages"]) <= set(knowledge_io.LANGUAGES)
        assert "en" in resource["languages"]
        assert resource["year"] is None or 1900 <= resource["year"] <= 2025
        assert resource["tags"]


async def count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_seed_loads_everything_once(
    db: Database, glossary: list[dict[str, Any]], resources: list[dict[str, Any]]
) -> None:
    async with db.session() as session:
        assert await knowledge_io.seed(session, now=NOW) == (len(glossary), len(resources))
    async with db.session() as session:
        assert await knowledge_io.seed(session, now=NOW) == (0, 0)
    assert await count(db, GlossaryEntry) == len(glossary)
    assert await count(db, Resource) == len(resources)
    assert await count(db, GlossaryChange) == len(glossary)  # one "created" each
    async with db.session() as session:
        exported = await knowledge_io.records(session, GLOSSARY)
    assert [e["id"] for e in exported] == [e["id"] for e in glossary]
    assert exported[0]["terms"] == glossary[0]["terms"]
    assert all(e["status"] == "published" for e in exported)


async def test_seed_fills_only_what_is_empty(db: Database, resources: list[dict[str, Any]]) -> None:
    async with db.session() as session:
        await knowledge_io.import_text(
            session,
            GLOSSARY,
            json.dumps([{"id": 500, "terms": {"en": ["own"], "ru": ["свой"]}}]),
            "json",
            now=NOW,
        )
    async with db.session() as session:
        assert await knowledge_io.seed(session, now=NOW) == (0, len(resources))
    assert await count(db, GlossaryEntry) == 1


async def test_the_sandbox_starts_with_the_starter_content(db: Database) -> None:
    from bot.sandbox import demo

    await demo.seed(db, NOW)
    await demo.seed(db, NOW)
    assert await count(db, GlossaryEntry) == len(starter(GLOSSARY))
    assert await count(db, Resource) == len(starter(RESOURCES))
