"""The search engine on small hand-made documents: each behaviour the glossary and the resource
library rely on (bot/services/search.py)."""

from __future__ import annotations

import time

import pytest

from bot.services.search import (
    Document,
    FieldKind,
    Hit,
    MatchQuality,
    SearchField,
    SearchIndex,
    normalize,
    to_latin,
)

TERM, SYN, ABBR, TEXT, TAG = (
    FieldKind.TERM,
    FieldKind.SYNONYM,
    FieldKind.ABBREVIATION,
    FieldKind.TEXT,
    FieldKind.TAG,
)


def _doc(key: str, *fields: tuple[str, FieldKind, str | None], **attributes: object) -> Document:
    return Document(key, [SearchField(text, kind, lang) for text, kind, lang in fields], attributes)


DOCUMENTS = [
    _doc(
        "tip",
        ("trafficking in persons", TERM, "en"),
        ("human trafficking", SYN, "en"),
        ("торговля людьми", TERM, "ru"),
        ("THB", ABBR, None),
        ("TIP", ABBR, None),
        (
            "The recruitment of persons by improper means for the purpose of exploitation.",
            TEXT,
            "en",
        ),
        ("قاچاق انسان", TERM, "prs"),
    ),
    _doc(
        "som",
        ("smuggling of migrants", TERM, "en"),
        ("migrant smuggling", SYN, "en"),
        ("незаконный ввоз мигрантов", TERM, "ru"),
        ("SOM", ABBR, None),
    ),
    _doc(
        "fiu",
        ("financial intelligence unit", TERM, "en"),
        ("подразделение финансовой разведки", TERM, "ru"),
        ("FIU", ABBR, None),
        (
            "A national centre that receives and analyses suspicious transaction reports.",
            TEXT,
            "en",
        ),
    ),
    _doc(
        "str",
        ("suspicious transaction report", TERM, "en"),
        ("сообщение о подозрительной операции", TERM, "ru"),
        ("STR/SAR", ABBR, None),
        ("A report a bank files with the FIU about a transaction.", TEXT, "en"),
    ),
    _doc(
        "bo",
        ("beneficial owner", TERM, "en"),
        ("бенефициарный владелец", TERM, "ru"),
        ("UBO", ABBR, None),
    ),
    _doc(
        "np",
        ("non-punishment principle", TERM, "en"),
        ("принцип ненаказуемости", TERM, "ru"),
    ),
    _doc(
        "hawala",
        ("hawala", TERM, "en"),
        ("хавала", TERM, "ru"),
        ("informal value transfer system", SYN, "en"),
    ),
    _doc(
        "ml",
        ("money laundering", TERM, "en"),
        ("отмывание денежных средств", TERM, "ru"),
        ("AML/CFT", ABBR, None),
    ),
    _doc(
        "tbml",
        ("trade-based money laundering", TERM, "en"),
        ("отмывание денег через торговлю", TERM, "ru"),
    ),
    _doc(
        "exploitation",
        ("exploitation", TERM, "en"),
        ("эксплуатация", TERM, "ru"),
    ),
    _doc(
        "uz",
        ("odam savdosi", TERM, "uz"),
        ("одам савдоси", TERM, "uz"),
        ("Ҷиноятҳои муташаккил", TERM, "tg"),
    ),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    built = SearchIndex()
    built.build(DOCUMENTS)
    return built


def keys(hits: list[Hit]) -> list[object]:
    return [hit.key for hit in hits]


def first(index: SearchIndex, query: str, **kwargs: object) -> object:
    hits = index.search(query, **kwargs)  # type: ignore[arg-type]
    assert hits, f"nothing found for {query!r}"
    return hits[0].key


# -- text forms --------------------------------------------------------------------------------


def test_to_latin_uses_the_letters_people_type() -> None:
    assert to_latin("торговля людьми") == "torgovlya lyudmi"
    assert to_latin("Жёлтый ящик, щука, цех, объём") == "Zheltyy yashchik, shchuka, tsekh, obem"
    assert (
        to_latin("Қазақстан Ғылым Өнер Үй Ұлт Һ Әке Іс") == "Qazaqstan Gylym Oner Uy Ult H Ake Is"
    )
    assert to_latin("ӣ ӯ ҳ ҷ ў") == "i u h j o"
    assert to_latin("already latin") == "already latin"
    assert to_latin("قاچاق").isascii()


def test_normalize_folds_case_accents_yo_and_punctuation() -> None:
    assert normalize("  Ёлка,  CAFÉ —  S.T.R./SAR!  ") == "елка cafe str sar"
    assert normalize("o‘zbek O'ZBEK") == "ozbek ozbek"
    assert normalize("<b>FIU</b>") == "b fiu b"
    assert normalize("ي ك") == normalize("ی ک")  # Arabic and Persian letter forms
    assert normalize("...") == ""


# -- finding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("trafficking in persons", "tip"),  # term
        ("human trafficking", "tip"),  # synonym
        ("THB", "tip"),  # abbreviation
        ("торговля людьми", "tip"),  # another language
        ("قاچاق انسان", "tip"),  # another script
        ("informal value transfer system", "hawala"),
        ("хавала", "hawala"),
        ("odam savdosi", "uz"),
    ],
)
def test_finds_a_document_from_any_of_its_terms(
    index: SearchIndex, query: str, expected: str
) -> None:
    assert first(index, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("torgovlya lyudmi", "tip"),  # Latin -> Cyrillic, the usual habit
        ("torgovlia liudmi", "tip"),  # another habit
        ("torgovlja ljudmi", "tip"),
        ("benefitsiarnyy vladelets", "bo"),
        ("khavala", "hawala"),
        ("xavala", "hawala"),  # Uzbek Latin x
        ("трафикинг", "tip"),  # an English word typed in Cyrillic
        ("хавала", "hawala"),
        ("одам савдоси", "uz"),
        ("odam savdosi", "uz"),
        ("jinoyathoi mutashakkil", "uz"),  # Tajik Cyrillic ҷ, ҳ, ӣ from Latin
    ],
)
def test_finds_across_scripts(index: SearchIndex, query: str, expected: str) -> None:
    assert first(index, query) == expected


