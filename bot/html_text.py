"""Telegram-HTML parsing and safe splitting.

Telegram's HTML parse mode (https://core.telegram.org/bots/api#html-style) is a small, strict
dialect: a handful of tags, four named entities plus numeric ones, and balanced nesting. The
stdlib ``html.parser`` is far more forgiving (bare ``&``, stray ``<``, unknown entities), so this
module hand-writes a tokenizer that rejects what Telegram documents as invalid. Error texts follow
Telegram's wording (``Can't parse entities: ...``) with byte offsets counted in UTF-8 bytes.

Deliberate strictness: the real server (tdlib) keeps an unknown ``&`` sequence literally, but the
documentation says every ``&`` must be escaped, so we reject it; that keeps the bot's own escaping
honest. A bare ``>`` is accepted, as it is by Telegram.

Pure functions only, no telegram imports: usable from services and tests alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Entity",
    "TelegramHtmlError",
    "parse_html",
    "split_html",
    "utf16_len",
    "visible_length",
]


class TelegramHtmlError(ValueError):
    """The text is not valid Telegram HTML; the message mimics Telegram's error description."""


@dataclass(frozen=True)
class Entity:
    """A message entity as Telegram would report it (offset/length in UTF-16 code units)."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    # Not in the brief's minimal shape, but a custom_emoji entity is meaningless without it.
    custom_emoji_id: str | None = None


# Tag name -> MessageEntity type. ``blockquote`` becomes ``expandable_blockquote`` when it
# carries the ``expandable`` attribute; ``span`` must carry class="tg-spoiler".
_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}

_NAMED_ENTITIES: dict[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([A-Za-z][A-Za-z0-9]*));")
# HTML 4 name token, which is what tdlib accepts for an unquoted attribute value.
_UNQUOTED_VALUE_RE = re.compile(r"[A-Za-z0-9.\-_:]+")
_SPACE = " \t\n\r\f\v"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for offsets and length limits."""
    # Characters outside the BMP take a surrogate pair; the codec counts them at C speed.
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(html: str, index: int) -> int:
    return len(html[:index].encode("utf-8"))


class _LazyOffset:
    """Byte offset computed only when formatted into an error (encoding the prefix is O(n))."""

    __slots__ = ("html", "index")

    def __init__(self, html: str, index: int) -> None:
        self.html = html
        self.index = index

    def __format__(self, spec: str) -> str:
        return format(_byte_offset(self.html, self.index), spec)


def _error(message: str) -> TelegramHtmlError:
    return TelegramHtmlError(f"Can't parse entities: {message}")


# --- tokenizer ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Char:
    """One code point of visible text and the source it came from (a char or an entity)."""

    raw: str
    char: str


@dataclass(frozen=True, slots=True)
class _StartTag:
    raw: str
    name: str
    attrs: dict[str, str | None]
    pos: int  # index in the source string, for error messages


@dataclass(frozen=True, slots=True)
class _EndTag:
    raw: str
    name: str  # may be empty: "</>" closes whatever is open, as tdlib allows
    pos: int


_Token = _Char | _StartTag | _EndTag
_Found = tuple[int, "Entity"]  # (opening order, entity)


