"""The dataset card (README.md with Hub YAML metadata) of a built dataset, filled from its `BuildReport`.

The card says how every split and every language's captions were made, what was skipped and why, which
near-duplicates were found, and which papers to cite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

from datasets import ClassLabel, DatasetDict
from huggingface_hub import DatasetCard, DatasetCardData

from .records import SOURCE_LANGUAGE
from .report import BuildReport

MAX_LISTED = 50

_UC_MERCED = """@inproceedings{yang2010bag,
  title     = {Bag-of-Visual-Words and Spatial Extensions for Land-Use Classification},
  author    = {Yang, Yi and Newsam, Shawn},
  booktitle = {Proceedings of the 18th SIGSPATIAL International Conference on Advances in
               Geographic Information Systems},
  pages     = {270--279},
  year      = {2010},
  doi       = {10.1145/1869790.1869829}
}"""
_UCM_CAPTIONS = """@inproceedings{qu2016deep,
  title     = {Deep Semantic Understanding of High Resolution Remote Sensing Image},
  author    = {Qu, Bo and Li, Xuelong and Tao, Dacheng and Lu, Xiaoqiang},
  booktitle = {International Conference on Computer, Information and Telecommunication Systems (CITS)},
  pages     = {1--5},
  year      = {2016},
  doi       = {10.1109/CITS.2016.7546397}
}"""
_RSICD = """@article{lu2017exploring,
  title   = {Exploring Models and Data for Remote Sensing Image Caption Generation},
  author  = {Lu, Xiaoqiang and Wang, Binqiang and Zheng, Xiangtao and Li, Xuelong},
  journal = {IEEE Transactions on Geoscience and Remote Sensing},
  volume  = {56},
  number  = {4},
  pages   = {2183--2195},
  year    = {2017},
  doi     = {10.1109/TGRS.2017.2776321}
}"""
_RSITMD = """@article{yuan2022exploring,
  title   = {Exploring a Fine-Grained Multiscale Method for Cross-Modal Remote Sensing Image Retrieval},
  author  = {Yuan, Zhiqiang and Zhang, Wenkai and Fu, Kun and Li, Xuan and Deng, Chubo and Wang, Hongqi and Sun, Xian},
  journal = {IEEE Transactions on Geoscience and Remote Sensing},
  volume  = {60},
  year    = {2022},
  doi     = {10.1109/TGRS.2021.3078451}
}"""

# Normalised source name -> (display name, BibTeX entries to cite).
KNOWN_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ucm": ("UCM-captions", (_UCM_CAPTIONS, _UC_MERCED)),
    "rsicd": ("RSICD", (_RSICD,)),
    "rsitmd": ("RSITMD", (_RSITMD,)),
}
_ALIASES = {"ucmcaptions": "ucm", "ucmerced": "ucm", "ucmercedcaptions": "ucm"}


def canonical_source(name: str) -> str | None:
    """`UCM-captions`, `ucm_captions`, `ucm` -> `ucm`; None for a source we hold no citation for."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    key = _ALIASES.get(key, key)
    return key if key in KNOWN_SOURCES else None


