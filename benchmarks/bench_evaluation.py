"""Time and memory of `retrieval_recall` against a dense argsort reference and the matmul floor.

Usage: ``python benchmarks/bench_evaluation.py --sizes 1000 10000 [--dim 256]``

For N images and 5N captions (random Gaussian, D features) it measures, each in a fresh
subprocess so that numbers do not leak between configurations:

* ``ours``: `rs_retrieval.evaluation.retrieval_recall` (default chunking).
* ``dense``: the textbook reference: the full N x 5N similarity matrix, a stable argsort of
  every row in both directions and a position lookup (like open_clip's metric).  Skipped
  when the sorts would not fit comfortably in memory (``--dense-max``).
* ``loop``: a per-query Python loop like the evaluation code of the remote-sensing retrieval
  papers (AMFMN, GaLR): for every image an argsort of its caption scores and a search for its
  own captions, for every caption an argsort of its image scores.  Only up to ``--loop-max``.
* ``floor``: the bare cost of the similarity scores, i.e. one N x 5N x D float32 matmul, no
  comparison at all, in chunks so that it fits in memory at any N, each into one reused output
  buffer: the fastest of row chunks of ~16M scores (``floor``), 512 x 512 tiles (``floor_tiled``)
  and 256 x 2048 tiles (``floor_tiled_wide``).  No exact evaluation can be cheaper; ours scores each
  direction from its own rows, so it computes every score twice.

Peak memory is the growth of the process's peak resident set (``ru_maxrss``) over its
resident set just before the timed calls (inputs already built, kernels warmed up).  It
counts everything the call touches -- torch's CPU tensors are ordinary heap pages --
and is what the operating system has to provide.  Workers run with glibc's
``MALLOC_MMAP_THRESHOLD_`` pinned to 1 MiB so that freed big blocks go back to the system
instead of being kept in the heap: resident memory then follows live memory, within a few MB.
Time is the best of ``--repeats`` runs within a process (wall clock; the dense reference at
N > 2000 and every method at N > 10000 run once), and the median over ``--rounds`` fresh
processes of the floor and ours, alternating their order (the references run in the first round
only).  The ratio is taken against the median floor, and ours/floor is also given per round: this
VM has spells of several seconds in which memory-bound passes slow down far more than matmuls.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

CAPTIONS_PER_IMAGE = 5


def _rss_mib() -> float:
    """Current resident set size, MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def dense_reference(images: torch.Tensor, texts: torch.Tensor, index: torch.Tensor, ks=(1, 5, 10)) -> dict[str, float]:
    """Full similarity matrix and stable argsorts (ties: lower index first)."""
    similarity = F.normalize(images, dim=1) @ F.normalize(texts, dim=1).T
    n_images, n_texts = similarity.shape
    order = torch.argsort(similarity.T, dim=1, descending=True, stable=True)
    t2i = (order == index[:, None]).int().argmax(dim=1)
    del order
    order = torch.argsort(similarity, dim=1, descending=True, stable=True)
    position = torch.empty_like(order)
    position.scatter_(1, order, torch.arange(n_texts).expand(n_images, n_texts))
    del order
    own = position.gather(1, torch.sort(index, stable=True).indices.view(n_images, -1))  # 5 captions each
    i2t = own.min(dim=1).values
    result = {f"i2t_r{k}": 100.0 * int((i2t < k).sum()) / n_images for k in ks}
    result |= {f"t2i_r{k}": 100.0 * int((t2i < k).sum()) / n_texts for k in ks}
    result["mr"] = sum(result.values()) / len(result)
    return result


