"""Fill missing caption translations with a transformers seq2seq model (MarianMT, NLLB, ...).

Remote-sensing caption sets repeat sentences heavily (UCM: 2,032 unique among 10,500), so each unique
normalised sentence is translated once, in length-sorted batches, and cached on the translator.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from .captions import normalize_caption, text_problem
from .records import SOURCE_LANGUAGE, ImageRecord
from .report import BuildReport

# ISO 639-1 -> FLORES-200 codes for the NLLB family (which selects the output language by a forced BOS token).
NLLB_CODES = {
    "ar": "arb_Arab",
    "en": "eng_Latn",
    "fr": "fra_Latn",
    "de": "deu_Latn",
    "es": "spa_Latn",
    "zh": "zho_Hans",
    "ru": "rus_Cyrl",
    "fa": "pes_Arab",
    "ur": "urd_Arab",
    "tr": "tur_Latn",
}
# ISO 639-1 -> ISO 639-3 for multi-target MarianMT models (e.g. opus-mt-en-ar), which read a `>>ara<<` prefix.
ISO639_3 = {
    "ar": "ara",
    "fr": "fra",
    "de": "deu",
    "es": "spa",
    "zh": "zho",
    "ru": "rus",
    "fa": "fas",
    "ur": "urd",
    "tr": "tur",
}


class Seq2SeqTranslator:
    """Translate English sentences into `target_language`, each unique sentence once.

    Pass a Hub name or local folder, or an already built `model` and `tokenizer` (then `model_name_or_path`
    only names it in reports). The target language is selected the way the model expects: NLLB's forced
    language token, or a multi-target Marian model's `>>xxx<<` prefix (`input_prefix` overrides; "" = none).
    Extra `generation_kwargs` go to `model.generate`.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike,
        *,
        target_language: str = "ar",
        source_language: str = SOURCE_LANGUAGE,
        batch_size: int = 32,
        max_new_tokens: int = 128,
        num_beams: int = 1,
        device: str | None = None,
        model: Any = None,
        tokenizer: Any = None,
        input_prefix: str | None = None,
        progress: bool = True,
        **generation_kwargs: Any,
    ) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.name = os.fspath(model_name_or_path)
        self.target_language = target_language
        self.batch_size = batch_size
        self.progress = progress
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(self.name)
        # safetensors only, as for every checkpoint this package loads: a pickle-only folder is refused, not run
        loaded = model if model is not None else AutoModelForSeq2SeqLM.from_pretrained(self.name, use_safetensors=True)
        self.model = loaded.to(self.device).eval()
        self.generation_kwargs = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, **generation_kwargs}
        self._select_nllb_languages(source_language, target_language)
        self.input_prefix = self._marian_prefix(target_language) if input_prefix is None else input_prefix
        self.cache: dict[str, str] = {}  # normalised English sentence -> translation

    def _select_nllb_languages(self, source_language: str, target_language: str) -> None:
        """NLLB-style tokenizers carry language tokens: set the source and force the target as first token."""
        vocab = self.tokenizer.get_vocab()
        source, target = NLLB_CODES.get(source_language), NLLB_CODES.get(target_language, target_language)
        if source in vocab and target in vocab and "forced_bos_token_id" not in self.generation_kwargs:
            self.tokenizer.src_lang = source
            self.generation_kwargs["forced_bos_token_id"] = vocab[target]

    def _marian_prefix(self, target_language: str) -> str:
        token = f">>{ISO639_3.get(target_language, target_language)}<<"
        return f"{token} " if token in self.tokenizer.get_vocab() else ""

    def translate(self, sentences: Sequence[str]) -> list[str]:
        """Translations in input order; only sentences not yet in the cache reach the model."""
        pending: dict[str, str] = {}
        for sentence in sentences:
            key = normalize_caption(sentence)
            if key not in self.cache:
                pending.setdefault(key, sentence.strip())
        if pending:
            keys = sorted(pending, key=lambda k: (-len(pending[k]), k))  # similar lengths share a batch
            bar = tqdm(total=len(keys), desc=f"translating to {self.target_language}", disable=not self.progress)
            for start in range(0, len(keys), self.batch_size):
                batch = keys[start : start + self.batch_size]
                outputs = self._generate([pending[key] for key in batch])
                self.cache.update(zip(batch, outputs, strict=True))
                bar.update(len(batch))
            bar.close()
        return [self.cache[normalize_caption(sentence)] for sentence in sentences]

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        texts = [self.input_prefix + text for text in texts]
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(self.device)
        with torch.inference_mode():
            generated = self.model.generate(**inputs, **self.generation_kwargs)
        return [text.strip() for text in self.tokenizer.batch_decode(generated, skip_special_tokens=True)]


def translate_missing(records: Sequence[ImageRecord], translator: Seq2SeqTranslator, report: BuildReport) -> None:
    """Fill every empty `translator.target_language` slot; a model output without words leaves the slot missing."""
    language = translator.target_language
    missing = {
        normalize_caption(english): english
        for record in records
        for english, slot in zip(record.captions[SOURCE_LANGUAGE], record.translations(language))
        if english is not None and slot is None
    }
    new_sentences = [key for key in missing if key not in translator.cache]
    translator.translate(list(missing.values()))
    filled = 0
    for record in records:
        slots = record.translations(language)
        for index, english in enumerate(record.captions[SOURCE_LANGUAGE]):
            if english is not None and slots[index] is None:
                translation = translator.cache.get(normalize_caption(english), "")
                if not text_problem(translation):
                    slots[index] = translation
                    filled += 1
    language_report = report.language(language)
    language_report.model = translator.name
    language_report.model_unique_sentences += len(new_sentences)
    language_report.model_captions += filled


__all__ = ["ISO639_3", "NLLB_CODES", "Seq2SeqTranslator", "translate_missing"]
