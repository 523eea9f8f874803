"""One search engine for the glossary and the resource library: forgives typos, word order,
prefixes, the wrong script (Cyrillic typed in Latin and the reverse) and the wrong language.

Plain Python over an in-memory index (no database full-text search), so SQLite and PostgreSQL
give the same results. Each bot process holds one `SearchIndex` per collection; the feature
services keep it in step with the database (`put`/`remove` after their own changes, and a
cheap check of the rows' revisions before each search for changes made by other processes).

The interface below is what the glossary and resources services use; the implementation is
free to change behind it.

How it works. Every text is cut into words; each word is kept in two forms, computed once per
distinct word and cached: its *native* form (`normalize`: case, accents, ё/е, Arabic letter
variants folded, in its own script) and its *key*: the word in Latin letters (`to_latin`) with
spelling habits folded (`_fold`: kh/h/x, zh/j, ts/c, ya/ia/ja, y/i, double letters...), so that
"торговля", "torgovlya", "torgovlia" and "torgovlja" share the key "torgovla". Words in
Perso-Arabic and other scripts are also keyed under their native form. The vocabulary maps
each key to the fields (postings) holding a word with that key, grouped by native form.

A query word is looked up as: exact key (dict; EXACT when the native form is the same, else a
transliteration match), prefix (bisect in the sorted keys, 3 letters at least), and typos
(rapidfuzz OSA distance, a transposition counting as one edit: one edit for words of 3-5
letters, two from 6). A word the vocabulary does not know is compared with every key of about
its length; a known one only with the keys that share its beginning (inflections: торговли
finds торговля). Each field then scores the weighted levels of the query words it holds, times
the weight of its kind (term, abbreviation > synonym > tag > other > text), plus small
bonuses: how much of the field the query covers, the reader's language, and the whole field
typed exactly. A document scores its best field (or the query words spread over its fields).
Long texts (definitions, summaries) are a second tier, scored only as far as they could still
enter the results: they hold most of the words, and most queries are settled by the terms.

Scores: comparable within one search only. About 1.0 and more: every query word found exactly
in a term or abbreviation (1.16: the whole term typed); 0.9: in a synonym, or through
transliteration; 0.8: prefixes; 0.6-0.7: typos; 0.55: exact in a definition; partial matches
in proportion of the query words found (a stop word counts 0.2). `Hit.quality` is EXACT only
when every query word but stop words was found whole in its own script.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from operator import itemgetter
from typing import Any

from anyascii import anyascii
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA


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


# -- tuning ------------------------------------------------------------------------------------

# How much a field's kind counts (multiplies the share of the query it matches).
KIND_WEIGHT: dict[FieldKind, float] = {
    FieldKind.TERM: 1.0,
    FieldKind.ABBREVIATION: 1.0,
    FieldKind.SYNONYM: 0.9,
    FieldKind.TAG: 0.75,
    FieldKind.OTHER: 0.65,
    FieldKind.TEXT: 0.55,
}

# How well one query word matches one indexed word. Ranges are disjoint so the quality can be
# read back from the level.
LEVEL_EXACT = 1.0  # same native form
# Same key, another native form (see _KEY_LEVELS): Latin and Cyrillic, one the transliteration
# of the other ("torgovlya" and "торговля")...
LEVEL_TRANSLIT = 0.9
# ...in the same script, a spelling variant: hawalla/hawala, SSXA/sha (no better than a typo)...
LEVEL_VARIANT = 0.7
# ...Perso-Arabic and Latin or Cyrillic: the Latin letters of a Perso-Arabic word lack its short
# vowels (شا: "sha", "shah", "shu"), so no better than a typo either.
LEVEL_LOSSY = 0.66
LEVEL_PREFIX = 0.78  # + up to 0.04 as the query word covers more of the indexed word
LEVEL_PREFIX_TOP = LEVEL_PREFIX + 0.04
# A prefix through the key: the level of the same key, less this (+ up to 0.04 as above).
PREFIX_DISCOUNT = 0.18
LEVEL_FUZZY = (0.0, 0.68, 0.6)  # by edit distance

# Bonuses. Coverage and language (0.06 together) only order otherwise equal matches: they are
# smaller than the gap between two levels or two kinds. The whole-field bonus lifts a term typed
# exactly (all its words, nothing else) over longer terms that hold it, and an exact synonym
# over a partial match of a term; never a prefix or typo match over an exact one.
COVERAGE_BONUS = 0.04  # x the share of the field's words the query covers
LANGUAGE_BONUS = 0.02  # the field is in the reader's language
WHOLE_BONUS = 0.12  # every word of the field typed exactly, nothing else (a term, "FIU")
CROSS_FIELD_FACTOR = 0.95  # query words spread over several fields of one document

# The fields closest() compares whole.
_CLOSEST_KINDS = frozenset({FieldKind.TERM, FieldKind.SYNONYM, FieldKind.ABBREVIATION})

STOP_WEIGHT = 0.2  # a stop word counts this much in a query or a field
MIN_PREFIX = 3  # shortest key used as a prefix
MAX_PREFIX_KEYS = 1000  # the shortest completions of a very short prefix
MAX_FUZZY_KEYS = 64  # the nearest keys within the allowed typos
MAX_FUZZY_WORDS = 6  # query words compared with the whole vocabulary (the rest: exact, prefix)
CLOSEST_CUTOFF = 40  # rapidfuzz WRatio (0-100) under which closest() offers nothing
RERANK = 20  # documents re-scored in detail for several query words (at least 2 x limit)

MAX_QUERY_WORDS = 12
MAX_WORD_CHARS = 64
MAX_QUERY_CHARS = MAX_QUERY_WORDS * (MAX_WORD_CHARS + 8)

# Words that carry little meaning; not indexed in long texts, weigh little in queries and terms.
_STOP_LISTS = (
    # English
    "a an and are as at be by for from in into is it of on or the to with within without",
    # Russian (native forms: ё folded to е)
    "а в во и к ко на над о об от по под при с со у для из или как не ни что это его ее их",
    # Uzbek, Kazakh, Kyrgyz, Tajik, Turkmen (Latin and Cyrillic)
    "va ва ham ҳам bilan билан жана we",
    # Dari/Farsi, Pashto, Urdu (after Arabic letter folding)
    "و در از به با که را این ان برای تا یا د پر او کې له سره چې کے کی کا میں اور سے کو ہے",
)
STOP_WORDS = frozenset(word for words in _STOP_LISTS for word in words.split())


# -- text forms --------------------------------------------------------------------------------

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Kazakh, Kyrgyz, Tajik, Uzbek; Ukrainian and Belarusian letters members may paste
    "қ": "q", "ғ": "g", "ң": "ng", "ө": "o", "ү": "u", "ұ": "u", "һ": "h", "ә": "a", "і": "i",
    "ӣ": "i", "ӯ": "u", "ҳ": "h", "ҷ": "j", "ў": "o", "є": "ye", "ї": "yi", "ґ": "g",
    "ҫ": "s", "ӊ": "ng", "ӈ": "ng",
}  # fmt: skip

# Turkmen, Azerbaijani, Turkish Latin letters: what they sound as, before accents are dropped.
_TURKIC_LATIN = {
    "ş": "sh", "ç": "ch", "ž": "zh", "ň": "ng", "ğ": "g", "ı": "i", "ä": "a", "ö": "o",
    "ü": "u", "ý": "y", "ə": "a", "ǵ": "g", "ń": "ng", "ó": "o", "ú": "u", "á": "a",
}  # fmt: skip

# Perso-Arabic (Dari, Farsi, Pashto, Urdu) as Latin letters the way people type "Pinglish":
# anyascii drops the long vowels (قاچاق -> "qchq"); this keeps them (-> "qachaq").
_PERSO_ARABIC = {
    "ا": "a", "آ": "a", "أ": "a", "إ": "i", "ٱ": "a", "ء": "", "ب": "b", "پ": "p", "ت": "t",
    "ث": "s", "ج": "j", "چ": "ch", "ح": "h", "خ": "kh", "د": "d", "ذ": "z", "ر": "r", "ز": "z",
    "ژ": "zh", "س": "s", "ش": "sh", "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ع": "", "غ": "gh",
    "ف": "f", "ق": "q", "ک": "k", "ك": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n", "و": "u",
    "ؤ": "u", "ه": "h", "ة": "h", "ی": "i", "ي": "i", "ى": "a", "ئ": "i", "ې": "e", "ۍ": "ai",
    "ټ": "t", "ډ": "d", "ړ": "r", "ږ": "zh", "ښ": "sh", "ځ": "dz", "څ": "ts", "ڼ": "n",
    "ٹ": "t", "ڈ": "d", "ڑ": "r", "ں": "n", "ھ": "h", "ے": "e", "ۓ": "e", "ۀ": "e",
}  # fmt: skip


def _latin_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for mapping in (_CYRILLIC, _TURKIC_LATIN):
        for letter, latin in mapping.items():
            table[ord(letter)] = latin
            upper = letter.upper()
            if len(upper) == 1 and upper != letter:
                table[ord(upper)] = latin[:1].upper() + latin[1:]
    for letter, latin in _PERSO_ARABIC.items():
        table[ord(letter)] = latin
    return table


_TO_LATIN = _latin_table()


def to_latin(text: str) -> str:
    """Cyrillic (Russian, Kazakh, Kyrgyz, Tajik, Uzbek Cyrillic) in the Latin letters people
    type ("торговля людьми" -> "torgovlya lyudmi"); other scripts through anyascii."""
    latin = text.translate(_TO_LATIN)
    return latin if latin.isascii() else anyascii(latin)


def _prepare_table() -> dict[int, str | None]:
    """What every text goes through first (after NFKC and casefold)."""
    table: dict[int, str | None] = {}
    for apostrophe in "'’‘ʻʼ`´ʹ′":  # o'zbek, g‘alaba, член's: part of the word
        table[ord(apostrophe)] = None
    for invisible in "\u200c\u200d\u200e\u200f\u0640\u00ad":  # ZWNJ/ZWJ, marks, tatweel, SHY
        table[ord(invisible)] = None
    for mark in range(0x064B, 0x0660):  # Arabic harakat
        table[mark] = None
    table[0x0670] = None
    arabic = {"ي": "ی", "ى": "ی", "ئ": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا",
              "آ": "ا", "ٱ": "ا", "ؤ": "و", "ە": "ه"}  # fmt: skip
    for letter, folded in arabic.items():
        table[ord(letter)] = folded
    for digit in range(10):
        table[0x0660 + digit] = str(digit)  # Arabic-Indic
        table[0x06F0 + digit] = str(digit)  # Persian
    table[ord("ё")] = "е"
    return table


_PREPARE = _prepare_table()


def _native_table() -> dict[int, str]:
    """Latin letters with accents -> without (é -> e, ş -> s, ø -> o). Cyrillic is kept as it is
    (й, қ, ў are letters of their own)."""
    table: dict[int, str] = {}
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        if char != char.lower():
            continue  # texts are casefolded first
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if bare == char or not bare.isascii():
            bare = anyascii(char).lower()
        if bare and bare != char and bare.isascii():
            table[code] = bare
    return table


_NATIVE = _native_table()

# s.t.r. / S.T.R / u.n.o.d.c.: the letters of an abbreviation, without the dots.
_ACRONYM = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.){2,}(?:[^\W\d_](?![^\W_]))?")
_WORD = re.compile(r"[^\W_]+")
_COMPOUND = re.compile(r"[^\W_]+(?:[-‐‑–][^\W_]+)+")

# Spelling habits folded in keys, in order (the longest first).
_DIGRAPHS = (
    ("shch", "sh"), ("sch", "sh"), ("dzh", "j"), ("zh", "j"), ("dj", "j"), ("kh", "h"),
    ("gh", "g"), ("ts", "c"), ("ck", "k"), ("ph", "f"), ("x", "h"), ("w", "v"), ("q", "k"),
    ("y", "i"),
)  # fmt: skip
_SOFT_VOWEL = re.compile(r"(?<=[bcdfghjklmnprstvz])[ij](?=[aeou])")  # lya, lia, lja -> la
_DOUBLE = re.compile(r"(.)\1+")


def _prepare(text: str) -> str:
    if text.isascii():
        text = text.lower()
        if "'" in text or "`" in text:
            text = text.replace("'", "").replace("`", "")
    else:
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = text.casefold().translate(_PREPARE)
    if "." in text:
        text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    return text


def _fold(latin: str) -> str:
    """A Latin word -> its key: the spelling habits of transliteration folded away."""
    key = latin.lower()
    if not key.isalnum():
        key = "".join(c for c in key if c.isalnum())
    for old, new in _DIGRAPHS:
        if old in key:
            key = key.replace(old, new)
    key = _SOFT_VOWEL.sub("", key)
    return _DOUBLE.sub(r"\1", key)


@lru_cache(maxsize=200_000)
def _forms(word: str) -> tuple[str, str, str | None, bool]:
    """A prepared word -> (native form, Latin key, native key for non-Latin/Cyrillic scripts,
    is a stop word)."""
    native = word.translate(_NATIVE)
    key = _fold(to_latin(word)) or native
    other = None if _is_latin_or_cyrillic(native) else native
    return native, key, other, native in STOP_WORDS


def _is_latin_or_cyrillic(native: str) -> bool:
    return native.isascii() or all(c < "\u0530" for c in native)


_LATIN, _CYRILLIC_SCRIPT, _OTHER = 0, 1, 2
# _KEY_LEVELS[script of the query word][script of the indexed word]: a match through the key.
_KEY_LEVELS = (
    (LEVEL_VARIANT, LEVEL_TRANSLIT, LEVEL_LOSSY),
    (LEVEL_TRANSLIT, LEVEL_VARIANT, LEVEL_LOSSY),
    (LEVEL_LOSSY, LEVEL_LOSSY, LEVEL_VARIANT),
)


@lru_cache(maxsize=100_000)
def _script(native: str) -> int:
    """Latin (accents are gone from native forms), Cyrillic (and Greek), or another script."""
    if native.isascii():
        return _LATIN
    return _CYRILLIC_SCRIPT if all(c < "\u0530" for c in native) else _OTHER


def normalize(text: str) -> str:
    """Case, accents, ё/е, punctuation and spacing folded away: what comparisons use."""
    return " ".join(_forms(w)[0] for w in _WORD.findall(_prepare(text)))


# -- the index ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Doc:
    document: Document
    fids: list[int]


@dataclass(frozen=True)
class _QueryWord:
    native: str
    key: str
    other_key: str | None
    weight: float
    stop: bool


def _allowed_edits(key: str) -> int:
    """Typos forgiven in a word: one in a short word, two from six letters."""
    return 1 if len(key) <= 5 else 2


def _first(item: tuple[float, Any]) -> float:
    return item[0]


def _quality(level: float) -> MatchQuality:
    if level >= LEVEL_EXACT:
        return MatchQuality.EXACT
    if LEVEL_PREFIX <= level <= LEVEL_PREFIX_TOP:
        return MatchQuality.PREFIX
    return MatchQuality.FUZZY


_QUALITIES = (MatchQuality.EXACT, MatchQuality.PREFIX, MatchQuality.FUZZY)
_QUALITY_ORDER = {quality: rank for rank, quality in enumerate(_QUALITIES)}


def _hit_order(hit: Hit) -> tuple[float, int]:
    return -hit.score, _QUALITY_ORDER[hit.quality]


# How a query word matches a key: (_EXACT, key, 0), (_PREFIX, key, share of it typed),
# (_FUZZY, key, level).
_KeyMatch = tuple[int, str, float]
_EXACT, _PREFIX, _FUZZY = 0, 1, 2


class _Scorer:
    """The first, rough pass of search(): each document's best field, at most (an upper bound
    of what _rescore gives it, but for query words spread over several fields)."""

    def __init__(
        self,
        index: SearchIndex,
        words: list[_QueryWord],
        total: float,
        reader: str | None,
        where: Callable[[Document], bool] | None,
    ) -> None:
        self.index = index
        self.words = words
        self.total = total
        self.reader = reader
        self.where = where
        self.content_words = sum(1 for w in words if not w.stop)
        self.rough: dict[_Doc, float] = {}
        self.allowed: dict[_Doc, bool] = {}

    def add_texts(self, texts: list[dict[int, float]], limit: int) -> None:
        """The second tier, long texts, only as far as they could still enter the first
        `limit` documents: a long text scores at most (its weighted levels) / total x
        KIND_WEIGHT[TEXT] + the coverage and language bonuses."""
        if not any(texts):
            return
        top = heapq.nlargest(limit, self.rough.values())
        floor = top[-1] if len(top) == limit else 0.0
        # The weighted levels a long text needs to beat the floor.
        need = (floor - COVERAGE_BONUS - LANGUAGE_BONUS) * self.total / KIND_WEIGHT[FieldKind.TEXT]
        best = [
            word.weight * max(levels.values()) if levels else 0.0
            for word, levels in zip(self.words, texts, strict=True)
        ]
        if sum(best) <= need:
            return
        if len(texts) > 1 and need >= max(best):
            # No single word is enough: only the fields that hold two words or more (set
            # operations, in C), instead of every field that holds any of them.
            held = [levels.keys() for levels in texts if levels]
            pairs: set[int] = set()
            for i, first in enumerate(held):
                for second in held[i + 1 :]:
                    pairs |= first & second
            texts = [{fid: levels[fid] for fid in pairs if fid in levels} for levels in texts]
        self.add(texts)

    def add(self, per_word: list[dict[int, float]]) -> None:
        """Score the fields of one tier: `per_word` maps fid -> level for each query word."""
        acc = _sum_levels(self.words, per_word)
        index = self.index
        f_doc, f_weight, f_cover = index._f_doc, index._f_weight, index._f_cover
        f_lang, f_content = index._f_lang, index._f_content
        inverse_total = 1.0 / self.total
        content_words = self.content_words
        whole_at = content_words - 1e-9
        reader, where = self.reader, self.where
        rough, allowed = self.rough, self.allowed
        rough_get = rough.get
        for fid, matched in acc.items():
            doc = f_doc[fid]
            if doc is None:
                continue
            cover = matched * f_cover[fid]
            score = matched * inverse_total * f_weight[fid] + (
                COVERAGE_BONUS if cover >= 1.0 else COVERAGE_BONUS * cover
            )
            if matched >= whole_at and f_content[fid] <= content_words:
                score += WHOLE_BONUS
            if reader is not None and f_lang[fid] == reader:
                score += LANGUAGE_BONUS
            if score > rough_get(doc, -1.0):
                if where is not None:
                    ok = allowed.get(doc)
                    if ok is None:
                        ok = allowed[doc] = bool(where(doc.document))
                    if not ok:
                        continue
                rough[doc] = score


def _sum_levels(words: list[_QueryWord], per_word: list[dict[int, float]]) -> dict[int, float]:
    """fid -> the weighted levels of the query words it holds. The merges run mostly in C
    (dict copy and update); Python only adds up the fields two words share."""
    acc: dict[int, float] = {}
    for word, best in zip(words, per_word, strict=True):
        if not best:
            continue
        if word.weight != 1.0:
            best = {fid: word.weight * level for fid, level in best.items()}
        if not acc:
            acc = dict(best)
            continue
        common = acc.keys() & best.keys()
        merged = dict(best)
        merged.update(acc)
        for fid in common:
            merged[fid] = acc[fid] + best[fid]
        acc = merged
    return acc


@lru_cache(maxsize=256)
def _language_code(language: str | None) -> str | None:
    """ "en-GB" -> "en"; Dari ("prs") and Farsi ("fa") count as one for the reader."""
    if not language:
        return None
    code = language.replace("_", "-").split("-")[0].lower()
    return "fa" if code == "prs" else code


class SearchIndex:
    """Documents of one collection, searchable. Not thread-safe; one per process and
    collection."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._docs: dict[Hashable, _Doc] = {}
        # Fields by id (fid); a removed document's fids point to None until the next compaction.
        self._f_doc: list[_Doc | None] = []
        self._f_field: list[SearchField] = []
        self._f_weight: list[float] = []  # KIND_WEIGHT of the field
        self._f_cover: list[float] = []  # 1 / its words, weighted (stop words count less)
        self._f_lang: list[str | None] = []  # _language_code of the field
        # Its distinct words that are not stop words (for long texts: more than any query has,
        # so that the whole-field bonus never applies to them).
        self._f_content: list[int] = []
        self._f_text: list[bool] = []  # a long text (FieldKind.TEXT): in the second tier
        self._dead = 0
        # key -> native form -> fids holding a word with that key and native form. Two tiers:
        # terms, abbreviations, synonyms, tags and other short texts; and long texts
        # (definitions, summaries), which hold most of the words but are looked at only when
        # the first tier does not already give better matches than any long text could.
        self._vocab: dict[str, dict[str, list[int]]] = {}
        self._text_vocab: dict[str, dict[str, list[int]]] = {}
        self._sorted: list[str] = []  # the keys of both tiers, for prefixes
        # (key is ASCII, key length) -> keys: what typo matching scans.
        self._by_length: dict[tuple[bool, int], list[str]] = {}
        # The keys typo matching looks at: not the Latin keys of Perso-Arabic words (they lack
        # the short vowels, so one or two edits from them would match almost anything).
        self._typo_keys: set[str] = set()
        self._building = False
        self._closest_cache: tuple[list[str], list[int]] | None = None

    def __len__(self) -> int:
        return len(self._docs)

    # -- changes -------------------------------------------------------------------------------

    def put(self, document: Document) -> None:
        """Add a document, or replace the one with the same key."""
        self._forget(document.key)
        doc = _Doc(document, [])
        self._docs[document.key] = doc
        for search_field in document.fields:
            self._add_field(doc, search_field)
        self._closest_cache = None
        self._maybe_compact()

    def remove(self, key: Hashable) -> None:
        """Forget a document (archived, deleted); unknown keys are ignored."""
        if self._forget(key):
            self._closest_cache = None
            self._maybe_compact()

    def build(self, documents: Iterable[Document]) -> None:
        """Replace everything with these documents (at start): fast, 10,000 concepts in well
        under a second."""
        self._reset()
        self._building = True
        # Hundreds of thousands of small lists and dicts are made here, none of them garbage:
        # the cyclic collector would only walk them again and again (it doubled the time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for document in documents:
                self._forget(document.key)
                doc = _Doc(document, [])
                self._docs[document.key] = doc
                for search_field in document.fields:
                    self._add_field(doc, search_field)
        finally:
            self._building = False
            if collecting:
                gc.enable()
        self._sorted = sorted(self._vocab.keys() | self._text_vocab.keys())
        by_length: dict[tuple[bool, int], list[str]] = {}
        typo_keys = self._typo_keys
        empty: dict[str, list[int]] = {}
        for key in self._sorted:
            if not key.isascii() or any(
                _is_latin_or_cyrillic(native)
                for native in (*self._vocab.get(key, empty), *self._text_vocab.get(key, empty))
            ):
                typo_keys.add(key)
                by_length.setdefault((key.isascii(), len(key)), []).append(key)
        self._by_length = by_length

    def _forget(self, key: Hashable) -> bool:
        doc = self._docs.pop(key, None)
        if doc is None:
            return False
        for fid in doc.fids:
            self._f_doc[fid] = None
        self._dead += len(doc.fids)
        return True

    def _maybe_compact(self) -> None:
        if self._dead > 256 and self._dead > len(self._f_doc) // 2:
            self.build([doc.document for doc in self._docs.values()])

    def _add_field(self, doc: _Doc, search_field: SearchField) -> None:
        text = search_field.text
        if not text:
            return
        prepared = _prepare(text)
        words = _WORD.findall(prepared)
        if not words:
            return
        fid = len(self._f_doc)
        kind = search_field.kind
        long_text = kind is FieldKind.TEXT
        vocab = self._text_vocab if long_text else self._vocab
        building = self._building
        length = 0.0
        content = 0
        # The hot loop of build(): _post inlined for the common case.
        for word in dict.fromkeys(words):
            native, key, other, stop = _forms(word)
            if stop:
                length += STOP_WEIGHT
                if long_text:
                    continue
            else:
                length += 1.0
                content += 1
            groups = vocab.get(key)
            if groups is None or other is not None or not building:
                self._post(vocab, key, native, fid, other is None)
                if other is not None:
                    self._post(vocab, other, native, fid, True)
                continue
            fids = groups.get(native)
            if fids is None:
                groups[native] = [fid]
            elif fids[-1] != fid:
                fids.append(fid)
        if "-" in prepared or "‐" in prepared or "‑" in prepared or "–" in prepared:
            # non-punishment: also findable as "nonpunishment"
            for compound in _COMPOUND.findall(prepared):
                native, key, other, _ = _forms("".join(_WORD.findall(compound)))
                self._post(vocab, key, native, fid, other is None)
                if other is not None:
                    self._post(vocab, other, native, fid, True)
        self._f_doc.append(doc)
        self._f_field.append(search_field)
        self._f_weight.append(KIND_WEIGHT.get(kind, KIND_WEIGHT[FieldKind.OTHER]))
        self._f_cover.append(1.0 / (length if length > STOP_WEIGHT else STOP_WEIGHT))
        self._f_lang.append(_language_code(search_field.language))
        self._f_content.append(MAX_QUERY_WORDS + 1 if long_text else content)
        self._f_text.append(long_text)
        doc.fids.append(fid)

    def _post(
        self, vocab: dict[str, dict[str, list[int]]], key: str, native: str, fid: int, typo: bool
    ) -> None:
        """`typo`: the key may be reached by typo matching (not the Latin key of a Perso-Arabic
        word). While building, that and the sorted keys are worked out at the end."""
        groups = vocab.get(key)
        if groups is None:
            vocab[key] = {native: [fid]}
            if not self._building:
                at = bisect.bisect_left(self._sorted, key)
                if self._sorted[at : at + 1] != [key]:
                    self._sorted.insert(at, key)
        else:
            fids = groups.get(native)
            if fids is None:
                groups[native] = [fid]
            elif fids[-1] != fid:
                fids.append(fid)
        if typo and not self._building and key not in self._typo_keys:
            self._typo_keys.add(key)
            self._by_length.setdefault((key.isascii(), len(key)), []).append(key)

    # -- queries -------------------------------------------------------------------------------

    def _query_words(self, query: str) -> list[_QueryWord]:
        words = _WORD.findall(_prepare(query[:MAX_QUERY_CHARS]))[:MAX_QUERY_WORDS]
        result: list[_QueryWord] = []
        seen: set[str] = set()
        for word in words:
            native, key, other, stop = _forms(word[:MAX_WORD_CHARS])
            if native in seen:
                continue
            seen.add(native)
            result.append(_QueryWord(native, key, other, STOP_WEIGHT if stop else 1.0, stop))
        if result and all(w.stop for w in result):
            # Only stop words: take them at their word.
            result = [_QueryWord(w.native, w.key, w.other_key, 1.0, False) for w in result]
        return result

    def _key_matches(self, word: _QueryWord, fuzzy_budget: list[int]) -> list[_KeyMatch]:
        """The vocabulary keys a query word matches, and how."""
        found: list[_KeyMatch] = []
        keys = (word.key,) if word.other_key is None else (word.key, word.other_key)
        known = False
        for key in keys:
            if key in self._vocab or key in self._text_vocab:
                known = True
                found.append((_EXACT, key, 0.0))
        if word.stop:
            return found
        for key in keys:
            if len(key) >= MIN_PREFIX:
                known = self._prefix_matches(key, found) or known
        # Typos: a word the vocabulary knows neither whole nor as a prefix is compared with
        # every key of about its length; a known one only with the keys that share all but its
        # last letters (торговли/торговля, laundering/launderinf): a cheap bisect.
        fuzzy_key = word.other_key or word.key
        if len(fuzzy_key) >= 3 and not any(c.isdigit() for c in fuzzy_key):
            if known:
                self._tail_matches(fuzzy_key, found)
            elif fuzzy_budget[0] > 0:
                fuzzy_budget[0] -= 1
                self._fuzzy_matches(fuzzy_key, found)
        return found

    def _prefix_matches(self, key: str, found: list[_KeyMatch]) -> bool:
        keys = self._sorted
        start = bisect.bisect_left(keys, key)
        end = bisect.bisect_left(keys, key + "\U0010ffff", start)
        if keys[start : start + 1] == [key]:
            start += 1
        if end <= start:
            return False
        completions = keys[start:end]
        if len(completions) > MAX_PREFIX_KEYS:
            completions = heapq.nsmallest(MAX_PREFIX_KEYS, completions, key=len)
        length = len(key)
        found.extend((_PREFIX, c, 0.04 * length / len(c)) for c in completions)
        return True

    def _tail_matches(self, key: str, found: list[_KeyMatch]) -> None:
        allowed = _allowed_edits(key)
        stem = key[: max(2, len(key) - allowed - 1)]
        keys = self._sorted
        start = bisect.bisect_left(keys, stem)
        end = bisect.bisect_left(keys, stem + "\U0010ffff", start)
        if end - start <= 1:
            return
        near = process.extract(
            key, keys[start:end], scorer=OSA.distance, score_cutoff=allowed, limit=MAX_FUZZY_KEYS
        )
        for choice, distance, _ in near:
            if distance and choice in self._typo_keys:
                found.append((_FUZZY, choice, LEVEL_FUZZY[int(distance)]))

    def _fuzzy_matches(self, key: str, found: list[_KeyMatch]) -> None:
        length = len(key)
        allowed = _allowed_edits(key)
        ascii_key = key.isascii()
        near: list[tuple[int, str]] = []
        for other_length in range(max(1, length - allowed), length + allowed + 1):
            bucket = self._by_length.get((ascii_key, other_length))
            if not bucket:
                continue
            for choice, distance, _ in process.extract(
                key, bucket, scorer=OSA.distance, score_cutoff=allowed, limit=None
            ):
                if distance:
                    near.append((int(distance), choice))
        if len(near) > MAX_FUZZY_KEYS:
            near = heapq.nsmallest(MAX_FUZZY_KEYS, near)
        found.extend((_FUZZY, choice, LEVEL_FUZZY[distance]) for distance, choice in near)

    @staticmethod
    def _levels(
        vocab: dict[str, dict[str, list[int]]], word: _QueryWord, matches: list[_KeyMatch]
    ) -> dict[int, float]:
        """fid -> the best level at which a field of one tier holds the query word."""
        found: list[tuple[float, list[int]]] = []
        native = word.native
        script = _script(native)
        for how, key, extra in matches:
            groups = vocab.get(key)
            if not groups:
                continue
            if how == _EXACT:
                for other, fids in groups.items():
                    if other == native:
                        found.append((LEVEL_EXACT, fids))
                    else:
                        found.append((_KEY_LEVELS[script][_script(other)], fids))
            elif how == _PREFIX:
                for other, fids in groups.items():
                    if other.startswith(native):
                        level = LEVEL_PREFIX
                    else:
                        level = _KEY_LEVELS[script][_script(other)] - PREFIX_DISCOUNT
                    found.append((level + extra, fids))
            else:
                found.extend((extra, fids) for fids in groups.values())
        if len(found) == 1:
            return dict.fromkeys(found[0][1], found[0][0])
        # Lowest level first, so that each field keeps its best (dict.update runs in C).
        found.sort(key=_first)
        best: dict[int, float] = {}
        for level, fids in found:
            best.update(dict.fromkeys(fids, level))
        return best

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
        if limit <= 0 or not query or not self._docs:
            return []
        words = self._query_words(query)
        if not words:
            return []
        budget = [MAX_FUZZY_WORDS]
        key_matches = [self._key_matches(w, budget) for w in words]
        terms = [self._levels(self._vocab, w, m) for w, m in zip(words, key_matches, strict=True)]
        texts = [
            self._levels(self._text_vocab, w, m) for w, m in zip(words, key_matches, strict=True)
        ]
        total = sum(w.weight for w in words)
        wanted = max(RERANK, 2 * limit)
        scorer = _Scorer(self, words, total, _language_code(language), where)

        scorer.add(terms)
        scorer.add_texts(texts, limit)
        if not scorer.rough:
            return []

        # The details, best first. One word: a document's final score is at most its rough one,
        # so once a rough score falls under the limit-th final one, nothing further can enter.
        # Several words: spreading over fields can raise a score, so a fixed number more.
        ranked = heapq.nlargest(wanted, scorer.rough.items(), key=itemgetter(1))
        single = len(words) == 1
        hits: list[Hit] = []
        best_scores: list[float] = []  # a min-heap of the `limit` best final scores
        for doc, bound in ranked:
            if single and len(best_scores) == limit and bound < best_scores[0]:
                break
            hit = self._rescore(doc, words, terms, texts, total, scorer.reader)
            hits.append(hit)
            if len(best_scores) < limit:
                heapq.heappush(best_scores, hit.score)
            elif hit.score > best_scores[0]:
                heapq.heapreplace(best_scores, hit.score)
        hits.sort(key=_hit_order)
        return hits[:limit]

    def _rescore(
        self,
        doc: _Doc,
        words: list[_QueryWord],
        terms: list[dict[int, float]],
        texts: list[dict[int, float]],
        total: float,
        reader: str | None,
    ) -> Hit:
        """A document's score in detail: its best field with every bonus, or the query spread
        over its fields."""
        best_score = -1.0
        best_fid = doc.fids[0] if doc.fids else -1
        best_quality = 2
        n = len(words)
        # Per query word: its best (level x kind weight) anywhere in the document, and where.
        spread = [0.0] * n
        spread_level = [0.0] * n
        spread_fid = [-1] * n
        for fid in doc.fids:
            levels = texts if self._f_text[fid] else terms
            weight = self._f_weight[fid]
            matched = 0.0
            exact_content = 0
            worst = 0  # 0 exact, 1 prefix, 2 fuzzy
            complete = True
            for i in range(n):
                level = levels[i].get(fid)
                if level is None:
                    if not words[i].stop:
                        complete = False
                    continue
                matched += words[i].weight * level
                if not words[i].stop:
                    if level >= LEVEL_EXACT:
                        exact_content += 1
                    elif LEVEL_PREFIX <= level <= LEVEL_PREFIX_TOP:
                        worst = worst or 1
                    else:
                        worst = 2
                if level * weight > spread[i]:
                    spread[i] = level * weight
                    spread_level[i] = level
                    spread_fid[i] = fid
            if matched <= 0.0:
                continue
            cover = matched * self._f_cover[fid]
            score = matched / total * weight + COVERAGE_BONUS * (cover if cover < 1.0 else 1.0)
            if reader is not None and self._f_lang[fid] == reader:
                score += LANGUAGE_BONUS
            if complete and worst == 0 and exact_content >= self._f_content[fid]:
                score += WHOLE_BONUS
            if score > best_score:
                best_score, best_fid, best_quality = score, fid, worst if complete else 2
        if n > 1:
            cross = sum(w.weight * s for w, s in zip(words, spread, strict=True)) / total
            cross *= CROSS_FIELD_FACTOR
            if cross > best_score:
                best_score = cross
                best_quality = max(
                    (
                        _QUALITY_ORDER[_quality(level)] if level > 0 else 2
                        for word, level in zip(words, spread_level, strict=True)
                        if not word.stop
                    ),
                    default=2,
                )
                heaviest = max(range(n), key=lambda i: words[i].weight * spread[i])
                best_fid = spread_fid[heaviest]
        return Hit(
            doc.document.key,
            round(best_score, 6),
            _QUALITIES[best_quality],
            self._f_field[best_fid],
        )

    def closest(
        self,
        query: str,
        *,
        limit: int = 3,
        language: str | None = None,
        where: Callable[[Document], bool] | None = None,
    ) -> list[Hit]:
        """When `search` finds nothing: the nearest documents anyway (looser), for "did you
        mean"."""
        if limit <= 0 or not query or not self._docs:
            return []
        words = self._query_words(query)
        if not words:
            return []
        choices, fids = self._closest_choices()
        if where is not None:
            allowed: dict[_Doc, bool] = {}
            kept = []
            for index, fid in enumerate(fids):
                doc = self._f_doc[fid]
                if doc is not None:
                    ok = allowed.get(doc)
                    if ok is None:
                        ok = allowed[doc] = bool(where(doc.document))
                    if ok:
                        kept.append(index)
            choices, fids = [choices[i] for i in kept], [fids[i] for i in kept]
        if not choices:
            return []
        reader = _language_code(language)
        found = process.extract(
            " ".join(w.key for w in words),
            choices,
            scorer=fuzz.WRatio,
            processor=None,
            limit=limit * 8,
            score_cutoff=CLOSEST_CUTOFF,
        )
        native_wanted = " ".join(w.other_key for w in words if w.other_key)
        if native_wanted:
            found += process.extract(
                native_wanted,
                choices,
                scorer=fuzz.WRatio,
                processor=None,
                limit=limit * 8,
                score_cutoff=CLOSEST_CUTOFF,
            )
        best: dict[Hashable, Hit] = {}
        for _, similarity, index in found:
            fid = fids[index]
            doc = self._f_doc[fid]
            if doc is None:
                continue
            score = similarity / 100 * self._f_weight[fid]
            if reader is not None and self._f_lang[fid] == reader:
                score += LANGUAGE_BONUS
            key = doc.document.key
            if key not in best or best[key].score < score:
                best[key] = Hit(key, round(score, 6), MatchQuality.FUZZY, self._f_field[fid])
        return sorted(best.values(), key=lambda hit: -hit.score)[:limit]

    def _closest_choices(self) -> tuple[list[str], list[int]]:
        """Terms, synonyms and abbreviations as whole strings of keys (and of native forms for
        other scripts), made at the first closest() after a change."""
        if self._closest_cache is None:
            choices: list[str] = []
            fids: list[int] = []
            for fid, search_field in enumerate(self._f_field):
                if search_field.kind not in _CLOSEST_KINDS or self._f_doc[fid] is None:
                    continue
                forms = [_forms(w) for w in _WORD.findall(_prepare(search_field.text))]
                choices.append(" ".join(form[1] for form in forms))
                fids.append(fid)
                if any(form[2] is not None for form in forms):
                    choices.append(" ".join(form[0] for form in forms))
                    fids.append(fid)
            self._closest_cache = (choices, fids)
        return self._closest_cache
