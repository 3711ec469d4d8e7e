"""Attach translated captions from a JSONL file and count the English captions still left without one.

Each line is `{"en": ..., "<code>": ...}` (matched on the normalised English sentence) or
`{"sentid": ..., "<code>": ...}` (matched on the Karpathy sentence id); any language code works.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rs_retrieval.processing.text_normalization import has_words

from .records import SOURCE_LANGUAGE, ImageRecord
from .report import BAD_TRANSLATION_LINE, LINE_SKIPPED, BuildReport, DatasetBuildError

MAX_UNTRANSLATED_EXAMPLES = 10
_WHITESPACE = re.compile(r"\s+")


def normalize_caption(text: str) -> str:
    """The matching key of a sentence: stripped, lower-cased, runs of whitespace collapsed to one space."""
    return _WHITESPACE.sub(" ", text.strip().lower())


def is_valid_unicode(text: str) -> bool:
    """False for a string holding an unpaired surrogate (JSON allows `"\\ud800"`; Arrow and UTF-8 files do not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(value: object) -> str:
    """Why `value` cannot be a caption or a translation, or "" when it can.

    Usable text is a string of valid Unicode that still holds a letter or digit once normalised: a caption of only
    tashkeel, tatweel, zero-width characters or punctuation would train as an empty caption.
    """
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if not is_valid_unicode(value):
        return f"{value!r} is not valid Unicode (an unpaired surrogate)"
    if not has_words(value):
        return f"{value!r} has no letter or digit once normalised"
    return ""


@dataclass
class TranslationTable:
    """Translations of one language read from one file, by normalised English sentence and by sentid."""

    path: str
    language: str
    by_sentence: dict[str, str] = field(default_factory=dict)
    by_sentid: dict[int, str] = field(default_factory=dict)
    conflicts: int = 0

    def lookup(self, sentence: str, sentid: int | None, use_sentid: bool = True) -> tuple[str | None, str]:
        """The translation and how it was found ("sentid" or "sentence"), or (None, "")."""
        if use_sentid and sentid is not None and sentid in self.by_sentid:
            return self.by_sentid[sentid], "sentid"
        found = self.by_sentence.get(normalize_caption(sentence))
        return (found, "sentence") if found is not None else (None, "")


def read_translations(path: str | os.PathLike, language: str, report: BuildReport) -> TranslationTable:
    """Read a JSONL file; unusable lines are reported (`file:line`) and skipped, or raise under strict mode."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetBuildError(f"{path}: translation file not found")
    table = TranslationTable(path=path, language=language)
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except UnicodeDecodeError as error:
        raise DatasetBuildError(f"{path}: not UTF-8 text ({error})") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, an over-long number, too deep nesting
            reason = getattr(error, "msg", None) or type(error).__name__
            report.add_problem(BAD_TRANSLATION_LINE, where, f"invalid JSON ({reason})", LINE_SKIPPED)
            continue
        problem = _line_problem(entry, language)
        if problem:
            report.add_problem(BAD_TRANSLATION_LINE, where, problem, LINE_SKIPPED)
            continue
        translation = entry[language].strip()
        if entry.get("sentid") is not None:
            table.conflicts += _store(table.by_sentid, int(entry["sentid"]), translation)
        if isinstance(entry.get(SOURCE_LANGUAGE), str) and entry[SOURCE_LANGUAGE].strip():
            table.conflicts += _store(table.by_sentence, normalize_caption(entry[SOURCE_LANGUAGE]), translation)
    if table.conflicts:
        report.notes.append(
            f"{name}: {table.conflicts} sentences had more than one {language!r} translation; the first was kept"
        )
    return table


def _line_problem(entry: object, language: str) -> str:
    if not isinstance(entry, dict):
        return "not a JSON object"
    value = entry.get(language)
    if value is None:
        return f"no {language!r} text"
    if problem := text_problem(value):
        return f"{language!r} text {problem}"
    has_sentence = isinstance(entry.get(SOURCE_LANGUAGE), str) and bool(entry[SOURCE_LANGUAGE].strip())
    sentid = entry.get("sentid")
    if sentid is not None and (isinstance(sentid, bool) or not isinstance(sentid, int)):
        return f"sentid {sentid!r} is not an integer"
    if not has_sentence and sentid is None:
        return f"neither {SOURCE_LANGUAGE!r} nor 'sentid' to match on"
    return ""


def _store(mapping: dict, key: object, value: str) -> int:
    """Keep the first translation of a key; count a differing later one as a conflict."""
    if key in mapping:
        return int(mapping[key] != value)
    mapping[key] = value
    return 0


def attach_translations(
    records: Sequence[ImageRecord], table: TranslationTable, report: BuildReport, use_sentid: bool = True
) -> None:
    """Fill the still-missing `table.language` slots of every record; filled slots are never overwritten."""
    language_report = report.language(table.language)
    name = os.path.basename(table.path)
    if name not in language_report.files:
        language_report.files.append(name)
    for record in records:
        slots = record.translations(table.language)
        sentids = record.sentids or [None] * len(slots)
        for index, (english, sentid) in enumerate(zip(record.captions[SOURCE_LANGUAGE], sentids, strict=True)):
            if slots[index] is not None or english is None:
                continue
            translation, how = table.lookup(english, sentid, use_sentid)
            if translation is None:
                continue
            slots[index] = translation
            if how == "sentid":
                language_report.matched_by_sentid += 1
            else:
                language_report.matched_by_sentence += 1


def count_untranslated(records: Sequence[ImageRecord], languages: Sequence[str], report: BuildReport) -> None:
    """Set, per language, how many English captions (and unique sentences) have no translation, with examples."""
    for language in languages:
        if language == SOURCE_LANGUAGE:
            continue
        missing: dict[str, str] = {}
        total = 0
        for record in records:
            for english, translation in zip(record.captions[SOURCE_LANGUAGE], record.translations(language)):
                if english is not None and translation is None:
                    total += 1
                    missing.setdefault(normalize_caption(english), english.strip())
        language_report = report.language(language)
        language_report.untranslated = total
        language_report.untranslated_unique = len(missing)
        language_report.untranslated_examples = list(missing.values())[:MAX_UNTRANSLATED_EXAMPLES]


__all__ = [
    "TranslationTable",
    "attach_translations",
    "count_untranslated",
    "is_valid_unicode",
    "normalize_caption",
    "read_translations",
    "text_problem",
]
