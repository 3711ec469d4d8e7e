"""Dataset building from Karpathy-style annotations, on tiny sources the tests write themselves."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from commands import build_dataset
from datasets import ClassLabel, load_from_disk
from huggingface_hub import DatasetCard
from PIL import Image

from rs_retrieval.data.captions import normalize_caption
from rs_retrieval.data.karpathy import SourceSpec, build_karpathy_dataset, infer_source_name
from rs_retrieval.data.merge import merge_sources
from rs_retrieval.data.report import DatasetBuildError
from rs_retrieval.data.splits import holdout_groups
from rs_retrieval.processing.image_conversion import load_image_file

build_main = build_dataset.main

REPO = Path(__file__).resolve().parents[1]
WORDS = "a an the there is are many some green dense trees river road houses near of with beside field lake".split()


# ---------------------------------------------------------------- helpers that write tiny sources


def smooth_rgb(seed: int, size: int = 32) -> np.ndarray:
    """A smooth random picture: distinct pHash per seed, and a stable one under re-encoding."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), mode="RGB")
    return np.asarray(small.resize((size, size), Image.Resampling.BILINEAR))


def write_image(path: Path, seed: int) -> None:
    """Write by extension; names with `16` become 16-bit files (RGB TIFF, greyscale PNG)."""
    pixels = smooth_rgb(seed)
    if path.suffix == ".tif" and "16" in path.stem:
        tifffile.imwrite(path, pixels.astype(np.uint16) * 257, photometric="rgb")
    elif path.suffix == ".png" and "16" in path.stem:
        Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 200).save(path)
    elif path.suffix == ".jpg":
        Image.fromarray(pixels).save(path, quality=95)
    else:
        Image.fromarray(pixels).save(path)


def caption(seed: int, index: int) -> str:
    rng = np.random.default_rng(1000 * seed + index)
    return " ".join(rng.choice(WORDS, size=5).tolist()) + " ."


def entry(filename: str, split: str, seed: int, first_sentid: int, label: str | None = "forest") -> dict:
    """A Karpathy image entry with three generated captions; `seed` is also its imgid and picture."""
    sentences = [{"raw": caption(seed, i), "sentid": first_sentid + i} for i in range(3)]
    item = {"filename": filename, "imgid": seed, "split": split, "sentences": sentences}
    if label is not None:
        item["class"] = label
    return item


def write_source(
    root: Path, name: str, entries: list[dict], seeds: dict[str, int] | None = None
) -> tuple[Path, Path]:
    """`dataset_<name>.json` and `<name>_images/` with every listed file, or only those `seeds` names."""
    images = root / f"{name}_images"
    images.mkdir(parents=True, exist_ok=True)
    for item in entries:
        filename = item.get("filename")
        if isinstance(filename, str) and (seeds is None or filename in seeds):
            write_image(images / filename, (seeds or {}).get(filename, item.get("imgid", 0)))
    annotations = root / f"dataset_{name}.json"
    annotations.write_text(json.dumps({"images": entries}), encoding="utf-8")
    return annotations, images


TOY_FILES = [
    ("a.jpg", "train"),
    ("b.png", "train"),
    ("c.tif", "val"),
    ("d16.tif", "test"),
    ("e16.png", "train"),
    ("f.jpg", "test"),
]


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path, list[dict]]:
    entries = [
        entry(name, split, seed, 10 * seed, label=["forest", "river"][seed % 2])
        for seed, (name, split) in enumerate(TOY_FILES)
    ]
    annotations, images = write_source(tmp_path, "toy", entries)
    return annotations, images, entries


def build(annotations: Path, images: Path, **kwargs):
    return build_karpathy_dataset(annotations, images, progress=False, **kwargs)


# ---------------------------------------------------------------- loading and splits


