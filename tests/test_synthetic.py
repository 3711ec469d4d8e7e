"""The embedded synthetic dataset: deterministic, bilingual, and its captions say what its pixels show."""

from __future__ import annotations

import re
from collections import deque

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from rs_retrieval.data.synthetic import (  # noqa: E402
    CAPTION_TEMPLATES,
    DEFAULT_SPLITS,
    EN_NUMBERS,
    NOUNS,
    SCENE_TYPES,
    arabic_count,
    caption_scene,
    english_count,
    generate_scene,
    make_synthetic_dataset,
)

ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
SMALL = {"train": 2, "validation": 1, "test": 1}
NUMBER_WORDS = "|".join(EN_NUMBERS[1:])


@pytest.fixture(scope="module")
def default_dataset():
    return make_synthetic_dataset()


@pytest.fixture(scope="module")
def small_dataset():
    return make_synthetic_dataset(splits=SMALL, seed=3)


def count_components(mask: np.ndarray) -> int:
    """Number of 8-connected groups of True pixels (a tiny stand-in for scipy.ndimage.label)."""
    seen = np.zeros_like(mask, dtype=bool)
    height, width = mask.shape
    groups = 0
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        groups += 1
        seen[y, x] = True
        queue = deque([(y, x)])
        while queue:
            cy, cx = queue.popleft()
            for ny in range(max(cy - 1, 0), min(cy + 2, height)):
                for nx in range(max(cx - 1, 0), min(cx + 2, width)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
    return groups


def bright_neutral(image, threshold: int) -> np.ndarray:
    """Pixels that are light and colourless: airplanes and storage tanks, not ground, grass or asphalt."""
    rgb = np.asarray(image, dtype=int)
    return (rgb.min(axis=2) > threshold) & (rgb.max(axis=2) - rgb.min(axis=2) < 30)


def scene_samples(scene: str, n: int, size: int = 64):
    for seed in range(n):
        yield generate_scene(np.random.default_rng(seed), scene, size)


# --- determinism -------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_pixels_and_captions(small_dataset):
    again = make_synthetic_dataset(splits=SMALL, seed=3)
    for split in SMALL:
        for a, b in zip(small_dataset[split], again[split], strict=True):
            assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
            assert (a["captions_en"], a["captions_ar"]) == (b["captions_en"], b["captions_ar"])
            assert (a["image_id"], a["filename"], a["label"], a["count"]) == (
                b["image_id"], b["filename"], b["label"], b["count"])


def test_different_seeds_give_different_images(small_dataset):
    other = make_synthetic_dataset(splits=SMALL, seed=4)
    pairs = list(zip(small_dataset["train"], other["train"], strict=True))
    differing = sum(not np.array_equal(np.asarray(a["image"]), np.asarray(b["image"])) for a, b in pairs)
    assert differing == len(pairs)


def test_an_image_does_not_depend_on_which_other_scenes_are_generated(small_dataset):
    only_forest = make_synthetic_dataset(splits=SMALL, seed=3, scene_types=["forest"])
    forest = small_dataset["train"].filter(lambda row: row["filename"].startswith("forest_"))
    for a, b in zip(forest, only_forest["train"], strict=True):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))


# --- shape of the dataset ------------------------------------------------------------------------------------------


def test_default_splits_hold_the_default_number_of_images_per_scene(default_dataset):
    assert DEFAULT_SPLITS == {"train": 32, "validation": 4, "test": 8}
    assert list(default_dataset) == ["train", "validation", "test"]
    for split, per_scene in DEFAULT_SPLITS.items():
        assert default_dataset[split].num_rows == per_scene * len(SCENE_TYPES)


def test_columns_and_features(small_dataset):
    features = small_dataset["train"].features
    assert list(features) == ["image", "image_id", "filename", "captions_en", "captions_ar", "label", "count", "source"]
    assert isinstance(features["image"], datasets.Image)
    assert isinstance(features["label"], datasets.ClassLabel)
    assert features["label"].names == list(SCENE_TYPES)
    assert set(small_dataset["test"]["source"]) == {"synthetic"}


def test_at_least_eight_scene_types_and_every_one_appears_in_every_split(default_dataset):
    assert len(SCENE_TYPES) >= 8
    assert {"airport", "farmland", "river", "residential", "forest", "beach", "parking_lot",
            "storage_tanks"} <= set(SCENE_TYPES)
    for split in default_dataset.values():
        names = split.features["label"].names
        assert {names[label] for label in split["label"]} == set(SCENE_TYPES)


def test_image_ids_are_unique_across_splits_and_filenames_name_the_scene(default_dataset):
    ids = [i for split in default_dataset.values() for i in split["image_id"]]
    assert len(ids) == len(set(ids))
    for split in default_dataset.values():
        names = split.features["label"].names
        for filename, label, image_id in zip(split["filename"], split["label"], split["image_id"], strict=True):
            assert filename == f"{names[label]}_{image_id:06d}.png"


