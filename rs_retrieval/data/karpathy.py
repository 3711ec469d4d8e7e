"""Read Karpathy-style caption annotations (UCM-captions, RSITMD, RSICD) and their images into records.

The format: `{"images": [{"filename", "split": train|val|test, "sentences": [{"raw", "sentid"?}], "imgid"?,
"class"?, "filepath"?}]}`. Every entry that cannot be used becomes a reported problem (see `report.py`);
images are decoded through `rs_retrieval.processing.image_conversion`, the one path to 8-bit RGB.
`build_karpathy_dataset` turns one annotation file into a `DatasetDict` keeping the file's own splits.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetDict
from PIL import Image
from tqdm.auto import tqdm

from rs_retrieval.processing.image_conversion import ImageConversionError, ImageTooLargeError, load_image_file

from .assembly import TranslationFiles, finish_build, read_translation_files
from .captions import TranslationTable, attach_translations, is_valid_unicode, text_problem
from .dedup import perceptual_hash
from .records import SOURCE_LANGUAGE, SPLIT_ALIASES, ImageRecord
from .report import (
    BAD_SPLIT,
    CAPTION_DROPPED,
    DUPLICATE_FILENAME,
    EMPTY_CAPTION,
    IMAGE_SKIPPED,
    IMAGE_TOO_LARGE,
    INVALID_ENTRY,
    MISSING_IMAGE,
    MISSING_KEY,
    NO_CAPTIONS,
    OUTSIDE_IMAGE_FOLDER,
    UNREADABLE_IMAGE,
    BuildReport,
    DatasetBuildError,
)
from .translation import Seq2SeqTranslator

REQUIRED_KEYS = ("filename", "split", "sentences")
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class SourceSpec:
    """One source dataset: its annotation JSON, its image folder, a short name, and its own translation files.

    `translations` maps a language code to JSONL file(s) for this source only (the place for files keyed by
    `sentid`, which are only unique within one source).
    """

    annotations: str | os.PathLike
    images: str | os.PathLike
    source: str | None = None
    translations: TranslationFiles = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.source or infer_source_name(self.annotations)


@dataclass
class AnnotationFile:
    """The usable entries of one annotation file and the split names it declared (before any skipping)."""

    path: str
    source: str
    records: list[ImageRecord]
    declared_splits: set[str]


def infer_source_name(path: str | os.PathLike) -> str:
    """`dataset_ucm.json` -> `ucm`, `RSITMD.json` -> `rsitmd`: the file stem without a `dataset_` prefix."""
    stem = Path(path).stem.lower()
    stem = re.sub(r"^dataset[_-]", "", stem)
    return re.sub(r"[^a-z0-9_-]+", "_", stem).strip("_") or "dataset"


def read_karpathy_annotations(
    path: str | os.PathLike, *, report: BuildReport, source: str | None = None, label_key: str = "class"
) -> AnnotationFile:
    """Parse and validate one annotation file; unusable entries and captions are reported and left out."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a folder, not an annotation file" if os.path.isdir(path) else "annotation file not found"
        raise DatasetBuildError(f"{path}: {what}")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except RecursionError as error:
        raise DatasetBuildError(f"{path}: not a usable JSON file (nested too deeply)") from error
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, a number too long to convert
        raise DatasetBuildError(f"{path}: not a valid JSON file ({error})") from error
    if not isinstance(data, dict):
        raise DatasetBuildError(
            f'{path}: the top level is a {_json_kind(data)}; expected an object {{"images": [...]}} (Karpathy format)'
        )
    if "images" not in data:
        raise DatasetBuildError(f"{path}: missing required top-level key 'images' (a list of image entries)")
    images = data["images"]
    if not isinstance(images, list):
        raise DatasetBuildError(f"{path}: 'images' is {_json_kind(images, article=True)}, not a list of image entries")
    source = source or infer_source_name(path)
    report.sources[source] = report.sources.get(source, 0) + len(images)
    parsed = AnnotationFile(path=path, source=source, records=[], declared_splits=set())
    seen: set[str] = set()
    imgids: list[object] = []
    positions: list[int] = []
    for position, entry in enumerate(images):
        record = _parse_entry(position, entry, parsed, seen, report, label_key)
        if record is not None:
            parsed.records.append(record)
            imgids.append(entry.get("imgid"))
            positions.append(position)
    _assign_image_ids(parsed, imgids, positions, report)
    return parsed


def _json_kind(value: object, article: bool = False) -> str:
    """How JSON calls a parsed value's type: object, list, string, number, boolean or null."""
    kinds = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    kind = kinds.get(type(value), "number")
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}" if article else kind


def _path_problem(value: object, key: str = "filename") -> str:
    """Why an entry's `key` ('filename' or 'filepath') cannot be part of a file path, or "" when it can."""
    if not isinstance(value, str) or (key == "filename" and not value.strip()):
        return f"{key!r} is {value!r}"
    if not is_valid_unicode(value):
        return f"{key!r} {value!r} is not valid Unicode (an unpaired surrogate)"
    if "\x00" in value:
        return f"{key!r} {value!r} holds a NUL character"
    return ""