def test_single_source_rows_splits_and_images(toy):
    annotations, images, entries = toy
    dataset, report = build(annotations, images)
    assert dict(report.splits) == {"train": 3, "validation": 1, "test": 2}
    assert list(dataset) == ["train", "validation", "test"]
    train = dataset["train"]
    assert train.column_names == ["image", "image_id", "filename", "captions_en", "label", "source"]
    assert isinstance(train.features["label"], ClassLabel) and train.features["label"].names == ["forest", "river"]
    assert train["filename"] == ["a.jpg", "b.png", "e16.png"]
    assert train["image_id"] == [0, 1, 4] and set(train["source"]) == {"toy"}
    assert train[0]["captions_en"] == [s["raw"].strip() for s in entries[0]["sentences"]]
    assert report.problems == [] and report.captions == {"en": 18}
    assert report.validation == "given by the annotations (val)"
    for split in dataset.values():
        for row in split:
            assert row["image"].mode == "RGB"
            expected = np.asarray(load_image_file(images / row["filename"]))
            np.testing.assert_array_equal(np.asarray(row["image"]), expected)
    raw = dataset["train"].cast_column("image", dataset["train"].features["image"].__class__(decode=False))
    assert raw[0]["image"]["bytes"] == (images / "a.jpg").read_bytes()  # already RGB JPEG: stored as is
    sixteen = dataset["test"].cast_column("image", dataset["test"].features["image"].__class__(decode=False))
    assert Image.open(io.BytesIO(sixteen[0]["image"]["bytes"])).format == "PNG"  # d16.tif converted
    assert Image.open(io.BytesIO(raw[2]["image"]["bytes"])).format == "PNG"  # e16.png converted


def test_exif_rotated_jpeg_is_stored_as_the_pixels_the_converter_gives(tmp_path):
    annotations, images = write_source(tmp_path, "exif", [entry("r.jpg", "train", 1, 0)], seeds={})
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": datasets would apply it when decoding the original bytes
    Image.fromarray(smooth_rgb(1)[:, :20]).save(images / "r.jpg", exif=exif.tobytes())
    dataset, _ = build(annotations, images)
    stored = np.asarray(dataset["train"][0]["image"])
    np.testing.assert_array_equal(stored, np.asarray(load_image_file(images / "r.jpg")))


def test_source_name_and_json_without_class(tmp_path):
    assert infer_source_name("x/dataset_RSITMD.json") == "rsitmd"
    annotations, images = write_source(tmp_path, "plain", [entry("a.png", "train", 1, 0, label=None)])
    dataset, _ = build(annotations, images, source="mine")
    assert "label" not in dataset["train"].column_names and dataset["train"]["source"] == ["mine"]


def test_validation_carving_is_deterministic_and_by_image(tmp_path):
    entries = [entry(f"{i}.png", "train" if i < 10 else "test", i, 10 * i) for i in range(12)]
    annotations, images = write_source(tmp_path, "carve", entries)
    first, report = build(annotations, images, val_fraction=0.3, seed=7)
    second, _ = build(annotations, images, val_fraction=0.3, seed=7)
    assert first["validation"]["filename"] == second["validation"]["filename"]
    assert first["validation"].num_rows == 3 and first["train"].num_rows == 7 and first["test"].num_rows == 2
    assert set(first["validation"]["filename"]).isdisjoint(first["train"]["filename"])
    assert "carved from train" in report.validation and "seed=7" in report.validation


def test_holdout_groups_keeps_groups_whole_and_never_overshoots():
    groups = [[0, 1, 2], [3], [4, 5], [6], [7], [8], [9]]
    for seed in range(20):
        chosen = holdout_groups(groups, 0.4, seed)
        assert chosen == holdout_groups(groups, 0.4, seed)
        assert len(chosen) <= 4
        for group in groups:
            assert set(group) <= chosen or not set(group) & chosen


# ---------------------------------------------------------------- translations