def test_a_transliteration_is_not_an_exact_match(index: SearchIndex) -> None:
    hit = index.search("torgovlya lyudmi")[0]
    assert hit.quality is MatchQuality.FUZZY
    assert hit.matched == SearchField("торговля людьми", TERM, "ru")
    assert index.search("торговля людьми")[0].quality is MatchQuality.EXACT


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("trafficing", "tip"),  # one edit (deletion)
        ("traffikcing", "tip"),  # two edits in a long word
        ("smugling of migrnats", "som"),  # deletion and transposition in two words
        ("hawla", "hawala"),  # deletion in a short word
        ("hwaala", "hawala"),  # transposition: one edit
        ("benefical ownr", "bo"),
        ("торговпя людми", "tip"),  # Cyrillic typos
        ("ehxploitation", "exploitation"),
    ],
)
def test_forgives_typos(index: SearchIndex, query: str, expected: str) -> None:
    hits = index.search(query)
    assert hits and hits[0].key == expected
    assert hits[0].quality is MatchQuality.FUZZY


def test_lossy_or_same_script_key_matches_count_as_typos() -> None:
    # The Latin letters of a Perso-Arabic word lack its vowels ("شا" -> "sha"), and "SSXA" folds
    # to the same key as "sha": neither outranks a plain prefix.
    index = SearchIndex()
    index.build(
        [
            _doc("dari", ("شا", TERM, "prs")),
            _doc("abbr", ("SSXA", ABBR, None)),
            _doc("latin", ("shahr", TERM, "en")),
        ]
    )
    hits = index.search("sha")
    assert keys(hits) == ["latin", "abbr", "dari"]
    assert hits[0].quality is MatchQuality.PREFIX
    assert first(index, "شا") == "dari"
    assert index.search("شا")[0].quality is MatchQuality.EXACT


def test_typos_are_bounded_by_word_length(index: SearchIndex) -> None:
    # "som" -> "sox" is one edit in a short word: allowed; two edits in a short word are not.
    assert first(index, "sox") == "som"
    assert "som" not in keys(index.search("sxx"))
    # three edits in a long word are too many
    assert "tip" not in keys(index.search("trxffxckxng"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("persons trafficking", "tip"),
        ("owner beneficial", "bo"),
        ("людьми торговля", "tip"),
        ("migrants of smuggling", "som"),
    ],
)
def test_word_order_does_not_matter(index: SearchIndex, query: str, expected: str) -> None:
    hit = index.search(query)[0]
    assert hit.key == expected
    assert hit.quality is MatchQuality.EXACT


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("traffick", "tip"),
        ("benef own", "bo"),
        ("financ intell", "fiu"),
        ("подразд фин", "fiu"),
        ("torgov", "tip"),  # a prefix through transliteration
    ],
)
def test_prefixes_match(index: SearchIndex, query: str, expected: str) -> None:
    hit = index.search(query)[0]
    assert hit.key == expected
    assert hit.quality in (MatchQuality.PREFIX, MatchQuality.FUZZY)
    assert index.search("benef own")[0].quality is MatchQuality.PREFIX


