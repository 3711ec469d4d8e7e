"""Arabic-aware text normalisation: each step, switchable, applied identically by the processor."""

from __future__ import annotations

import random
import string

import pytest

from rs_retrieval import TextNormalizer
from rs_retrieval.processing import has_words


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("طَائِرَاتٌ مُتَوَقِّفَةٌ", "طائرات متوقفة"),  # tashkeel (fatha, kasra, damma, tanween, shadda)
        ("مـــدرج", "مدرج"),  # tatweel
        ("أرض إلى آبار ٱلمطار", "ارض الى ابار المطار"),  # hamza-above, hamza-below, madda, wasla → bare alef
        ("٣ طائرات و۴ سيارات", "3 طائرات و4 سيارات"),  # Arabic-Indic and Eastern Arabic-Indic digits
        ("ﻻ  يوجد\tشيء ", "لا يوجد شيء"),  # presentation-form ligature (NFKC) and whitespace
        ("Three airplanes", "Three airplanes"),  # English passes through untouched by default
    ],
)
def test_default_normalisation(raw, expected):
    assert TextNormalizer()(raw) == expected


def test_every_step_can_be_switched_off():
    text = "أَرْضٌ ـ ٣"
    assert TextNormalizer(strip_tashkeel=False, strip_tatweel=False, unify_alef=False,
                          arabic_digits_to_ascii=False, collapse_whitespace=False, unicode_nfkc=False)(text) == text


def test_optional_folds_and_lowercase():
    normalizer = TextNormalizer(fold_alef_maqsura=True, fold_teh_marbuta=True, lowercase=True)
    assert normalizer("مبنى مدرسة BIG") == "مبني مدرسه big"


def test_options_round_trip_and_unknown_options_are_named():
    normalizer = TextNormalizer(lowercase=True)
    assert TextNormalizer.from_dict(normalizer.to_dict()) == normalizer
    with pytest.raises(ValueError, match="strip_accents"):
        TextNormalizer.from_dict({"strip_accents": True})


@pytest.mark.parametrize("options", [{}, {"lowercase": True}, {"collapse_whitespace": False}, {"unicode_nfkc": False}])
def test_ascii_shortcut_gives_what_every_step_gives(options):
    normalizer = TextNormalizer(**options)
    rng = random.Random(0)
    texts = [chr(code) for code in range(128)]  # every ASCII character, whitespace and controls included
    texts += ["".join(rng.choices(string.printable + "\x1c\x1d\x1e\x1f\x0b", k=rng.randint(0, 40)))
              for _ in range(2000)]
    for text in texts:
        assert normalizer(text) == normalizer.apply_every_step(text), repr(text)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202b", "\u2066", "\ufeff",
                                       "\u00ad", "\u061c"])
def test_invisible_characters_are_stripped(invisible):
    assert TextNormalizer()(f"مطا{invisible}ر{invisible}") == "مطار"
    assert TextNormalizer(strip_invisible=False)(f"مطار{invisible}").endswith(invisible)


@pytest.mark.parametrize("text, expected", [
    ("three airplanes", True),
    ("طائرات", True),
    ("٣", True),                      # an Arabic-Indic digit is a word
    ("", False),
    ("   ", False),
    ("\u064e\u064b\u0650", False),    # tashkeel only
    ("\u0640\u0640\u0640", False),    # tatweel only
    ("\u200b\u200c\ufeff", False),    # zero-width only
    ("...!؟،", False),                # punctuation only
])
def test_has_words_tells_whether_anything_is_left_to_match(text, expected):
    assert has_words(text) is expected


def test_tatweel_is_no_word_even_when_the_normaliser_keeps_it():
    assert not has_words("\u0640\u0640", TextNormalizer(strip_tatweel=False))
