"""gettext catalogs, read straight from the `.po` files under `locales/` (no compile step).

English is the source language; every other language has `locales/<lang>/LC_MESSAGES/messages.po`.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.config import SUPPORTED_LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for a language; English (and anything unknown) passes messages through."""
    path = po_path(language)
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    # Fuzzy entries are drafts: Babel leaves them out unless asked, as msgfmt does.
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(language: str, message: str, **params: object) -> str:
    text = translations(language).ugettext(message)
    return text % params if params else text


def ngettext(language: str, singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(language).ungettext(singular, plural, n)
    # %(num)d, as in templates (Jinja's newstyle ngettext), so a message reads the same in both.
    return text % {"num": n, **params}


def pick_language(chosen: str | None, telegram_code: str | None, default: str) -> str:
    """The member's choice, else Telegram's language_code (its first part), else the default."""
    if chosen in SUPPORTED_LANGUAGES:
        return chosen
    if telegram_code:
        base = telegram_code.split("-")[0].lower()
        if base in SUPPORTED_LANGUAGES:
            return base
    return default


def _(message: str) -> str:
    """Marks a message for extraction where it is defined; translate it later with gettext()."""
    return message