def test_hyphenated_words_match_split_or_joined(index: SearchIndex) -> None:
    for query in ("non-punishment", "non punishment", "nonpunishment", "non-punishment principle"):
        assert first(index, query) == "np", query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("FIU", "fiu"),
        ("fiu", "fiu"),
        ("f.i.u.", "fiu"),
        ("STR", "str"),
        ("s.t.r.", "str"),
        ("S.T.R", "str"),
        ("STR/SAR", "str"),
        ("sar", "str"),
        ("aml/cft", "ml"),
        ("AML", "ml"),
        ("ubo", "bo"),
    ],
)
def test_abbreviations_with_slashes_dots_and_case(
    index: SearchIndex, query: str, expected: str
) -> None:
    assert first(index, query) == expected


def test_an_abbreviation_typed_exactly_ranks_its_entry_first(index: SearchIndex) -> None:
    # "FIU" is also a word of the STR entry's definition: the abbreviation wins.
    hits = index.search("FIU")
    assert keys(hits)[:2] == ["fiu", "str"]
    assert hits[0].quality is MatchQuality.EXACT
    assert hits[0].matched.kind is FieldKind.ABBREVIATION
    assert hits[0].score > hits[1].score


# -- ranking -----------------------------------------------------------------------------------


def test_exact_ranks_over_prefix_over_fuzzy() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc("fuzzy", ("launderinf", TERM, "en")),  # one edit from the query
            _doc("prefix", ("launderings", TERM, "en")),  # the query is a prefix of it
            _doc("exact", ("laundering", TERM, "en")),
        ]
    )
    hits = index.search("laundering")
    assert keys(hits) == ["exact", "prefix", "fuzzy"]
    assert [h.quality for h in hits] == [
        MatchQuality.EXACT,
        MatchQuality.PREFIX,
        MatchQuality.FUZZY,
    ]
    assert hits[0].score > hits[1].score > hits[2].score


def test_terms_rank_over_synonyms_over_definitions() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc("text", ("seizure", TERM, "en"), ("a kind of freezing order", TEXT, "en")),
            _doc("synonym", ("asset restraint", TERM, "en"), ("freezing", SYN, "en")),
            _doc("term", ("freezing", TERM, "en")),
            _doc("tag", ("arrest", TERM, "en"), ("freezing", TAG, None)),
        ]
    )
    assert keys(index.search("freezing")) == ["term", "synonym", "tag", "text"]


def test_whole_term_ranks_over_a_longer_term_holding_it(index: SearchIndex) -> None:
    hits = index.search("money laundering")
    assert keys(hits)[:2] == ["ml", "tbml"]
    assert hits[0].quality is hits[1].quality is MatchQuality.EXACT


def test_fuzzy_term_ranks_over_exact_word_in_a_definition() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc(
                "text", ("cash courier", TERM, "en"), ("smuggling cash across borders", TEXT, "en")
            ),
            _doc("term", ("smugglng", TERM, "en")),
        ]
    )
    # A typo in a term is a better sign than a word in passing in a definition...
    assert keys(index.search("smuggling")) == ["term", "text"]
    # ...but an exact match in a term beats both.
    index.put(_doc("exact", ("smuggling", TERM, "en")))
    assert keys(index.search("smuggling"))[0] == "exact"


def test_the_readers_language_breaks_ties() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc("en", ("hawala", TERM, "en")),
            _doc("ru", ("hawala", TERM, "ru")),
            _doc("fa", ("hawala", TERM, "fa")),
        ]
    )
    assert first(index, "hawala", language="ru") == "ru"
    assert first(index, "hawala", language="en") == "en"
    assert first(index, "hawala", language="prs") == "fa"  # Dari reads Farsi first
    assert first(index, "hawala", language="ru-RU") == "ru"
    # ...and never outweighs a better match
    assert first(index, "hawal", language="ru") in {"en", "fa", "ru"}
    index.put(_doc("ru", ("hawaladar", TERM, "ru")))
    assert first(index, "hawala", language="ru") != "ru"


def test_matched_field_prefers_the_readers_language(index: SearchIndex) -> None:
    assert index.search("SOM", language="ru")[0].matched.kind is FieldKind.ABBREVIATION
    hit = index.search("exploitation эксплуатация", language="ru")[0]
    assert hit.key == "exploitation"


def test_words_spread_over_fields_of_one_document() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc("str", ("STR", ABBR, None), ("SAR", ABBR, None), ("report", TERM, "en")),
            _doc("sar", ("search and rescue", TERM, "en")),
        ]
    )
    hits = index.search("str sar")
    assert hits[0].key == "str"
    assert hits[0].quality is MatchQuality.EXACT


