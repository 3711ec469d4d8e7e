"""What a dataset build did: the problems it met, what it skipped, and how splits and captions were made.

Nothing is dropped silently: every skipped image, dropped caption or ignored translation line becomes a
`Problem` here, and `strict=True` turns the first one into a `DatasetBuildError` instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import RsRetrievalError

# Problem kinds, each with what happens to the offender in the default (non-strict) mode.
MISSING_KEY = "missing_key"
INVALID_ENTRY = "invalid_entry"
BAD_SPLIT = "bad_split"
DUPLICATE_FILENAME = "duplicate_filename"
EMPTY_CAPTION = "empty_caption"
NO_CAPTIONS = "no_captions"
MISSING_IMAGE = "missing_image"
UNREADABLE_IMAGE = "unreadable_image"
IMAGE_TOO_LARGE = "image_too_large"
OUTSIDE_IMAGE_FOLDER = "outside_image_folder"
BAD_TRANSLATION_LINE = "bad_translation_line"

PROBLEM_KINDS: dict[str, str] = {
    MISSING_KEY: "annotation entry or sentence lacks a required key",
    INVALID_ENTRY: "annotation entry has a value of the wrong type",
    BAD_SPLIT: "split is not one of train / val / test",
    DUPLICATE_FILENAME: "filename appears twice in one annotation file",
    EMPTY_CAPTION: "caption is not text, not valid Unicode, or has no letter or digit once normalised",
    NO_CAPTIONS: "image has no usable caption",
    MISSING_IMAGE: "image file not found",
    UNREADABLE_IMAGE: "image file unreadable, truncated or not a regular file",
    IMAGE_TOO_LARGE: "image has more pixels than the limit (checked before decoding)",
    OUTSIDE_IMAGE_FOLDER: "file name leads outside the image folder (absolute, '..' or a symlink); not read",
    BAD_TRANSLATION_LINE: "translation JSONL line unusable",
}

IMAGE_SKIPPED = "image skipped"
CAPTION_DROPPED = "caption dropped"
LINE_SKIPPED = "line skipped"


class DatasetBuildError(RsRetrievalError, ValueError):
    """The build cannot go on: unreadable annotations, or any problem at all under `strict=True`."""


@dataclass(frozen=True)
class Problem:
    """One offender: which file (or `file:line`), what is wrong, and what the build did about it."""

    kind: str
    filename: str
    detail: str
    action: str
    source: str = ""

    def what(self) -> str:
        where = f"{self.source}:{self.filename}" if self.source else self.filename
        return f"{where}: {self.kind} ({self.detail})"

    def describe(self) -> str:
        return f"{self.what()} -> {self.action}"


@dataclass
class LanguageReport:
    """How the captions of one non-English language were obtained and how many are still missing."""

    files: list[str] = field(default_factory=list)
    matched_by_sentid: int = 0
    matched_by_sentence: int = 0
    conflicting_sentences: int = 0
    model: str | None = None
    model_unique_sentences: int = 0
    model_captions: int = 0
    untranslated: int = 0
    untranslated_unique: int = 0
    untranslated_examples: list[str] = field(default_factory=list)

    def how(self) -> str:
        parts = []
        if self.files:
            parts.append(
                f"{self.matched_by_sentence + self.matched_by_sentid} captions attached from "
                f"{', '.join(self.files)} ({self.matched_by_sentence} matched on the normalised English sentence, "
                f"{self.matched_by_sentid} by sentid)"
            )
        if self.model:
            parts.append(
                f"{self.model_captions} captions machine-translated by `{self.model}` "
                f"({self.model_unique_sentences} unique sentences)"
            )
        if not parts:
            parts.append("no translation source given")
        parts.append(f"{self.untranslated} English captions ({self.untranslated_unique} unique) have no translation")
        return "; ".join(parts)


@dataclass
class BuildReport:
    """Everything a build decided, in a form for printing, the dataset card and `build_report.json`."""

    strict: bool = False
    sources: dict[str, int] = field(default_factory=dict)  # source -> images listed in its annotations
    problems: list[Problem] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    captions: dict[str, int] = field(default_factory=dict)
    languages: dict[str, LanguageReport] = field(default_factory=dict)
    split_method: str = ""
    validation: str = ""
    dedup_threshold: int | None = None
    duplicate_groups: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_problem(self, kind: str, filename: str, detail: str, action: str, source: str = "") -> None:
        """Record a problem, or raise it at once in strict mode."""
        problem = Problem(kind, filename, detail, action, source)
        if self.strict:
            raise DatasetBuildError(f"strict mode: {problem.what()}")
        self.problems.append(problem)

    def language(self, code: str) -> LanguageReport:
        return self.languages.setdefault(code, LanguageReport())

    def problem_counts(self) -> dict[str, int]:
        return dict(Counter(problem.kind for problem in self.problems))

    def skipped_images(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.action == IMAGE_SKIPPED]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problem_counts"] = self.problem_counts()
        return data

    def format(self, max_listed: int = 20) -> str:
        """A plain-text summary; long lists are cut at `max_listed` with a count of the rest."""
        lines = ["Sources: " + ", ".join(f"{name} ({count} images listed)" for name, count in self.sources.items())]
        lines.append("Splits: " + " | ".join(f"{name} {count}" for name, count in self.splits.items()))
        lines.append("Captions: " + " | ".join(f"{code} {count}" for code, count in self.captions.items()))
        for code, language in self.languages.items():
            lines.append(f"Captions ({code}): {language.how()}")
            if language.untranslated_examples:
                lines.append(f"  untranslated examples: {language.untranslated_examples}")
        lines.append(f"Split method: {self.split_method}")
        lines.append(f"Validation: {self.validation}")
        if self.dedup_threshold is None:
            lines.append("Near-duplicates: not checked")
        else:
            found = len(self.duplicate_groups)
            lines.append(f"Near-duplicate groups (phash, Hamming distance <= {self.dedup_threshold}): {found}")
            lines += [f"  {', '.join(group)}" for group in self.duplicate_groups[:max_listed]]
            lines += _more(len(self.duplicate_groups), max_listed)
        counts = self.problem_counts()
        if counts:
            lines.append(f"Problems ({len(self.problems)}): " + ", ".join(f"{kind} {n}" for kind, n in counts.items()))
            actions = Counter(problem.action for problem in self.problems)
            lines.append("  " + ", ".join(f"{action}: {n}" for action, n in actions.items()))
            lines += [f"  {problem.describe()}" for problem in self.problems[:max_listed]]
            lines += _more(len(self.problems), max_listed)
        else:
            lines.append("Problems: none")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)


def _more(total: int, shown: int) -> list[str]:
    return [f"  ... and {total - shown} more (see build_report.json)"] if total > shown else []


__all__ = [
    "BAD_SPLIT",
    "BAD_TRANSLATION_LINE",
    "CAPTION_DROPPED",
    "DUPLICATE_FILENAME",
    "EMPTY_CAPTION",
    "IMAGE_SKIPPED",
    "IMAGE_TOO_LARGE",
    "INVALID_ENTRY",
    "LINE_SKIPPED",
    "MISSING_IMAGE",
    "MISSING_KEY",
    "NO_CAPTIONS",
    "OUTSIDE_IMAGE_FOLDER",
    "PROBLEM_KINDS",
    "UNREADABLE_IMAGE",
    "BuildReport",
    "DatasetBuildError",
    "LanguageReport",
    "Problem",
]
