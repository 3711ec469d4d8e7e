"""Pictures of a trained dual encoder: attention maps, a t-SNE of the joint space, retrieval grids.

    python hub_scripts/visualize.py attention --model CKPT --dataset synthetic --row 12 \
        --text "three airplanes parked next to the runway" --out attention.png      # rollout without --text
    python hub_scripts/visualize.py tsne --model CKPT --dataset DIR --languages en,ar --color-by label --out tsne.png
    python hub_scripts/visualize.py grid --model CKPT --dataset DIR --caption-row 3 --language ar -k 6 --out grid.png

`--dataset` is a saved DatasetDict folder or `synthetic` (the embedded dataset); `--split` picks its split.
`tsne` also writes the 2-D coordinates as CSV (beside the PNG, or at `--csv`). Every written path is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rs_retrieval.command_line import ArgumentParser, positive_int, query_text
from rs_retrieval.data.loading import check_caption_languages, parse_languages
from rs_retrieval.errors import UsageError, command


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from rs_retrieval.checkpoints import load_model_and_processor

    return load_model_and_processor(args.model, trust_remote_code=args.trust_remote_code)


def _split(args: argparse.Namespace):
    from rs_retrieval.data.loading import load_split

    return load_split(args.dataset, args.split)


def _check_row(row: int, dataset: Any, flag: str) -> int:
    if not 0 <= row < len(dataset):
        raise UsageError(f"{flag} {row}: the split has rows 0..{len(dataset) - 1}")
    return row


def run_attention(args: argparse.Namespace) -> list[Path]:
    from rs_retrieval.explain import attention_map, overlay_heatmap, save_attention_figure
    from rs_retrieval.processing.image_conversion import load_image_file

    if args.image is not None:
        image = load_image_file(args.image)
    else:
        dataset = _split(args)
        image = dataset[_check_row(args.row, dataset, "--row")]["image"]
    model, processor = _load(args)
    amap = attention_map(model, processor, image, text=args.text)
    out = Path(args.out)
    if args.overlay_only:
        out.parent.mkdir(parents=True, exist_ok=True)
        overlay_heatmap(image, amap.grid, size=args.size, alpha=args.alpha, cmap=args.cmap).save(out)
    else:
        save_attention_figure(out, image, amap, size=args.size, alpha=args.alpha, cmap=args.cmap)
    if amap.score is not None:
        print(f"cosine(image, query) = {amap.score:.4f}")
    return [out]


def run_tsne(args: argparse.Namespace) -> list[Path]:
    from rs_retrieval.explain import tsne_of_split

    dataset = _split(args)
    languages = parse_languages(args.languages)
    if languages is not None:
        check_caption_languages(dataset, languages)
    model, processor = _load(args)
    png, table = tsne_of_split(model, processor, dataset, args.out, languages=languages, color_by=args.color_by,
                               max_images=args.max_images, seed=args.seed, csv_path=args.csv)
    return [png, table]


def run_grid(args: argparse.Namespace) -> list[Path]:
    from rs_retrieval.explain import retrieval_grid

    dataset = _split(args)
    if args.text is not None:
        query = args.text
    else:
        check_caption_languages(dataset, [args.language], "--language")
        captions = dataset[_check_row(args.caption_row, dataset, "--caption-row")][f"captions_{args.language}"] or []
        if not 0 <= args.caption_index < len(captions):
            raise UsageError(f"--caption-index {args.caption_index}: row {args.caption_row} has {len(captions)} "
                             f"{args.language} captions")
        query = captions[args.caption_index]
    model, processor = _load(args)
    path, ranking = retrieval_grid(model, processor, dataset, query, args.out, k=args.k, tile=args.tile)
    print(f"query: {query}")
    for item in ranking:
        print(f"  {item.rank}. row {item.row:<5} {item.score:.4f}{'  ground truth' if item.ground_truth else ''}")
    return [path]


def build_parser() -> argparse.ArgumentParser:
    common = ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="checkpoint folder")
    common.add_argument("--trust-remote-code", action="store_true", help="load with the checkpoint's own code")
    common.add_argument("--dataset", default="synthetic", help="a saved DatasetDict folder, or 'synthetic'")
    common.add_argument("--split", default="test")
    common.add_argument("--out", required=True, help="the PNG to write")

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    attention = commands.add_parser("attention", parents=[common], help="attention rollout, or relevance to a query")
    source = attention.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="an image file")
    source.add_argument("--row", type=int, help="a row of the split")
    attention.add_argument("--text", type=query_text,
                           help="a query (English or Arabic): relevance map; without it, rollout")
    attention.add_argument("--size", type=positive_int, default=256, help="panel size in pixels")
    attention.add_argument("--alpha", type=float, default=0.5, help="heat map opacity")
    attention.add_argument("--cmap", default="jet", help="matplotlib colormap")
    attention.add_argument("--overlay-only", action="store_true", help="write only the SIZE x SIZE overlay")
    attention.set_defaults(run=run_attention)

    tsne = commands.add_parser("tsne", parents=[common], help="t-SNE of image and caption embeddings (PNG + CSV)")
    tsne.add_argument("--languages", default=None, help="caption languages, e.g. en,ar (default: all)")
    tsne.add_argument("--color-by", choices=("modality", "label"), default="modality")
    tsne.add_argument("--max-images", type=positive_int, default=None,
                      help="only the first N images (and their captions)")
    tsne.add_argument("--seed", type=int, default=0)
    tsne.add_argument("--csv", default=None, help="where to write the coordinates (default: beside --out, .csv)")
    tsne.set_defaults(run=run_tsne)

    grid = commands.add_parser("grid", parents=[common], help="top-K images for a query, ground truth framed")
    query = grid.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", type=query_text, help="a free query (English or Arabic)")
    query.add_argument("--caption-row", type=int, help="take the query from the captions of this row")
    grid.add_argument("--language", default="en", help="caption language with --caption-row")
    grid.add_argument("--caption-index", type=int, default=0, help="which caption of the row")
    grid.add_argument("-k", type=positive_int, default=6)
    grid.add_argument("--tile", type=positive_int, default=160, help="tile size in pixels")
    grid.set_defaults(run=run_grid)
    return parser


@command("rs-retrieval visualize")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for path in args.run(args):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