def test_arabic_attached_by_sentence_and_sentid_with_untranslated_reported(toy, tmp_path):
    annotations, images, entries = toy
    lines = []
    for item in entries:
        for sentence in item["sentences"]:
            if sentence["sentid"] == 11:
                continue  # left untranslated on purpose
            if sentence["sentid"] % 2:
                lines.append({"sentid": sentence["sentid"], "ar": f"ترجمة {sentence['sentid']}"})
            else:  # matched after strip + lower-case + whitespace collapse
                shouted = "  " + sentence["raw"].upper().replace(" ", "   ")
                lines.append({"en": shouted, "ar": f"ترجمة {sentence['sentid']}"})
    jsonl = tmp_path / "captions_ar.jsonl"
    jsonl.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    dataset, report = build(annotations, images, translations={"ar": jsonl})
    arabic = report.language("ar")
    left_out = entries[1]["sentences"][1]["raw"]
    shared = sum(normalize_caption(left_out) == normalize_caption(s["raw"]) for e in entries for s in e["sentences"])
    assert arabic.untranslated == shared and arabic.untranslated_unique == 1
    assert arabic.untranslated_examples == [left_out.strip()]
    assert arabic.matched_by_sentid > 0 and arabic.matched_by_sentence > 0
    assert arabic.files == ["captions_ar.jsonl"]
    row = dataset["train"][1]  # b.png: sentids 10, 11, 12
    assert row["captions_ar"] == ["ترجمة 10", "ترجمة 12"]
    assert report.captions["ar"] == 18 - shared
    assert f"{shared} English captions (1 unique) have no translation" in report.format()


def test_any_language_code_flows_the_same_way(toy, tmp_path):
    annotations, images, entries = toy
    jsonl = tmp_path / "fr.jsonl"
    jsonl.write_text(json.dumps({"en": entries[0]["sentences"][0]["raw"], "fr": "une forêt"}), encoding="utf-8")
    dataset, report = build(annotations, images, translations={"fr": jsonl})
    assert "captions_fr" in dataset["train"].column_names and dataset["train"][0]["captions_fr"][0] == "une forêt"
    assert report.language("fr").untranslated == 17


