"""Rank a folder of images against text queries with a saved checkpoint, using only transformers.

    python hub_scripts/query.py --model CHECKPOINT --images DIR --text "three airplanes" --text "ثلاث طائرات" [-k 5]

The checkpoint is loaded with its own code (`trust_remote_code=True`) and safetensors weights only, as a
published model is used where rs_retrieval is not installed: it is the smallest example of using one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rs_retrieval.checkpoints import load_model_and_processor
from rs_retrieval.command_line import ArgumentParser, positive_int, query_text
from rs_retrieval.errors import UsageError, command
from rs_retrieval.processing.image_conversion import load_image_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


def rank_images(model, processor, image_paths: list[Path], queries: list[str], k: int = 5,
                batch_size: int = 64) -> dict[str, list[tuple[str, float]]]:
    """For each query, the k best (path, cosine similarity) pairs."""
    image_embeds = []
    with torch.inference_mode():
        for start in range(0, len(image_paths), batch_size):
            images = [load_image_file(p) for p in image_paths[start:start + batch_size]]
            image_embeds.append(model.encode_image(processor(images=images)["pixel_values"]))
        images = torch.cat(image_embeds)
        batch = processor(text=queries)
        texts = model.encode_text(batch["input_ids"], batch["attention_mask"])
    scores = texts @ images.t()
    top = scores.topk(min(k, len(image_paths)), dim=1)
    return {q: [(str(image_paths[i]), float(s)) for s, i in zip(top.values[n].tolist(), top.indices[n].tolist())]
            for n, q in enumerate(queries)}


def image_files(folder: str) -> list[Path]:
    """The images directly inside `folder`, sorted; a `UsageError` when there is no such folder or no image."""
    path = Path(folder)
    if not path.is_dir():
        raise UsageError(f"--images {folder}: {'not a folder' if path.exists() else 'no such folder'}")
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not found:
        raise UsageError(f"--images {folder}: no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


@command("rs-retrieval query")
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True, help="a folder of images")
    parser.add_argument("--text", action="append", required=True, type=query_text,
                        help="a query (repeat for several)")
    parser.add_argument("-k", type=positive_int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    image_paths = image_files(args.images)
    model, processor = load_model_and_processor(args.model, trust_remote_code=True)
    ranking = rank_images(model, processor, image_paths, args.text, args.k)
    if args.json:
        print(json.dumps([{"query": q, "results": [{"path": p, "score": s} for p, s in r]} for q, r in ranking.items()],
                         ensure_ascii=False, indent=2))
        return 0
    for query, results in ranking.items():
        print(f"\nquery: {query}  (loaded as {type(model).__module__})")
        for rank, (path, score) in enumerate(results, 1):
            print(f"  {rank}. {Path(path).name:<28} {score:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
