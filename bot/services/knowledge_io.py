"""Import and export of the glossary and the resource library, and the starter content.

`wgbot glossary import|export FILE`, `wgbot resources import|export FILE` and `wgbot db seed` are
thin wrappers around the functions here; the sandbox seeds through `seed()` too.

**Formats**, chosen by the file's extension:

- `.json`: a list of objects, one per entry or resource, the format of `bot/seed/*.json`.
  Glossary: `id`, `terms` ({language: [preferred term, synonyms...]}), `abbreviations`,
  `definitions` ({language: text}), `source`, `tags`, `related` (ids), `status`.
  Resources: `id`, `title`, `url`, `summary`, `kind`, `issuer`, `year`, `languages`,
  `countries`, `tags`, `visibility`, `status`, `superseded_by` (an id or null).
- `.csv` (UTF-8 with a byte-order mark, so that spreadsheets read the scripts right; one row per
  entry or resource, a header row first). The same fields, with one column per language for
  terms and definitions: `terms_en`, `terms_ru`, ..., `definition_en`, `definition_ru`, ...
  A cell holding a list (terms, abbreviations, tags, related ids, languages, countries) separates
  its items with `|` (written ` | `); inside an item, `\\|` stands for a `|` and `\\\\` for a
  backslash. Empty cells are empty lists, no definition, no year, or the default status.

Both formats are **lossless** for what they carry: exporting, importing into an empty database
and exporting again gives the same file, ids included. They carry the content; the bookkeeping
(revision, timestamps, the members who wrote, proposed or reviewed) stays with the database
and its history. Leading and trailing spaces of texts and items are not kept.

**Import** validates the whole file before writing anything, and refuses it with every problem as
"line N: reason" (a JSON problem also names the entry, counted from 1). Rows whose id exists are
updated (revision + 1; a glossary history row "edited" with the content before and after, by
"import"); rows with a new id are created with that id; rows without an id get a new one. Rows
that would not change are left alone. The caller's session is the one transaction: a refused
file, or any error, leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources as package_files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models.knowledge import (
    ChangeAction,
    EntryStatus,
    GlossaryChange,
    GlossaryEntry,
    Resource,
    ResourceKind,
    ResourceStatus,
    Visibility,
)
from bot.services import countries

# Languages a term, a definition or a document may be in; English and Russian are required.
LANGUAGES = ("en", "ru", "fa", "prs", "ps", "ur", "uz", "kk", "ky", "tg", "tk")
REQUIRED_LANGUAGES = ("en", "ru")
_LANGUAGE_NAMES = {"en": "English", "ru": "Russian"}

# Column sizes of the models, and bounds for the texts kept in JSON columns (a message shows
# an entry whole, and Telegram's limit is 4096 characters).
SOURCE_MAX = 500
TITLE_MAX = 300
URL_MAX = 1000
ISSUER_MAX = 200
SUMMARY_MAX = 2000
DEFINITION_MAX = 2000
TERM_MAX = 200
ABBREVIATION_MAX = 40
TAG_MAX = 60
ID_MAX = 2**31 - 1
IMPORT_ACTOR = "import"

GLOSSARY = "glossary"
RESOURCES = "resources"
COLLECTIONS = (GLOSSARY, RESOURCES)
FORMATS = ("json", "csv")

_GLOSSARY_FIELDS = (
    "id",
    "terms",
    "abbreviations",
    "definitions",
    "source",
    "tags",
    "related",
    "status",
)
_RESOURCE_FIELDS = (
    "id",
    "title",
    "url",
    "summary",
    "kind",
    "issuer",
    "year",
    "languages",
    "countries",
    "tags",
    "visibility",
    "status",
    "superseded_by",
)
_GLOSSARY_COLUMNS = (
    "id",
    *(f"terms_{lang}" for lang in LANGUAGES),
    "abbreviations",
    *(f"definition_{lang}" for lang in LANGUAGES),
    "source",
    "tags",
    "related",
    "status",
)
_RESOURCE_COLUMNS = _RESOURCE_FIELDS
# Cells that hold lists, and those that hold ids.
_LIST_COLUMNS = {"abbreviations", "tags", "related", "languages", "countries"}
_ID_LIST_COLUMNS = {"related"}
_ID_COLUMNS = {"id", "superseded_by"}


class ImportRefused(Exception):
    """The file cannot be imported; `problems` are "line N: reason", in file order."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


