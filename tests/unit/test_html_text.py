"""Telegram-HTML parsing and splitting (bot/html_text.py)."""

from __future__ import annotations

import random
import re

import pytest

from bot.html_text import (
    Entity,
    TelegramHtmlError,
    parse_html,
    split_html,
    utf16_len,
    visible_length,
)

# --- parsing: each supported tag ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "entity_type"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("tg-spoiler", "spoiler"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
    ],
)
def test_simple_tags(tag: str, entity_type: str) -> None:
    text, entities = parse_html(f"a <{tag}>xyz</{tag}> b")
    assert text == "a xyz b"
    assert entities == [Entity(entity_type, 2, 3)]


def test_tag_names_are_case_insensitive() -> None:
    assert parse_html("<B>x</b>") == ("x", [Entity("bold", 0, 1)])


def test_spoiler_span_needs_its_class() -> None:
    assert parse_html('<span class="tg-spoiler">s</span>') == ("s", [Entity("spoiler", 0, 1)])
    with pytest.raises(TelegramHtmlError, match='"span" must have class "tg-spoiler"'):
        parse_html("<span>s</span>")


def test_link_with_href_and_entities_in_attribute() -> None:
    text, entities = parse_html('<a href="https://example.org/?a=1&amp;b=2">site</a>')
    assert text == "site"
    assert entities == [Entity("text_link", 0, 4, url="https://example.org/?a=1&b=2")]


def test_link_attribute_quoting_styles() -> None:
    assert parse_html("<a href='tg://user?id=1'>u</a>")[1][0].url == "tg://user?id=1"
    assert parse_html("<a href=name>u</a>")[1][0].url == "name"
    assert parse_html('<a  href = "x" >u</a >')[1][0].url == "x"


def test_custom_emoji() -> None:
    text, entities = parse_html('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>')
    assert text == "👍"
    assert entities == [
        Entity("custom_emoji", 0, 2, custom_emoji_id="5368324170671202286"),
    ]
    with pytest.raises(TelegramHtmlError, match="custom emoji identifier"):
        parse_html("<tg-emoji>👍</tg-emoji>")


def test_pre_with_language() -> None:
    html = '<pre><code class="language-python">print(1)</code></pre>'
    assert parse_html(html) == ("print(1)", [Entity("pre", 0, 8, language="python")])


def test_language_on_lone_code_is_dropped() -> None:
    assert parse_html('<code class="language-py">x</code>') == ("x", [Entity("code", 0, 1)])


def test_blockquote_expandable() -> None:
    _, entities = parse_html("<blockquote expandable>long</blockquote>")
    assert entities == [Entity("expandable_blockquote", 0, 4)]


def test_nested_tags_outer_first() -> None:
    text, entities = parse_html("<b>bold <i>both <u>all</u></i></b> plain")
    assert text == "bold both all plain"
    assert entities == [
        Entity("bold", 0, 13),
        Entity("italic", 5, 8),
        Entity("underline", 10, 3),
    ]


def test_same_span_keeps_opening_order() -> None:
    _, entities = parse_html("<b><i>x</i></b>")
    assert [e.type for e in entities] == ["bold", "italic"]


def test_empty_entities_are_dropped_and_short_end_tag() -> None:
    assert parse_html("<b></b>x<i>y</>") == ("xy", [Entity("italic", 1, 1)])


def test_unknown_attributes_are_ignored() -> None:
    assert parse_html('<b class="x" id=y>z</b>') == ("z", [Entity("bold", 0, 1)])


# --- parsing: entities and offsets --------------------------------------------------------------


def test_character_references() -> None:
    text, _ = parse_html("&lt;a&gt; &amp; &quot;q&quot; &#60; &#x3C; &#x1F600;")
    assert text == '<a> & "q" < < 😀'


def test_bare_greater_than_is_fine() -> None:
    assert parse_html("a > b")[0] == "a > b"


def test_emoji_offsets_are_utf16() -> None:
    text, entities = parse_html("😀 <b>é😀x</b> 🇺🇦<i>y</i>")
    assert text == "😀 é😀x 🇺🇦y"
    assert entities == [Entity("bold", 3, 4), Entity("italic", 12, 1)]
    assert utf16_len(text) == 13
    assert visible_length("😀 <b>é😀x</b> 🇺🇦<i>y</i>") == 13


def test_utf16_len() -> None:
    assert utf16_len("") == 0
    assert utf16_len("abc") == 3
    assert utf16_len("é") == 1
    assert utf16_len("😀") == 2
    assert utf16_len("👨‍👩‍👧") == 8


# --- parsing: errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "message"),
    [
        ("<script>alert(1)</script>", 'unsupported start tag "script" at byte offset 0'),
        ("é <div>x</div>", 'unsupported start tag "div" at byte offset 3'),
        ("<b>never closed", 'can\'t find end tag corresponding to start tag "b"'),
        ("text</a>", "unexpected end tag at byte offset 4"),
        ("<b>x</i>", 'unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("Tom & Jerry", "character '&' at byte offset 4 must be escaped"),
        ("a &nbsp; b", 'unsupported HTML entity "&nbsp;"'),
        ("&amp without semicolon", "character '&' at byte offset 0"),
        ("&#0;", "invalid character reference"),
        ("&#xD800;", "invalid character reference"),
        ("&#99999999999999;", "invalid character reference"),
        ("1 < 2", "character '<' at byte offset 2 is reserved"),
        ("<", "character '<' at byte offset 0 is reserved"),
        ("<b", "unclosed start tag at byte offset 0"),
        ('<a href="x>y</a>', "character '<' at byte offset 12 is reserved"),
        ("<a href=>x</a>", "expected equal sign"),
        ("x</b", "unclosed end tag at byte offset 1"),
    ],
)
def test_errors(html: str, message: str) -> None:
    with pytest.raises(TelegramHtmlError) as info:
        parse_html(html)
    assert str(info.value).startswith("Can't parse entities: ")
    assert message in str(info.value)