def similarity_floor(images: torch.Tensor, texts: torch.Tensor, chunk_elements: int = 1 << 24) -> float:
    """One pass of row-chunked similarity matmuls into one reused buffer, nothing else."""
    images = F.normalize(images, dim=1)
    texts = F.normalize(texts, dim=1)
    step = max(1, chunk_elements // texts.shape[0])
    buffer = torch.empty(min(step, images.shape[0]) * texts.shape[0])
    checksum = 0.0
    for start in range(0, images.shape[0], step):
        rows = images[start : start + step]
        scores = torch.matmul(rows, texts.T, out=buffer[: rows.shape[0] * texts.shape[0]].view(rows.shape[0], -1))
        checksum += float(scores[0, 0])
    return checksum


def tiled_similarity_floor(images: torch.Tensor, texts: torch.Tensor, rows: int = 512, columns: int = 512) -> float:
    """One pass of cache-sized tiles of the similarity matrix into one reused buffer, nothing else."""
    images = F.normalize(images, dim=1)
    texts = F.normalize(texts, dim=1)
    buffer = torch.empty(rows * columns)
    checksum = 0.0
    for start in range(0, images.shape[0], rows):
        block = images[start : start + rows]
        for first in range(0, texts.shape[0], columns):
            other = texts[first : first + columns]
            shape = (block.shape[0], other.shape[0])
            scores = torch.matmul(block, other.T, out=buffer[: shape[0] * shape[1]].view(shape))
            checksum += float(scores[0, 0])
    return checksum


def per_query_loop(images: torch.Tensor, texts: torch.Tensor, index: torch.Tensor, ks=(1, 5, 10)) -> dict[str, float]:
    """The per-query loop of AMFMN/GaLR-style evaluation code (numpy argsort per query)."""
    import numpy as np

    similarity = (F.normalize(images, dim=1) @ F.normalize(texts, dim=1).T).numpy()
    owner = index.numpy()
    n_images, n_texts = similarity.shape
    i2t = np.zeros(n_images, dtype=np.int64)
    for image in range(n_images):
        order = np.argsort(-similarity[image], kind="stable")
        i2t[image] = min(int(np.where(order == caption)[0][0]) for caption in np.flatnonzero(owner == image))
    t2i = np.zeros(n_texts, dtype=np.int64)
    for caption in range(n_texts):
        order = np.argsort(-similarity[:, caption], kind="stable")
        t2i[caption] = int(np.where(order == owner[caption])[0][0])
    result = {f"i2t_r{k}": 100.0 * int((i2t < k).sum()) / n_images for k in ks}
    result |= {f"t2i_r{k}": 100.0 * int((t2i < k).sum()) / n_texts for k in ks}
    result["mr"] = sum(result.values()) / len(result)
    return result


def _data(n_images: int, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(n_images, dim, generator=generator)
    texts = images.repeat_interleave(CAPTIONS_PER_IMAGE, 0) + 6 * torch.randn(
        n_images * CAPTIONS_PER_IMAGE, dim, generator=generator
    )
    index = torch.arange(n_images).repeat_interleave(CAPTIONS_PER_IMAGE)
    return images, texts, index


def worker(method: str, n_images: int, dim: int, repeats: int) -> dict:
    """Run one configuration in this process; return time, memory and the result."""
    from rs_retrieval.evaluation import retrieval_recall

    functions = {
        "ours": lambda i, t, x: retrieval_recall(i, t, x),
        "dense": dense_reference,
        "loop": per_query_loop,
        "floor": lambda i, t, x: similarity_floor(i, t),
        "floor_tiled": lambda i, t, x: tiled_similarity_floor(i, t, 512, 512),
        "floor_tiled_wide": lambda i, t, x: tiled_similarity_floor(i, t, 256, 2048),
    }
    function = functions[method]
    torch.set_grad_enabled(False)
    function(*_data(64, dim))  # warm up kernels and lazy imports
    images, texts, index = _data(n_images, dim)
    baseline = _rss_mib()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(images, texts, index)
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peak_mib": _peak_rss_mib() - baseline, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="numbers of images N")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per process (best is kept)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="fresh processes per timed method, alternating; medians are reported")
    parser.add_argument("--dense-max", type=int, default=10000, help="largest N for the dense reference")
    parser.add_argument("--loop-max", type=int, default=2000, help="largest N for the per-query loop")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        method, n_images = args.worker[0], int(args.worker[1])
        print(json.dumps(worker(method, n_images, args.dim, args.repeats)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, D={args.dim}, "
          f"{CAPTIONS_PER_IMAGE} captions/image, {args.rounds} rounds\n")
    print("| N images | M captions | method | time (s), median | min-max | median / floor | ours / floor per round "
          "| peak extra RSS (MiB) | mR |")
    print("|---:|---:|---|---:|---|---:|---|---:|---:|")
    for n_images in args.sizes:
        references = (["dense"] if n_images <= args.dense_max else []) + (["loop"] if n_images <= args.loop_max else [])
        measured: dict[str, list[dict]] = {}
        for round_index in range(args.rounds):
            # The timed methods alternate their order between rounds; the slow references run in the first only.
            methods = ["floor", "floor_tiled", "floor_tiled_wide", "ours"]
            methods = (methods if round_index % 2 == 0 else methods[::-1]) + (references if round_index == 0 else [])
            for method in methods:
                measured.setdefault(method, []).append(_run_worker(method, n_images, args))
        for reference in references:
            assert measured[reference][0]["result"] == measured["ours"][0]["result"], (reference, measured[reference])
        floors = [min(entry["seconds"] for entry in entries)
                  for entries in zip(measured["floor"], measured["floor_tiled"], measured["floor_tiled_wide"])]
        per_round = [entry["seconds"] / floor for entry, floor in zip(measured["ours"], floors)]
        floor = statistics.median(floors)
        for method, entries in measured.items():
            seconds = [entry["seconds"] for entry in entries]
            result = entries[0]["result"]
            mr = f"{result['mr']:.2f}" if isinstance(result, dict) else "-"
            rounds = ", ".join(f"{ratio:.2f}" for ratio in per_round) if method == "ours" else ""
            print(
                f"| {n_images:,} | {n_images * CAPTIONS_PER_IMAGE:,} | {method} | {statistics.median(seconds):.3f} | "
                f"{min(seconds):.3f}-{max(seconds):.3f} | {statistics.median(seconds) / floor:.2f} | {rounds} | "
                f"{max(entry['peak_mib'] for entry in entries):.0f} | {mr} |",
                flush=True,
            )


def _run_worker(method: str, n_images: int, args: argparse.Namespace) -> dict:
    """One configuration in a fresh process."""
    # Long runs are timed once: the dense sorts take minutes at N = 10k.
    repeats = args.repeats if n_images <= (2000 if method in ("dense", "loop") else 10000) else 1
    command = [sys.executable, __file__, "--worker", method, str(n_images), "--dim", str(args.dim),
               "--repeats", str(repeats)]
    # Big blocks straight from mmap, returned on free: resident memory follows live memory.
    env = os.environ | {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


__all__ = ["dense_reference", "main", "per_query_loop", "similarity_floor", "tiled_similarity_floor"]


if __name__ == "__main__":
    main()
