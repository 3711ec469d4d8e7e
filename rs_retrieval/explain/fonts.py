"""A font that draws Arabic, found offline, and Arabic text prepared for the renderer that will draw it.

Matplotlib 3.11 and later lay text out with libraqm: it shapes Arabic into joined letter forms and orders it
right to left itself, so the text must be passed through untouched (shaping it first would reverse it twice).
Older matplotlib draws one glyph per character, left to right, with no shaping: there Arabic has to be
reshaped into its contextual forms (`arabic_reshaper`) and reordered for display (`bidi.get_display`) first.
Either way the font must have Arabic glyphs, or the text comes out as boxes.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from ..errors import RsRetrievalError

#: Code points a font must have: base letters and the contextual forms the reshaper produces (alef, beh, lam-alef).
ARABIC_PROBE = (0x0627, 0x0628, 0x0644, 0xFE8D, 0xFE91, 0xFEDF, 0xFEFB)
#: Tried first, in this order: matplotlib's bundled DejaVu Sans has Arabic glyphs.
PREFERRED_FAMILIES = ("DejaVu Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "Amiri", "FreeSerif")


class ArabicFontNotFoundError(RsRetrievalError, RuntimeError):
    """No installed font can draw Arabic."""


def has_arabic_glyphs(path: str | Path) -> bool:
    """Whether the font file maps every code point of `ARABIC_PROBE` to a glyph."""
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(code in charmap for code in ARABIC_PROBE)


def _fontconfig_candidates() -> list[str]:
    """Font files fontconfig lists for Arabic (empty where fc-list is missing)."""
    try:
        listing = subprocess.run(["fc-list", ":lang=ar", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.split(":")[0].strip() for line in listing.splitlines() if line.strip())


def _candidates() -> list[str]:
    """Font files to try: matplotlib's fonts of the preferred families (regular first), fontconfig's, then all."""
    from matplotlib import font_manager

    fonts = font_manager.fontManager.ttflist
    preferred = sorted((entry for entry in fonts if entry.name in PREFERRED_FAMILIES),
                       key=lambda e: (PREFERRED_FAMILIES.index(e.name), e.weight != 400, e.style != "normal",
                                      e.stretch != "normal", e.fname))
    found = [entry.fname for entry in preferred] + _fontconfig_candidates() + sorted(entry.fname for entry in fonts)
    return list(dict.fromkeys(found))


@functools.cache
def arabic_font_path() -> Path:
    """The first font file that has Arabic glyphs: a preferred family, then fontconfig's list, then any font."""
    for path in _candidates():
        if has_arabic_glyphs(path):
            return Path(path)
    raise ArabicFontNotFoundError(
        "no font with Arabic glyphs found (matplotlib's bundled DejaVu Sans has them, so this matplotlib install "
        "lacks it); install one, e.g. `apt-get install fonts-noto-core` or `fonts-dejavu-core`"
    )


def arabic_font():
    """`matplotlib.font_manager.FontProperties` for `arabic_font_path()`, for titles that may contain Arabic."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(arabic_font_path()))


def contains_arabic(text: str) -> bool:
    """Whether `text` has a character from the Arabic blocks (base or presentation forms)."""
    return any("\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufdff"
               or "\ufe70" <= ch <= "\ufeff" for ch in text)


@functools.cache
def renderer_shapes_text() -> bool:
    """Whether matplotlib lays text out with libraqm (3.11+), shaping Arabic and ordering it right to left itself."""
    from matplotlib import ft2font

    return hasattr(ft2font, "__libraqm_version__")


def shape_for_ltr(text: str) -> str:
    """Arabic in contextual presentation forms and in visual order, for a renderer that only goes left to right."""
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(text))


def display_text(text: str) -> str:
    """`text` as matplotlib must be given it to show it correctly: shaped for old matplotlib, untouched for 3.11+."""
    if not contains_arabic(text) or renderer_shapes_text():
        return text
    return shape_for_ltr(text)


def shrink_to_width(text_artist, max_width_px: float, min_size: float = 6.0) -> None:
    """Lower a matplotlib text's font size until it is at most `max_width_px` wide (long queries stay readable)."""
    figure = text_artist.get_figure()
    renderer = figure.canvas.get_renderer()
    while text_artist.get_fontsize() > min_size and text_artist.get_window_extent(renderer).width > max_width_px:
        text_artist.set_fontsize(text_artist.get_fontsize() - 0.5)


__all__ = [
    "ARABIC_PROBE",
    "ArabicFontNotFoundError",
    "arabic_font",
    "arabic_font_path",
    "contains_arabic",
    "display_text",
    "has_arabic_glyphs",
    "renderer_shapes_text",
    "shape_for_ltr",
    "shrink_to_width",
]