@pytest.mark.parametrize("size", [32, 64, 128])
def test_image_size_is_honoured(size):
    dataset = make_synthetic_dataset(splits={"test": 1}, image_size=size)
    assert {(row["image"].size, row["image"].mode) for row in dataset["test"]} == {((size, size), "RGB")}


def test_images_are_textured_not_flat(small_dataset):
    for row in small_dataset["train"]:
        assert len(np.unique(np.asarray(row["image"]).reshape(-1, 3), axis=0)) > 200


def test_round_trips_through_save_to_disk(small_dataset, tmp_path):
    small_dataset.save_to_disk(str(tmp_path / "synthetic"))
    loaded = datasets.load_from_disk(str(tmp_path / "synthetic"))
    assert list(loaded) == list(small_dataset)
    for split in SMALL:
        assert loaded[split].features == small_dataset[split].features
        for a, b in zip(loaded[split], small_dataset[split], strict=True):
            assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
            assert a["captions_ar"] == b["captions_ar"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown scene type"):
        generate_scene(np.random.default_rng(0), "volcano")
    with pytest.raises(ValueError, match="at least"):
        generate_scene(np.random.default_rng(0), "forest", image_size=8)
    with pytest.raises(ValueError, match="not both"):
        make_synthetic_dataset(images_per_scene=1, splits={"train": 1})


# --- captions ------------------------------------------------------------------------------------------------------


def test_five_distinct_english_and_five_arabic_captions_per_image(default_dataset):
    for row in default_dataset["train"]:
        for captions in (row["captions_en"], row["captions_ar"]):
            assert len(captions) == 5 and all(c.strip() for c in captions)
            assert len(set(captions)) == 5
        assert all(ARABIC_LETTER.search(c) for c in row["captions_ar"])
        assert not any(ARABIC_LETTER.search(c) for c in row["captions_en"])


def test_every_template_pair_has_the_same_slots_in_both_languages():
    # Arabic slots may be case-marked variants (objs_gen) or agreeing forms (colour_f) of the English slot.
    english_to_arabic = {"colour": {"colour_m", "colour_f", "colour_def"}, "objs": {"objs", "objs_gen"},
                         "objs_plain": {"objs_plain", "objs_plain_gen"}}
    for scene, templates in CAPTION_TEMPLATES.items():
        assert len(templates) >= 5, scene
        for en, ar in templates:
            en_slots = set(re.findall(r"{(\w+)}", en)) - {"be"}
            ar_slots = set(re.findall(r"{(\w+)}", ar)) - {"parked"}
            expected = {slot for s in en_slots for slot in english_to_arabic.get(s, {s})}
            assert ar_slots <= expected and all(english_to_arabic.get(s, {s}) & ar_slots for s in en_slots), (en, ar)


@pytest.mark.parametrize(
    ("count", "noun", "colour", "case", "expected"),
    [
        (1, "airplane", "white", "nom", "طائرة بيضاء واحدة"),
        (2, "airplane", "white", "nom", "طائرتان بيضاوان"),
        (2, "airplane", None, "gen", "طائرتين"),
        (3, "airplane", "white", "nom", "ثلاث طائرات بيضاء"),
        (8, "car", "red", "nom", "ثماني سيارات حمراء"),
        (10, "car", None, "nom", "عشر سيارات"),
        (1, "tank", "grey", "nom", "خزان رمادي واحد"),
        (2, "tank", "white", "gen", "خزانين أبيضين"),
        (3, "tank", None, "nom", "ثلاثة خزانات"),
        (6, "tank", "grey", "nom", "ستة خزانات رمادية"),
    ],
)
def test_arabic_numbers_agree_with_their_nouns(count, noun, colour, case, expected):
    assert arabic_count(count, noun, colour, case) == expected


def test_english_counts_are_words():
    assert english_count(1, "airplane", "white") == "one white airplane"
    assert english_count(3, "car") == "three cars"
    assert english_count(4, "tank", "grey") == "four grey storage tanks"


@pytest.mark.parametrize(("scene", "noun"),
                         [("airport", "airplane"), ("parking_lot", "car"), ("storage_tanks", "tank")])
def test_counted_captions_state_the_drawn_count_in_both_languages(scene, noun):
    for _, spec in scene_samples(scene, 16):
        english, arabic = caption_scene(spec, np.random.default_rng(0))
        phrases = {arabic_count(spec.count, noun, colour, case)
                   for colour in (spec.colour, None) for case in ("nom", "gen")}
        for en, ar in zip(english, arabic, strict=True):
            counted = re.findall(rf"\b({NUMBER_WORDS}) (?:\w+ )?{NOUNS[noun].en}", en)  # "three (white) airplanes"
            assert counted == [EN_NUMBERS[spec.count]], en
            assert any(phrase in ar for phrase in phrases), (ar, phrases)


def test_english_and_arabic_caption_i_describe_the_same_thing():
    for scene in SCENE_TYPES:
        for _, spec in scene_samples(scene, 4):
            english, arabic = caption_scene(spec, np.random.default_rng(1))
            for en, ar in zip(english, arabic, strict=True):
                assert ("aerial view" in en) == ar.startswith("صورة جوية"), (en, ar)
                assert ("left side" in en) == ("الجانب الأيسر" in ar), (en, ar)
                assert ("top of the image" in en) == ("أعلى الصورة" in ar), (en, ar)


SCENE_WORDS = {
    "airport": (("airport", "runway"), ("مطار", "مدرج")),
    "farmland": (("farm",), ("زراعي", "مزرعة")),
    "river": (("river",), ("نهر",)),
    "residential": (("residential", "houses"), ("سكني", "منازل")),
    "forest": (("forest", "trees"), ("غابة", "أشجار")),
    "beach": (("beach", "sea"), ("شاطئ", "البحر")),
    "parking_lot": (("parking lot",), ("موقف",)),
    "storage_tanks": (("storage tank",), ("خزان",)),
    "bridge": (("bridge",), ("جسر",)),
    "stadium": (("stadium", "track"), ("ملعب", "مضمار")),
}


@pytest.mark.parametrize("scene", SCENE_TYPES)
def test_every_caption_names_its_scene_in_both_languages(scene):
    en_words, ar_words = SCENE_WORDS[scene]
    for _, spec in scene_samples(scene, 4):
        english, arabic = caption_scene(spec, np.random.default_rng(2))
        assert all(any(w in en for w in en_words) for en in english), english
        assert all(any(w in ar for w in ar_words) for ar in arabic), arabic


# --- the pixels show what the captions say ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 64, 128])
def test_airport_pixels_hold_as_many_airplanes_as_the_spec_says(size):
    seen_counts = set()
    for image, spec in scene_samples("airport", 24, size):
        assert spec.count in range(1, 5)
        assert count_components(bright_neutral(image, 200)) == spec.count
        seen_counts.add(spec.count)
    assert seen_counts == {1, 2, 3, 4}


@pytest.mark.parametrize("size", [32, 64])
def test_storage_tank_pixels_hold_as_many_tanks_as_the_spec_says(size):
    for image, spec in scene_samples("storage_tanks", 24, size):
        assert count_components(bright_neutral(image, 165)) == spec.count


def test_airplanes_are_parked_on_the_side_the_captions_name():
    for image, spec in scene_samples("airport", 16):
        ys, xs = np.nonzero(bright_neutral(image, 200))
        centre = {"left": xs.mean() < 32, "right": xs.mean() > 32, "top": ys.mean() < 32, "bottom": ys.mean() > 32}
        assert centre[spec.position], spec


def test_the_sea_is_on_the_side_the_captions_name():
    halves = {"left": np.s_[:, :32], "right": np.s_[:, 32:], "top": np.s_[:32, :], "bottom": np.s_[32:, :]}
    for image, spec in scene_samples("beach", 12):
        rgb = np.asarray(image, dtype=float)
        blueness = {side: (rgb[half][..., 2] - rgb[half][..., 0]).mean() for side, half in halves.items()}
        assert max(blueness, key=blueness.get) == spec.position


def colour_histogram(image) -> np.ndarray:
    rgb = np.asarray(image) // 64  # 4 levels per channel
    codes = (rgb[..., 0] * 16 + rgb[..., 1] * 4 + rgb[..., 2]).ravel()
    return np.bincount(codes, minlength=64) / codes.size


def test_scene_types_are_told_apart_by_colour_alone(default_dataset):
    """A nearest-centroid colour-histogram classifier beats chance by far: there is something to learn."""
    train, test = default_dataset["train"], default_dataset["test"]
    features = np.stack([colour_histogram(img) for img in train["image"]])
    labels = np.asarray(train["label"])
    centroids = np.stack([features[labels == k].mean(axis=0) for k in range(len(SCENE_TYPES))])
    test_features = np.stack([colour_histogram(img) for img in test["image"]])
    predicted = np.linalg.norm(test_features[:, None] - centroids[None], axis=2).argmin(axis=1)
    assert (predicted == np.asarray(test["label"])).mean() > 0.8


# --- the script ----------------------------------------------------------------------------------------------------


def test_make_synthetic_script_writes_and_reports_the_splits(tmp_path, capsys):
    from commands import make_synthetic

    main = make_synthetic.main

    out = tmp_path / "out"
    args = ["--out", str(out), "--image-size", "32", "--train-per-scene", "2", "--val-per-scene", "1",
            "--test-per-scene", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    n = len(SCENE_TYPES)
    assert f"train: {2 * n} images" in printed and f"validation: {n} images" in printed
    loaded = datasets.load_from_disk(str(out))
    assert loaded["train"].num_rows == 2 * n and loaded["test"][0]["image"].size == (32, 32)
