"""Countries as ISO 3166-1 alpha-2 codes, checked against CLDR's list (via Babel)."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR lists some codes that are not countries (EU, UN, ...); a focal point represents a country.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ"}
# The working group's own countries, listed first where people pick one.
REGION = ("KZ", "KG", "TJ", "TM", "UZ", "AF", "IR", "PK")


@cache
def _codes() -> frozenset[str]:
    territories = Locale.parse("en").territories
    return frozenset(
        code
        for code in territories
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def normalize(code: str) -> str | None:
    """The upper-case code if it names a country, else None."""
    code = code.strip().upper()
    return code if code in _codes() else None
