"""Query an index folder (built by `rs-retrieval index`) with English or Arabic text, or with an image.

    rs-retrieval search --index INDEX_DIR --text "three airplanes parked next to the runway" -k 10
    rs-retrieval search --index INDEX_DIR --text "طائرات متوقفة بجانب المدرج" -k 6 --grid results.png
    rs-retrieval search --index INDEX_DIR --image query_tile.tif -k 5 --json

The checkpoint named in the index manifest embeds the query (`--model` overrides it: a moved checkpoint, or the
same weights under another name); text goes through the same processor as in training, so Arabic is normalised
the same way. Prints a table, or with `--json` exactly {"query": ..., "results": [{"path", "score", ...}]}.
`--grid` also draws the results as a picture, from the gallery recorded in the index (`--gallery` names another
folder or saved dataset: a moved gallery, or an index of loose images). The index folder is verified before it is
used; a damaged one is an error that says to rebuild it. Weights load from safetensors only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rs_retrieval.command_line import bounded_int, command_parser, input_file, output_file, positive_int, query_text
from rs_retrieval.errors import command

#: Tiles of --grid are at most this many pixels a side (a grid of 20 such tiles is about 100 MB of pixels).
MAX_TILE = 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = command_parser("search", __doc__)
    parser.add_argument("--index", required=True, help="the index folder")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--text", type=query_text, help="an English or Arabic query")
    query.add_argument("--image", help="an image file: find similar images")
    parser.add_argument("-k", type=positive_int, default=10, help="number of results (default %(default)s)")
    parser.add_argument("--model", default=None, help="checkpoint to embed the query (default: the index's)")
    parser.add_argument("--trust-remote-code", action="store_true", help="load with the checkpoint's own code")
    parser.add_argument("--grid", default=None, help="also write the results as a picture (PNG)")
    parser.add_argument("--gallery", default=None,
                        help="where --grid reads the result images (default: the gallery recorded in the index)")
    parser.add_argument("--tile", type=bounded_int(16, MAX_TILE), default=160, help="tile size of --grid in pixels")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    return parser.parse_args(argv)


def result_record(result: Any) -> dict[str, Any]:
    """What --json prints for one hit: path and score first, then rank and the label when the index has one."""
    record = {"path": result.path, "score": round(result.score, 6), "rank": result.rank}
    if result.metadata.get("label") is not None:
        record["label"] = result.metadata["label"]
    return record


def print_table(query: str, results: list[Any], index: Any) -> None:
    print(f"query: {query}")
    print(f"index: {len(index)} images, {index.plan['kind']}, model {index.model_name}")
    has_label = any(r.metadata.get("label") is not None for r in results)
    print(f"{'rank':>4}  {'score':>7}  " + ("label           " if has_label else "") + "path")
    for result in results:
        label = f"{str(result.metadata.get('label', '')):<16}" if has_label else ""
        print(f"{result.rank:>4}  {result.score:>7.4f}  {label}{result.path}")


def write_grid(path: str, query: str, results: list[Any], index: Any, tile: int) -> Path:
    """The results as a grid picture, drawn by rs_retrieval.explain.grid; images that cannot be read (or are
    outside the gallery) become grey tiles, and the first reason is printed once."""
    from PIL import Image

    from rs_retrieval.explain.grid import RankedImage, save_retrieval_grid
    from rs_retrieval.search import SearchError

    images: dict[int, Any] = {}
    problems: list[str] = []
    for result in results:
        try:
            images[result.row] = index.load_image(result.row)
        except (SearchError, ValueError, OSError) as error:
            images[result.row] = Image.new("RGB", (tile, tile), (128, 128, 128))
            problems.append(str(error))
    if problems:
        print(f"note: {len(problems)} result image(s) drawn grey: {problems[0]}", file=sys.stderr)
    labels = {r.row: str(r.metadata.get("label") or Path(r.path or f"row {r.row}").name) for r in results}
    ranking = [RankedImage(r.rank, r.row, r.score, False) for r in results]
    subtitle = f"top {len(results)} of {len(index)} images ({index.plan['kind']})"
    return save_retrieval_grid(path, images, ranking, query, labels=labels, tile=tile, subtitle=subtitle)


@command("rs-retrieval search")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rs_retrieval.search import RetrievalIndex

    if args.image is not None:
        input_file(args.image, "--image")
    if args.grid:
        output_file(args.grid, "--grid")
    index = RetrievalIndex.load(args.index, model=args.model, trust_remote_code=args.trust_remote_code,
                                gallery_root=args.gallery)
    if args.text is not None:
        query, results = args.text, index.search_text(args.text, k=args.k)
    else:
        query, results = args.image, index.search_image(args.image, k=args.k)
    if args.json:
        print(json.dumps({"query": query, "results": [result_record(r) for r in results]}, ensure_ascii=False,
                         indent=2))
    else:
        print_table(query, results, index)
    if args.grid:
        title = query if args.text is not None else f"image: {Path(query).name}"
        path = write_grid(args.grid, title, results, index, args.tile)
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
