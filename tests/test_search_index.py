"""Indexing at scale: galleries, resumable and sharded embedding, the FAISS index choice, the RetrievalIndex API.

A tiny untrained model is enough here: these tests are about which vectors end up where, not about their meaning
(tests/test_search_cli.py checks retrieval quality with a trained model).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_config

from rs_retrieval import DualEncoderModel, DualEncoderProcessor
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.inference import embed_images
from rs_retrieval.search import RetrievalIndex, SearchError, build_index, open_gallery
from rs_retrieval.search.faiss_index import (
    EXACT_SEARCH_MAX_VECTORS,
    FLAT,
    IVF,
    build_faiss_index,
    choose_kind,
    exact_top_k,
    ivf_nlist,
    recall_at_k,
)
from rs_retrieval.search.indexing import shard_of
from rs_retrieval.search.store import commit, new_build_dir, open_index, read_manifest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@pytest.fixture(scope="module")
def scenes():
    """20 synthetic scenes (2 of each type) at 32 px, with their file names."""
    split = make_synthetic_dataset(splits={"test": 2}, image_size=32)["test"]
    return [(row["filename"], row["image"]) for row in split]


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture()
def model_and_processor(checkpoint):
    return DualEncoderModel.from_pretrained(checkpoint).eval(), DualEncoderProcessor.from_pretrained(checkpoint)


def write_gallery(folder: Path, scenes, nested: bool = True) -> Path:
    """The scenes as PNG files, every other one in a sub-folder."""
    for n, (name, image) in enumerate(scenes):
        target = folder / ("more" if nested and n % 2 else "") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    return folder


def index(model_and_processor, images, out, **kwargs):
    model, processor = model_and_processor
    gallery = images if not isinstance(images, (str, Path)) else open_gallery(images, split=kwargs.pop("split", None))
    return build_index(model, processor, gallery, out, distributed=False, model_name="tiny", **kwargs)


def stored(out: Path) -> tuple[np.ndarray, list[dict]]:
    opened = open_index(out)
    return np.array(opened.embeddings), opened.metadata.to_pylist()


# -- a folder gallery -------------------------------------------------------------------------------------------------


def test_a_folder_is_indexed_recursively_in_path_order_with_metadata_and_manifest(
        model_and_processor, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes)
    (gallery / "notes.txt").write_text("not an image")
    (gallery / ".hidden").mkdir()
    scenes[0][1].save(gallery / ".hidden" / "skipped.png")
    report = index(model_and_processor, gallery, tmp_path / "index", batch_size=6)

    assert report.indexed == report.total == len(scenes) == report.embedded and not report.failures
    vectors, rows = stored(tmp_path / "index")
    paths = sorted(gallery.rglob("*.png"), key=lambda p: p.relative_to(gallery).as_posix())
    paths = [p for p in paths if ".hidden" not in p.parts]
    assert [row["path"] for row in rows] == [str(p) for p in paths]
    assert [row["key"] for row in rows] == [p.relative_to(gallery).as_posix() for p in paths]
    assert all(row["size"] == p.stat().st_size and row["mtime"] == p.stat().st_mtime for row, p in zip(rows, paths))
    model, processor = model_and_processor
    torch.testing.assert_close(torch.from_numpy(vectors), embed_images(model, processor, [str(p) for p in paths]),
                               rtol=0, atol=1e-5)

    manifest = read_manifest(tmp_path / "index")
    assert (manifest.model, manifest.dimension, manifest.count) == ("tiny", 16, len(scenes))
    assert manifest.index["kind"] == FLAT and manifest.gallery == {"kind": "folder", "root": str(gallery.resolve())}
    assert manifest.code_version["rs_retrieval"] and len(manifest.model_fingerprint) == 32
    assert not list((tmp_path / "index" / "parts").glob("*")), "parts are merged, then removed"


def test_unreadable_images_are_listed_with_their_error_and_skipped(model_and_processor, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes[:6], nested=False)
    data = (gallery / scenes[0][0]).read_bytes()
    (gallery / "truncated.png").write_bytes(data[: len(data) // 2])
    (gallery / "text.jpg").write_text("this is not a JPEG")
    report = index(model_and_processor, gallery, tmp_path / "index", batch_size=4)

    assert report.indexed == 6 and report.total == 8
    assert sorted(Path(f.path).name for f in report.failures) == ["text.jpg", "truncated.png"]
    assert all(f.path in f.error and "unreadable or truncated" in f.error for f in report.failures)
    manifest = read_manifest(tmp_path / "index")
    listed = json.loads((tmp_path / "index" / manifest.build / "failures.json").read_text())
    assert manifest.failures == 2 and {Path(f["path"]).name for f in listed} == {"text.jpg", "truncated.png"}

    again = index(model_and_processor, gallery, tmp_path / "index")
    assert again.up_to_date and len(again.failures) == 2, "unchanged broken files are not retried, still reported"
    scenes[7][1].save(gallery / "text.jpg", format="PNG")  # repaired (content sniffing ignores the suffix)
    repaired = index(model_and_processor, gallery, tmp_path / "index")
    assert (repaired.embedded, repaired.indexed, [Path(f.path).name for f in repaired.failures]) == (
        1, 7, ["truncated.png"])


# -- resuming -------------------------------------------------------------------------------------------------------


class Crash(RuntimeError):
    pass


def crash_after(parts: int):
    def hook(written: int) -> None:
        if written == parts:
            raise Crash(f"simulated crash after {parts} part files")
    return hook


def test_an_interrupted_run_resumes_where_it_stopped_and_ends_with_the_same_index(
        model_and_processor, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes)
    index(model_and_processor, gallery, tmp_path / "straight", batch_size=4)

    with pytest.raises(Crash):
        index(model_and_processor, gallery, tmp_path / "resumed", batch_size=4, after_part=crash_after(2))
    assert len(list((tmp_path / "resumed" / "parts").glob("part-*.parquet"))) == 2, "finished batches are on disk"
    assert not (tmp_path / "resumed" / "manifest.json").exists()

    written = []
    report = index(model_and_processor, gallery, tmp_path / "resumed", batch_size=4, after_part=written.append)
    assert len(written) == (len(scenes) - 8 + 3) // 4, "only the batches the crash did not finish are embedded"
    assert report.indexed == len(scenes) and report.embedded == len(scenes)
    straight_vectors, straight_rows = stored(tmp_path / "straight")
    resumed_vectors, resumed_rows = stored(tmp_path / "resumed")
    assert resumed_rows == straight_rows
    np.testing.assert_allclose(resumed_vectors, straight_vectors, rtol=0, atol=1e-6)


def test_an_index_command_killed_mid_run_loses_no_finished_batch(model_and_processor, checkpoint, scenes, tmp_path):
    gallery = tmp_path / "gallery"
    for copy in range(20):  # 400 images in 200 batches of 2: the run is still going when we kill it
        write_gallery(gallery / f"copy{copy:02d}", scenes, nested=False)
    out = tmp_path / "killed"
    command = [sys.executable, str(REPO / "hub_scripts" / "index.py"), "--model", str(checkpoint), "--images",
               str(gallery), "--out", str(out), "--batch-size", "2", "--no-progress"]
    process = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while len(list((out / "parts").glob("part-*.parquet"))) < 5 and process.poll() is None:
            time.sleep(0.002)
    finally:
        process.kill()
        process.wait()
    finished = len(list((out / "parts").glob("part-*.parquet")))
    assert not (out / "manifest.json").exists() and 5 <= finished < 200, "killed part-way"

    report = index(model_and_processor, gallery, out, batch_size=2)
    assert report.indexed == 400 and not report.failures
    index(model_and_processor, gallery, tmp_path / "straight", batch_size=2)
    killed_vectors, killed_rows = stored(out)
    straight_vectors, straight_rows = stored(tmp_path / "straight")
    assert killed_rows == straight_rows
    np.testing.assert_allclose(killed_vectors, straight_vectors, rtol=0, atol=1e-6)


def test_a_rerun_embeds_only_new_and_changed_images_and_drops_deleted_ones(model_and_processor, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes[:10], nested=False)
    out = tmp_path / "index"
    index(model_and_processor, gallery, out)
    build = read_manifest(out).build

    again = index(model_and_processor, gallery, out)
    assert again.up_to_date and again.embedded == 0 and read_manifest(out).build == build

    changed, deleted = gallery / scenes[1][0], gallery / scenes[2][0]
    scenes[15][1].save(changed)
    os.utime(changed, ns=(0, 1_000_000_000))  # a new mtime even on coarse file systems
    deleted.unlink()
    scenes[12][1].save(gallery / "zz_new.png")
    report = index(model_and_processor, gallery, out)
    assert (report.embedded, report.reused, report.removed, report.indexed) == (2, 8, 2, 10)

    vectors, rows = stored(out)
    assert [Path(r["path"]).name for r in rows] == sorted(p.name for p in gallery.iterdir())
    model, processor = model_and_processor
    fresh = embed_images(model, processor, [str(changed), str(gallery / "zz_new.png")]).numpy()
    at = {Path(r["path"]).name: n for n, r in enumerate(rows)}
    np.testing.assert_allclose(vectors[[at[changed.name], at["zz_new.png"]]], fresh, rtol=0, atol=1e-5)
    assert len(list(out.glob("build-*"))) == 1, "the previous build is removed after the commit"


def test_a_dataset_split_is_keyed_by_image_id_and_rehashed_for_changes(model_and_processor, tmp_path):
    data = make_synthetic_dataset(splits={"train": 1, "test": 1}, image_size=32)
    data.save_to_disk(str(tmp_path / "data"))
    out = tmp_path / "index"
    report = index(model_and_processor, tmp_path / "data", out, split="test")
    assert report.indexed == 10
    _, rows = stored(out)
    test = data["test"]
    assert [r["key"] for r in rows] == [f"id:{i}" for i in test["image_id"]]
    assert [r["path"] for r in rows] == test["filename"] and [r["row"] for r in rows] == list(range(10))
    assert [r["label"] for r in rows] == [test.features["label"].names[v] for v in test["label"]]
    assert rows[0]["captions_ar"] == test[0]["captions_ar"]
    assert read_manifest(out).gallery["split"] == "test"
    assert index(model_and_processor, tmp_path / "data", out, split="test").up_to_date

    other = data["train"][3]["image"]
    edited = test.map(lambda row, i: {"image": other if i == 3 else row["image"]}, with_indices=True)
    edited.save_to_disk(str(tmp_path / "edited"))
    report = index(model_and_processor, tmp_path / "edited", out)
    assert (report.embedded, report.reused) == (1, 9)


# -- refusing what would lose or mix data ----------------------------------------------------------------------------


def test_a_folder_indexed_by_one_model_refuses_another_and_keeps_its_files(
        model_and_processor, scenes, tmp_path, tiny_tokenizer):
    gallery = write_gallery(tmp_path / "gallery", scenes[:4], nested=False)
    out = tmp_path / "index"
    index(model_and_processor, gallery, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _, processor = model_and_processor

    narrow = DualEncoderModel(tiny_config(len(tiny_tokenizer), projection_dim=8)).eval()
    with pytest.raises(SearchError, match="8 dimensions but the index holds 16-dimensional"):
        build_index(narrow, processor, open_gallery(gallery), out, distributed=False)
    torch.manual_seed(1)
    retrained = DualEncoderModel(tiny_config(len(tiny_tokenizer))).eval()
    with pytest.raises(SearchError, match="embedded by another model"):
        build_index(retrained, processor, open_gallery(gallery), out, distributed=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_bad_galleries_are_named(tmp_path):
    with pytest.raises(SearchError, match="no-such: no such folder"):
        open_gallery(tmp_path / "no-such")
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(SearchError, match="the gallery is empty: no images .*\\.tif"):
        open_gallery(tmp_path / "empty")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(SearchError, match="is a file"):
        open_gallery(tmp_path / "file.png")
    make_synthetic_dataset(splits={"train": 1, "test": 1}, image_size=32).save_to_disk(str(tmp_path / "data"))
    with pytest.raises(SearchError, match="choose one with --split"):
        open_gallery(tmp_path / "data")
    with pytest.raises(SearchError, match="no split 'val'.*'test', 'train'"):
        open_gallery(tmp_path / "data", split="val")


def test_an_unfinished_build_stays_invisible_and_is_cleared_by_the_next_commit(model_and_processor, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes[:4], nested=False)
    out = tmp_path / "index"
    index(model_and_processor, gallery, out)
    manifest = read_manifest(out)
    orphan = new_build_dir(out)  # what a crash during a merge leaves behind
    (orphan / "embeddings.npy").write_bytes(b"half written")
    assert open_index(out).manifest == manifest
    commit(out, manifest)
    assert not orphan.exists() and open_index(out).manifest.build == manifest.build


# -- sharding across processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_build_the_same_index_as_one(model_and_processor, checkpoint, scenes, tmp_path):
    gallery = write_gallery(tmp_path / "gallery", scenes)
    keys = [item.key for item in open_gallery(gallery).items]
    assert {shard_of(key, 2) for key in keys} == {0, 1}, "both processes get work"
    index(model_and_processor, gallery, tmp_path / "single", batch_size=4)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), str(REPO / "hub_scripts" / "index.py"), "--model", str(checkpoint),
               "--images", str(gallery), "--out", str(tmp_path / "sharded"), "--batch-size", "4"]
    completed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "process 1/2" in completed.stderr and "process 2/2" in completed.stderr
    assert completed.stdout.count("images indexed") == 1, "only the main process merges and reports"

    single_vectors, single_rows = stored(tmp_path / "single")
    sharded_vectors, sharded_rows = stored(tmp_path / "sharded")
    assert sharded_rows == single_rows
    np.testing.assert_allclose(sharded_vectors, single_vectors, rtol=0, atol=1e-5)
    assert read_manifest(tmp_path / "sharded").model == str(checkpoint)


# -- the FAISS index -------------------------------------------------------------------------------------------------


def test_galleries_up_to_the_threshold_are_searched_exactly_and_larger_ones_with_ivf():
    assert choose_kind(EXACT_SEARCH_MAX_VECTORS) == FLAT
    assert choose_kind(EXACT_SEARCH_MAX_VECTORS + 1) == IVF
    assert choose_kind(50, "ivf_flat") == IVF and choose_kind(1, "ivf_flat") == FLAT
    assert ivf_nlist(1_000_000) == 4000 and ivf_nlist(250_000) == 2000
    assert ivf_nlist(20_000) == 500, "capped at 40 training points per cell"
    with pytest.raises(ValueError, match="hnsw"):
        choose_kind(10, "hnsw")


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _random(rng: np.random.Generator, count: int, dim: int = 512) -> np.ndarray:
    return _unit(rng.standard_normal((count, dim)))


def _clustered(rng: np.random.Generator, count: int, dim: int = 512, clusters: int = 2000, spread: float = 0.7):
    """Gaussian blobs around random centres; more blobs than IVF cells, so cells cut through blobs."""
    centres = _unit(np.random.default_rng(123).standard_normal((clusters, dim)))
    return _unit(centres[rng.integers(clusters, size=count)] + spread * _random(rng, count, dim))


@pytest.mark.parametrize("vectors", [_random, _clustered], ids=["uniform random", "clustered"])
def test_the_approximate_index_finds_95_percent_of_the_exact_top_10(vectors):
    rng = np.random.default_rng(0)
    stored_vectors, queries = vectors(rng, 20_000), vectors(rng, 200)
    index, plan = build_faiss_index(stored_vectors, kind="ivf_flat")  # the production rules, forced past the threshold
    assert plan.kind == IVF and plan.nlist == ivf_nlist(20_000) and plan.tuned_recall_at_10 >= 0.95
    _, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top_k(stored_vectors, queries, 10)) >= 0.95
    if vectors is _clustered:
        assert plan.nprobe < plan.nlist // 2, "with structure the IVF index scans a fraction of its cells"


def test_auto_falls_back_to_exact_search_when_ivf_would_scan_most_cells():
    structureless = _random(np.random.default_rng(1), 4_000)
    index, plan = build_faiss_index(structureless, kind="auto", exact_threshold=1_000)
    assert plan.kind == FLAT and "exact search instead" in plan.note and index.ntotal == 4_000


def test_exact_top_k_matches_a_full_sort():
    rng = np.random.default_rng(2)
    stored_vectors, queries = _random(rng, 300, 8), _random(rng, 5, 8)
    expected = np.argsort(-(queries @ stored_vectors.T), axis=1)[:, :7]
    np.testing.assert_array_equal(exact_top_k(stored_vectors, queries, 7, chunk=64), expected)


# -- RetrievalIndex ------------------------------------------------------------------------------------------------


def test_retrieval_index_builds_from_images_in_memory_and_finds_each_image_first(model_and_processor, scenes):
    model, processor = model_and_processor
    images = [image for _, image in scenes[:8]]
    meta = [{"name": name, "region": "north" if n < 4 else "south"} for n, (name, _) in enumerate(scenes[:8])]
    index = RetrievalIndex.build(model, processor, images=images, metadata=meta)
    assert len(index) == 8 and index.dimension == 16 and index.plan["kind"] == FLAT
    for row in (0, 5):
        best = index.search_image(images[row], k=3)[0]
        assert (best.rank, best.row, best.path) == (1, row, None)
        assert best.score == pytest.approx(1.0, abs=1e-5) and best.metadata["name"] == scenes[row][0]
    results = index.search_text("طائرات متوقفة بجانب المدرج", k=20)
    assert [r.rank for r in results] == list(range(1, 9)), "k is capped at the gallery size"
    assert all(a.score >= b.score for a, b in zip(results, results[1:]))


def test_retrieval_index_add_save_and_load_round_trip(model_and_processor, checkpoint, scenes, tmp_path):
    model, processor = model_and_processor
    folder = write_gallery(tmp_path / "gallery", scenes[:6], nested=False)
    index = RetrievalIndex.build(model, processor, images=folder)
    failures = index.add([scenes[10][1], str(tmp_path / "missing.png")], metadata=[{"note": "added"}, {}])
    assert len(index) == 7 and [f.path for f in failures] == [str(tmp_path / "missing.png")]
    assert index.search_image(scenes[10][1], k=1)[0].metadata["note"] == "added"

    index.model_name = str(checkpoint)
    index.save(tmp_path / "saved")
    loaded = RetrievalIndex.load(tmp_path / "saved")  # model and processor come from the manifest
    query = "three airplanes parked next to the runway"
    assert [(r.row, r.path) for r in loaded.search_text(query, k=5)] == [(r.row, r.path) for r in
                                                                          index.search_text(query, k=5)]
    with pytest.raises(SearchError, match="gallery_root"):
        loaded.load_image(0)  # loose and folder images mixed: paths from the folder are read only where confirmed
    assert RetrievalIndex.load(tmp_path / "saved", gallery_root=folder).load_image(0).size == (32, 32)


def test_retrieval_index_refuses_bad_queries_and_a_model_of_another_dimension(
        model_and_processor, scenes, tmp_path, tiny_tokenizer):
    model, processor = model_and_processor
    index = RetrievalIndex.build(model, processor, images=[image for _, image in scenes[:3]])
    with pytest.raises(SearchError, match="empty"):
        index.search_text("   ")
    with pytest.raises(SearchError, match="k must be positive"):
        index.search_text("river", k=0)
    with pytest.raises(SearchError, match="query image: .*file not found"):
        index.search_image(str(tmp_path / "nope.png"))
    index.save(tmp_path / "saved")
    narrow = DualEncoderModel(tiny_config(len(tiny_tokenizer), projection_dim=8)).eval()
    with pytest.raises(SearchError, match="dimension mismatch: the model embeds into 8 dimensions, the index holds 16"):
        RetrievalIndex.load(tmp_path / "saved", model=narrow, processor=processor)
    with pytest.raises(SearchError, match="no such index folder"):
        RetrievalIndex.load(tmp_path / "elsewhere", model=model, processor=processor)
    shutil.rmtree(tmp_path / "saved")
    (tmp_path / "saved").mkdir()
    with pytest.raises(SearchError, match="not an index"):
        RetrievalIndex.load(tmp_path / "saved", model=model, processor=processor)
