"""The results of a poll as a PNG: one horizontal bar per option, its count and share.

Plain Pillow, no plotting library. Pillow's built-in font (Aileron, `ImageFont.load_default`)
has no Cyrillic or Perso-Arabic letters, so a system font that has them (DejaVu Sans, from the
`fonts-dejavu-core` package on Debian and Ubuntu) is used when one is installed; without one the
built-in font draws Latin text and boxes for the rest. Text is shaped by FreeType (and by raqm,
when Pillow has it, for right-to-left scripts).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Fonts with Latin, Cyrillic and Arabic letters, first found wins.
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/arial.ttf",
)

WIDTH = 900
MARGIN = 28
BAR_HEIGHT = 26
ROW_GAP = 18
LABEL_SIZE = 18
TITLE_SIZE = 24
NOTE_SIZE = 16
BACKGROUND = (255, 255, 255)
TEXT = (33, 37, 41)
MUTED = (108, 117, 125)
TRACK = (233, 236, 239)
BAR = (47, 111, 179)
WINNER = (32, 140, 90)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size: int) -> Font:
    for name in FONT_FILES:
        if Path(name).is_file():
            try:
                return ImageFont.truetype(name, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: Font) -> float:
    return draw.textlength(text, font=font)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: Font, width: float, max_lines: int
) -> list[str]:
    """Words into lines no wider than `width`; a word too long on its own is cut; the last line
    ends with an ellipsis when the text does not fit in `max_lines`."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if _text_width(draw, candidate, font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while _text_width(draw, word, font) > width and len(word) > 1:
            cut = len(word)
            while cut > 1 and _text_width(draw, word[:cut], font) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _text_width(draw, last + "…", font) > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines or [""]


def results_png(question: str, options: list[str], counts: list[int], title_note: str) -> bytes:
    """A chart of a poll's results: the question, then per option its text, a bar as long as
    its share of the largest count, and "count (percent %)"; `title_note` (the turnout, say)
    under the question. Returns the PNG's bytes."""
    if len(options) != len(counts):
        raise ValueError("one count per option")
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_font, label_font, note_font = _font(TITLE_SIZE), _font(LABEL_SIZE), _font(NOTE_SIZE)
    inner = WIDTH - 2 * MARGIN
    title_lines = _wrap(scratch, question, title_font, inner, 4)
    note_lines = _wrap(scratch, title_note, note_font, inner, 3) if title_note else []
    option_lines = [_wrap(scratch, option, label_font, inner, 2) for option in options]

    title_step = TITLE_SIZE + 8
    note_step = NOTE_SIZE + 6
    label_step = LABEL_SIZE + 6
    height = MARGIN + title_step * len(title_lines) + note_step * len(note_lines) + 14
    for lines in option_lines:
        height += label_step * len(lines) + 4 + BAR_HEIGHT + ROW_GAP
    height += MARGIN - ROW_GAP

    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line in title_lines:
        draw.text((MARGIN, y), line, font=title_font, fill=TEXT)
        y += title_step
    for line in note_lines:
        draw.text((MARGIN, y), line, font=note_font, fill=MUTED)
        y += note_step
    y += 14

    total = sum(counts)
    top = max(counts, default=0)
    number_space = max(
        (_text_width(draw, _figure(c, total), label_font) for c in counts), default=0
    )
    bar_width = inner - number_space - 12
    for lines, count in zip(option_lines, counts, strict=True):
        for line in lines:
            draw.text((MARGIN, y), line, font=label_font, fill=TEXT)
            y += label_step
        y += 4
        draw.rectangle((MARGIN, y, MARGIN + bar_width, y + BAR_HEIGHT), fill=TRACK)
        if count and top:
            length = max(2, round(bar_width * count / top))
            colour = WINNER if count == top else BAR
            draw.rectangle((MARGIN, y, MARGIN + length, y + BAR_HEIGHT), fill=colour)
        draw.text(
            (MARGIN + bar_width + 12, y + (BAR_HEIGHT - LABEL_SIZE) / 2 - 1),
            _figure(count, total),
            font=label_font,
            fill=TEXT,
        )
        y += BAR_HEIGHT + ROW_GAP

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _figure(count: int, total: int) -> str:
    share = round(100 * count / total) if total else 0
    return f"{count} ({share} %)"
