"""An index folder is verified when it is opened: every damaged or hostile file is a clear error that says to
rebuild, never a traceback and never a wrong answer; an index folder reads no file outside itself.

A tiny untrained model is enough: these tests are about which files are accepted, not about retrieval quality.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from commands import search

from rs_retrieval import DualEncoderModel, DualEncoderProcessor
from rs_retrieval.data.synthetic import make_synthetic_dataset
from rs_retrieval.search import RetrievalIndex, SearchError, build_index, open_gallery
from rs_retrieval.search.store import EMBEDDINGS, FAILURES, FAISS_INDEX, MANIFEST, METADATA, open_index

DATA_FILES = (EMBEDDINGS, METADATA, FAISS_INDEX, FAILURES)


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture(scope="module")
def model_and_processor(checkpoint):
    return DualEncoderModel.from_pretrained(checkpoint).eval(), DualEncoderProcessor.from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    """Six synthetic scenes as PNG files, plus one unreadable file (so failures.json has an entry)."""
    folder = tmp_path_factory.mktemp("integrity_gallery")
    for row in make_synthetic_dataset(splits={"test": 1}, image_size=32)["test"].select(range(6)):
        row["image"].save(folder / row["filename"])
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


@pytest.fixture(scope="module")
def pristine(model_and_processor, gallery, checkpoint, tmp_path_factory) -> Path:
    model, processor = model_and_processor
    out = tmp_path_factory.mktemp("integrity_index") / "index"
    build_index(model, processor, open_gallery(gallery), out, distributed=False, model_name=str(checkpoint))
    return out


@pytest.fixture()
def index_dir(pristine, tmp_path) -> Path:
    """A fresh copy of a good index folder, for one test to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "index"))


def manifest_of(index_dir: Path) -> dict:
    return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))


def write_manifest(index_dir: Path, data) -> None:
    (index_dir / MANIFEST).write_text(json.dumps(data), encoding="utf-8")


def build_of(index_dir: Path) -> Path:
    return index_dir / manifest_of(index_dir)["build"]


def forget_checksums(index_dir: Path) -> None:
    """A manifest written before checksums were recorded: the file contents themselves must then be checked."""
    data = manifest_of(index_dir)
    data.pop("files", None)
    write_manifest(index_dir, data)


# -- the damage ---------------------------------------------------------------------------------------------------


