#!/usr/bin/env bash
# Re-extract the translatable messages and merge them into every language's catalog.
#
#   scripts/update_messages.sh        then translate the new (empty or fuzzy) entries in
#                                     locales/<lang>/LC_MESSAGES/messages.po and run
#                                     .venv/bin/pytest tests/unit/test_i18n.py
#
# What to extract, and how, is in babel.cfg (the unit test reads the same file).
# The bot reads the .po files directly; there is nothing to compile.
#
# Choices that keep the diffs of messages.pot and the .po files small:
#   --add-location=file  each entry still names the files that use it (context for the
#                        translator), but without line numbers, so editing a template or a
#                        module does not rewrite the "#:" comment of every message below it;
#   --sort-by-file       entries follow the source files and their order in them, so related
#                        messages stay together and a new message lands next to its siblings
#                        instead of shifting the whole file;
#   --no-wrap            one line per msgid/msgstr: changing a word changes one line, not a
#                        re-wrapped paragraph;
#   --ignore-obsolete    a message removed from the code is removed from the catalogs (git
#                        keeps the old translation), not kept as a "#~" trail;
#   the .pot is only replaced when something other than its POT-Creation-Date changed, and
#   --ignore-pot-creation-date keeps the .po files untouched when nothing else changed.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -x .venv/bin/pybabel ]]; then
    PYBABEL=.venv/bin/pybabel
    PYTHON=.venv/bin/python
else
    PYBABEL=pybabel
    PYTHON=python3
fi

# babel.cfg sets keywords per section; older Babel ignores them and silently misses messages.
"$PYTHON" -c 'import babel, sys; sys.exit(tuple(map(int, babel.__version__.split(".")[:2])) < (2, 18))' \
    || { echo "update_messages.sh: Babel >= 2.18 is needed (babel.cfg keywords)" >&2; exit 1; }

DOMAIN=messages
POT=locales/$DOMAIN.pot
# Every supported language except English (the source language) has a catalog.
LANGUAGES=$("$PYTHON" -c \
    'from bot.config import SUPPORTED_LANGUAGES as s; print(" ".join(x for x in s if x != "en"))')

new_pot=$(mktemp)
trap 'rm -f "$new_pot"' EXIT

"$PYBABEL" --quiet extract -F babel.cfg -o "$new_pot" \
    --project=wgbot --copyright-holder="wgbot contributors" \
    --add-location=file --sort-by-file --no-wrap .

if [[ -f "$POT" ]] && diff -q \
    <(grep -v '^"POT-Creation-Date:' "$POT") \
    <(grep -v '^"POT-Creation-Date:' "$new_pot") >/dev/null; then
    echo "$POT: unchanged"
else
    cat "$new_pot" >"$POT"  # not cp: the mktemp file is mode 600
    echo "$POT: updated"
fi

for language in $LANGUAGES; do
    if [[ -f "locales/$language/LC_MESSAGES/$DOMAIN.po" ]]; then
        "$PYBABEL" --quiet update -i "$POT" -d locales -D "$DOMAIN" -l "$language" \
            --ignore-obsolete --ignore-pot-creation-date --no-wrap
    else
        "$PYBABEL" --quiet init -i "$POT" -d locales -D "$DOMAIN" -l "$language" --no-wrap
    fi
done

# What is left to translate: empty or fuzzy entries (tests/unit/test_i18n.py fails on both).
"$PYTHON" - "$DOMAIN" $LANGUAGES <<'PY'
import sys

from babel.messages.pofile import read_po

domain, *languages = sys.argv[1:]
for language in languages:
    path = f"locales/{language}/LC_MESSAGES/{domain}.po"
    with open(path, "rb") as po_file:
        catalog = read_po(po_file, locale=language)
    messages = [m for m in catalog if m.id]
    fuzzy = sum(1 for m in messages if m.fuzzy)
    untranslated = sum(
        1 for m in messages
        if not m.fuzzy and not all(m.string if isinstance(m.string, tuple) else [m.string])
    )
    print(f"{path}: {len(messages)} messages, {untranslated} untranslated, {fuzzy} fuzzy")
PY
