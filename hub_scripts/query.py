"""Rank a folder of images against text queries with a saved checkpoint, using only transformers.

    python hub_scripts/query.py --model CHECKPOINT --images DIR --text "three airplanes" --text "ثلاث طائرات" [-k 5]

The checkpoint is loaded with `trust_remote_code=True`, so this works where rs_retrieval is not installed:
it is the smallest example of using a published model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoModel, AutoProcessor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


def rank_images(model, processor, image_paths: list[Path], queries: list[str], k: int = 5,
                batch_size: int = 64) -> dict[str, list[tuple[str, float]]]:
    """For each query, the k best (path, cosine similarity) pairs."""
    image_embeds = []
    with torch.inference_mode():
        for start in range(0, len(image_paths), batch_size):
            images = [Image.open(p) for p in image_paths[start:start + batch_size]]
            image_embeds.append(model.encode_image(processor(images=images)["pixel_values"]))
        images = torch.cat(image_embeds)
        batch = processor(text=queries)
        texts = model.encode_text(batch["input_ids"], batch["attention_mask"])
    scores = texts @ images.t()
    top = scores.topk(min(k, len(image_paths)), dim=1)
    return {q: [(str(image_paths[i]), float(s)) for s, i in zip(top.values[n].tolist(), top.indices[n].tolist())]
            for n, q in enumerate(queries)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True, help="a folder of images")
    parser.add_argument("--text", action="append", required=True, help="a query (repeat for several)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    image_paths = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not image_paths:
        parser.error(f"no images in {args.images}")
    model = AutoModel.from_pretrained(args.model, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(args.model, trust_remote_code=True)
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