def test_error_is_a_value_error() -> None:
    assert issubclass(TelegramHtmlError, ValueError)


# --- splitting ----------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _check_chunks(html: str, chunks: list[str], limit: int) -> None:
    """Every chunk parses, fits, is non-empty; together they carry the original text."""
    plains = []
    for chunk in chunks:
        plain, _ = parse_html(chunk)
        assert 0 < utf16_len(plain) <= limit
        assert plain.strip()
        plains.append(plain)
    assert _squash("".join(plains)) == _squash(parse_html(html)[0])


def test_short_text_is_returned_unchanged() -> None:
    html = "  <b>hello</b> &amp; bye \n"
    assert split_html(html) == [html]
    assert split_html("x" * 4096) == ["x" * 4096]


def test_split_long_text_with_bold_spans_crossing_the_limit() -> None:
    rng = random.Random(7)
    words = ["alpha", "beta", "d&amp;e", "😀x", "слово", "<i>it</i>", "x&#x1F600;"]
    parts = []
    for index in range(2200):
        word = rng.choice(words)
        if index % 40 == 0:
            word = "<b>" + word
        if index % 40 == 39:
            word += "</b>"
        if index % 97 == 0:
            word += "\n\n"
        elif index % 11 == 0:
            word += "\n"
        parts.append(word)
    html = '<a href="https://example.org">link</a> ' + " ".join(parts)
    assert visible_length(html) > 10_000

    for limit in (4096, 1000):
        chunks = split_html(html, limit)
        assert len(chunks) >= 3
        _check_chunks(html, chunks, limit)
    # Bold spans are cut and reopened: some chunk starts inside one.
    assert any(c.startswith("<b>") for c in split_html(html, 1000)[1:])


def _words(count: int) -> str:
    return ("word " * count).strip()  # 5 * count - 1 characters


def test_split_prefers_blank_line_then_newline_then_space() -> None:
    # The blank line (at 1099) wins over the later newline, which would fill the chunk more.
    html = _words(220) + "\n\n" + _words(80) + "\n" + _words(200)
    assert split_html(html, 2000) == [_words(220), _words(80) + "\n" + _words(200)]
    # The newline wins over the later spaces.
    html = _words(220) + "\n" + _words(80) + " " + _words(200)
    assert split_html(html, 2000) == [_words(220), _words(80) + " " + _words(200)]
    # Spaces: the rightmost one that fits, including one right after the limit.
    html = "ab " * 10
    assert split_html(html, 8) == ["ab ab ab", "ab ab ab", "ab ab ab", "ab "]


def test_split_ignores_an_early_break_that_would_leave_a_tiny_chunk() -> None:
    html = "Title\n\n" + _words(300)
    chunks = split_html(html, 1000)
    assert chunks[0].startswith("Title\n\nword word")
    _check_chunks(html, chunks, 1000)


def test_split_inside_a_word_as_last_resort_and_reopens_tags() -> None:
    html = '<a href="https://x.org/?q=1&amp;r=2"><b>' + "a" * 25 + "</b></a>"
    chunks = split_html(html, 10)
    assert chunks == [
        '<a href="https://x.org/?q=1&amp;r=2"><b>aaaaaaaaaa</b></a>',
        '<a href="https://x.org/?q=1&amp;r=2"><b>aaaaaaaaaa</b></a>',
        '<a href="https://x.org/?q=1&amp;r=2"><b>aaaaa</b></a>',
    ]
    for chunk in chunks:
        assert parse_html(chunk)[1][0].url == "https://x.org/?q=1&r=2"


def test_split_never_inside_an_entity_or_emoji() -> None:
    html = "&amp;" * 30
    chunks = split_html(html, 7)
    assert all(re.fullmatch(r"(&amp;)+", c) for c in chunks)
    _check_chunks(html, chunks, 7)
    # A surrogate pair never straddles a boundary; the 3-unit limit leaves one unit unused.
    html = "😀" * 9
    chunks = split_html(html, 3)
    assert chunks == ["😀"] * 9


def test_split_keeps_zwj_sequences_together() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 UTF-16 units
    chunks = split_html("abcd" + family, 10)
    assert chunks == ["abcd", family]


def test_split_drops_whitespace_at_the_split_and_leaves_no_empty_chunks() -> None:
    html = "<b>aaaa</b>   \n\n   <i>bbbb</i>"
    assert split_html(html, 6) == ["<b>aaaa</b>", "<i>bbbb</i>"]
    html = "aaaa <b> </b> bbbb"
    assert split_html(html, 6) == ["aaaa", "bbbb"]


def test_split_rejects_invalid_html_and_bad_limit() -> None:
    with pytest.raises(TelegramHtmlError):
        split_html("<b>" + "x" * 5000)
    with pytest.raises(ValueError, match="limit"):
        split_html("abc", 0)


def test_split_bold_span_crossing_the_default_limit() -> None:
    html = _words(700) + " <b>" + _words(700) + "</b>"  # 7000 visible characters
    first, second = split_html(html)
    assert first.endswith("</b>") and second.startswith("<b>")
    assert first.count("<b>") == first.count("</b>") == 1
    _check_chunks(html, [first, second], 4096)
    assert parse_html(second)[1][0].type == "bold"