def truncate(name: str) -> Callable[[Path], None]:
    def damage(build: Path) -> None:
        data = (build / name).read_bytes()
        (build / name).write_bytes(data[: len(data) // 2])
    return damage


def rewrite_embeddings(change: Callable[[np.ndarray], np.ndarray], allow_pickle: bool = False):
    def damage(build: Path) -> None:
        vectors = np.load(build / EMBEDDINGS)
        np.save(build / EMBEDDINGS, change(vectors.copy()), allow_pickle=allow_pickle)
    return damage


def write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda build: (build / name).write_bytes(content)


def rewrite_metadata(change: Callable) -> Callable[[Path], None]:
    return lambda build: pq.write_table(change(pq.read_table(build / METADATA)), build / METADATA)


def set_row(row: int, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(vectors: np.ndarray) -> np.ndarray:
        vectors[row] = value
        return vectors
    return change


DAMAGE = {
    "truncated embeddings.npy": truncate(EMBEDDINGS),
    "a pickled object array in embeddings.npy": rewrite_embeddings(
        lambda v: np.array([{"row": n} for n in range(len(v))], dtype=object), allow_pickle=True),
    "text in embeddings.npy": write(EMBEDDINGS, b"these are not vectors"),
    "a NaN row": rewrite_embeddings(set_row(1, np.nan)),
    "an infinite row": rewrite_embeddings(set_row(2, np.inf)),
    "rows that are not unit vectors (cosine 2.8)": rewrite_embeddings(lambda v: v * 2.8),
    "float64 embeddings": rewrite_embeddings(lambda v: v.astype(np.float64)),
    "one-dimensional embeddings": rewrite_embeddings(lambda v: v.reshape(-1)),
    "fewer embedding rows than the manifest": rewrite_embeddings(lambda v: v[:-1]),
    "truncated index.faiss": truncate(FAISS_INDEX),
    "garbage index.faiss": write(FAISS_INDEX, b"IxFI" + b"\x07" * 64),
    "garbage metadata.parquet": write(METADATA, b"PAR1 this is not parquet PAR1"),
    "metadata without its key column": rewrite_metadata(lambda table: table.drop(["key"])),
    "fewer metadata rows than the manifest": rewrite_metadata(lambda table: table.slice(1)),
    "broken failures.json": write(FAILURES, b'[{"key": '),
    "failures.json that is not a list": write(FAILURES, b'{"key": "a"}'),
    "failures.json with wrong types": write(FAILURES, b'[{"key": 3, "path": [], "error": null}]'),
}


@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "manifest without checksums"])
@pytest.mark.parametrize("damage", list(DAMAGE.values()), ids=list(DAMAGE))
def test_a_damaged_data_file_is_a_clear_error_that_says_to_rebuild(index_dir, damage, checksums):
    damage(build_of(index_dir))
    if not checksums:
        forget_checksums(index_dir)
    with pytest.raises(SearchError, match=r"damaged.*rebuild"):
        opened = open_index(index_dir)
        opened.read_faiss()


def test_the_manifest_records_the_size_and_sha256_of_every_data_file(pristine):
    files = manifest_of(pristine)["files"]
    build = build_of(pristine)
    assert set(files) == set(DATA_FILES)
    for name in DATA_FILES:
        data = (build / name).read_bytes()
        assert files[name] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_file_changed_after_the_build_fails_its_checksum(index_dir):
    build = build_of(index_dir)
    data = bytearray((build / EMBEDDINGS).read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last vector: still a valid array of unit-ish rows
    (build / EMBEDDINGS).write_bytes(bytes(data))
    with pytest.raises(SearchError, match=r"embeddings\.npy.*checksum.*rebuild"):
        open_index(index_dir)


# -- the manifest ----------------------------------------------------------------------------------------------------


def changed(**fields) -> Callable[[dict], dict]:
    return lambda data: {**data, **fields}


def without(*keys: str) -> Callable[[dict], dict]:
    return lambda data: {key: value for key, value in data.items() if key not in keys}


MANIFESTS = {
    "a negative dimension": changed(dimension=-3),
    "a dimension written as text": changed(dimension="16"),
    "a boolean dimension": changed(dimension=True),
    "another dimension than the vectors": changed(dimension=8),
    "a negative count": changed(count=-1),
    "a fractional count": changed(count=2.5),
    "an unknown index kind": lambda data: {**data, "index": {**data["index"], "kind": "hnsw"}},
    "an index that is not an object": changed(index="flat_ip"),
    "a model that is not text": changed(model=5),
    "no build": without("build"),
    "no dimension": without("dimension"),
    "an unknown gallery kind": changed(gallery={"kind": "ftp", "root": "/"}),
    "a relative gallery root": changed(gallery={"kind": "folder", "root": "photos"}),
    "a gallery root with ..": changed(gallery={"kind": "folder", "root": "/data/../etc"}),
    "a dataset source that is a Hub id": changed(gallery={"kind": "dataset", "source": "someone/data", "split": None,
                                                           "image_column": "image"}),
    "checksums that are not an object": changed(files=["embeddings.npy"]),
    "a checksum that is not hex": lambda data: {**data, "files": {**data["files"],
                                                                  EMBEDDINGS: {"size": 1, "sha256": "zz"}}},
}


@pytest.mark.parametrize("edit", list(MANIFESTS.values()), ids=list(MANIFESTS))
def test_odd_manifest_values_are_a_clear_error(index_dir, edit):
    write_manifest(index_dir, edit(manifest_of(index_dir)))
    with pytest.raises(SearchError, match=r"manifest\.json|damaged"):
        open_index(index_dir)


@pytest.mark.parametrize("text", ["{", "[]", '"index"', "null"], ids=["not JSON", "a list", "a string", "null"])
def test_a_manifest_that_is_not_a_json_object_is_a_clear_error(index_dir, text):
    (index_dir / MANIFEST).write_text(text, encoding="utf-8")
    with pytest.raises(SearchError, match=r"manifest\.json.*rebuild"):
        open_index(index_dir)


# -- nothing outside the index folder ------------------------------------------------------------------------------


@pytest.mark.parametrize("build", ["../elsewhere", "ABSOLUTE", "build-x/../../elsewhere", "build-x/sub", ".", ""])
def test_a_build_name_that_leaves_the_index_folder_is_refused(index_dir, build):
    """Each name points at a complete copy of a good build, so only the name itself can be refused."""
    elsewhere = index_dir.parent / "elsewhere"
    shutil.copytree(build_of(index_dir), elsewhere)
    shutil.copytree(build_of(index_dir), index_dir / "build-x" / "sub")
    build = str(elsewhere) if build == "ABSOLUTE" else build
    write_manifest(index_dir, changed(build=build)(manifest_of(index_dir)))
    with pytest.raises(SearchError, match="build"):
        open_index(index_dir)


def test_a_build_folder_that_is_a_symlink_to_another_index_is_refused(index_dir, pristine):
    (index_dir / "build-elsewhere").symlink_to(build_of(pristine), target_is_directory=True)
    write_manifest(index_dir, changed(build="build-elsewhere")(manifest_of(index_dir)))
    with pytest.raises(SearchError, match="outside the index folder"):
        open_index(index_dir)


@pytest.mark.parametrize("name", DATA_FILES)
def test_a_data_file_that_is_a_symlink_out_of_the_index_folder_is_refused(index_dir, tmp_path, name):
    build = build_of(index_dir)
    outside = tmp_path / f"outside-{name}"
    shutil.copy(build / name, outside)
    (build / name).unlink()
    (build / name).symlink_to(outside)
    with pytest.raises(SearchError, match=f"{name}.*outside the index folder"):
        open_index(index_dir)


def test_result_pictures_are_read_only_inside_the_gallery_root(index_dir, gallery, model_and_processor, tmp_path):
    model, processor = model_and_processor
    secret = tmp_path / "private.png"
    shutil.copy(next(gallery.glob("*.png")), secret)
    forget_checksums(index_dir)
    rewrite_metadata(lambda table: table.set_column(0, "key", [["../private.png"] * table.num_rows]))(
        build_of(index_dir))
    loaded = RetrievalIndex.load(index_dir, model=model, processor=processor)
    with pytest.raises(SearchError, match="outside the gallery"):
        loaded.load_image(0)


def test_pictures_of_an_index_of_loose_images_need_the_gallery_named(model_and_processor, gallery, tmp_path):
    model, processor = model_and_processor
    paths = sorted(str(p) for p in gallery.glob("*.png") if p.name != "broken.png")
    RetrievalIndex.build(model, processor, images=paths).save(tmp_path / "saved")
    loaded = RetrievalIndex.load(tmp_path / "saved", model=model, processor=processor)
    with pytest.raises(SearchError, match="gallery_root"):
        loaded.load_image(0)
    confirmed = RetrievalIndex.load(tmp_path / "saved", model=model, processor=processor, gallery_root=gallery)
    assert confirmed.load_image(0).size == (32, 32)


def test_a_moved_gallery_is_found_again_with_gallery_root(index_dir, gallery, model_and_processor, tmp_path):
    model, processor = model_and_processor
    moved = Path(shutil.copytree(gallery, tmp_path / "moved"))
    loaded = RetrievalIndex.load(index_dir, model=model, processor=processor, gallery_root=moved)
    assert loaded.load_image(0).size == (32, 32)


# -- what is reused ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "manifest without checksums"])
def test_an_incremental_run_refuses_to_reuse_damaged_vectors_and_keeps_the_index(
        index_dir, gallery, model_and_processor, checksums):
    model, processor = model_and_processor
    rewrite_embeddings(lambda v: v * 2.8)(build_of(index_dir))
    if not checksums:
        forget_checksums(index_dir)
    before = {path: path.read_bytes() for path in index_dir.rglob("*") if path.is_file()}
    with pytest.raises(SearchError, match=r"damaged.*rebuild"):
        build_index(model, processor, open_gallery(gallery), index_dir, distributed=False, model_name="tiny")
    after = {path: path.read_bytes() for path in index_dir.rglob("*") if path.is_file() and "parts" not in path.parts}
    assert after == before, "nothing the damaged index held is changed or lost"


def test_an_index_whose_vectors_are_not_unit_rows_is_never_committed(model_and_processor, gallery, tmp_path,
                                                                      monkeypatch):
    model, processor = model_and_processor
    from rs_retrieval.search import embedder

    original = embedder.embed_items

    def unnormalised(*args, **kwargs):
        for batch in original(*args, **kwargs):
            batch.embeddings = batch.embeddings * 2.8
            yield batch

    monkeypatch.setattr("rs_retrieval.search.indexing.embed_items", unnormalised)
    with pytest.raises(SearchError, match="unit"):
        build_index(model, processor, open_gallery(gallery), tmp_path / "index", distributed=False)
    assert not (tmp_path / "index" / MANIFEST).exists()


# -- the command ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", [DAMAGE["truncated embeddings.npy"], DAMAGE["garbage index.faiss"],
                                    DAMAGE["broken failures.json"]], ids=["npy", "faiss", "failures"])
def test_search_on_a_damaged_index_prints_one_line_and_exits_1(index_dir, damage, capsys):
    damage(build_of(index_dir))
    forget_checksums(index_dir)
    assert search.main(["--index", str(index_dir), "--text", "river"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rs-retrieval search: error: ") and err.count("\n") == 1 and "rebuild" in err
    assert "Traceback" not in err
