"""Import and export of the glossary and the resource library: lossless round trips in JSON and
CSV, history on update, bad files refused with line numbers and nothing written, markup kept
literally, and the `wgbot glossary|resources|db seed` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func
from sqlmodel import col, select

from bot import cli
from bot.db import Database
from bot.models import GlossaryChange, GlossaryEntry, Resource
from bot.services import knowledge_io
from bot.services.knowledge_io import GLOSSARY, RESOURCES, ImportRefused

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

# Content that is hard to carry: separators and escapes, markup, quotes, line breaks, scripts.
TRICKY_GLOSSARY: list[dict[str, Any]] = [
    {
        "id": 3,
        "terms": {
            "en": ["pipe | term", "back\\slash", 'quoted "term", with comma'],
            "ru": ["<b>торговля</b> людьми", "a \\| b"],
            "fa": ["قاچاق انسان"],
            "uz": ["odam savdosi"],
        },
        "abbreviations": ["THB|X", "A&B"],
        "definitions": {
            "en": "Line one.\nLine two, with <i>markup</i> & an &amp; entity.",
            "ru": 'Определение; «кавычки», "quotes" and trailing \\',
            "fa": "تعریف",
        },
        "source": "<script>alert(1)</script> art. 3(a)",
        "tags": ["tip", "tag|pipe"],
        "related": [7, 9],
        "status": "published",
    },
    {
        "id": 7,
        "terms": {"en": ["only two"], "ru": ["только два"]},
        "abbreviations": [],
        "definitions": {},
        "source": "",
        "tags": [],
        "related": [],
        "status": "archived",
    },
    {
        "id": 9,
        "terms": {"en": ["third"], "ru": ["третий"], "tk": ["üçünji"]},
        "abbreviations": ["3RD"],
        "definitions": {"tk": "Kesgitleme"},
        "source": "Somewhere, art. 1",
        "tags": ["x"],
        "related": [3],
        "status": "published",
    },
]
TRICKY_RESOURCES: list[dict[str, Any]] = [
    {
        "id": 4,
        "title": 'Old <report> | "2010" edition',
        "url": "https://www.unodc.org/old?a=1&b=2",
        "summary": "Two lines:\nsecond, with <b>markup</b>.",
        "kind": "report",
        "issuer": "UNODC",
        "year": 2010,
        "languages": ["en", "ru"],
        "countries": ["KZ", "AF"],
        "tags": ["som", "a|b"],
        "visibility": "moderators",
        "status": "archived",
        "superseded_by": 8,
    },
    {
        "id": 8,
        "title": "New report",
        "url": "",
        "summary": "",
        "kind": "tool",
        "issuer": "",
        "year": None,
        "languages": [],
        "countries": [],
        "tags": [],
        "visibility": "members",
        "status": "pending",
        "superseded_by": None,
    },
]


def as_json(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, ensure_ascii=False, indent=2)


async def count(db: Database, model: Any) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def wipe(db: Database) -> None:
    async with db.session() as session:
        await session.exec(delete(GlossaryChange))  # type: ignore[call-overload]
        await session.exec(delete(GlossaryEntry))  # type: ignore[call-overload]
        await session.exec(delete(Resource))  # type: ignore[call-overload]


async def import_text(
    db: Database, collection: str, content: str, fmt: str = "json"
) -> knowledge_io.ImportResult:
    async with db.session() as session:
        return await knowledge_io.import_text(session, collection, content, fmt, now=NOW)


async def export_text(db: Database, collection: str, fmt: str) -> str:
    async with db.session() as session:
        return knowledge_io.dump(collection, await knowledge_io.records(session, collection), fmt)


async def exported(db: Database, collection: str) -> list[dict[str, Any]]:
    async with db.session() as session:
        return await knowledge_io.records(session, collection)


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize(
    ("collection", "items"), [(GLOSSARY, TRICKY_GLOSSARY), (RESOURCES, TRICKY_RESOURCES)]
)
async def test_round_trip_is_lossless(
    db: Database, collection: str, items: list[dict[str, Any]], fmt: str
) -> None:
    await import_text(db, collection, as_json(items))
    assert await exported(db, collection) == items  # every field, ids included
    first = await export_text(db, collection, fmt)
    await wipe(db)
    result = await import_text(db, collection, first, fmt)
    assert (result.new, result.updated, result.unchanged) == (len(items), 0, 0)
    assert await export_text(db, collection, fmt) == first
    assert await exported(db, collection) == items


@pytest.mark.parametrize("collection", [GLOSSARY, RESOURCES])
async def test_starter_content_round_trips_through_files(
    db: Database, collection: str, tmp_path: Path
) -> None:
    async with db.session() as session:
        await knowledge_io.seed(session, now=NOW)
    original = await exported(db, collection)
    for suffix in ("json", "csv"):
        path = tmp_path / f"{collection}.{suffix}"
        async with db.session() as session:
            written = await knowledge_io.export_file(session, collection, path)
        assert written == len(original)
        await wipe(db)
        async with db.session() as session:
            result = await knowledge_io.import_file(session, collection, path, now=NOW)
        assert result.new == len(original)
        assert await exported(db, collection) == original
        again = tmp_path / f"again.{suffix}"
        async with db.session() as session:
            await knowledge_io.export_file(session, collection, again)
        assert again.read_bytes() == path.read_bytes()
    # CSV is UTF-8 with a byte-order mark, for spreadsheets.
    assert (tmp_path / f"{collection}.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_list_cells_escape_and_split() -> None:
    items = ["a|b", "c\\d", "plain", "end\\"]
    cell = knowledge_io.join_cell(items)
    assert cell == "a\\|b | c\\\\d | plain | end\\\\"
    assert knowledge_io.split_cell(cell) == items
    assert knowledge_io.split_cell("") == []
    assert knowledge_io.split_cell("x||y") is None
    # A lone backslash written by hand stays.
    assert knowledge_io.split_cell("C:\\dir | y") == ["C:\\dir", "y"]


# --------------------------------------------------------------------------------------------
# Updates, ids and history


async def test_updating_existing_rows_records_history(db: Database) -> None:
    await import_text(db, GLOSSARY, as_json(TRICKY_GLOSSARY))
    changed = json.loads(as_json(TRICKY_GLOSSARY))
    changed[0]["definitions"]["en"] = "A new definition."
    changed[1]["status"] = "published"  # restored, nothing else changed
    changed.append({"terms": {"en": ["brand new"], "ru": ["совсем новый"]}})
    later = NOW + timedelta(days=1)
    async with db.session() as session:
        result = await knowledge_io.import_text(
            session, GLOSSARY, as_json(changed), "json", now=later
        )
    assert (result.new, result.updated, result.unchanged) == (1, 2, 1)

    async with db.session() as session:
        entries = {e.id: e for e in await session.exec(select(GlossaryEntry))}
        changes = list(await session.exec(select(GlossaryChange).order_by(col(GlossaryChange.id))))
    assert entries[3].revision == 2 and entries[3].updated_at == later
    assert entries[3].created_at == NOW
    assert entries[9].revision == 1  # unchanged: no new revision
    assert entries[7].status == "published" and entries[7].revision == 2
    assert all(c.actor_label == "import" and c.actor_id is None for c in changes)
    by_entry: dict[int, list[str]] = {}
    for change in changes:
        by_entry.setdefault(change.entry_id, []).append(str(change.action))
    assert by_entry[3] == ["created", "edited"]
    assert by_entry[7] == ["created", "restored"]
    assert by_entry[9] == ["created"]
    new_id = next(i for i in entries if i not in (3, 7, 9))
    assert by_entry[new_id] == ["created"]
    edited = next(c for c in changes if c.entry_id == 3 and str(c.action) == "edited")
    assert edited.revision == 2 and edited.at == later
    assert edited.before is not None
    assert edited.before["definitions"]["en"] == TRICKY_GLOSSARY[0]["definitions"]["en"]
    assert edited.after["definitions"]["en"] == "A new definition."
    created = next(c for c in changes if c.entry_id == 9)
    assert created.before is None and created.after["terms"]["tk"] == ["üçünji"]


async def test_updating_resources_bumps_the_revision(db: Database) -> None:
    await import_text(db, RESOURCES, as_json(TRICKY_RESOURCES))
    changed = json.loads(as_json(TRICKY_RESOURCES))
    changed[1]["year"] = 2024
    result = await import_text(db, RESOURCES, as_json(changed))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 1)
    async with db.session() as session:
        rows = {r.id: r for r in await session.exec(select(Resource))}
    assert rows[8].revision == 2 and rows[8].year == 2024
    assert rows[4].revision == 1 and rows[4].superseded_by_id == 8


async def test_ids_from_the_file_are_kept_and_new_rows_follow(db: Database) -> None:
    items = [
        {"id": 10, "terms": {"en": ["ten"], "ru": ["десять"]}},
        {"terms": {"en": ["no id"], "ru": ["без номера"]}},
        {"id": 20, "terms": {"en": ["twenty"], "ru": ["двадцать"]}},
    ]
    await import_text(db, GLOSSARY, as_json(items))
    ids = sorted(e["id"] for e in await exported(db, GLOSSARY))
    assert ids == [10, 20, 21]
    # The id sequence moved past them (PostgreSQL): what the bot adds next gets a fresh id.
    async with db.session() as session:
        entry = GlossaryEntry(
            terms={"en": ["later"], "ru": ["позже"]}, created_at=NOW, updated_at=NOW
        )
        session.add(entry)
        await session.flush()
        assert entry.id == 22


# --------------------------------------------------------------------------------------------
# Bad files


def _long(n: int) -> str:
    return "x" * n


GOOD_ENTRY = {"id": 1, "terms": {"en": ["good"], "ru": ["хороший"]}}
GOOD_RESOURCE = {"id": 1, "title": "Good", "url": "https://www.unodc.org/", "kind": "report"}


def glossary_json(*bad: dict[str, Any]) -> str:
    # The first entry is good: it must not be written either.
    return as_json([GOOD_ENTRY, *bad])


def resources_json(*bad: dict[str, Any]) -> str:
    return as_json([GOOD_RESOURCE, *bad])


# Each entry of as_json() output starts on its own line: the good entry on line 2, and with
# indent=2 the entries that follow start after it.
def entry_line(content: str, number: int) -> int:
    """The line the n-th entry (from 1) of an as_json() list starts on."""
    lines = content.splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line == "  {"]
    return starts[number - 1]


BAD_GLOSSARY_JSON = [
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"], "xx": ["c"]}}, "unknown language code 'xx'"),
    ({"id": 2, "terms": {"en": ["a"]}}, "no Russian term"),
    ({"id": 2, "terms": {"ru": ["б"]}}, "no English term"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "definitions": {"zz": "d"}}, "'zz'"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "source": _long(501)}, "source is too long"),
    ({"id": 2, "terms": {"en": [_long(201)], "ru": ["б"]}}, "is too long"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "related": [99]}, "related id 99 names no"),
    ({"id": 1, "terms": {"en": ["a"], "ru": ["б"]}}, "id 1 appears twice (first at line 2)"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "status": "deleted"}, "status 'deleted'"),
    ({"id": "two", "terms": {"en": ["a"], "ru": ["б"]}}, "id must be a whole number"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "relatd": [1]}, "unknown field 'relatd'"),
    ({"id": 2, "terms": {"en": ["a"], "ru": ["б"]}, "related": [2]}, "related to itself"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_GLOSSARY_JSON)
async def test_bad_glossary_json_is_refused_with_its_line(
    db: Database, bad: dict[str, Any], reason: str
) -> None:
    content = glossary_json(bad)
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, GLOSSARY, content)
    line = entry_line(content, 2)
    assert any(
        p.startswith(f"line {line}: entry 2: ") and reason in p for p in refused.value.problems
    ), refused.value.problems
    assert await count(db, GlossaryEntry) == 0
    assert await count(db, GlossaryChange) == 0


BAD_RESOURCES_JSON = [
    ({"id": 2, "title": "T", "kind": "novel"}, "kind 'novel' is not one of"),
    ({"id": 2, "title": "T"}, "kind is missing"),
    ({"id": 2, "kind": "tool"}, "title is missing"),
    ({"id": 2, "title": _long(301), "kind": "tool"}, "title is too long"),
    ({"id": 2, "title": "T", "kind": "tool", "visibility": "public"}, "visibility 'public'"),
    ({"id": 2, "title": "T", "kind": "tool", "status": "live"}, "status 'live'"),
    ({"id": 2, "title": "T", "kind": "tool", "year": 1899}, "year 1899 is out of range"),
    ({"id": 2, "title": "T", "kind": "tool", "year": 2028}, "year 2028 is out of range"),
    ({"id": 2, "title": "T", "kind": "tool", "countries": ["KZ", "XY"]}, "'XY' is not an ISO"),
    ({"id": 2, "title": "T", "kind": "tool", "languages": ["de"]}, "unknown language code 'de'"),
    ({"id": 2, "title": "T", "kind": "tool", "url": "javascript:alert(1)"}, "not an http(s)"),
    ({"id": 2, "title": "T", "kind": "tool", "url": "ftp://x.org/f"}, "not an http(s)"),
    ({"id": 2, "title": "T", "kind": "tool", "url": "https://" + _long(1000)}, "url is too long"),
    ({"id": 2, "title": "T", "kind": "tool", "superseded_by": 5}, "superseded_by 5 names no"),
    ({"id": 2, "title": "T", "kind": "tool", "superseded_by": 2}, "cannot supersede itself"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_RESOURCES_JSON)
async def test_bad_resources_json_is_refused_with_its_line(
    db: Database, bad: dict[str, Any], reason: str
) -> None:
    content = resources_json(bad)
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, RESOURCES, content)
    line = entry_line(content, 2)
    assert any(
        p.startswith(f"line {line}: entry 2: ") and reason in p for p in refused.value.problems
    ), refused.value.problems
    assert await count(db, Resource) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[\n  {"id": 1,\n   "terms": }\n]', "line 3: malformed JSON"),
        ('{"id": 1}', "line 1: the file must hold a JSON list"),
        ('[\n  {"id": 1, "terms": {"en": ["a"], "ru": ["б"]}},\n  "text"\n]', "line 3: entry 2"),
        (
            '[\n  {"id": 1, "terms": {"en": ["a"], "ru": ["б"]}}\n  {"id": 2}\n]',
            "line 3: malformed",
        ),
        ("", "line 1: malformed JSON"),
    ],
)
async def test_malformed_json_is_refused(db: Database, content: str, expected: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, GLOSSARY, content)
    assert any(p.startswith(expected) for p in refused.value.problems), refused.value.problems
    assert await count(db, GlossaryEntry) == 0


async def test_every_problem_is_listed_at_once(db: Database) -> None:
    content = as_json(
        [
            {"id": 1, "terms": {"en": ["a"]}},
            GOOD_ENTRY | {"id": 2},
            {"id": 3, "terms": {"en": ["c"], "ru": ["в"], "xx": ["?"]}, "related": [40]},
        ]
    )
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, GLOSSARY, content)
    problems = refused.value.problems
    assert len(problems) == 3, problems
    assert problems[0].startswith("line 2: entry 1: no Russian term")
    assert problems[1].startswith(f"line {entry_line(content, 3)}: entry 3: unknown language")
    assert problems[2].startswith(f"line {entry_line(content, 3)}: entry 3: related id 40")


GLOSSARY_HEADER = "id,terms_en,terms_ru,definition_en,related"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # A quoted definition over three lines: the bad row after it is on line 5.
        (
            f'{GLOSSARY_HEADER}\n1,good,хороший,"one\ntwo\nthree",\n2,only english,,,',
            "line 5: no Russian term",
        ),
        (f"{GLOSSARY_HEADER}\n1,a,б,,\n2,a || b,б,,", "line 3: terms_en has an empty item"),
        (f"{GLOSSARY_HEADER}\n1,a,б,,\n2,a,б,,7", "line 3: related id 7 names no entry"),
        (f"{GLOSSARY_HEADER}\n1,a,б,,\n2,a,б,,x", "line 3: related must list ids"),
        (f"{GLOSSARY_HEADER}\n1,a,б,,\n1,a,б,,", "line 3: id 1 appears twice"),
        (f"{GLOSSARY_HEADER}\n1,a,б,,\n2,a,б,,,extra", "line 3: 6 cells, but the header has 5"),
        ("id,terms_en,terms_ru,terms_xx\n1,a,б,c", "line 1: unknown language code 'xx'"),
        ("id,terms_en\n1,a", "line 1: the column 'terms_ru' is missing"),
        ("id,terms_en,terms_ru,colour\n1,a,б,red", "line 1: unknown column 'colour'"),
        (f'{GLOSSARY_HEADER}\n1,a,б,,\n2,"unterminated,б,,', "line 3: malformed CSV"),
        ("", "line 1: no header row"),
        (f"{GLOSSARY_HEADER}\n1,a,б,{_long(2001)},", "line 2: definitions[en] is too long"),
    ],
)
async def test_bad_glossary_csv_is_refused_with_its_line(
    db: Database, content: str, expected: str
) -> None:
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, GLOSSARY, content, "csv")
    assert any(p.startswith(expected) for p in refused.value.problems), refused.value.problems
    assert await count(db, GlossaryEntry) == 0


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2,T,https://x.org,report,abc,", "line 3: year must be a whole number"),
        ("2,T,https://x.org,report,2000,KZ | ZZZ", "line 3: 'ZZZ' is not an ISO"),
        ("2,T,mailto:a@b.org,report,,", "line 3: url 'mailto:a@b.org' is not an http(s)"),
        ("2,T,https://x.org,,,", "line 3: kind is missing"),
    ],
)
async def test_bad_resources_csv_is_refused_with_its_line(
    db: Database, row: str, expected: str
) -> None:
    content = f"id,title,url,kind,year,countries\n1,Good,https://x.org,tool,2020,KZ\n{row}\n"
    with pytest.raises(ImportRefused) as refused:
        await import_text(db, RESOURCES, content, "csv")
    assert any(p.startswith(expected) for p in refused.value.problems), refused.value.problems
    assert await count(db, Resource) == 0


async def test_a_refused_update_changes_nothing(db: Database) -> None:
    await import_text(db, GLOSSARY, as_json(TRICKY_GLOSSARY))
    before = await exported(db, GLOSSARY)
    changes = await count(db, GlossaryChange)
    changed = json.loads(as_json(TRICKY_GLOSSARY))
    changed[0]["definitions"]["en"] = "Would be new."
    changed[2]["terms"] = {"en": ["third"]}  # no Russian term: the whole file is refused
    with pytest.raises(ImportRefused):
        await import_text(db, GLOSSARY, as_json(changed))
    assert await exported(db, GLOSSARY) == before
    assert await count(db, GlossaryChange) == changes


def test_non_utf8_files_are_refused() -> None:
    with pytest.raises(ImportRefused) as refused:
        knowledge_io.decode("id\n1,\xe9t\xe9\n".encode("latin-1"))
    assert refused.value.problems == ["line 2: not UTF-8 text"]
    assert knowledge_io.decode("\ufeffid\n".encode()) == "id\n"


# --------------------------------------------------------------------------------------------
# Markup


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_markup_in_terms_and_definitions_is_kept_literally(db: Database, fmt: str) -> None:
    entry = {
        "id": 1,
        "terms": {"en": ["<b>bold</b> & co"], "ru": ["<a href='x'>ссылка</a>"]},
        "definitions": {"en": "&lt;escaped&gt; <i>italic</i> <script>x</script>"},
        "source": "Protocol <art. 3>",
    }
    await import_text(db, GLOSSARY, as_json([entry]))
    content = await export_text(db, GLOSSARY, fmt)
    await wipe(db)
    await import_text(db, GLOSSARY, content, fmt)
    async with db.session() as session:
        stored = (await session.exec(select(GlossaryEntry))).one()
    assert stored.terms == entry["terms"]
    assert stored.definitions == entry["definitions"]
    assert stored.source == "Protocol <art. 3>"
    assert "&amp;" not in content and "<b>bold</b> &amp; co" not in content


# --------------------------------------------------------------------------------------------
# The commands


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "configure", lambda *args: None)  # leave pytest's logging alone

    def go(*args: str) -> int:
        return cli.main(list(args))

    return go


def test_commands_seed_export_and_import(
    run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("db", "seed") == 0
    seeded = capsys.readouterr().out.strip()
    assert seeded.startswith("seeded ") and "glossary entries and " in seeded
    entries = int(seeded.split()[1])
    assert run("db", "seed") == 0
    assert capsys.readouterr().out.startswith("nothing to seed")

    path = tmp_path / "glossary.json"
    assert run("glossary", "export", str(path)) == 0
    assert capsys.readouterr().out.strip() == f"exported {entries} entries to {path}"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[0]["definitions"]["en"] += " Edited."
    items.append({"terms": {"en": ["new term"], "ru": ["новый термин"]}})
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    assert run("glossary", "import", str(path)) == 0
    assert capsys.readouterr().out.strip() == (
        f"imported {entries + 1} entries: 1 new, 1 updated, {entries - 1} unchanged"
    )

    csv_path = tmp_path / "resources.csv"
    assert run("resources", "export", str(csv_path)) == 0
    resources = int(capsys.readouterr().out.split()[1])
    assert run("resources", "import", str(csv_path)) == 0
    assert capsys.readouterr().out.strip() == (
        f"imported {resources} resources: 0 new, 0 updated, {resources} unchanged"
    )


def test_commands_refuse_a_bad_file_and_list_the_problems(
    run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,title,url,kind\n1,Good,https://x.org,tool\n2,,ftp://x,novel\n", encoding="utf-8"
    )
    assert run("resources", "import", str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[0] == f"wgbot: {path} refused, nothing was imported (3 problems):"
    assert lines[1:] == [
        "line 3: url 'ftp://x' is not an http(s) address",
        "line 3: kind 'novel' is not one of report, guideline, legislation, case_law, "
        "training, tool",
        "line 3: title is missing",
    ]
    assert run("resources", "export", str(tmp_path / "out.json")) == 0
    assert "exported 0 resources" in capsys.readouterr().out

    assert run("glossary", "import", str(tmp_path / "missing.json")) == 1
    assert "no such file" in capsys.readouterr().err
    assert run("glossary", "import", str(tmp_path / "glossary.xlsx")) == 1
    assert "must end in .json or .csv" in capsys.readouterr().err


def test_commands_need_an_up_to_date_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.setattr(cli, "configure", lambda *args: None)
    (tmp_path / "g.json").write_text("[]", encoding="utf-8")
    assert cli.main(["glossary", "import", str(tmp_path / "g.json")]) == 1
    assert "wgbot db upgrade" in capsys.readouterr().err
    assert cli.main(["db", "seed"]) == 1
    assert "wgbot db upgrade" in capsys.readouterr().err
