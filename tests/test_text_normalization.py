"""Arabic-aware text normalisation: each step, switchable, applied identically by the processor."""

from __future__ import annotations

import pytest

from rs_retrieval import TextNormalizer


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