def _parse_entry(
    position: int, entry: object, parsed: AnnotationFile, seen: set[str], report: BuildReport, label_key: str
) -> ImageRecord | None:
    source = parsed.source
    where = f"images[{position}]"
    if not isinstance(entry, dict):
        report.add_problem(INVALID_ENTRY, where, "entry is not a JSON object", IMAGE_SKIPPED, source)
        return None
    filename = entry.get("filename")
    if not _path_problem(filename):
        where = filename
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        detail = "missing required key(s) " + ", ".join(repr(key) for key in missing)
        report.add_problem(MISSING_KEY, where, detail, IMAGE_SKIPPED, source)
        return None
    if where != filename:
        report.add_problem(INVALID_ENTRY, where, _path_problem(filename), IMAGE_SKIPPED, source)
        return None
    split = SPLIT_ALIASES.get(entry["split"]) if isinstance(entry["split"], str) else None
    if split is None:
        detail = f"split {entry['split']!r} is not one of train, val, test"
        report.add_problem(BAD_SPLIT, filename, detail, IMAGE_SKIPPED, source)
        return None
    parsed.declared_splits.add(split)
    if filename in seen:
        report.add_problem(DUPLICATE_FILENAME, filename, "listed again; first entry kept", IMAGE_SKIPPED, source)
        return None
    sentences = entry["sentences"]
    if not isinstance(sentences, list):
        report.add_problem(INVALID_ENTRY, filename, "'sentences' is not a list", IMAGE_SKIPPED, source)
        return None
    captions, sentids = _parse_sentences(filename, sentences, source, report)
    if not captions:
        detail = "no sentences" if not sentences else f"none of its {len(sentences)} sentences is usable"
        report.add_problem(NO_CAPTIONS, filename, detail, IMAGE_SKIPPED, source)
        return None
    label = entry.get(label_key)
    if label is not None and not is_valid_unicode(str(label)):
        detail = f"{label_key!r} {label!r} is not valid Unicode (an unpaired surrogate)"
        report.add_problem(INVALID_ENTRY, filename, detail, IMAGE_SKIPPED, source)
        return None
    folder = entry.get("filepath") if isinstance(entry.get("filepath"), str) else ""
    if problem := _path_problem(folder, "filepath"):
        report.add_problem(INVALID_ENTRY, filename, problem, IMAGE_SKIPPED, source)
        return None
    seen.add(filename)
    return ImageRecord(
        filename=filename,
        split=split,
        captions={SOURCE_LANGUAGE: captions},
        source=source,
        image_id=-1,
        sentids=sentids,
        label=None if label is None else str(label),
        path=os.path.join(folder, filename),
    )


def _parse_sentences(
    filename: str, sentences: list, source: str, report: BuildReport
) -> tuple[list[str | None], list[int | None]]:
    captions: list[str | None] = []
    sentids: list[int | None] = []
    for index, sentence in enumerate(sentences):
        if not isinstance(sentence, dict):
            report.add_problem(INVALID_ENTRY, filename, f"sentences[{index}] is not an object", CAPTION_DROPPED, source)
            continue
        if "raw" not in sentence:
            report.add_problem(MISSING_KEY, filename, f"sentences[{index}] has no 'raw'", CAPTION_DROPPED, source)
            continue
        raw = sentence["raw"]
        if problem := text_problem(raw):
            report.add_problem(EMPTY_CAPTION, filename, f"sentences[{index}]: {problem}", CAPTION_DROPPED, source)
            continue
        sentid = sentence.get("sentid")
        captions.append(raw.strip())
        sentids.append(sentid if isinstance(sentid, int) and not isinstance(sentid, bool) else None)
    return captions, sentids


def _assign_image_ids(parsed: AnnotationFile, imgids: list, positions: list[int], report: BuildReport) -> None:
    """The file's `imgid`s where every kept entry has a distinct integer one, else positions in the file."""
    usable = all(isinstance(i, int) and not isinstance(i, bool) for i in imgids) and len(set(imgids)) == len(imgids)
    if not usable and parsed.records:
        report.notes.append(f"{parsed.source}: 'imgid' missing or not unique; image_id is the position in the file")
    for record, image_id in zip(parsed.records, imgids if usable else positions, strict=True):
        record.image_id = image_id


def encode_image(path: str, image: Image.Image) -> bytes:
    """The file's own bytes where they already decode to `image` (8-bit RGB JPEG/PNG, no EXIF rotation), else PNG."""
    if image.mode == "RGB" and image.format in ("JPEG", "PNG") and not image.getexif().get(ORIENTATION_TAG):
        with open(path, "rb") as handle:
            data = handle.read()
        if image.format == "JPEG" or _png_bit_depth(data) == 8:
            return data
    return _png(image)


def _png_bit_depth(data: bytes) -> int:
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else 0


