"""Text normalisation applied identically in training and inference (it lives in the saved processor).

Arabic text of one meaning reaches a model in many spellings: with or without diacritics (tashkeel), with
elongation (tatweel), with different alef/hamza forms, with Arabic-Indic digits. Normalising them away before
tokenisation lets a small training set cover what users type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

# Fathatan .. sukun, superscript (dagger) alef, and the Quranic annotation marks.
_TASHKEEL = re.compile("[\u064b-\u0652\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_ALEF_FORMS = str.maketrans({"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627"})
_DIGITS = str.maketrans(
    {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
)
_ALEF_MAQSURA = str.maketrans({"\u0649": "\u064a"})
_TEH_MARBUTA = str.maketrans({"\u0629": "\u0647"})
_SPACES = re.compile(r"\s+")
# Zero-width spaces and joiners, direction marks and embeddings, word joiner, BOM: invisible, never meaningful here.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class TextNormalizer:
    """A switchable chain of normalisation steps; `TextNormalizer()(text)` applies the defaults.

    Defaults follow common Arabic retrieval practice: diacritics, tatweel and alef variants carry little meaning
    for scene descriptions, digits should match whatever script they were typed in. Folding alef maqsura and teh
    marbuta is more aggressive and off by default.
    """

    unicode_nfkc: bool = True  # presentation forms (e.g. U+FEFB lam-alef ligature) become plain letters
    strip_tashkeel: bool = True
    strip_tatweel: bool = True
    unify_alef: bool = True
    arabic_digits_to_ascii: bool = True
    fold_alef_maqsura: bool = False
    fold_teh_marbuta: bool = False
    lowercase: bool = False
    collapse_whitespace: bool = True
    strip_invisible: bool = True

    def __call__(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if text.isascii():  # no Unicode or Arabic step changes ASCII text (most English captions)
            if self.lowercase:
                text = text.lower()
            return " ".join(text.split()) if self.collapse_whitespace else text
        return self.apply_every_step(text)

    def apply_every_step(self, text: str) -> str:
        """The whole chain, with no shortcut for ASCII text."""
        if self.strip_invisible:
            text = _INVISIBLE.sub("", text)
        if self.unicode_nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.strip_tashkeel:
            text = _TASHKEEL.sub("", text)
        if self.strip_tatweel:
            text = text.replace(_TATWEEL, "")
        if self.unify_alef:
            text = text.translate(_ALEF_FORMS)
        if self.arabic_digits_to_ascii:
            text = text.translate(_DIGITS)
        if self.fold_alef_maqsura:
            text = text.translate(_ALEF_MAQSURA)
        if self.fold_teh_marbuta:
            text = text.translate(_TEH_MARBUTA)
        if self.lowercase:
            text = text.lower()
        if self.collapse_whitespace:
            text = _SPACES.sub(" ", text).strip()
        return text

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, options: dict[str, bool] | None) -> TextNormalizer:
        options = dict(options or {})
        unknown = set(options) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown text normalisation options {sorted(unknown)}; "
                             f"known: {sorted(cls.__dataclass_fields__)}")
        return cls(**options)


def has_words(text: str, normalizer: TextNormalizer | None = None) -> bool:
    """Whether `text` still holds a letter or a digit after normalisation.

    A caption or query made only of tashkeel, tatweel, zero-width characters or punctuation normalises to nothing
    a model can match: builds report it as a bad caption, searches refuse it.
    """
    normalized = (normalizer or TextNormalizer())(text)
    return any(unicodedata.category(char)[0] in "LN" and char != _TATWEEL for char in normalized)


__all__ = ["TextNormalizer", "has_words"]