@dataclass
class ImportResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass
class Row:
    """One entry or resource read from a file: where it was, and its checked content."""

    line: int
    label: str  # "" for CSV, "entry 3: " for JSON
    data: dict[str, Any]


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def formatted(self) -> list[str]:
        # Stable: problems on one line stay in the order they were found.
        return [f"line {line}: {message}" for line, message in sorted(self.items, key=_line)]


def _line(item: tuple[int, str]) -> int:
    return item[0]


# ---------------------------------------------------------------------------------------------
# Checking one row (the same for JSON objects and CSV rows turned into objects)


class _Checker:
    """Checks the fields of one raw row and returns the normalized content; records problems."""

    def __init__(self, problems: _Problems, line: int, label: str) -> None:
        self.problems = problems
        self.line = line
        self.label = label
        self.ok = True

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.add(self.line, f"{self.label}{message}")

    def text(self, raw: dict[str, Any], name: str, limit: int | None, required: bool) -> str:
        value = raw.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{name} must be text")
            return ""
        value = value.strip()
        if required and not value:
            self.fail(f"{name} is missing")
        if limit is not None and len(value) > limit:
            self.fail(f"{name} is too long ({len(value)} characters, at most {limit})")
        return value

    def strings(self, raw: dict[str, Any], name: str, limit: int) -> list[str]:
        value = raw.get(name)
        if value is None:
            return []
        return self.string_list(value, name, limit)

    def string_list(self, value: Any, name: str, limit: int) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(f"{name} must be a list of texts")
            return []
        items: list[str] = []
        for item in value:
            if not isinstance(item, str):
                self.fail(f"{name} must be a list of texts")
                return []
            item = item.strip()
            if not item:
                self.fail(f"{name} has an empty item")
            elif len(item) > limit:
                self.fail(f"{name} item {item[:30]!r}... is too long (at most {limit} characters)")
            else:
                items.append(item)
        return items

    def row_id(self, value: Any, name: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{name} must be a whole number, not {value!r}")
            return None
        if not 1 <= value <= ID_MAX:
            self.fail(f"{name} {value} is out of range (1 to {ID_MAX})")
            return None
        return value

    def ids(self, raw: dict[str, Any], name: str) -> list[int]:
        value = raw.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{name} must be a list of ids")
            return []
        result = []
        for item in value:
            checked = self.row_id(item, name)
            if checked is not None:
                result.append(checked)
        return result

    def choice(self, raw: dict[str, Any], name: str, allowed: Iterable[str], default: str) -> str:
        value = raw.get(name)
        if value is None or value == "":
            return default
        options = list(allowed)
        if not isinstance(value, str) or value.strip() not in options:
            self.fail(f"{name} {value!r} is not one of {', '.join(options)}")
            return default
        return value.strip()

    def unknown_fields(self, raw: dict[str, Any], known: Sequence[str]) -> None:
        for name in raw:
            if name not in known:
                self.fail(f"unknown field {name!r}")

    def language(self, code: Any, where: str) -> bool:
        if code not in LANGUAGES:
            self.fail(f"unknown language code {code!r} in {where} (known: {', '.join(LANGUAGES)})")
            return False
        return True


def _check_glossary(raw: dict[str, Any], checker: _Checker) -> dict[str, Any]:
    checker.unknown_fields(raw, _GLOSSARY_FIELDS)
    entry_id = checker.row_id(raw.get("id"), "id")

    terms: dict[str, list[str]] = {}
    raw_terms = raw.get("terms")
    if raw_terms is None:
        checker.fail("terms are missing (English and Russian are required)")
        raw_terms = {}
    elif not isinstance(raw_terms, dict):
        checker.fail("terms must be an object of language code: [terms]")
        raw_terms = {}
    for code, value in raw_terms.items():
        if checker.language(code, "terms"):
            items = checker.string_list(value, f"terms[{code}]", TERM_MAX)
            if items:
                terms[code] = items
    for code in REQUIRED_LANGUAGES:
        if isinstance(raw.get("terms"), dict) and raw_terms.get(code) in (None, "", []):
            checker.fail(f"no {_LANGUAGE_NAMES[code]} term (terms.{code})")

    definitions: dict[str, str] = {}
    raw_definitions = raw.get("definitions")
    if raw_definitions is None:
        raw_definitions = {}
    if not isinstance(raw_definitions, dict):
        checker.fail("definitions must be an object of language code: text")
        raw_definitions = {}
    for code, value in raw_definitions.items():
        if not checker.language(code, "definitions"):
            continue
        wrapped = {f"definitions[{code}]": value}
        definition = checker.text(wrapped, f"definitions[{code}]", DEFINITION_MAX, False)
        if definition:
            definitions[code] = definition

    related = checker.ids(raw, "related")
    if entry_id is not None and entry_id in related:
        checker.fail("an entry cannot be related to itself")
    return {
        "id": entry_id,
        "terms": _in_language_order(terms),
        "abbreviations": checker.strings(raw, "abbreviations", ABBREVIATION_MAX),
        "definitions": _in_language_order(definitions),
        "source": checker.text(raw, "source", SOURCE_MAX, False),
        "tags": checker.strings(raw, "tags", TAG_MAX),
        "related": related,
        "status": checker.choice(raw, "status", (s.value for s in EntryStatus), "published"),
    }


def _check_resource(raw: dict[str, Any], checker: _Checker, *, now: datetime) -> dict[str, Any]:
    checker.unknown_fields(raw, _RESOURCE_FIELDS)
    resource_id = checker.row_id(raw.get("id"), "id")
    url = checker.text(raw, "url", URL_MAX, False)
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            checker.fail(f"url {url[:60]!r} is not an http(s) address")
        elif any(ch.isspace() for ch in url):
            checker.fail("url contains spaces")

    year = raw.get("year")
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, int):
            checker.fail(f"year must be a whole number, not {year!r}")
            year = None
        elif not 1900 <= year <= now.year + 1:
            checker.fail(f"year {year} is out of range (1900 to {now.year + 1})")
            year = None

    languages = checker.strings(raw, "languages", 10)
    for code in languages:
        checker.language(code, "languages")
    country_codes = []
    for code in checker.strings(raw, "countries", 10):
        normalized = countries.normalize(code)
        if normalized is None:
            checker.fail(f"{code!r} is not an ISO 3166 country code")
        else:
            country_codes.append(normalized)

    if raw.get("kind") is None or (isinstance(raw["kind"], str) and not raw["kind"].strip()):
        checker.fail("kind is missing")
        kind = ""
    else:
        kind = checker.choice(raw, "kind", (k.value for k in ResourceKind), "")

    superseded_by = checker.row_id(raw.get("superseded_by"), "superseded_by")
    if resource_id is not None and superseded_by == resource_id:
        checker.fail("a resource cannot supersede itself")
    return {
        "id": resource_id,
        "title": checker.text(raw, "title", TITLE_MAX, True),
        "url": url,
        "summary": checker.text(raw, "summary", SUMMARY_MAX, False),
        "kind": kind,
        "issuer": checker.text(raw, "issuer", ISSUER_MAX, False),
        "year": year,
        "languages": languages,
        "countries": country_codes,
        "tags": checker.strings(raw, "tags", TAG_MAX),
        "visibility": checker.choice(raw, "visibility", (v.value for v in Visibility), "members"),
        "status": checker.choice(raw, "status", (s.value for s in ResourceStatus), "published"),
        "superseded_by": superseded_by,
    }