def size_category(count: int) -> str:
    """The Hub's `size_categories` bucket for a number of rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if count < limit:
            return label
    return "1M<n<10M" if count < 10_000_000 else "n>10M"


def citations_for(sources: Sequence[str]) -> str:
    entries: list[str] = []
    for source in sources:
        known = canonical_source(source)
        if known is None:
            entries.append(f"% no citation on record for source {source!r}: cite it from its own release")
            continue
        entries += [entry for entry in KNOWN_SOURCES[known][1] if entry not in entries]
    return "\n\n".join(entries)


def load_card_template() -> str:
    return (resources.files("rs_retrieval") / "templates" / "dataset_card.md").read_text(encoding="utf-8")


def build_dataset_card(
    dataset: DatasetDict,
    report: BuildReport,
    *,
    license: str = "other",
    pretty_name: str | None = None,
    template: str | None = None,
) -> DatasetCard:
    """A `DatasetCard` with Hub metadata (languages present, tasks, size, license, sources) and the build's story."""
    sources = list(report.sources)
    display = [KNOWN_SOURCES[c][0] if (c := canonical_source(s)) else s for s in sources]
    first = next(iter(dataset.values()))
    codes = [name.removeprefix("captions_") for name in first.column_names if name.startswith("captions_")]
    present = [code for code in codes if report.captions.get(code, 0) > 0]
    rows = sum(split.num_rows for split in dataset.values())
    pretty_name = pretty_name or f"{' + '.join(display)} ({', '.join(present)}) for image-text retrieval"
    card_data = DatasetCardData(
        language=present,
        license=license,
        multilinguality="multilingual" if len(present) > 1 else "monolingual",
        size_categories=size_category(rows),
        source_datasets=[f"extended|{name}" for name in display],
        task_categories=["image-to-text", "text-to-image"],
        pretty_name=pretty_name,
        tags=["remote-sensing", "image-text-retrieval"],
    )
    label = first.features.get("label")
    problems = report.problems
    context = {
        "pretty_name": pretty_name,
        "summary": (
            f"Remote-sensing images with captions in {', '.join(present)} from {', '.join(display)}: "
            f"{rows} images, " + ", ".join(f"{report.captions.get(code, 0)} {code} captions" for code in present) + "."
        ),
        "image_id_note": (
            "renumbered 0..n-1 across sources" if "re-split" in report.split_method else "the annotations' `imgid`"
        ),
        "language_rows": [
            {
                "code": code,
                "column_note": "the source's captions" if code == SOURCE_LANGUAGE else f"translations ({code})",
                "how": (
                    "the source annotations' `raw` sentences (stripped)"
                    if code == SOURCE_LANGUAGE
                    else report.language(code).how()
                ),
            }
            for code in codes
        ],
        "label_names": label.names if isinstance(label, ClassLabel) else [],
        "source_names": sources,
        "split_rows": [
            {
                "name": name,
                "images": split.num_rows,
                "captions": [sum(len(c) for c in split[f"captions_{code}"]) for code in codes],
            }
            for name, split in dataset.items()
        ],
        "split_method": report.split_method,
        "validation": report.validation,
        "duplicates_text": _duplicates_text(report),
        "duplicate_groups": report.duplicate_groups[:MAX_LISTED],
        "problems_text": _problems_text(report),
        "problems": [problem.describe() for problem in problems[:MAX_LISTED]],
        "notes": report.notes,
        "license_text": f"`{license}` (as given when building); the source datasets' own terms apply.",
        "citations": citations_for(sources),
    }
    card = DatasetCard.from_template(card_data, template_str=template or load_card_template(), **context)
    return DatasetCard(re.sub(r"\n{3,}", "\n\n", card.content))  # the template's optional parts leave blank runs


def _duplicates_text(report: BuildReport) -> str:
    if report.dedup_threshold is None:
        return "Not checked."
    found = len(report.duplicate_groups)
    text = (
        f"Perceptual hash (`imagehash.phash`, 64 bits), groups of images within Hamming distance "
        f"{report.dedup_threshold}: {found} group(s) found."
    )
    if found > MAX_LISTED:
        text += f" The first {MAX_LISTED} are listed; all are in `build_report.json`."
    return text


def _problems_text(report: BuildReport) -> str:
    if not report.problems:
        return "None: every listed image and caption was used."
    counts = ", ".join(f"{kind}: {count}" for kind, count in report.problem_counts().items())
    text = f"{len(report.problems)} problem(s) ({counts}); {len(report.skipped_images())} image(s) skipped."
    if len(report.problems) > MAX_LISTED:
        text += f" The first {MAX_LISTED} are listed; all are in `build_report.json`."
    return text


__all__ = [
    "KNOWN_SOURCES",
    "build_dataset_card",
    "canonical_source",
    "citations_for",
    "load_card_template",
    "size_category",
    "synthetic_dataset_card",
]


_SYNTHETIC_TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

Procedurally drawn overhead scenes ({{ scenes | join(", ") }}) with five English and five Arabic captions per
image, written from what was drawn (counts, colours, positions), so no caption claims what the pixels do not
show. It is the embedded default dataset of `rs-retrieval` (`rs-retrieval make-synthetic`): small enough to
train a bilingual dual encoder on a CPU in minutes, and a pure function of its seed ({{ seed }}).

| split | images |
|---|---:|
{% for name, rows in splits.items() -%}
| {{ name }} | {{ rows }} |
{% endfor %}
Columns: `image` (RGB, {{ image_size }} px), `image_id`, `filename`, `captions_en`, `captions_ar`, `label`
(scene type), `count` (objects drawn, where the scene has any), `source`.

Not real imagery: use it to test pipelines and to demonstrate the method, not to measure remote-sensing
retrieval.
"""


def synthetic_dataset_card(dataset: DatasetDict, *, seed: int, image_size: int) -> DatasetCard:
    """The card of the embedded synthetic dataset (written beside it by `make-synthetic` and `make demo`)."""
    rows = sum(split.num_rows for split in dataset.values())
    first = next(iter(dataset.values()))
    label = first.features.get("label")
    card_data = DatasetCardData(
        language=["en", "ar"], license="apache-2.0", multilinguality="multilingual",
        size_categories=size_category(rows), source_datasets=["original"],
        task_categories=["image-to-text", "text-to-image"], pretty_name="rs-retrieval synthetic scenes (en, ar)",
        tags=["remote-sensing", "image-text-retrieval", "synthetic"],
    )
    return DatasetCard.from_template(
        card_data, template_str=_SYNTHETIC_TEMPLATE, pretty_name=card_data.pretty_name, seed=seed,
        image_size=image_size, splits={name: split.num_rows for name, split in dataset.items()},
        scenes=list(label.names) if isinstance(label, ClassLabel) else [],
    )

