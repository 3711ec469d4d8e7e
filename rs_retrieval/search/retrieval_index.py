"""`RetrievalIndex`: embed a gallery once, then answer English/Arabic text queries and image queries from FAISS.

Needs nothing but a dual encoder and its processor::

    index = RetrievalIndex.build(model, processor, images=["tiles/a.png", pil_image, ...],
                                 metadata=[{"region": "north"}, ...])
    index.search_text("طائرات متوقفة بجانب المدرج", k=10)   # -> list[SearchResult], best first
    index.search_image("query_tile.tif", k=5)
    index.save("my_index");  RetrievalIndex.load("my_index")     # the model is reloaded from the manifest
    RetrievalIndex.load("my_index", gallery_root="tiles/")         # pictures (`load_image`) from a moved gallery

`images` may also be a folder (recursive), a saved dataset folder or a `datasets.Dataset`. Folders saved by
`save` have the layout of `rs-retrieval index`, so either can be loaded by the other. Scores are cosine
similarities (inner products of L2-normalised vectors).

A loaded index reads its files only inside its folder (store.py checks them), and result pictures only inside
one gallery root: the folder or saved dataset recorded when it was built, or the `gallery_root` the caller
names (needed for an index of loose images, whose paths could point anywhere).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from ..checkpoints import load_model, load_processor
from ..inference import embed_images, embed_texts, unwrap
from ..processing.image_conversion import ImageConversionError, to_rgb_image
from ..processing.text_normalization import has_words
from .embedder import embed_items, embedding_dimension, model_fingerprint
from .errors import SearchError, SearchInputError
from .faiss_index import EXACT_SEARCH_MAX_VECTORS, FLAT, IVF, build_faiss_index, choose_kind
from .gallery import DatasetGallery, Gallery, GalleryItem, SequenceGallery, open_gallery
from .store import Failure, IndexManifest, commit, new_build_dir, open_index, write_build_files

#: Metadata columns used for bookkeeping, not shown in results.
HIDDEN_COLUMNS = ("fingerprint",)


@dataclass(frozen=True)
class SearchResult:
    """One hit: rank (1-based), row in the index, cosine score, image path and the row's other metadata."""

    rank: int
    row: int
    score: float
    path: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


def as_gallery(images: Any, metadata: Sequence[Mapping[str, Any]] | None = None, split: str | None = None,
               first_key: int = 0) -> Gallery:
    """A gallery from a folder / saved dataset path, a `datasets.Dataset`, a `Gallery`, or a sequence of images."""
    if isinstance(images, Gallery):
        gallery = images
    elif isinstance(images, (str, os.PathLike)):
        gallery = open_gallery(images, split=split)
    elif hasattr(images, "features") and hasattr(images, "column_names"):
        gallery = DatasetGallery(images, split=split)
    else:
        return SequenceGallery(list(images), metadata, first_key=first_key)
    if metadata is not None:
        raise SearchError("metadata goes with a list of images; folders and datasets bring their own")
    return gallery


def embed_gallery(model: torch.nn.Module, processor: Any, gallery: Gallery, batch_size: int = 64,
                  progress: bool = False) -> tuple[np.ndarray, pa.Table, list[Failure]]:
    """Vectors and metadata (with key and fingerprint) of every item that loads, in gallery order; the failures."""
    items = gallery.items
    fingerprints = [gallery.safe_fingerprint(item) for item in items]
    vectors, kept, kept_fingerprints, failed = [], [], [], []
    for batch in embed_items(model, processor, gallery, items, fingerprints, batch_size, progress):
        vectors.append(batch.embeddings)
        kept += batch.items
        kept_fingerprints += batch.fingerprints
        failed += batch.failed
    if failed:
        paths = gallery.metadata([item.position for item, _, _ in failed])["path"].to_pylist()
        failures = [Failure(item.key, path, error, fp) for (item, fp, error), path in zip(failed, paths)]
    else:
        failures = []
    if not kept:
        shown = "; ".join(f.error for f in failures[:3])
        raise SearchError(f"none of the {len(items)} images could be embedded (first errors: {shown})")
    table = gallery.metadata([item.position for item in kept])
    table = pa.table({"key": pa.array([item.key for item in kept], pa.string()),
                      "fingerprint": pa.array(kept_fingerprints, pa.string()),
                      **{name: table[name] for name in table.column_names}})
    return np.concatenate(vectors).astype(np.float32, copy=False), table, failures


