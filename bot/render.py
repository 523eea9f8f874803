"""Jinja2 + gettext: render(template, locale, **context) -> safe Telegram HTML.

Every template is autoescaped (Telegram HTML), so text a user typed can never become markup.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime, get_timezone_name
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.html_text import split_html
from bot.i18n import translations

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TELEGRAM_TEXT_LIMIT = 4096


def _format_time(value: datetime, zone: tzinfo, language: str) -> str:
    """A moment in the reader's zone, named: '3 Dec 2026, 10:00 (Asia/Kabul, UTC+04:30)'."""
    local = value.astimezone(zone)
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    name = getattr(zone, "key", None) or get_timezone_name(local, locale=language)
    label = f"{name}, UTC{offset}" if name and not str(name).startswith("UTC") else f"UTC{offset}"
    return f"{format_datetime(local, 'd MMM y, HH:mm', locale=language)} ({label})"


def _country_name(code: str | None, language: str) -> str:
    if not code:
        return ""
    return Locale.parse(language).territories.get(code.upper(), code.upper())


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Templates ship with the code: no need to stat every file on every render.
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = lambda value, zone: _format_time(value, zone, language)
    env.filters["country"] = lambda code: _country_name(code, language)
    env.globals["language"] = language
    return env


def render(template: str, locale: str, **context: Any) -> str:
    """One message as Telegram HTML, stripped of the blank edges templates leave."""
    return environment(locale).get_template(template).render(**context).strip()


def render_chunks(template: str, locale: str, **context: Any) -> list[str]:
    """A possibly long message, split under Telegram's limit without breaking a tag."""
    return split_html(render(template, locale, **context), TELEGRAM_TEXT_LIMIT)
