"""Search at scale: query latency and recall@10 of the FAISS indexes, and indexing throughput of a checkpoint.

    OMP_NUM_THREADS=1 python benchmarks/search/bench_search.py --sizes 10000 100000 \
        --model outputs/demo/checkpoint --gallery-images 2000
    OMP_NUM_THREADS=1 python benchmarks/search/bench_search.py --sizes 1000000 --skip-indexing   # the 1M rows

For each size N and each kind of stored vectors (D = 512, L2-normalised: `random` = uniform on the sphere, no
structure; `clustered` = 2,000 Gaussian blobs, see `clustered`), it builds the exact `IndexFlatIP` and the IVF-Flat
index with the production rules (`build_faiss_index(kind="ivf_flat")`: nlist ≈ 4·√N, nprobe tuned to recall@10
0.97 on stored vectors), then times `--latency-queries` single-vector searches (k = 10) of fresh query vectors
drawn from the same distribution, and measures recall@10 of IVF against exact search on `--recall-queries` of
them. It also reports which index `auto` would pick (exact up to 100k vectors; IVF above, or exact again when IVF
would scan more than half of its cells).

Indexing throughput: `--gallery-images` synthetic 64 px scenes written as PNG files, indexed with `build_index`
(decode + preprocess + embed + part files + merge + FAISS), in one process and (with `--processes 2`) under
torchrun with gloo; images/s = images / wall time of the whole command.

Every measurement is appended to `results.json` beside this file (keyed by what was measured, so runs of different
sizes add up) and RESULTS.md is rewritten from all of them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STANDARD_SIZES = (10_000, 100_000, 1_000_000)
DIMENSION = 512
CLUSTERS = 2_000  # as in tests/test_search_index.py: more blobs than IVF cells up to N = 250k
SPREAD = 0.7


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32, copy=False)


def random_vectors(rng: np.random.Generator, count: int, chunk: int = 100_000) -> np.ndarray:
    return np.concatenate([unit(rng.standard_normal((min(chunk, count - s), DIMENSION), dtype=np.float32))
                           for s in range(0, count, chunk)])


def clustered(rng: np.random.Generator, count: int, chunk: int = 100_000) -> np.ndarray:
    """Blob centre + SPREAD x a random unit vector, renormalised: `CLUSTERS` blobs with fixed centres."""
    centres = unit(np.random.default_rng(123).standard_normal((CLUSTERS, DIMENSION), dtype=np.float32))
    parts = []
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        noise = unit(rng.standard_normal((size, DIMENSION), dtype=np.float32))
        parts.append(unit(centres[rng.integers(CLUSTERS, size=size)] + SPREAD * noise))
    return np.concatenate(parts)


GENERATORS = {"random": random_vectors, "clustered": clustered}


def latency_ms(index, queries: np.ndarray) -> tuple[float, float]:
    index.search(queries[:5], 10)  # warm-up
    times = []
    for query in queries:
        start = time.perf_counter()
        index.search(query[None, :], 10)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def bench_vectors(size: int, kind: str, latency_queries: int, recall_queries: int) -> dict:
    from rs_retrieval.search.faiss_index import build_faiss_index, choose_kind, exact_top_k, ivf_pays_off, recall_at_k

    rng = np.random.default_rng(size)
    stored = GENERATORS[kind](rng, size)
    queries = GENERATORS[kind](rng, max(latency_queries, recall_queries))
    truth = exact_top_k(stored, queries[:recall_queries], 10)
    row = {"what": "vectors", "size": size, "vectors": kind, "dimension": DIMENSION}

    start = time.perf_counter()
    flat, _ = build_faiss_index(stored, kind="flat_ip")
    row["flat_build_s"] = round(time.perf_counter() - start, 2)
    row["flat_p50_ms"], row["flat_p95_ms"] = latency_ms(flat, queries[:latency_queries])
    _, found = flat.search(queries[:recall_queries], 10)
    row["flat_recall_at_10"] = recall_at_k(found, truth)
    del flat
    gc.collect()

    start = time.perf_counter()
    ivf, plan = build_faiss_index(stored, kind="ivf_flat")
    row["ivf_build_s"] = round(time.perf_counter() - start, 2)
    row.update(nlist=plan.nlist, nprobe=plan.nprobe, tuned_recall_at_10=plan.tuned_recall_at_10)
    row["ivf_p50_ms"], row["ivf_p95_ms"] = latency_ms(ivf, queries[:latency_queries])
    _, found = ivf.search(queries[:recall_queries], 10)
    row["ivf_recall_at_10"] = recall_at_k(found, truth)
    auto = choose_kind(size)
    if auto == "ivf_flat" and not ivf_pays_off(plan.nprobe, plan.nlist):
        auto = "flat_ip (IVF fallback)"
    row["auto"] = auto
    return row


def write_gallery(folder: Path, count: int) -> None:
    from rs_retrieval.data.synthetic import SCENE_TYPES, generate_scene

    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        image, _ = generate_scene(np.random.default_rng([7, n]), SCENE_TYPES[n % len(SCENE_TYPES)], 64)
        image.save(folder / f"{n:06d}.png")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_indexing(model: str, images: int, processes: int, batch_size: int) -> dict:
    """Wall time of `hub_scripts/index.py` on a fresh folder of `images` PNGs, in a subprocess (model load included)."""
    with tempfile.TemporaryDirectory() as work:
        gallery, out = Path(work) / "gallery", Path(work) / "index"
        write_gallery(gallery, images)
        script = [str(REPO / "hub_scripts" / "index.py"), "--model", model, "--images", str(gallery), "--out", str(out),
                  "--batch-size", str(batch_size), "--no-progress"]
        if processes == 1:
            command = [sys.executable, *script]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                       "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *script]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if completed.returncode != 0:
            raise RuntimeError(completed.stderr[-3000:])
        manifest = json.loads((out / "manifest.json").read_text())
    return {"what": "indexing", "mode": "command", "model": model, "images": images, "processes": processes,
            "batch_size": batch_size,
            "seconds": round(seconds, 2), "images_per_s": round(images / seconds, 1), "indexed": manifest["count"],
            "dimension": manifest["dimension"]}


def bench_indexing_in_process(model_path: str, images: int, batch_size: int) -> dict:
    """`build_index` alone (model already loaded, no interpreter start-up), one process."""
    from transformers import AutoModel, AutoProcessor

    import rs_retrieval  # noqa: F401  (registers the Auto classes)
    from rs_retrieval.search import build_index, open_gallery

    model = AutoModel.from_pretrained(model_path).eval()
    processor = AutoProcessor.from_pretrained(model_path)
    with tempfile.TemporaryDirectory() as work:
        gallery = Path(work) / "gallery"
        write_gallery(gallery, images)
        start = time.perf_counter()
        report = build_index(model, processor, open_gallery(gallery), Path(work) / "index", batch_size=batch_size,
                             distributed=False)
        seconds = time.perf_counter() - start
    return {"what": "indexing", "mode": "in-process", "model": model_path, "images": images, "processes": 1,
            "batch_size": batch_size, "seconds": round(seconds, 2), "images_per_s": round(images / seconds, 1),
            "indexed": report.indexed, "dimension": report.manifest.dimension,
            "parameters": sum(p.numel() for p in model.parameters()),
            "image_size": _side(processor.image_processor.size)}


def _side(size) -> int:
    return int(size.get("height", size.get("shortest_edge", 0))) if isinstance(size, dict) else int(size)


# -- results ----------------------------------------------------------------------------------------------------------


def _key(row: dict) -> str:
    if row["what"] == "vectors":
        return f"vectors/{row['size']}/{row['vectors']}"
    return f"indexing/{row['mode']}/{row['model']}/{row['images']}/{row['processes']}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import faiss
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
            f"faiss {faiss.__version__}, torch {torch.__version__}, Python {platform.python_version()}")


def write_markdown(results: dict[str, dict]) -> str:
    vectors = sorted((r for r in results.values() if r["what"] == "vectors"), key=lambda r: (r["size"], r["vectors"]))
    indexing = [r for r in results.values() if r["what"] == "indexing"]
    lines = [
        "# Search at scale: measured figures",
        "",
        "Written by `benchmarks/search/bench_search.py` from `results.json` (every figure below was measured; rows",
        "appear only for what has been run). Vectors: D = 512, L2-normalised; `random` = uniform on the sphere (no",
        f"structure: the hardest case for IVF), `clustered` = {CLUSTERS:,} Gaussian blobs "
        f"(centre + {SPREAD} × a random",
        "unit vector, renormalised). Latency: one query vector per `search` call, k = 10, 200 queries, after warm-up;",
        "recall@10 of IVF against exact search on 1,000 fresh queries from the same distribution. IVF parameters come",
        "from the production rules (nlist ≈ 4·√N, capped at N/40; nprobe = smallest reaching recall@10 0.97 on 500",
        "stored vectors, leave-one-out). `auto` is what `rs-retrieval index` picks for that N. `load`: the 1-minute",
        "load average when the row was recorded (the machine has 2 cores and is shared with other jobs).",
        "",
        "## Query latency and recall@10",
        "",
        "| N | vectors | exact p50 ms | exact p95 ms | IVF nlist | IVF nprobe | IVF p50 ms | IVF p95 ms "
        "| IVF recall@10 | IVF build s | auto | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in vectors:
        lines.append(f"| {r['size']:,} | {r['vectors']} | {r['flat_p50_ms']:.2f} | {r['flat_p95_ms']:.2f} | "
                     f"{r['nlist']} | {r['nprobe']} | {r['ivf_p50_ms']:.2f} | {r['ivf_p95_ms']:.2f} | "
                     f"{r['ivf_recall_at_10']:.3f} | {r['ivf_build_s']:.1f} | {r['auto']} | {r.get('load', '')} |")
    missing = [size for size in STANDARD_SIZES if not any(r["size"] == size for r in vectors)]
    if missing:
        lines += ["", "**" + ", ".join(f"{s:,}" for s in missing).replace("1,000,000", "1M") + " not yet run.** "
                  "Command: `OMP_NUM_THREADS=1 python benchmarks/search/bench_search.py --sizes "
                  + " ".join(str(s) for s in missing) + " --skip-indexing` (CPU-heavy: run it on a quiet machine)."]
    lines += ["", "## Indexing throughput", "",
              "Synthetic 64 px PNG scenes, folder gallery. `in-process`: `build_index` with the model already loaded;",
              "`command`: the whole `hub_scripts/index.py` run in a fresh interpreter (imports, model load, torchrun",
              "start-up included), in 1 or 2 processes.", "",
              "| model | mode | images | processes | batch | wall s | images/s | load |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    described = {r["model"]: r for r in indexing if "parameters" in r}
    for r in sorted(indexing, key=lambda r: (r["model"], r["mode"] != "in-process", r["processes"])):
        about = described.get(r["model"])
        size = f"{about['parameters'] / 1e6:.1f}M parameters, {about['image_size']} px, " if about else ""
        lines.append(f"| `{r['model']}` ({size}D={r['dimension']}) | {r['mode']} | {r['images']:,} | {r['processes']} "
                     f"| {r['batch_size']} | {r['seconds']:.1f} | {r['images_per_s']:.1f} | {r.get('load', '')} |")
    machines = sorted({r.get("machine", "") for r in results.values()})
    lines += ["", "## Where and how", ""] + [f"* {m}" for m in machines if m]
    commands = sorted({r.get("command", "") for r in results.values()})
    lines += [f"* `{c}`" for c in commands if c]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--vectors", nargs="*", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--recall-queries", type=int, default=1000)
    parser.add_argument("--model", default="outputs/demo/checkpoint", help="checkpoint for the indexing throughput")
    parser.add_argument("--gallery-images", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip-indexing", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=HERE, help="where results.json and RESULTS.md live")
    args = parser.parse_args(argv)

    results_json, results_md = args.results_dir / "results.json", args.results_dir / "RESULTS.md"
    results = json.loads(results_json.read_text()) if results_json.exists() else {}
    command = "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "unset") + " python " + " ".join(
        [str(Path(sys.argv[0]).resolve().relative_to(REPO)) if Path(sys.argv[0]).exists() else sys.argv[0],
         *(argv if argv is not None else sys.argv[1:])])
    where = machine()

    def record(row: dict) -> None:
        row.update(machine=where, command=command, date=time.strftime("%Y-%m-%d"), load=round(os.getloadavg()[0], 2))
        results[_key(row)] = row
        results_json.write_text(json.dumps(results, indent=2) + "\n")
        results_md.write_text(write_markdown(results))
        print(json.dumps(row), flush=True)

    for size in args.sizes:
        for kind in args.vectors:
            record(bench_vectors(size, kind, args.latency_queries, args.recall_queries))
            gc.collect()
    if not args.skip_indexing:
        if not Path(args.model).exists():
            print(f"--model {args.model}: no such checkpoint (make demo writes outputs/demo/checkpoint)",
                  file=sys.stderr)
            return 2
        record(bench_indexing_in_process(args.model, args.gallery_images, args.batch_size))
        for processes in args.processes:
            record(bench_indexing(args.model, args.gallery_images, processes, args.batch_size))
    if not results_md.exists():
        results_md.write_text(write_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
