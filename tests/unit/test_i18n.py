"""Translations: every message in the code and templates is in the Russian catalog, translated,
with the same placeholders; the templates parse; gettext and the language choice work.

The messages are extracted as `scripts/update_messages.sh` extracts them, from babel.cfg. When
this fails after you changed a message: run scripts/update_messages.sh, translate the entries it
lists as untranslated or fuzzy in locales/ru/LC_MESSAGES/messages.po, and run this test again.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LANGUAGES
from bot.i18n import gettext, pick_language, po_path, translations
from bot.render import TEMPLATES_DIR, environment, render

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = [language for language in SUPPORTED_LANGUAGES if language != "en"]

# A %-placeholder as Python's % operator reads it: %(name)s, %(num)d, %(x)5.2f, or %%.
_PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>\w+)\)[-#0 +]*\d*(?:\.\d+)?(?P<kind>[diouxXeEfFgGcrsa])|%)"
)

Message = str | tuple[str, ...]


def _placeholders(text: str) -> set[str]:
    """The named placeholders with their conversion ("num:d"); a stray % is one too ("%")."""
    found = set()
    for match in _PLACEHOLDER.finditer(text):
        if match.group("name"):
            found.add(f"{match.group('name')}:{match.group('kind')}")
    rest = _PLACEHOLDER.sub("", text)
    if "%" in rest:
        found.add("%")
    return found


def _sample_params(text: str) -> dict[str, object]:
    """Values that fill the placeholders of a msgid, as render() and gettext() would."""
    return {
        match.group("name"): 1 if match.group("kind") in "diouxXc" else "x"
        for match in _PLACEHOLDER.finditer(text)
        if match.group("name")
    }


@pytest.fixture(scope="module")
def extracted() -> dict[Message, list[str]]:
    """msgid (a tuple for plural messages) -> where it is used, extracted per babel.cfg."""
    assert tuple(int(part) for part in babel.__version__.split(".")[:2]) >= (2, 18), (
        "babel.cfg sets keywords per section, which Babel reads from 2.18 on"
    )
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    messages: dict[Message, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        assert context is None, f"{filename}:{lineno}: message contexts are not used here"
        key = tuple(message) if isinstance(message, (list, tuple)) else message
        messages.setdefault(key, []).append(f"{filename}:{lineno}")
    return messages


@pytest.fixture(scope="module", params=LANGUAGES)
def catalog(request: pytest.FixtureRequest) -> Catalog:
    with po_path(request.param).open("rb") as po_file:
        return read_po(po_file, locale=request.param)


def test_extraction_finds_the_messages(extracted: dict[Message, list[str]]) -> None:
    """A few messages from each kind of call, so a broken babel.cfg cannot pass unnoticed."""
    assert "Welcome to the working group!" in extracted  # template _()
    assert ("%(num)d person", "%(num)d people") in extracted  # template ngettext()
    assert "Read the audit log" in extracted  # _() marker in Python
    assert "Approve" in extracted  # gettext(language, "...")
    assert "Revoked." in extracted  # caller.t("...")
    assert all(isinstance(key, str) or len(key) == 2 for key in extracted)


def test_catalog_header(catalog: Catalog) -> None:
    expected = get_plural(str(catalog.locale))
    assert catalog.num_plurals == expected.num_plurals
    assert catalog.plural_expr == expected.plural_expr


def test_every_message_is_translated(extracted: dict[Message, list[str]], catalog: Catalog) -> None:
    problems = []
    for key, where in extracted.items():
        msgid = key[0] if isinstance(key, tuple) else key
        entry = catalog.get(msgid)
        label = f"{msgid!r} ({', '.join(where)})"
        if entry is None:
            problems.append(f"missing: {label}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {label}")
        if isinstance(key, tuple) != entry.pluralizable or (
            isinstance(key, tuple) and tuple(entry.id) != key
        ):
            problems.append(f"out of date (singular/plural changed): {label}")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if isinstance(key, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"needs {catalog.num_plurals} plural forms: {label}")
        if not all(forms):
            problems.append(f"untranslated: {label}")
            continue
        # In Russian every plural form also serves numbers other than 1 (form 0: 1, 21, 31...),
        # so each form carries the placeholders of the English plural, %(num)d included.
        source = key[-1] if isinstance(key, tuple) else key
        wanted = _placeholders(source)
        for form in forms:
            if _placeholders(form) != wanted:
                problems.append(
                    f"placeholders {sorted(_placeholders(form))} instead of {sorted(wanted)} "
                    f"in {form!r}: {label}"
                )
                continue
            try:
                form % _sample_params(source)
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"cannot be formatted ({exc}): {form!r}: {label}")
    if problems:
        header = f"{len(problems)} problem(s) in {catalog.locale} (run scripts/update_messages.sh):"
        pytest.fail("\n".join([header, *problems]), pytrace=False)


def test_catalog_has_no_stale_entries(
    extracted: dict[Message, list[str]], catalog: Catalog
) -> None:
    in_source = {key[0] if isinstance(key, tuple) else key for key in extracted}
    stale = sorted(
        entry.id if isinstance(entry.id, str) else entry.id[0] for entry in catalog if entry.id
    )
    stale = [msgid for msgid in stale if msgid not in in_source]
    if stale:
        header = "no longer in the source (run scripts/update_messages.sh):"
        pytest.fail("\n".join([header, *map(repr, stale)]), pytrace=False)
    assert not catalog.obsolete, "obsolete entries: run scripts/update_messages.sh"


TEMPLATES = sorted(
    path.relative_to(TEMPLATES_DIR).as_posix() for path in TEMPLATES_DIR.rglob("*.html")
)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_template_parses(language: str) -> None:
    assert TEMPLATES
    env = environment(language)
    for name in TEMPLATES:
        env.get_template(name)


def test_templates_render_russian() -> None:
    assert render("help/nothing_to_cancel.html", "ru") == "Отменять нечего."
    assert render("help/nothing_to_cancel.html", "en") == "There is nothing to cancel."
    people = environment("ru").from_string('{{ ngettext("%(num)d person", "%(num)d people", n) }}')
    assert [people.render(n=n) for n in (1, 2, 5, 11, 21, 22)] == [
        "1 человек",
        "2 человека",
        "5 человек",
        "11 человек",
        "21 человек",
        "22 человека",
    ]
    invite = SimpleNamespace(max_uses=3)
    once = environment("ru").from_string(
        '{{ ngettext("Can be used once.", "Can be used %(num)d times.", invite.max_uses) }}'
    )
    assert once.render(invite=invite) == "Можно использовать 3 раза."


def test_gettext() -> None:
    assert gettext("ru", "Approve") == "Одобрить"
    assert gettext("en", "Approve") == "Approve"
    assert gettext("ru", "Page %(page)s of %(pages)s", page=2, pages=5) == "Страница 2 из 5"
    assert gettext("ru", "Not a message anywhere") == "Not a message anywhere"
    assert translations("ru").ungettext("%(num)d person", "%(num)d people", 3) == (
        "%(num)d человека"
    )


@pytest.mark.parametrize(
    ("chosen", "telegram_code", "default", "expected"),
    [
        ("ru", "en-US", "en", "ru"),  # the member's choice first
        ("en", "ru-RU", "ru", "en"),
        (None, "ru-RU", "en", "ru"),  # then Telegram's language_code, its first part
        (None, "ru", "en", "ru"),
        (None, "RU", "en", "ru"),
        ("de", "ru-RU", "en", "ru"),  # an unsupported choice does not count
        (None, "de-DE", "en", "en"),  # then the default
        (None, None, "ru", "ru"),
        (None, "", "en", "en"),
    ],
)
def test_pick_language(
    chosen: str | None, telegram_code: str | None, default: str, expected: str
) -> None:
    assert pick_language(chosen, telegram_code, default) == expected
