"""Embed a gallery of images into a searchable index folder: resumable, and shardable across processes.

    rs-retrieval index --model CKPT --images DIR_OR_DATASET [--split test] --out INDEX_DIR [--batch-size 64]
    torchrun --nproc_per_node 2 hub_scripts/index.py --model CKPT --images DIR --out INDEX_DIR   # CPU: gloo
    accelerate launch --num_processes 4 hub_scripts/index.py ...                                 # GPUs

`--images` is a folder (searched recursively for .png .jpg .jpeg .tif .tiff .bmp .webp .gif), a dataset saved
with `save_to_disk` (with `--split` for a DatasetDict) or `synthetic`. A re-run embeds only what is new or changed
(files: path + size + mtime; dataset rows: image_id or row + a hash of the image bytes) and drops what is gone;
an interrupted run keeps every finished batch. Images that cannot be read are listed with their error and
skipped. The index folder holds the embeddings (.npy), the metadata (Parquet), a FAISS index (exact inner product
up to --exact-max vectors, IVF-Flat with tuned nprobe above) and manifest.json with each file's SHA-256; see
rs_retrieval/search/store.py. The existing index is verified before anything of it is reused; a damaged one is
reported, and `--rebuild` embeds everything again. Weights load from safetensors only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rs_retrieval.command_line import command_parser, positive_int
from rs_retrieval.errors import command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from rs_retrieval.search.faiss_index import EXACT_SEARCH_MAX_VECTORS, KINDS

    parser = command_parser("index", __doc__)
    parser.add_argument("--model", required=True, help="checkpoint folder (or Hub id) of the dual encoder")
    parser.add_argument("--images", required=True, help="folder of images, saved dataset folder, or 'synthetic'")
    parser.add_argument("--split", default=None, help="split of a saved DatasetDict")
    parser.add_argument("--image-column", default=None,
                        help="dataset column with the images (default: the first Image)")
    parser.add_argument("--out", required=True, help="the index folder (created, or resumed when it exists)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--index", choices=KINDS, default="auto",
                        help="auto: exact up to --exact-max vectors, IVF-Flat above; or force one")
    parser.add_argument("--exact-max", type=positive_int, default=EXACT_SEARCH_MAX_VECTORS,
                        help="largest gallery indexed exactly by 'auto' (default %(default)s)")
    parser.add_argument("--rebuild", action="store_true",
                        help="ignore the index already in --out (damaged, or of another model) and embed everything")
    parser.add_argument("--trust-remote-code", action="store_true", help="load with the checkpoint's own code")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    return parser.parse_args(argv)


def model_reference(name: str) -> str:
    """An absolute path for a local checkpoint (so the index can be searched from anywhere), else the Hub id."""
    return str(Path(name).resolve()) if Path(name).exists() else name


def print_summary(report: Any) -> None:
    manifest = report.manifest
    if report.up_to_date:
        print(f"{report.index_dir}: up to date ({manifest.count} of {report.total} images indexed, nothing new or "
              f"changed)")
    else:
        print(f"{report.index_dir}: {report.indexed} of {report.total} images indexed "
              f"({report.embedded} newly embedded, {report.reused} kept, {report.removed} removed or changed, "
              f"{len(report.failures)} failed)")
    plan = manifest.index
    details = ", ".join(f"{key} {plan[key]}" for key in ("nlist", "nprobe", "tuned_recall_at_10") if key in plan)
    print(f"index: {plan['kind']}{f' ({details})' if details else ''}; dimension {manifest.dimension}; "
          f"files in {report.index_dir / manifest.build}")
    if plan.get("note"):
        print(f"note: {plan['note']}")
    if report.failures:
        print(f"{len(report.failures)} image(s) skipped "
              f"(listed in {report.index_dir / manifest.build / 'failures.json'}):")
        for failure in report.failures:
            where = failure.path or failure.key
            print(f"  {failure.error}" if where in failure.error else f"  {where}: {failure.error}")


@command("rs-retrieval index")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval.checkpoints import load_model, load_processor
    from rs_retrieval.provenance import code_version
    from rs_retrieval.search import build_index, open_gallery
    from rs_retrieval.search.indexing import distributed_state
    from rs_retrieval.search.store import index_output_folder

    out = index_output_folder(args.out)
    state = distributed_state()
    gallery = open_gallery(args.images, split=args.split, image_column=args.image_column)
    model = load_model(args.model, trust_remote_code=args.trust_remote_code).to(state.device)
    processor = load_processor(args.model, trust_remote_code=args.trust_remote_code)
    report = build_index(model, processor, gallery, out, model_name=model_reference(args.model),
                         batch_size=args.batch_size, kind=args.index, exact_threshold=args.exact_max,
                         progress=not args.no_progress, code_version=code_version(), rebuild=args.rebuild)
    if report.merged:
        print_summary(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