class RetrievalIndex:
    """A searchable gallery: vectors, metadata rows and a FAISS index, with the model that embeds queries."""

    def __init__(self, model: torch.nn.Module, processor: Any, embeddings: np.ndarray, metadata: pa.Table,
                 faiss_index: Any, plan: Mapping[str, Any], *, model_name: str | None = None,
                 gallery: Mapping[str, Any] | None = None, failures: Sequence[Failure] = (),
                 gallery_root: str | os.PathLike | None = None, own_paths: bool = True) -> None:
        if len(embeddings) != metadata.num_rows or faiss_index.ntotal != len(embeddings):
            raise SearchError(f"{len(embeddings)} vectors, {metadata.num_rows} metadata rows and "
                              f"{faiss_index.ntotal} indexed vectors must agree")
        self.model = unwrap(model).eval()
        self.processor = processor
        self.embeddings = embeddings
        self.metadata = metadata
        self.faiss_index = faiss_index
        self.plan = dict(plan)
        self.model_name = model_name
        self.gallery = dict(gallery or {"kind": "images"})
        self.failures = list(failures)
        self.gallery_root = Path(gallery_root).resolve() if gallery_root is not None else None
        self._own_paths = own_paths  # paths given in this process, not read from a folder that may be foreign
        self._dataset_gallery: DatasetGallery | None = None
        _check_dimension(self.model, self.dimension, self.model_name)

    # -- building ------------------------------------------------------------------------------------------------

    @classmethod
    def build(cls, model: torch.nn.Module, processor: Any, images: Any,
              metadata: Sequence[Mapping[str, Any]] | None = None, *, split: str | None = None, batch_size: int = 64,
              kind: str = "auto", exact_threshold: int = EXACT_SEARCH_MAX_VECTORS,
              progress: bool = False) -> RetrievalIndex:
        """Embed `images` (list of PIL/arrays/paths with optional per-image `metadata`, folder, dataset) and index them.

        Images that cannot be read are skipped and listed in `index.failures`.
        """
        gallery = as_gallery(images, metadata, split)
        vectors, table, failures = embed_gallery(model, processor, gallery, batch_size, progress)
        faiss_index, plan = build_faiss_index(vectors, kind, exact_threshold)
        return cls(model, processor, vectors, table, faiss_index, plan.to_dict(),
                   model_name=getattr(model, "name_or_path", None) or None, gallery=gallery.describe(),
                   failures=failures)

    def add(self, images: Any, metadata: Sequence[Mapping[str, Any]] | None = None, *, batch_size: int = 64,
            progress: bool = False) -> list[Failure]:
        """Embed and append more images; returns the ones that could not be read.

        An exact index grows in place while it stays under the exact-search threshold; an IVF index keeps its
        trained cells and nprobe (rebuild with `build` when the gallery has changed a lot); crossing the threshold
        rebuilds the index with the rules of `build`.
        """
        gallery = as_gallery(images, metadata, first_key=len(self) + len(self.failures))
        vectors, table, failures = embed_gallery(self.model, self.processor, gallery, batch_size, progress)
        self.embeddings = np.concatenate([np.asarray(self.embeddings), vectors])
        self.metadata = pa.concat_tables([self.metadata, table], promote_options="permissive")
        threshold = int(self.plan.get("exact_threshold", EXACT_SEARCH_MAX_VECTORS))
        if self.plan["kind"] == IVF or choose_kind(len(self), "auto", threshold) == FLAT:
            self.faiss_index.add(vectors)
            self.plan["count"] = len(self)
        else:
            self.faiss_index, plan = build_faiss_index(self.embeddings, "auto", threshold)
            self.plan = plan.to_dict()
        self.gallery = {"kind": "mixed"} if gallery.describe() != self.gallery else self.gallery
        self.failures += failures
        return failures

    # -- files -----------------------------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the index folder (embeddings, metadata, FAISS index, failures, manifest) in one atomic commit."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        build = new_build_dir(directory)
        files = write_build_files(build, np.asarray(self.embeddings), self.metadata, self.faiss_index, self.failures)
        import rs_retrieval

        commit(directory, IndexManifest(
            model=self.model_name, model_fingerprint=model_fingerprint(self.model, self.processor),
            dimension=self.dimension, count=len(self), index=self.plan, gallery=self.gallery, build=build.name,
            failures=len(self.failures), code_version={"rs_retrieval": rs_retrieval.__version__}, files=files))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, model: torch.nn.Module | str | None = None, processor: Any = None,
             *, trust_remote_code: bool = False, gallery_root: str | os.PathLike | None = None) -> RetrievalIndex:
        """Open and verify an index folder; the model (and processor) default to the checkpoint named in its
        manifest, loaded from safetensors only.

        A damaged folder raises `DamagedIndexError`; a model of another dimension is refused; a model with other
        weights is accepted with a warning (its query vectors will not match the stored ones). `gallery_root`
        names where result pictures are read (instead of the gallery recorded in the manifest).
        """
        stored = open_index(directory)
        faiss_index = stored.read_faiss()  # before any model is loaded: a damaged index fails fast
        manifest = stored.manifest
        source = model if isinstance(model, (str, os.PathLike)) else manifest.model
        if model is None or isinstance(model, (str, os.PathLike)):
            model = _load_model(source, directory, trust_remote_code)
        if processor is None:
            processor = _load_processor(source, directory, trust_remote_code)
        model_name = str(source) if source is not None else manifest.model
        _check_dimension(model, manifest.dimension, manifest.model)
        if model_fingerprint(model, processor) != manifest.model_fingerprint:
            warnings.warn(f"{directory}: built with {manifest.model}; the model given now has other weights or image "
                          "preprocessing, so its query vectors may not match the stored ones", stacklevel=2)
        return cls(model, processor, stored.embeddings, stored.metadata, faiss_index, manifest.index,
                   model_name=model_name, gallery=manifest.gallery, failures=stored.failures,
                   gallery_root=gallery_root, own_paths=False)

    # -- queries ---------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def dimension(self) -> int:
        return int(self.embeddings.shape[1])

    def search_text(self, query: str, k: int = 10) -> list[SearchResult]:
        """The `k` best images for an English or Arabic query (normalised by the processor, as in training)."""
        if not isinstance(query, str) or not has_words(query, getattr(self.processor, "text_normalizer", None)):
            raise SearchInputError(f"the text query {query!r} is empty: it has no letter or digit once normalised "
                                   "(only diacritics, tatweel, invisible characters or punctuation)")
        with torch.inference_mode():
            vector = embed_texts(self.model, self.processor, [query]).numpy()
        return self.search_vectors(vector, k)[0]

    def search_image(self, image: Any, k: int = 10) -> list[SearchResult]:
        """The `k` most similar images to `image` (a path, PIL image or array)."""
        try:
            with torch.inference_mode():
                vector = embed_images(self.model, self.processor, [image]).numpy()
        except ImageConversionError as error:
            raise SearchInputError(f"query image: {error}") from error
        return self.search_vectors(vector, k)[0]

    def search_vectors(self, vectors: np.ndarray, k: int = 10) -> list[list[SearchResult]]:
        """Results for each row of a Q x D array of L2-normalised query vectors."""
        if k <= 0:
            raise SearchInputError(f"k must be positive, got {k}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        scores, ids = self.faiss_index.search(vectors, min(k, len(self)))
        rows = sorted({int(i) for i in ids.reshape(-1) if i >= 0})
        visible = [name for name in self.metadata.column_names if name not in HIDDEN_COLUMNS]
        records = dict(zip(rows, self.metadata.select(visible).take(pa.array(rows, pa.int64())).to_pylist()))
        results = []
        for query_scores, query_ids in zip(scores, ids):
            hits = []
            for score, row in zip(query_scores.tolist(), query_ids.tolist()):
                if row < 0:
                    continue
                record = dict(records[row])
                hits.append(SearchResult(len(hits) + 1, row, float(score), record.pop("path", None), record))
            results.append(hits)
        return results

    def load_image(self, row: int) -> Any:
        """The RGB image of an indexed row, read only inside the gallery root (see the module docstring)."""
        record = self.metadata.slice(row, 1).to_pylist()[0]
        if self.gallery.get("kind") == "dataset":
            return to_rgb_image(self._dataset().load(GalleryItem(int(record["row"]), record["key"])))
        path = self._image_path(record)
        if not path.is_file():
            raise SearchError(f"row {row}: no image file to show ({path})")
        return to_rgb_image(str(path))

    def _dataset(self) -> DatasetGallery:
        if self._dataset_gallery is None:
            source = self.gallery_root or self.gallery.get("source")
            if source is None:
                raise SearchInputError("the index was built from a dataset in memory; name its saved folder with "
                                       "gallery_root= (--gallery) to read its images")
            gallery = open_gallery(source, split=self.gallery.get("split"),
                                   image_column=self.gallery.get("image_column"))
            if not isinstance(gallery, DatasetGallery):
                raise SearchInputError(f"{source}: not a saved dataset, but the index was built from one")
            self._dataset_gallery = gallery
        return self._dataset_gallery

    def _image_path(self, record: Mapping[str, Any]) -> Path:
        """A folder gallery's row is `root / key`; a loose image's recorded path is read only inside `gallery_root`
        (or when this process gave it)."""
        if self.gallery.get("kind") == "folder":
            root = self.gallery_root or Path(self.gallery["root"]).resolve()
            path = root / record["key"]
        elif self.gallery_root is not None:
            root, path = self.gallery_root, Path(record.get("path") or "")
        elif self._own_paths and record.get("path"):
            return Path(record["path"])
        else:
            raise SearchInputError("this index holds loose images whose paths came with the index folder; name the "
                                   "folder that holds them with gallery_root= (--gallery) to read them")
        resolved = (root / path).resolve()
        if not resolved.is_relative_to(root):
            raise SearchInputError(f"{resolved} is outside the gallery {root}; not read")
        return resolved


def _check_dimension(model: torch.nn.Module, dimension: int, built_with: str | None) -> None:
    model_dimension = embedding_dimension(model)
    if model_dimension != dimension:
        raise SearchInputError(f"dimension mismatch: the model embeds into {model_dimension} dimensions, the index "
                               f"holds {dimension}-dimensional vectors (built with {built_with})")


def _load_model(source: str | os.PathLike | None, directory: Any, trust_remote_code: bool) -> torch.nn.Module:
    if source is None:
        raise SearchInputError(f"{directory}: the manifest names no model; pass one (--model)")
    return load_model(source, trust_remote_code=trust_remote_code)


def _load_processor(source: str | os.PathLike | None, directory: Any, trust_remote_code: bool) -> Any:
    if source is None:
        raise SearchInputError(f"{directory}: the manifest names no model; pass a model and its processor")
    return load_processor(source, trust_remote_code=trust_remote_code)


__all__ = ["RetrievalIndex", "SearchResult", "as_gallery", "embed_gallery"]