def load_images(
    records: Sequence[ImageRecord],
    images_dir: str | os.PathLike,
    *,
    report: BuildReport,
    band_indices: Sequence[int] | None = None,
    compute_hash: bool = False,
    progress: bool = True,
) -> list[ImageRecord]:
    """Decode every record's image to RGB and keep its bytes (and pHash); unreadable ones are reported.

    A record's path must resolve inside `images_dir`, symlinks included: an absolute path, `..` or a link pointing
    out is reported and never read, so an annotation file cannot pull other files into a dataset to be published.
    """
    images_dir = os.fspath(images_dir)
    if not os.path.isdir(images_dir):
        what = "is a file, not a folder of images" if os.path.exists(images_dir) else "image folder not found"
        raise DatasetBuildError(f"{images_dir}: {what}")
    root = os.path.realpath(images_dir)
    kept = []
    source = records[0].source if records else ""
    for record in tqdm(records, desc=f"loading {source} images", disable=not progress):
        path = resolve_inside(root, record.path)
        if path is None:
            detail = "leads outside the image folder (an absolute path, '..' or a symlink pointing out); not read"
            report.add_problem(OUTSIDE_IMAGE_FOLDER, record.filename, detail, IMAGE_SKIPPED, record.source)
            continue
        try:
            image = load_image_file(path, band_indices)
        except ImageConversionError as error:
            kind = _image_problem_kind(error, path)
            detail = str(error).replace(path, record.path)  # relative: the report is machine-independent
            report.add_problem(kind, record.filename, detail, IMAGE_SKIPPED, record.source)
            continue
        record.image_bytes = encode_image(path, image) if band_indices is None else _png(image)
        if compute_hash:
            record.phash = perceptual_hash(image)
        kept.append(record)
    return kept


def resolve_inside(root: str, relative: str) -> str | None:
    """The real path of `relative` under the real folder `root`, or None where it leads outside `root`."""
    resolved = os.path.realpath(os.path.join(root, relative))
    return resolved if os.path.commonpath([root, resolved]) == root else None


def _image_problem_kind(error: ImageConversionError, path: str) -> str:
    if isinstance(error, ImageTooLargeError):
        return IMAGE_TOO_LARGE
    return UNREADABLE_IMAGE if os.path.lexists(path) else MISSING_IMAGE


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def prepare_source(
    spec: SourceSpec,
    *,
    report: BuildReport,
    shared_tables: Sequence[TranslationTable] = (),
    shared_sentids: bool = True,
    label_key: str = "class",
    band_indices: Sequence[int] | None = None,
    compute_hash: bool = False,
    progress: bool = True,
) -> AnnotationFile:
    """Read one source's annotations, load its images, and attach its own and then the shared translations.

    `shared_sentids=False` matches shared tables on the sentence only (sentids are unique within one source).
    """
    own_tables = read_translation_files(spec.translations, report)  # a missing file fails before the long part
    parsed = read_karpathy_annotations(spec.annotations, report=report, source=spec.name, label_key=label_key)
    parsed.records = load_images(
        parsed.records,
        spec.images,
        report=report,
        band_indices=band_indices,
        compute_hash=compute_hash,
        progress=progress,
    )
    for table in own_tables:
        attach_translations(parsed.records, table, report, use_sentid=True)
    for table in shared_tables:
        attach_translations(parsed.records, table, report, use_sentid=shared_sentids)
    return parsed


def build_karpathy_dataset(
    annotations: str | os.PathLike,
    images: str | os.PathLike,
    *,
    source: str | None = None,
    translations: TranslationFiles | None = None,
    translator: Seq2SeqTranslator | None = None,
    languages: Sequence[str] = (),
    val_fraction: float = 0.0,
    seed: int = 0,
    dedup_threshold: int | None = 4,
    strict: bool = False,
    label_key: str = "class",
    band_indices: Sequence[int] | None = None,
    progress: bool = True,
) -> tuple[DatasetDict, BuildReport]:
    """One annotation file -> `DatasetDict` with the file's splits (val -> validation) and a `BuildReport`.

    `translations` maps a language code to JSONL file(s); `translator` (a `Seq2SeqTranslator`) fills what
    they leave missing. Where the file has no val split, `val_fraction` of train (by image, seeded, keeping
    near-duplicates together) becomes `validation`; 0 keeps the published splits unchanged. Near-duplicates
    (`dedup_threshold`, None = don't look) are only reported here: the published splits are kept as given.
    """
    report = BuildReport(strict=strict, dedup_threshold=dedup_threshold)
    spec = SourceSpec(annotations, images, source, dict(translations or {}))
    parsed = prepare_source(
        spec,
        report=report,
        label_key=label_key,
        band_indices=band_indices,
        compute_hash=dedup_threshold is not None,
        progress=progress,
    )
    requested = [*(translations or {}), *([translator.target_language] if translator else []), *languages]
    dataset = finish_build(
        parsed.records,
        report,
        declared_splits=parsed.declared_splits,
        translator=translator,
        languages=requested,
        test_fraction=None,
        val_fraction=val_fraction,
        seed=seed,
        dedup_threshold=dedup_threshold,
    )
    return dataset, report


__all__ = [
    "AnnotationFile",
    "SourceSpec",
    "build_karpathy_dataset",
    "encode_image",
    "infer_source_name",
    "load_images",
    "prepare_source",
    "read_karpathy_annotations",
    "resolve_inside",
]