def _in_language_order(values: dict[str, Any]) -> dict[str, Any]:
    return {code: values[code] for code in LANGUAGES if code in values}


# ---------------------------------------------------------------------------------------------
# Reading files


def format_of(path: str | Path) -> str:
    """`json` or `csv`, from the file's extension; ValueError for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown format (the file name must end in .json or .csv)")
    return suffix


def decode(data: bytes) -> str:
    """The file's text (UTF-8, with or without a byte-order mark); ImportRefused if it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRefused([f"line {line}: not UTF-8 text"]) from exc


def read(collection: str, content: str, fmt: str, *, now: datetime) -> tuple[list[Row], list[str]]:
    """The rows of a file and every problem found in them (without looking at the database)."""
    _check_collection(collection)
    problems = _Problems()
    if fmt == "json":
        raws = _json_rows(content, problems)
    elif fmt == "csv":
        raws = _csv_rows(collection, content, problems)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    rows: list[Row] = []
    for line, label, raw in raws:
        checker = _Checker(problems, line, label)
        if collection == GLOSSARY:
            data = _check_glossary(raw, checker)
        else:
            data = _check_resource(raw, checker, now=now)
        rows.append(Row(line, label, data))
    _check_duplicates(rows, problems)
    return rows, problems.formatted()


def _json_rows(content: str, problems: _Problems) -> list[tuple[int, str, dict[str, Any]]]:
    """Each element of the top-level list with the line it starts on; walks the list itself so
    that every entry's line is known."""
    decoder = json.JSONDecoder()
    rows: list[tuple[int, str, dict[str, Any]]] = []

    def line_at(index: int) -> int:
        return content.count("\n", 0, index) + 1

    def skip(index: int) -> int:
        while index < len(content) and content[index] in " \t\r\n":
            index += 1
        return index

    index = skip(0)
    if index >= len(content) or content[index] != "[":
        try:
            value = json.loads(content)
        except json.JSONDecodeError as exc:
            problems.add(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
        else:
            problems.add(1, f"the file must hold a JSON list of objects, not {_kind(value)}")
        return rows
    index = skip(index + 1)
    number = 0
    if index < len(content) and content[index] == "]":
        index += 1
    else:
        while True:
            number += 1
            try:
                value, end = decoder.raw_decode(content, index)
            except json.JSONDecodeError as exc:
                problems.add(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
                return rows
            line = line_at(index)
            label = f"entry {number}: "
            if isinstance(value, dict):
                rows.append((line, label, value))
            else:
                problems.add(line, f"{label}not a JSON object but {_kind(value)}")
            index = skip(end)
            if index < len(content) and content[index] == ",":
                index = skip(index + 1)
                continue
            if index < len(content) and content[index] == "]":
                index += 1
                break
            problems.add(line_at(index), "malformed JSON: expected ',' or ']' after an entry")
            return rows
    index = skip(index)
    if index < len(content):
        problems.add(line_at(index), "malformed JSON: extra data after the list")
    return rows


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _csv_rows(
    collection: str, content: str, problems: _Problems
) -> list[tuple[int, str, dict[str, Any]]]:
    columns = _GLOSSARY_COLUMNS if collection == GLOSSARY else _RESOURCE_COLUMNS
    required = ("terms_en", "terms_ru") if collection == GLOSSARY else ("title", "kind")
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    rows: list[tuple[int, str, dict[str, Any]]] = []
    header: list[str] | None = None
    previous_end = 0
    try:
        for cells in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            if not cells or not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                if not _check_header(header, columns, required, line, problems):
                    return rows
                continue
            if len(cells) > len(header):
                problems.add(line, f"{len(cells)} cells, but the header has {len(header)}")
                continue
            raw = _csv_raw(dict(zip(header, cells, strict=False)), line, problems)
            rows.append((line, "", raw))
    except csv.Error as exc:
        # The line the broken record starts on.
        problems.add(previous_end + 1, f"malformed CSV: {exc}")
        return rows
    if header is None:
        problems.add(1, "no header row")
    return rows


def _check_header(
    header: list[str],
    columns: Sequence[str],
    required: Sequence[str],
    line: int,
    problems: _Problems,
) -> bool:
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.add(line, f"column {name!r} appears twice")
            ok = False
        seen.add(name)
        if name in columns:
            continue
        prefix, _, code = name.partition("_")
        if prefix in ("terms", "definition") and code and code not in LANGUAGES:
            problems.add(line, f"unknown language code {code!r} in column {name!r}")
        else:
            problems.add(line, f"unknown column {name!r}")
        ok = False
    for name in required:
        if name not in seen:
            problems.add(line, f"the column {name!r} is missing")
            ok = False
    return ok


def _csv_raw(cells: dict[str, str], line: int, problems: _Problems) -> dict[str, Any]:
    """A CSV row as the same raw object a JSON file would have; a cell that cannot be read is
    reported and left out, so that the rest of the row is still checked."""
    raw: dict[str, Any] = {}
    terms: dict[str, list[str]] = {}
    definitions: dict[str, str] = {}
    for name, cell in cells.items():
        if name.startswith("terms_"):
            items = split_cell(cell)
            if items is None:
                problems.add(line, f"{name} has an empty item")
            elif items:
                terms[name.removeprefix("terms_")] = items
        elif name.startswith("definition_"):
            if cell.strip():
                definitions[name.removeprefix("definition_")] = cell
        elif name in _LIST_COLUMNS:
            items = split_cell(cell)
            if items is None:
                problems.add(line, f"{name} has an empty item")
                items = []
            if name in _ID_LIST_COLUMNS:
                numbers = []
                for item in items:
                    number = _number(item)
                    if number is None:
                        problems.add(line, f"{name} must list ids (whole numbers), not {item!r}")
                    else:
                        numbers.append(number)
                raw[name] = numbers
            else:
                raw[name] = items
        elif name in _ID_COLUMNS or name == "year":
            if cell.strip():
                number = _number(cell)
                if number is None:
                    problems.add(line, f"{name} must be a whole number, not {cell.strip()!r}")
                else:
                    raw[name] = number
        else:
            raw[name] = cell
    if any(name.startswith("terms_") for name in cells):
        raw["terms"] = terms
    if any(name.startswith("definition_") for name in cells):
        raw["definitions"] = definitions
    return raw


def _number(value: str) -> int | None:
    value = value.strip()
    if not value or not (value.isdigit() or (value[0] == "-" and value[1:].isdigit())):
        return None
    return int(value)


def split_cell(cell: str) -> list[str] | None:
    """The items of a list cell; None if an item is empty (as in `a || b`)."""
    if not cell.strip():
        return []
    items: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for ch in chars:
        if ch == "\\":
            following = next(chars, None)
            if following in ("|", "\\"):
                current.append(following)
            else:
                # A lone backslash (as in a hand-written cell) stays as it is.
                current.append("\\")
                if following is not None:
                    current.append(following)
        elif ch == "|":
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    stripped = [item.strip() for item in items]
    if any(not item for item in stripped):
        return None
    return stripped


def join_cell(items: Iterable[Any]) -> str:
    return " | ".join(str(item).replace("\\", "\\\\").replace("|", "\\|") for item in items)


def _check_duplicates(rows: list[Row], problems: _Problems) -> None:
    first: dict[int, int] = {}
    for row in rows:
        row_id = row.data["id"]
        if row_id is None:
            continue
        if row_id in first:
            problems.add(
                row.line, f"{row.label}id {row_id} appears twice (first at line {first[row_id]})"
            )
        else:
            first[row_id] = row.line


# ---------------------------------------------------------------------------------------------
# Importing


async def import_file(
    session: AsyncSession, collection: str, path: str | Path, *, now: datetime
) -> ImportResult:
    """Import a file; ImportRefused (nothing written) if anything in it is wrong. OSError if it
    cannot be read; ValueError for an unknown extension."""
    fmt = format_of(path)
    content = decode(await asyncio.to_thread(Path(path).read_bytes))
    return await import_text(session, collection, content, fmt, now=now)


async def import_text(
    session: AsyncSession, collection: str, content: str, fmt: str, *, now: datetime
) -> ImportResult:
    rows, problems = read(collection, content, fmt, now=now)
    problems = problems + await _reference_problems(session, collection, rows)
    if problems:
        raise ImportRefused(_sorted_problems(problems))
    if collection == GLOSSARY:
        return await _write_glossary(session, rows, now=now)
    return await _write_resources(session, rows, now=now)


def _sorted_problems(problems: list[str]) -> list[str]:
    def key(problem: str) -> int:
        number = problem.removeprefix("line ").split(":", 1)[0]
        return int(number) if number.isdigit() else 0

    return sorted(problems, key=key)


async def _reference_problems(session: AsyncSession, collection: str, rows: list[Row]) -> list[str]:
    model = GlossaryEntry if collection == GLOSSARY else Resource
    known = set(await _all_ids(session, model)) | {
        row.data["id"] for row in rows if row.data["id"] is not None
    }
    problems = []
    for row in rows:
        if collection == GLOSSARY:
            for related in row.data["related"]:
                if related not in known:
                    problems.append(
                        f"line {row.line}: {row.label}related id {related} names no entry "
                        "in the file or the database"
                    )
        else:
            target = row.data["superseded_by"]
            if target is not None and target not in known:
                problems.append(
                    f"line {row.line}: {row.label}superseded_by {target} names no resource "
                    "in the file or the database"
                )
    return problems


async def _all_ids(session: AsyncSession, model: type[GlossaryEntry] | type[Resource]) -> list[int]:
    return [row_id for row_id in await session.exec(select(model.id)) if row_id is not None]


async def _existing(
    session: AsyncSession, model: type[GlossaryEntry] | type[Resource], ids: list[int]
) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in await session.exec(select(model).where(col(model.id).in_(chunk))):
            assert row.id is not None
            found[row.id] = row
    return found


def entry_content(entry: GlossaryEntry) -> dict[str, Any]:
    """What the glossary history keeps of an entry (before/after a change)."""
    return {
        "terms": entry.terms,
        "abbreviations": entry.abbreviations,
        "definitions": entry.definitions,
        "source": entry.source,
        "tags": entry.tags,
        "related_ids": entry.related_ids,
        "status": str(entry.status),
    }


def _entry_content_of(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "terms": data["terms"],
        "abbreviations": data["abbreviations"],
        "definitions": data["definitions"],
        "source": data["source"],
        "tags": data["tags"],
        "related_ids": data["related"],
        "status": data["status"],
    }


async def _write_glossary(session: AsyncSession, rows: list[Row], *, now: datetime) -> ImportResult:
    result = ImportResult()
    explicit = [row.data["id"] for row in rows if row.data["id"] is not None]
    existing = await _existing(session, GlossaryEntry, explicit)
    with_id: list[GlossaryEntry] = []
    without_id: list[GlossaryEntry] = []
    for row in rows:
        content = _entry_content_of(row.data)
        entry = existing.get(row.data["id"]) if row.data["id"] is not None else None
        if entry is None:
            new = GlossaryEntry(
                id=row.data["id"],
                terms=content["terms"],
                abbreviations=content["abbreviations"],
                definitions=content["definitions"],
                source=content["source"],
                tags=content["tags"],
                related_ids=content["related_ids"],
                status=EntryStatus(content["status"]),
                revision=1,
                created_at=now,
                updated_at=now,
            )
            (with_id if new.id is not None else without_id).append(new)
            continue
        before = entry_content(entry)
        if before == content:
            result.unchanged += 1
            continue
        entry.terms = content["terms"]
        entry.abbreviations = content["abbreviations"]
        entry.definitions = content["definitions"]
        entry.source = content["source"]
        entry.tags = content["tags"]
        entry.related_ids = content["related_ids"]
        entry.status = EntryStatus(content["status"])
        entry.revision += 1
        entry.updated_at = now
        session.add(entry)
        session.add(_change(entry, _action(before, content), before, content, now))
        result.updated += 1
    await _insert(session, "glossary_entries", with_id, without_id)
    for entry in with_id + without_id:
        session.add(_change(entry, ChangeAction.CREATED, None, entry_content(entry), now))
    result.new = len(with_id) + len(without_id)
    await session.flush()
    return result


def _action(before: dict[str, Any], after: dict[str, Any]) -> ChangeAction:
    only_status = {k: v for k, v in before.items() if k != "status"} == {
        k: v for k, v in after.items() if k != "status"
    }
    if only_status and after["status"] == EntryStatus.ARCHIVED:
        return ChangeAction.ARCHIVED
    if only_status:
        return ChangeAction.RESTORED
    return ChangeAction.EDITED


def _change(
    entry: GlossaryEntry,
    action: ChangeAction,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    now: datetime,
) -> GlossaryChange:
    assert entry.id is not None
    return GlossaryChange(
        entry_id=entry.id,
        revision=entry.revision,
        action=action,
        actor_id=None,
        actor_label=IMPORT_ACTOR,
        at=now,
        before=before,
        after=after,
    )


async def _insert(
    session: AsyncSession,
    table: str,
    with_id: Sequence[GlossaryEntry | Resource],
    without_id: Sequence[GlossaryEntry | Resource],
) -> None:
    """Rows with ids from the file first; on PostgreSQL the id sequence then moves past them, so
    that the rows without an id (and everything the bot adds later) get fresh ones."""
    if with_id:
        session.add_all(with_id)
        await session.flush()
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    if without_id:
        session.add_all(without_id)
        await session.flush()


def _resource_content(resource: Resource) -> dict[str, Any]:
    return {
        "title": resource.title,
        "url": resource.url,
        "summary": resource.summary,
        "kind": str(resource.kind),
        "issuer": resource.issuer,
        "year": resource.year,
        "languages": resource.languages,
        "countries": resource.countries,
        "tags": resource.tags,
        "visibility": str(resource.visibility),
        "status": str(resource.status),
        "superseded_by": resource.superseded_by_id,
    }


def _apply_resource(resource: Resource, data: dict[str, Any]) -> None:
    """Everything but `superseded_by`, which is set once every row exists."""
    resource.title = data["title"]
    resource.url = data["url"]
    resource.summary = data["summary"]
    resource.kind = ResourceKind(data["kind"])
    resource.issuer = data["issuer"]
    resource.year = data["year"]
    resource.languages = data["languages"]
    resource.countries = data["countries"]
    resource.tags = data["tags"]
    resource.visibility = Visibility(data["visibility"])
    resource.status = ResourceStatus(data["status"])


async def _write_resources(
    session: AsyncSession, rows: list[Row], *, now: datetime
) -> ImportResult:
    result = ImportResult()
    explicit = [row.data["id"] for row in rows if row.data["id"] is not None]
    existing = await _existing(session, Resource, explicit)
    with_id: list[Resource] = []
    without_id: list[Resource] = []
    targets: list[tuple[Resource, int | None]] = []
    for row in rows:
        data = {k: v for k, v in row.data.items() if k != "id"}
        resource = existing.get(row.data["id"]) if row.data["id"] is not None else None
        if resource is None:
            resource = Resource(
                id=row.data["id"],
                title=data["title"],
                kind=ResourceKind(data["kind"]),
                revision=1,
                created_at=now,
                updated_at=now,
            )
            _apply_resource(resource, data)
            (with_id if resource.id is not None else without_id).append(resource)
            targets.append((resource, data["superseded_by"]))
            continue
        if _resource_content(resource) == data:
            result.unchanged += 1
            continue
        _apply_resource(resource, data)
        resource.revision += 1
        resource.updated_at = now
        session.add(resource)
        targets.append((resource, data["superseded_by"]))
        result.updated += 1
    await _insert(session, "resources", with_id, without_id)
    result.new = len(with_id) + len(without_id)
    # Now that every resource exists, the links between them can be set.
    for resource, target in targets:
        resource.superseded_by_id = target
        session.add(resource)
    await session.flush()
    return result


# ---------------------------------------------------------------------------------------------
# Exporting


async def records(session: AsyncSession, collection: str) -> list[dict[str, Any]]:
    """Every entry or resource, by id, as the JSON format has them."""
    _check_collection(collection)
    if collection == GLOSSARY:
        entries = await session.exec(select(GlossaryEntry).order_by(col(GlossaryEntry.id)))
        return [
            {
                "id": entry.id,
                "terms": _in_language_order(entry.terms),
                "abbreviations": list(entry.abbreviations),
                "definitions": _in_language_order(entry.definitions),
                "source": entry.source,
                "tags": list(entry.tags),
                "related": list(entry.related_ids),
                "status": str(entry.status),
            }
            for entry in entries
        ]
    rows = await session.exec(select(Resource).order_by(col(Resource.id)))
    return [{"id": resource.id, **_resource_content(resource)} for resource in rows]


def dump(collection: str, items: list[dict[str, Any]], fmt: str) -> str:
    """The file's text for records() in a format."""
    _check_collection(collection)
    if fmt == "json":
        return json.dumps(items, ensure_ascii=False, indent=2) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    if collection == GLOSSARY:
        writer.writerow(_GLOSSARY_COLUMNS)
        for item in items:
            writer.writerow(
                [
                    item["id"],
                    *(join_cell(item["terms"].get(lang, [])) for lang in LANGUAGES),
                    join_cell(item["abbreviations"]),
                    *(item["definitions"].get(lang, "") for lang in LANGUAGES),
                    item["source"],
                    join_cell(item["tags"]),
                    join_cell(item["related"]),
                    item["status"],
                ]
            )
    else:
        writer.writerow(_RESOURCE_COLUMNS)
        for item in items:
            cells = []
            for name in _RESOURCE_COLUMNS:
                value = item[name]
                if name in _LIST_COLUMNS:
                    cells.append(join_cell(value))
                else:
                    cells.append("" if value is None else value)
            writer.writerow(cells)
    return out.getvalue()


async def export_file(session: AsyncSession, collection: str, path: str | Path) -> int:
    """Write every entry or resource to a file; the number written. OSError if it cannot be
    written; ValueError for an unknown extension."""
    fmt = format_of(path)
    items = await records(session, collection)
    content = dump(collection, items, fmt)
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    await asyncio.to_thread(Path(path).write_text, content, encoding=encoding, newline="")
    return len(items)


def _check_collection(collection: str) -> None:
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}")


# ---------------------------------------------------------------------------------------------
# Starter content


def starter_text(collection: str) -> str:
    """The starter content shipped in bot/seed (JSON)."""
    _check_collection(collection)
    name = "glossary.json" if collection == GLOSSARY else "resources.json"
    return package_files.files("bot.seed").joinpath(name).read_text(encoding="utf-8")


async def seed(session: AsyncSession, *, now: datetime) -> tuple[int, int]:
    """Load the starter glossary and resources into whichever of the two is empty; (entries,
    resources) added. Running it again adds nothing."""
    added = []
    for collection, model in ((GLOSSARY, GlossaryEntry), (RESOURCES, Resource)):
        count = (await session.exec(select(func.count()).select_from(model))).one()
        if count:
            added.append(0)
            continue
        result = await import_text(session, collection, starter_text(collection), "json", now=now)
        added.append(result.new)
    return added[0], added[1]