# -- filters, changes --------------------------------------------------------------------------


def test_where_filters_before_the_limit() -> None:
    index = SearchIndex()
    index.build(
        [
            _doc(i, (f"trafficking report {i}", TERM, "en"), kind="report" if i % 7 else "tool")
            for i in range(50)
        ]
    )
    hits = index.search("trafficking", limit=3, where=lambda d: d.attributes["kind"] == "tool")
    assert len(hits) == 3
    assert all(int(h.key) % 7 == 0 for h in hits)  # type: ignore[call-overload]
    assert index.search("trafficking", where=lambda d: False) == []
    assert len(index.search("trafficking", limit=100)) == 50


def test_put_replaces_and_remove_forgets() -> None:
    index = SearchIndex()
    index.build([_doc(1, ("hawala", TERM, "en")), _doc(2, ("hundi", TERM, "en"))])
    assert len(index) == 2
    index.put(_doc(1, ("fei chien", TERM, "en")))
    assert len(index) == 2
    assert keys(index.search("hawala")) == []
    assert keys(index.search("fei chien")) == [1]
    index.remove(1)
    index.remove("unknown")
    assert len(index) == 1
    assert index.search("fei chien") == []
    index.put(_doc(3, ("hawaladar", TERM, "en")))  # a new word after the build
    assert keys(index.search("hawaladar")) == [3]
    assert keys(index.search("hawaladra")) == [3]  # and typo matching knows it
    assert keys(index.search("hawa")) == [3]


def test_many_changes_keep_results_right() -> None:
    index = SearchIndex()
    index.build([_doc(i, (f"term{i} hawala", TERM, "en")) for i in range(400)])
    for round_ in range(3):
        for i in range(400):
            index.put(_doc(i, (f"term{i} hawala round{round_}", TERM, "en")))
    assert len(index) == 400
    assert keys(index.search("term7 round2"))[:1] == [7]
    assert len(index.search("hawala", limit=1000)) == 400
    for i in range(390):
        index.remove(i)
    assert sorted(keys(index.search("hawala", limit=1000))) == list(range(390, 400))  # type: ignore[type-var]


def test_build_replaces_everything(index: SearchIndex) -> None:
    other = SearchIndex()
    other.build(DOCUMENTS)
    other.build([_doc("only", ("hawala", TERM, "en"))])
    assert len(other) == 1
    assert keys(other.search("trafficking")) == []


# -- odd queries -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "...", "!?/ -- ,", "\u200c\u200d", "<>"])
def test_empty_or_meaningless_queries_find_nothing(index: SearchIndex, query: str) -> None:
    assert index.search(query) == []
    assert index.closest(query) == []


def test_markup_in_a_query_is_just_text(index: SearchIndex) -> None:
    assert first(index, "<b>FIU</b>") == "fiu"
    assert first(index, '<a href="x">hawala</a>') == "hawala"
    assert first(index, "*торговля* _людьми_") == "tip"


def test_a_very_long_query_is_cut_and_stays_fast(index: SearchIndex) -> None:
    query = " ".join(["trafficking"] + [f"x{i}y{i}z" * 20 for i in range(5000)])
    started = time.perf_counter()
    hits = index.search(query)
    assert time.perf_counter() - started < 0.5
    assert hits[0].key == "tip"
    assert index.search("a" * 100_000) == [] or True  # no error


def test_an_empty_index_finds_nothing() -> None:
    index = SearchIndex()
    assert len(index) == 0
    assert index.search("hawala") == []
    assert index.closest("hawala") == []
    index.build([])
    assert index.search("hawala") == []


def test_limit(index: SearchIndex) -> None:
    assert len(index.search("a", limit=0)) == 0
    assert len(index.search("trafficking", limit=1)) == 1


# -- closest -----------------------------------------------------------------------------------


def test_closest_offers_the_nearest_when_search_finds_nothing(index: SearchIndex) -> None:
    query = "benefishiary ownership structure"
    hits = index.closest(query)
    assert hits and hits[0].key == "bo"
    assert len(hits) <= 3
    assert all(hit.quality is MatchQuality.FUZZY for hit in hits)
    assert keys(index.closest("trafikking of personz", limit=1)) == ["tip"]
    assert keys(index.closest("торговлья люди", limit=1)) == ["tip"]


def test_closest_respects_where(index: SearchIndex) -> None:
    hits = index.closest("benefishiary ownr", where=lambda d: d.key != "bo")
    assert "bo" not in keys(hits)