def _decode_entity(html: str, i: int) -> tuple[str, int]:
    """Decode the character reference starting at html[i] == '&'; return (char, next index)."""
    m = _ENTITY_RE.match(html, i)
    if m is None:
        raise _error(
            f"character '&' at byte offset {_byte_offset(html, i)} must be escaped as &amp;"
        )
    dec, hexa, name = m.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            raise _error(
                f'unsupported HTML entity "&{name};" at byte offset {_byte_offset(html, i)}'
            )
        return _NAMED_ENTITIES[name], m.end()
    # Huge digit runs are bounded before int() so a hostile string can't cost much.
    digits = dec if dec is not None else hexa
    code = int(digits[:12], 10 if dec is not None else 16) if len(digits) <= 12 else -1
    if not (0 < code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
        raise _error(
            f'invalid character reference "{m.group(0)}" at byte offset {_byte_offset(html, i)}'
        )
    return chr(code), m.end()


def _read_start_tag(html: str, begin: int) -> _StartTag:
    """Parse a start tag whose '<' is at html[begin] (html[begin+1] is a letter)."""
    n = len(html)
    offset = _LazyOffset(html, begin)
    i = begin + 1
    while i < n and html[i] not in _SPACE and html[i] != ">":
        i += 1
    if i >= n:
        raise _error(f"unclosed start tag at byte offset {offset}")
    name = html[begin + 1 : i].lower()
    if name not in _TAG_TYPES:
        raise _error(f'unsupported start tag "{name}" at byte offset {offset}')

    attrs: dict[str, str | None] = {}
    while True:
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _error(f'unclosed start tag "{name}" at byte offset {offset}')
        if html[i] == ">":
            break
        attr_begin = i
        while i < n and html[i] not in _SPACE and html[i] not in "=>":
            i += 1
        attr_name = html[attr_begin:i].lower()
        if not attr_name:
            raise _error(f'empty attribute name in the tag "{name}" at byte offset {offset}')
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _error(f'unclosed start tag "{name}" at byte offset {offset}')
        if html[i] != "=":
            attrs[attr_name] = None  # boolean attribute, e.g. <blockquote expandable>
            continue
        i += 1
        while i < n and html[i] in _SPACE:
            i += 1
        if i >= n:
            raise _error(f'unclosed start tag "{name}" at byte offset {offset}')
        quote = html[i]
        if quote in "\"'":
            i += 1
            value: list[str] = []
            while i < n and html[i] != quote:
                if html[i] == "&":
                    ch, i = _decode_entity(html, i)
                    value.append(ch)
                elif html[i] == "<":
                    raise _error(
                        f"character '<' at byte offset {_byte_offset(html, i)} is reserved "
                        "and must be escaped as &lt;"
                    )
                else:
                    value.append(html[i])
                    i += 1
            if i >= n:
                raise _error(f'unclosed start tag "{name}" at byte offset {offset}')
            i += 1
            attrs[attr_name] = "".join(value)
        else:
            m = _UNQUOTED_VALUE_RE.match(html, i)
            if m is None:
                raise _error(
                    "expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {offset}'
                )
            attrs[attr_name] = m.group(0)
            i = m.end()
    return _StartTag(raw=html[begin : i + 1], name=name, attrs=attrs, pos=begin)


def _read_end_tag(html: str, begin: int) -> _EndTag:
    """Parse an end tag whose '</' is at html[begin]."""
    n = len(html)
    i = begin + 2
    while i < n and html[i] not in _SPACE and html[i] != ">":
        i += 1
    name = html[begin + 2 : i].lower()
    while i < n and html[i] in _SPACE:
        i += 1
    if i >= n or html[i] != ">":
        raise _error(f"unclosed end tag at byte offset {_byte_offset(html, begin)}")
    return _EndTag(raw=html[begin : i + 1], name=name, pos=begin)


def _tokenize(html: str) -> list[_Token]:
    tokens: list[_Token] = []
    n = len(html)
    i = 0
    while i < n:
        c = html[i]
        if c == "&":
            ch, j = _decode_entity(html, i)
            tokens.append(_Char(raw=html[i:j], char=ch))
            i = j
        elif c == "<":
            nxt = html[i + 1] if i + 1 < n else ""
            if nxt == "/":
                tok: _Token = _read_end_tag(html, i)
            elif nxt.isascii() and nxt.isalpha():
                tok = _read_start_tag(html, i)
            else:
                # Telegram would call this an unsupported tag with an odd name; saying what is
                # actually wrong is more useful.
                raise _error(
                    f"character '<' at byte offset {_byte_offset(html, i)} is reserved "
                    "and must be escaped as &lt;"
                )
            tokens.append(tok)
            i += len(tok.raw)
        else:
            tokens.append(_Char(raw=c, char=c))
            i += 1
    return tokens


# --- structure ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    tag: _StartTag
    seq: int  # opening order, to sort entities that share a span outer-first
    offset: int  # UTF-16 offset where the tag's content starts
    text_start: int  # index into the plain-text list where the content starts


@dataclass(frozen=True, slots=True)
class _Parsed:
    tokens: list[_Token]
    text: str
    entities: list[Entity]


def _check_start_tag(html: str, tag: _StartTag) -> None:
    offset = _LazyOffset(html, tag.pos)
    if tag.name == "span" and tag.attrs.get("class") != "tg-spoiler":
        raise _error(f'tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id") or ""
        if not emoji_id.isascii() or not emoji_id.isdigit() or int(emoji_id) == 0:
            raise _error(f"invalid custom emoji identifier specified at byte offset {offset}")


def _make_entity(opened: _Open, length: int, inner_text: str, found: list[_Found]) -> None:
    tag = opened.tag
    kind = _TAG_TYPES[tag.name]
    url = language = emoji_id = None
    if tag.name == "a":
        # tdlib falls back to the link text when href is missing or empty.
        url = tag.attrs.get("href") or inner_text
    elif tag.name == "tg-emoji":
        emoji_id = tag.attrs.get("emoji-id")
    elif tag.name == "code":
        # Kept for now so an enclosing <pre> can adopt it; dropped from a lone <code> later.
        cls = tag.attrs.get("class") or ""
        if cls.startswith("language-"):
            language = cls[len("language-") :] or None
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        kind = "expandable_blockquote"
    elif tag.name == "pre" and found:
        # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
        last = found[-1][1]
        if last.type == "code" and last.offset == opened.offset and last.length == length:
            found.pop()
            language = last.language
    entity = Entity(
        kind, opened.offset, length, url=url, language=language, custom_emoji_id=emoji_id
    )
    found.append((opened.seq, entity))


def _parse(html: str) -> _Parsed:
    tokens = _tokenize(html)
    pieces: list[str] = []
    utf16_pos = 0
    stack: list[_Open] = []
    found: list[_Found] = []
    seq = 0
    for tok in tokens:
        if isinstance(tok, _Char):
            pieces.append(tok.char)
            utf16_pos += 2 if ord(tok.char) > 0xFFFF else 1
        elif isinstance(tok, _StartTag):
            _check_start_tag(html, tok)
            stack.append(_Open(tok, seq, utf16_pos, len(pieces)))
            seq += 1
        else:
            if not stack:
                raise _error(f"unexpected end tag at byte offset {_byte_offset(html, tok.pos)}")
            top = stack[-1]
            if tok.name and tok.name != top.tag.name:
                raise _error(
                    f"unmatched end tag at byte offset {_byte_offset(html, tok.pos)}, "
                    f'expected "</{top.tag.name}>", found "</{tok.name}>"'
                )
            stack.pop()
            length = utf16_pos - top.offset
            # Telegram silently drops empty entities.
            if length > 0:
                inner = "".join(pieces[top.text_start :]) if top.tag.name == "a" else ""
                _make_entity(top, length, inner, found)
    if stack:
        raise _error(f'can\'t find end tag corresponding to start tag "{stack[-1].tag.name}"')

    entities = []
    for _, ent in sorted(found, key=lambda item: (item[1].offset, -item[1].length, item[0])):
        # A language only makes sense on pre; a lone <code class="language-x"> is plain code.
        if ent.type == "code" and ent.language is not None:
            ent = Entity(ent.type, ent.offset, ent.length)
        entities.append(ent)
    return _Parsed(tokens=tokens, text="".join(pieces), entities=entities)


def parse_html(html: str) -> tuple[str, list[Entity]]:
    """Return the plain text and entities Telegram would produce; raise TelegramHtmlError."""
    text, entities = _parse_cached(html)
    return text, list(entities)


@lru_cache(maxsize=512)
def _parse_cached(html: str) -> tuple[str, tuple[Entity, ...]]:
    # The same message is often checked several times (the sandbox checks every request, a
    # broadcast sends one text to many): parse each distinct text once. Errors are not cached.
    parsed = _parse(html)
    return parsed.text, tuple(parsed.entities)


def visible_length(html: str) -> int:
    """UTF-16 length of the text after entity parsing (what Telegram's length limits count)."""
    return utf16_len(parse_html(html)[0])


# --- splitting ----------------------------------------------------------------------------------

# Break classes in order of preference; a break is a run of whitespace that gets dropped.
# Only ASCII whitespace breaks: a no-break space means "do not break here".
_BREAK_SPACE = frozenset(_SPACE)
_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v]*\n")
_NEWLINE_RE = re.compile(r"\n")
_SPACE_RE = re.compile(r"[ \t\n\r\f\v]")


def _glued(prev: str, nxt: str) -> bool:
    """True if splitting between prev and nxt would break an emoji or combining sequence."""
    if prev == "\u200d" or nxt == "\u200d":  # zero-width joiner sequences
        return True
    if "\ufe00" <= nxt <= "\ufe0f" or "\U0001f3fb" <= nxt <= "\U0001f3ff":  # VS / skin tone
        return True
    if "\U000e0020" <= nxt <= "\U000e007f":  # tag sequences (subdivision flags)
        return True
    if "\U0001f1e6" <= prev <= "\U0001f1ff" and "\U0001f1e6" <= nxt <= "\U0001f1ff":
        return True  # regional-indicator pair (may mis-pair a long flag run; harmless)
    if 0xD800 <= ord(nxt) <= 0xDFFF:
        return True
    return unicodedata.combining(nxt) != 0


def split_html(html: str, limit: int = 4096) -> list[str]:
    """Split valid Telegram HTML into chunks of at most ``limit`` visible UTF-16 units each.

    Breaks prefer a blank line, then a newline, then a space, and only then fall inside a word;
    never inside a tag or an entity. A break only counts as "preferred" if it leaves the chunk at
    least half full, so a short heading followed by a long paragraph does not become a message of
    its own. Tags open at a break are closed at the end of the chunk and reopened (verbatim,
    attributes included) at the start of the next, so every chunk is valid Telegram HTML. The
    whitespace at a break is dropped; chunks are never empty.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    # Tags and entities only shorten the text: a short source needs no parsing at all.
    if utf16_len(html) <= limit:
        return [html]
    parsed = _parse(html)
    text = parsed.text
    if utf16_len(text) <= limit:
        return [html]

    tokens = parsed.tokens
    # char_tok[k]: token index of the k-th visible character; cum[k]: UTF-16 units before it.
    char_tok: list[int] = []
    cum = [0]
    for t_index, tok in enumerate(tokens):
        if isinstance(tok, _Char):
            char_tok.append(t_index)
            cum.append(cum[-1] + (2 if ord(tok.char) > 0xFFFF else 1))

    # Open-tag stack in force before each token (tuples share structure cheaply enough).
    stacks: list[tuple[_StartTag, ...]] = []
    current: tuple[_StartTag, ...] = ()
    for tok in tokens:
        stacks.append(current)
        if isinstance(tok, _StartTag):
            current = (*current, tok)
        elif isinstance(tok, _EndTag):
            current = current[:-1]
    stacks.append(current)

    def render(t_start: int, t_end: int) -> str:
        opened = stacks[t_start]
        closing = stacks[t_end]
        body = "".join(tok.raw for tok in tokens[t_start:t_end])
        reopen = "".join(tag.raw for tag in opened)
        close = "".join(f"</{tag.name}>" for tag in reversed(closing))
        return reopen + body + close

    chunks: list[str] = []
    n_chars = len(text)
    start_char = 0
    start_tok = 0  # the first chunk keeps everything before its first character
    while True:
        if cum[n_chars] - cum[start_char] <= limit:
            chunks.append(render(start_tok, len(tokens)))
            break
        # hard_end: the largest char index such that chars [start_char, hard_end) fit.
        budget = cum[start_char] + limit
        lo, hi = start_char, n_chars
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if cum[mid] <= budget:
                lo = mid
            else:
                hi = mid - 1
        hard_end = lo

        cut, resume = _choose_break(text, start_char, hard_end, limit, cum)
        # Extend the chunk over end tags that directly follow its last character, so the
        # common case reproduces the source instead of synthesising closing tags.
        t_end = char_tok[cut - 1] + 1
        while t_end < len(tokens) and isinstance(tokens[t_end], _EndTag):
            t_end += 1
        if any(ch not in _BREAK_SPACE for ch in text[start_char:cut]):
            chunks.append(render(start_tok, t_end))
        if resume >= n_chars:
            break
        start_char = resume
        start_tok = char_tok[resume]
    return chunks


def _choose_break(
    text: str, start: int, hard_end: int, limit: int, cum: list[int]
) -> tuple[int, int]:
    """Pick where to cut the chunk starting at ``start``.

    Returns (cut, resume): the chunk keeps chars [start, cut), the next one starts at resume;
    the whitespace in between is dropped. ``hard_end`` is the last char index that still fits.
    """
    first_content = start
    while first_content < hard_end and text[first_content] in _BREAK_SPACE:
        first_content += 1
    # The whitespace that separates two chunks may start right at hard_end (it is dropped).
    window = text[start : hard_end + 1]
    min_fill = cum[start] + limit // 2
    best_any: tuple[int, int] | None = None
    for pattern in (_BLANK_LINE_RE, _NEWLINE_RE, _SPACE_RE):
        candidate: tuple[int, int] | None = None
        for m in pattern.finditer(window):
            ws_start = start + m.start()
            if ws_start <= first_content:
                continue  # nothing but whitespace before this break
            cut = ws_start
            while cut > start and text[cut - 1] in _BREAK_SPACE:
                cut -= 1
            resume = ws_start
            while resume < len(text) and text[resume] in _BREAK_SPACE:
                resume += 1
            candidate = (cut, resume)  # keep the rightmost
        if candidate is None:
            continue
        if cum[candidate[0]] >= min_fill:
            return candidate
        if best_any is None or candidate[0] > best_any[0]:
            best_any = candidate
    if best_any is not None:
        return best_any
    # Last resort: inside a word, stepping back so an emoji sequence stays whole.
    cut = hard_end
    while cut - 1 > first_content and _glued(text[cut - 1], text[cut]):
        cut -= 1
    if cut <= first_content:
        cut = max(hard_end, start + 1)
    return cut, cut
