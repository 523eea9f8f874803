"""Search latency of `bot.services.search.SearchIndex` against a bare rapidfuzz scan.

10,000 synthetic concepts in three languages (English-like Latin, Russian Cyrillic, Dari in
Perso-Arabic script): per concept a preferred term of 1 to 5 words in each language, synonyms,
an abbreviation for about a third, two tags (and with --definitions a 15 to 30 word definition
in English and Russian). Word frequencies follow Zipf's law, so some words are in hundreds of
terms, as "trafficking" or "money" are in a real glossary.

A fixed mix of queries, each made from one concept (its "source"): exact terms, terms with one
or two typos, prefixes ("benef own"), Russian terms typed in Latin transliteration (two habits:
"lyudmi" and "liudmi"), English terms typed in Cyrillic, words in another order,
abbreviations. Measured in the same run on the same queries: `SearchIndex.search(query,
limit=10)`, --rounds passes over all queries, and the baseline, once per query after the first
pass: a bare `rapidfuzz.process.extract(query, term_strings, limit=10)` (default scorer WRatio)
over the same term strings (every term, synonym and abbreviation). `build` is timed from a cold
word cache, as in a process that just started.

Targets: p99 of search under 5 ms, p99(search) / p99(bare) <= 1.5, `build` of the 10,000
concepts under 1 s (median of --builds). Also printed, not checked: p50s, `put` of one concept,
and recall@3 of the source concept (the run is wrong, exit 2, when it is under 0.9: a fast
engine that finds nothing must not pass).

    .venv/bin/python bench/bench_search.py
    .venv/bin/python bench/bench_search.py --definitions --no-check

Exit status 1 when a target is missed (unless --no-check), 2 when the run is wrong. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import time
from dataclasses import dataclass

from profiling import Profiler  # bench/profiling.py: the script's own folder is on sys.path
from rapidfuzz import process

from bot.services import search as engine
from bot.services.search import Document, FieldKind, SearchField, SearchIndex, to_latin

P99_TARGET_MS = 5.0
RATIO_TARGET = 1.5
BUILD_TARGET_S = 1.0
RECALL_FLOOR = 0.9


class BenchFailure(Exception):
    """The run is wrong: its figures would mean nothing."""


# -- synthetic concepts ----------------------------------------------------------------------------


def _parts(text: str) -> list[str]:
    return text.split()


# Syllables words are made of ("_": nothing).
EN_ONSETS = _parts("b c d f g h j k l m n p r s t v w bl br cl cr dr fl fr gr pl pr sc sk sl sm sp")
EN_ONSETS += _parts("st str tr th sh ch")
EN_VOWELS = _parts("a e i o u ai ea ee ou io")
EN_CODAS = _parts("_ _ _ n r s t l m ng nt st ck ct nd rt ss")
EN_SUFFIXES = _parts("_ _ _ ing ion ation er ed al ity ment ive ance ence ship")

RU_ONSETS = _parts("б в г д ж з к л м н п р с т ф х ц ч ш щ бр вл гр др кр пр ст тр сл ск")
RU_VOWELS = _parts("а е и о у ы я ю э ё")
RU_CODAS = _parts("_ _ _ н р с т л м в й к")
RU_SUFFIXES = _parts("_ ов ый ая ие ость ение ния ский ного ской ами")

FA_ONSETS = list("بپتجچحخدرزژسشغفقکگلمنهی")
FA_VOWELS = ["ا", "و", "ی", "_", "_"]
FA_CODAS = [*"نرستلمد", "_", "_", "_"]

POOL_WORDS = 6000  # distinct words per language
TERM_WORDS = (1, 2, 3, 4, 5)
TERM_WORD_WEIGHTS = (20, 35, 25, 12, 8)


def _syllable(rng: random.Random, onsets: list[str], vowels: list[str], codas: list[str]) -> str:
    return (rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)).replace("_", "")


def _pool(rng: random.Random, size: int, make: object) -> list[str]:
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = make()  # type: ignore[operator]
        if 2 <= len(word) <= 16 and word not in seen:
            seen.add(word)
            words.append(word)
    return words


def word_pools(rng: random.Random, size: int) -> dict[str, list[str]]:
    def english() -> str:
        n = rng.choice((1, 2, 2, 3))
        word = "".join(_syllable(rng, EN_ONSETS, EN_VOWELS, EN_CODAS) for _ in range(n))
        return word + rng.choice(EN_SUFFIXES).replace("_", "")

    def russian() -> str:
        n = rng.choice((1, 2, 2, 3))
        word = "".join(_syllable(rng, RU_ONSETS, RU_VOWELS, RU_CODAS) for _ in range(n))
        return word + rng.choice(RU_SUFFIXES).replace("_", "")

    def dari() -> str:
        n = rng.choice((1, 2, 2, 3))
        return "".join(_syllable(rng, FA_ONSETS, FA_VOWELS, FA_CODAS) for _ in range(n))

    return {
        "en": _pool(rng, size, english),
        "ru": _pool(rng, size, russian),
        "prs": _pool(rng, size, dari),
    }


@dataclass
class Concept:
    key: int
    terms: dict[str, list[str]]  # language -> preferred term, synonyms
    abbreviation: str | None
    tags: list[str]
    definitions: dict[str, str]

    def document(self) -> Document:
        fields: list[SearchField] = []
        for language, terms in self.terms.items():
            fields.append(SearchField(terms[0], FieldKind.TERM, language))
            fields.extend(SearchField(t, FieldKind.SYNONYM, language) for t in terms[1:])
        if self.abbreviation:
            fields.append(SearchField(self.abbreviation, FieldKind.ABBREVIATION))
        for language, text in self.definitions.items():
            fields.append(SearchField(text, FieldKind.TEXT, language))
        fields.extend(SearchField(tag, FieldKind.TAG) for tag in self.tags)
        return Document(self.key, fields, {"tags": self.tags})

    def term_strings(self) -> list[str]:
        strings = [t for terms in self.terms.values() for t in terms]
        return [*strings, self.abbreviation] if self.abbreviation else strings


def make_concepts(count: int, seed: int, definitions: bool) -> list[Concept]:
    rng = random.Random(seed)
    pools = word_pools(rng, POOL_WORDS)
    # Zipf-Mandelbrot: the word of rank r is drawn with weight 1/(r + 20): the commonest word is
    # in about 1 % of the term words (a few hundred terms), most words in a handful.
    cum = list(itertools.accumulate(1 / (r + 20) for r in range(POOL_WORDS)))
    tags = [f"tag{i}" for i in range(60)]

    def phrase(language: str, words: int) -> str:
        return " ".join(rng.choices(pools[language], cum_weights=cum, k=words))

    used: set[tuple[str, ...]] = set()

    def term(language: str) -> str:
        # Unique in any word order, as the terms of a real glossary are.
        while True:
            text = phrase(language, rng.choices(TERM_WORDS, TERM_WORD_WEIGHTS)[0])
            words = tuple(sorted(text.split()))
            if words not in used and len(set(words)) == len(words):
                used.add(words)
                return text

    concepts: list[Concept] = []
    abbreviations: set[str] = set()
    for key in range(count):
        terms = {
            "en": [term("en") for _ in range(1 + rng.choice((0, 1, 1, 2)))],
            "ru": [term("ru") for _ in range(1 + rng.choice((0, 0, 1)))],
            "prs": [term("prs")],
        }
        abbreviation = None
        if rng.random() < 0.33:
            letters = "".join(w[0] for w in terms["en"][0].split()).upper()
            while len(letters) < 2 or letters in abbreviations:
                letters += chr(ord("A") + rng.randrange(26))
            abbreviations.add(letters)
            abbreviation = letters
        texts = {}
        if definitions:
            texts = {lang: phrase(lang, rng.randint(15, 30)) + "." for lang in ("en", "ru")}
        concepts.append(Concept(key, terms, abbreviation, rng.sample(tags, 2), texts))
    return concepts


# -- queries ---------------------------------------------------------------------------------------

_LATIN_TO_CYRILLIC = (
    ("sh", "ш"), ("ch", "ч"), ("th", "т"), ("ck", "к"), ("ai", "ей"), ("ea", "и"), ("ee", "и"),
    ("ou", "ау"), ("a", "а"), ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"),
    ("g", "г"), ("h", "х"), ("i", "и"), ("j", "дж"), ("k", "к"), ("l", "л"), ("m", "м"),
    ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("y", "й"), ("z", "з"),
)  # fmt: skip


def _cyrillic(text: str) -> str:
    """An English word as a Russian speaker may type it in Cyrillic ("трафикинг")."""
    for latin, cyrillic in _LATIN_TO_CYRILLIC:
        text = text.replace(latin, cyrillic)
    return text


def _typo(rng: random.Random, word: str, edits: int) -> str:
    for _ in range(edits):
        i = rng.randrange(len(word))
        kind = rng.randrange(4)
        letter = rng.choice("abcdefghijklmnoprstuvy" if word.isascii() else "абвгдеиклмнопрстуя")
        if kind == 0 and len(word) > 3:
            word = word[:i] + word[i + 1 :]  # deletion
        elif kind == 1:
            word = word[:i] + letter + word[i:]  # insertion
        elif kind == 2 and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # transposition
        else:
            word = word[:i] + letter + word[i + 1 :]  # substitution
    return word


def make_queries(concepts: list[Concept], count: int, seed: int) -> list[tuple[str, str, int]]:
    """(kind, query, source concept key)."""
    rng = random.Random(seed)
    kinds = (
        ["exact"] * 5 + ["typo"] * 4 + ["prefix"] * 3 + ["translit"] * 3
        + ["cyrillic"] * 1 + ["reordered"] * 2 + ["abbreviation"] * 2
    )  # fmt: skip
    queries: list[tuple[str, str, int]] = []
    while len(queries) < count:
        concept = rng.choice(concepts)
        kind = rng.choice(kinds)
        language = rng.choice(("en", "en", "ru", "ru", "prs"))
        term = rng.choice(concept.terms[language])
        words = term.split()
        if kind == "exact":
            query = term
        elif kind == "typo":
            j = rng.randrange(len(words))
            words[j] = _typo(rng, words[j], 1 if len(words[j]) <= 5 else rng.choice((1, 2)))
            query = " ".join(words)
        elif kind == "prefix":
            query = " ".join(w[: max(3, min(len(w), rng.randint(3, 6)))] for w in words[:3])
        elif kind == "translit":
            latin = to_latin(rng.choice(concept.terms["ru"]))
            query = latin if rng.random() < 0.5 else latin.replace("y", "i")
        elif kind == "cyrillic":
            query = _cyrillic(rng.choice(concept.terms["en"]))
        elif kind == "reordered":
            if len(words) < 2:
                continue
            rng.shuffle(words)
            query = " ".join(words)
        else:
            if not concept.abbreviation:
                continue
            query = concept.abbreviation.lower() if rng.random() < 0.5 else concept.abbreviation
        queries.append((kind, query, concept.key))
    return queries


# -- measurement -----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Figures:
    build_s: float
    put_ms: float
    engine_ms: list[float]
    bare_ms: list[float]
    recall: float
    recall_by_kind: dict[str, tuple[int, int]]
    p99_by_kind: dict[str, float]
    term_strings: int


def bench(options: argparse.Namespace) -> Figures:
    concepts = make_concepts(options.concepts, options.seed, options.definitions)
    documents = [c.document() for c in concepts]
    term_strings = [s for c in concepts for s in c.term_strings()]
    queries = make_queries(concepts, options.queries, options.seed + 1)

    # build: each time from a cold word cache, as in a process that just started.
    builds: list[float] = []
    index = SearchIndex()
    for _ in range(options.builds):
        del index
        gc.collect()
        engine._forms.cache_clear()
        index = SearchIndex()
        started = time.perf_counter()
        index.build(documents)
        builds.append(time.perf_counter() - started)
    if len(index) != len(concepts):
        raise BenchFailure(f"the index holds {len(index)} documents, not {len(concepts)}")

    # put: 200 concepts replaced one by one, as an approved edit does.
    puts: list[float] = []
    for document in documents[:200]:
        started = time.perf_counter()
        index.put(document)
        puts.append(time.perf_counter() - started)

    for _, query, _ in queries[:20]:  # warm-up: rapidfuzz's and the word cache's first calls
        index.search(query)
        process.extract(query, term_strings, limit=10)

    profiler = Profiler() if options.profile else None
    engine_ms: list[float] = []
    bare_ms: list[float] = []
    by_kind: dict[str, list[float]] = {}
    found: dict[str, list[int]] = {}
    for round_ in range(options.rounds):
        gc.collect()
        if profiler is not None:
            profiler.enable()
        for kind, query, source in queries:
            started = time.perf_counter()
            hits = index.search(query, limit=10)
            elapsed = (time.perf_counter() - started) * 1000
            engine_ms.append(elapsed)
            by_kind.setdefault(kind, []).append(elapsed)
            if round_ == 0:
                tally = found.setdefault(kind, [0, 0])
                tally[0] += any(hit.key == source for hit in hits[:3])
                tally[1] += 1
        if profiler is not None:
            profiler.disable()
        if round_ == 0:
            # The baseline, once (each query costs it ~100 times more), after the first round.
            gc.collect()
            for _, query, _ in queries:
                started = time.perf_counter()
                process.extract(query, term_strings, limit=10)
                bare_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"  round {round_ + 1}: search p99 "
            f"{percentile(engine_ms[-len(queries) :], 0.99):.2f} ms",
            file=sys.stderr,
        )
    if profiler is not None:
        print(profiler.report(), file=sys.stderr)
    return Figures(
        build_s=statistics.median(builds),
        put_ms=statistics.median(puts) * 1000,
        engine_ms=engine_ms,
        bare_ms=bare_ms,
        recall=sum(t[0] for t in found.values()) / len(queries),
        recall_by_kind={k: (t[0], t[1]) for k, t in sorted(found.items())},
        p99_by_kind={k: percentile(v, 0.99) for k, v in sorted(by_kind.items())},
        term_strings=len(term_strings),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300, help="each is timed on both sides")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of search")
    parser.add_argument("--builds", type=int, default=3, help="builds timed (median)")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument(
        "--definitions", action="store_true", help="also a definition in English and Russian"
    )
    parser.add_argument("--no-check", action="store_true", help="print only, never fail")
    parser.add_argument("--profile", action="store_true", help="profile the engine's searches")
    options = parser.parse_args(argv)
    if min(options.queries, options.builds, options.rounds) < 1 or options.concepts < 10:
        parser.error("--concepts >= 10; --queries, --builds, --rounds >= 1")

    name = f"search_{options.concepts}_concepts" + ("_definitions" if options.definitions else "")
    try:
        figures = bench(options)
    except BenchFailure as exc:
        print(f"{name}: WRONG: {exc}", file=sys.stderr)
        return 2
    engine_p50, engine_p99 = (percentile(figures.engine_ms, p) for p in (0.5, 0.99))
    bare_p50, bare_p99 = (percentile(figures.bare_ms, p) for p in (0.5, 0.99))
    ratio = engine_p99 / bare_p99
    print(
        f"{name}: {figures.term_strings} term strings; {options.queries} queries, search timed "
        f"{options.rounds} times each, the bare scan once\n"
        f"  search     p50 {engine_p50:7.2f} ms  p99 {engine_p99:7.2f} ms "
        f"(target p99 < {P99_TARGET_MS:.0f} ms)\n"
        f"  bare scan  p50 {bare_p50:7.2f} ms  p99 {bare_p99:7.2f} ms\n"
        f"  ratio p99(search) / p99(bare) {ratio:.3f} (target <= {RATIO_TARGET})\n"
        f"  build {figures.build_s:.3f} s (target < {BUILD_TARGET_S:.0f} s), "
        f"put one concept {figures.put_ms:.3f} ms (median)\n"
        "  (not checked) search p99 by query kind: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in figures.p99_by_kind.items())
        + f"\n  recall@3 of the source concept {figures.recall:.1%}: "
        + ", ".join(f"{k} {h}/{n}" for k, (h, n) in figures.recall_by_kind.items())
    )
    if figures.recall < RECALL_FLOOR:
        print(f"{name}: WRONG: recall@3 {figures.recall:.1%} < {RECALL_FLOOR:.0%}", file=sys.stderr)
        return 2
    missed = (
        engine_p99 >= P99_TARGET_MS or ratio > RATIO_TARGET or figures.build_s >= BUILD_TARGET_S
    )
    if missed and not options.no_check:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