def tiny_marian(folder: Path) -> Path:
    """A randomly initialised one-layer MarianMT with a word-level tokenizer, saved like a Hub checkpoint."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: i + 3 for i, word in enumerate([*WORDS, "."])}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=None,
    )
    model = MarianMTModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_translation_plumbing_with_a_tiny_marian_model(toy, tmp_path, monkeypatch):
    from rs_retrieval.data.translation import Seq2SeqTranslator

    annotations, images, entries = toy
    known = entries[0]["sentences"][0]["raw"]
    jsonl = tmp_path / "part.jsonl"
    jsonl.write_text(json.dumps({"en": known, "ar": "معروف"}, ensure_ascii=False), encoding="utf-8")
    # min_new_tokens keeps the random model from stopping at once: every output is non-empty gibberish
    translator = Seq2SeqTranslator(
        tiny_marian(tmp_path / "mt"), batch_size=4, max_new_tokens=3, min_new_tokens=2, device="cpu", progress=False
    )
    seen: list[str] = []
    batches: list[int] = []
    original = translator._generate

    def spy(texts: list[str]) -> list[str]:
        seen.extend(texts)
        batches.append(len(texts))
        return original(texts)

    monkeypatch.setattr(translator, "_generate", spy)
    dataset, report = build(annotations, images, translations={"ar": jsonl}, translator=translator)

    unique = {normalize_caption(s["raw"]) for e in entries for s in e["sentences"]} - {normalize_caption(known)}
    assert sorted(normalize_caption(text) for text in seen) == sorted(unique)  # each unique sentence once
    assert max(batches) == 4 and len(batches) == -(-len(unique) // 4)
    for split in dataset.values():
        for english, arabic in zip(split["captions_en"], split["captions_ar"]):
            assert len(arabic) == len(english) and all(text.strip() for text in arabic)
    assert dataset["train"][0]["captions_ar"][0] == "معروف"
    language = report.language("ar")
    assert language.model == str(tmp_path / "mt") and language.model_unique_sentences == len(unique)
    assert language.model_captions == 17 and language.untranslated == 0

    seen.clear()  # a second pass without the JSONL: only the one sentence the model never saw reaches it
    again, _ = build(annotations, images, translator=translator)
    assert seen == [known.strip()] and again["test"]["captions_ar"] == dataset["test"]["captions_ar"]
    seen.clear()  # and now everything is cached
    build(annotations, images, translator=translator)
    assert seen == []


# ---------------------------------------------------------------- merge and near-duplicates


def test_merge_resplits_keeps_duplicates_together_and_renumbers(tmp_path):
    entries_a = [entry(f"a{i}.png", "train", i, 10 * i, label="forest") for i in range(5)]
    entries_b = [entry(f"b{i}.jpg", "test", 20 + i, 300 + 10 * i, label=None) for i in range(4)]
    ann_a, img_a = write_source(tmp_path, "alpha", entries_a)
    ann_b, img_b = write_source(tmp_path, "beta", entries_b)
    # plant a near-duplicate: beta's b0 is alpha's a3, re-encoded as JPEG and a touch brighter
    twin = np.clip(smooth_rgb(3).astype(int) + 3, 0, 255).astype(np.uint8)
    Image.fromarray(twin).save(img_b / "b0.jpg", quality=85)
    specs = [SourceSpec(ann_a, img_a), SourceSpec(ann_b, img_b, "beta")]
    for seed in range(4):
        dataset, report = merge_sources(specs, test_fraction=0.5, seed=seed, progress=False)
        assert len(report.duplicate_groups) == 1
        group = report.duplicate_groups[0]
        assert [member.split(" [")[0] for member in group] == ["alpha:a3.png", "beta:b0.jpg"]
        splits = {member.split(" [")[1].rstrip("]") for member in group}
        assert len(splits) == 1
        where = {
            (row["source"], row["filename"]): name
            for name, split in dataset.items()
            for row in split.select_columns(["source", "filename"])
        }
        assert where[("alpha", "a3.png")] == where[("beta", "b0.jpg")]
        ids = [i for split in dataset.values() for i in split["image_id"]]
        assert sorted(ids) == list(range(9))
        assert sum(report.splits.values()) == 9 and report.splits["test"] in (4, 5)
    assert dataset["train"].features["label"].names == ["forest"]  # beta has no class field: label None
    rows = [row for split in dataset.values() for row in split.select_columns(["source", "label"])]
    assert {row["label"] for row in rows if row["source"] == "beta"} == {None}
    assert {row["label"] for row in rows if row["source"] == "alpha"} == {0}
    assert "re-split" in report.split_method and "alpha" in report.sources and "beta" in report.sources
    assert "alpha:a3.png" in report.format()


def test_merge_uses_shared_translations_on_sentences_only(tmp_path):
    ann_a, img_a = write_source(tmp_path, "alpha", [entry("a.png", "train", 1, 0)])
    ann_b, img_b = write_source(tmp_path, "beta", [entry("b.png", "train", 2, 0)])
    jsonl = tmp_path / "ar.jsonl"
    lines = [{"sentid": 0, "ar": "س"}, {"en": caption(2, 0), "ar": "ص"}]
    jsonl.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    specs = [SourceSpec(ann_a, img_a), SourceSpec(ann_b, img_b)]
    dataset, report = merge_sources(specs, translations={"ar": jsonl}, test_fraction=0.0, progress=False)
    rows = {row["source"]: row["captions_ar"] for row in dataset["train"]}
    assert rows == {"alpha": [], "beta": ["ص"]}
    assert any("sentid keys not used in a merge" in note for note in report.notes)


# ---------------------------------------------------------------- bad input


def bad_source(root: Path) -> tuple[Path, Path]:
    """A source with one of every problem next to good entries."""
    good = entry("good.jpg", "train", 1, 0)
    empty_among = entry("some_empty.png", "train", 2, 10)
    empty_among["sentences"].append({"raw": "   ", "sentid": 13})
    entries = [
        good,
        empty_among,
        entry("gone.jpg", "train", 3, 20),
        entry("garbage.jpg", "test", 4, 30),
        entry("truncated.jpg", "test", 5, 40),
        {**entry("nocaps.png", "train", 6, 50), "sentences": []},
        {**entry("blank.png", "train", 7, 60), "sentences": [{"raw": ""}, {"raw": None}]},
        {key: value for key, value in entry("nosent.png", "train", 8, 70).items() if key != "sentences"},
        {key: value for key, value in entry("x.png", "train", 9, 80).items() if key != "filename"},
        {**entry("devsplit.png", "dev", 10, 90)},
        entry("good.jpg", "test", 11, 100),
    ]
    on_disk = ["good.jpg", "some_empty.png", "truncated.jpg", "nocaps.png", "blank.png", "nosent.png", "devsplit.png"]
    annotations, images = write_source(root, "bad", entries, seeds={name: i for i, name in enumerate(on_disk)})
    (images / "garbage.jpg").write_bytes(b"this is not an image")
    data = (images / "truncated.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(data[: len(data) // 2])
    return annotations, images


EXPECTED_PROBLEMS = {
    "empty_caption": {"some_empty.png", "blank.png"},
    "missing_image": {"gone.jpg"},
    "unreadable_image": {"garbage.jpg", "truncated.jpg"},
    "no_captions": {"nocaps.png", "blank.png"},
    "missing_key": {"nosent.png", "images[8]"},
    "bad_split": {"devsplit.png"},
    "duplicate_filename": {"good.jpg"},
}


def test_bad_input_is_reported_and_skipped_never_silently(tmp_path):
    annotations, images = bad_source(tmp_path)
    dataset, report = build(annotations, images)
    counts = report.problem_counts()
    assert counts == {kind: 3 if kind == "empty_caption" else len(names) for kind, names in EXPECTED_PROBLEMS.items()}
    for kind, filenames in EXPECTED_PROBLEMS.items():
        assert {p.filename for p in report.problems if p.kind == kind} == filenames
    assert dataset["train"]["filename"] == ["good.jpg", "some_empty.png"]
    assert "test" not in dataset and any("'test'" in note for note in report.notes)
    assert len(dataset["train"][1]["captions_en"]) == 3  # the blank fourth caption was dropped
    skipped = {"gone.jpg", "garbage.jpg", "truncated.jpg", "nocaps.png", "blank.png", "nosent.png", "images[8]"}
    assert {p.filename for p in report.skipped_images()} == skipped | {"devsplit.png", "good.jpg"}
    text = report.format()
    for filename in ("gone.jpg", "truncated.jpg", "devsplit.png", "images[8]"):
        assert filename in text
    assert "image skipped: 9" in text and "caption dropped: 3" in text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("some_empty.png", "empty_caption"),
        ("gone.jpg", "missing_image"),
        ("garbage.jpg", "unreadable_image"),
        ("truncated.jpg", "unreadable_image"),
        ("nocaps.png", "no_captions"),
        ("blank.png", "empty_caption"),
        ("nosent.png", "missing_key"),
        ("x.png", "missing_key"),
        ("devsplit.png", "bad_split"),
    ],
)
def test_strict_mode_raises_on_each_problem(tmp_path, name, kind):
    annotations, images = bad_source(tmp_path)
    entries = json.loads(annotations.read_text())["images"]
    keep = [entries[0], next(item for item in entries if item.get("filename", "x.png") == name)]
    annotations.write_text(json.dumps({"images": keep}))
    where = r"images\[1\]" if name == "x.png" else re.escape(name)
    with pytest.raises(DatasetBuildError, match=rf"strict mode: bad:{where}: {kind}"):
        build(annotations, images, strict=True)


def test_fatal_annotation_problems(tmp_path):
    with pytest.raises(DatasetBuildError, match="annotation file not found"):
        build(tmp_path / "nope.json", tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"pictures": []}))
    with pytest.raises(DatasetBuildError, match="missing required top-level key 'images'"):
        build(broken, tmp_path)
    broken.write_text("{not json")
    with pytest.raises(DatasetBuildError, match="not a valid JSON"):
        build(broken, tmp_path)


def test_missing_translation_file_is_fatal(toy, tmp_path):
    annotations, images, _ = toy
    with pytest.raises(DatasetBuildError, match="translation file not found"):
        build(annotations, images, translations={"ar": tmp_path / "nope.jsonl"})


def test_bad_translation_lines_reported(toy, tmp_path):
    annotations, images, entries = toy
    jsonl = tmp_path / "ar.jsonl"
    lines = ["{oops", json.dumps({"en": "x"}), json.dumps({"ar": "y"}), json.dumps({"en": caption(0, 0), "ar": "ع"})]
    jsonl.write_text("\n".join(lines), encoding="utf-8")
    _, report = build(annotations, images, translations={"ar": jsonl})
    assert [p.filename for p in report.problems] == ["ar.jsonl:1", "ar.jsonl:2", "ar.jsonl:3"]
    assert {p.kind for p in report.problems} == {"bad_translation_line"}
    with pytest.raises(DatasetBuildError, match="ar.jsonl:1"):
        build(annotations, images, translations={"ar": jsonl}, strict=True)


# ---------------------------------------------------------------- command line


def test_cli_end_to_end_writes_a_loadable_dataset_with_card(toy, tmp_path, capsys):
    annotations, images, entries = toy
    jsonl = tmp_path / "captions_ar.jsonl"
    lines = [{"en": s["raw"], "ar": f"ع{s['sentid']}"} for e in entries for s in e["sentences"]]
    jsonl.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    out = tmp_path / "out"
    args = ["--annotations", str(annotations), "--images", str(images), "--arabic", str(jsonl), "--out", str(out)]
    args += ["--license", "cc-by-4.0", "--no-progress"]
    assert build_main(args) == 0
    printed = capsys.readouterr().out
    assert "Splits: train 3 | validation 1 | test 2" in printed and "Captions: en 18 | ar 18" in printed
    loaded = load_from_disk(str(out))
    assert loaded["test"].num_rows == 2 and loaded["train"][0]["captions_ar"][0] == "ع0"
    card = DatasetCard.load(out / "README.md")
    assert card.data.language == ["en", "ar"] and card.data.license == "cc-by-4.0"
    assert card.data.size_categories == "n<1K" and "text-to-image" in card.data.task_categories
    assert "remote-sensing" in card.data.tags and "0 English captions" in card.text
    assert json.loads((out / "build_report.json").read_text())["splits"]["train"] == 3

    assert build_main(args) == 1  # refuses to overwrite...
    assert "not empty" in capsys.readouterr().err
    assert load_from_disk(str(out))["train"].num_rows == 3  # ...and left it intact
    assert build_main([*args, "--license", "mit", "--overwrite"]) == 0
    assert DatasetCard.load(out / "README.md").data.license == "mit" and load_from_disk(str(out))["test"].num_rows == 2
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".out.")] == []  # no staging left


def test_cli_fatal_errors_exit_nonzero(toy, tmp_path, capsys):
    annotations, images, _ = toy
    missing = ["--annotations", str(tmp_path / "missing.json"), "--images", str(images), "--out", str(tmp_path / "o")]
    assert build_main(missing) == 1
    assert "annotation file not found" in capsys.readouterr().err
    bad_annotations, bad_images = bad_source(tmp_path / "bad")
    out = tmp_path / "strict_out"
    strict = ["--annotations", str(bad_annotations), "--images", str(bad_images), "--strict", "--out", str(out)]
    assert build_main([*strict, "--no-progress"]) == 1
    assert "strict mode" in capsys.readouterr().err and not out.exists()
    assert build_main(["--merge", "only_one_part", "--out", str(out)]) == 2
    assert build_main(["--annotations", str(annotations), "--out", str(out)]) == 2


def test_cli_merge(tmp_path, capsys):
    ann_a, img_a = write_source(tmp_path, "alpha", [entry(f"a{i}.png", "train", i, 10 * i) for i in range(4)])
    ann_b, img_b = write_source(tmp_path, "beta", [entry(f"b{i}.png", "val", 10 + i, 10 * i) for i in range(4)])
    out = tmp_path / "merged"
    merge = ["--merge", f"{ann_a}:{img_a}", f"{ann_b}:{img_b}:second", "--test-fraction", "0.25"]
    assert build_main([*merge, "--dedup-threshold", "2", "--out", str(out), "--no-progress"]) == 0
    loaded = load_from_disk(str(out))
    assert loaded["train"].num_rows == 6 and loaded["test"].num_rows == 2
    assert set(loaded["train"]["source"]) | set(loaded["test"]["source"]) == {"alpha", "second"}
    assert "Near-duplicate groups (phash, Hamming distance <= 2): 0" in capsys.readouterr().out


def test_script_runs_standalone():
    script = REPO / "hub_scripts" / "build_dataset.py"
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--merge" in result.stdout
