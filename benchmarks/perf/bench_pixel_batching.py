"""Before/after of the image processor's batch assembly: per-image CHW tensors stacked vs one batched copy.

    .venv/bin/python benchmarks/perf/bench_pixel_batching.py [--images 512] [--rounds 7] [--quick]

`DualEncoderImageProcessor.preprocess` used to turn every image into a permuted (CHW) uint8 tensor and
`torch.stack` them; it now stacks the HWC arrays with numpy and makes one channels-first copy. Both give the same
pixels bit for bit (checked here and in tests/test_performance_paths.py). This times both on the same UCM JPEGs
(read from their paths, as a gallery is indexed), alternating, twice: on the machine as it is, and with one core
kept busy by a spinning process this script starts (and stops), which is how a shared 2-core machine often looks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable

import torch
from common import InterferenceMeter, machine_description, median, spread, ucm_records, warm_file_cache

from rs_retrieval.testing.reference_pixels import per_image_pixels


def _spin() -> None:
    while True:
        pass


def measure(methods: dict[str, Callable[[list[str]], torch.Tensor]], paths: list[str], batch_size: int,
            rounds: int) -> tuple[dict[str, list[float]], str]:
    """Images per second of each method over all `paths`, in batches, alternating methods every round."""
    per_second: dict[str, list[float]] = {name: [] for name in methods}
    with InterferenceMeter() as meter:
        for _ in range(rounds):
            for name, method in methods.items():
                started = time.perf_counter()
                for start in range(0, len(paths), batch_size):
                    method(paths[start:start + batch_size])
                per_second[name].append(len(paths) / (time.perf_counter() - started))
    return per_second, meter.result.describe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 images, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.images, args.rounds = 64, 1
    torch.set_num_threads(args.threads)

    from rs_retrieval import DualEncoderImageProcessor

    processor = DualEncoderImageProcessor(size=args.image_size)
    paths = [r["path"] for r in ucm_records(split=None, stride=4, limit=args.images)]
    warm_file_cache(paths)
    assert torch.equal(processor(paths[:8])["pixel_values"], per_image_pixels(processor, paths[:8]))
    methods = {"per-image stack (before)": lambda batch: per_image_pixels(processor, batch),
               "batched copy (now)": lambda batch: processor(batch)["pixel_values"]}
    for method in methods.values():
        method(paths[:args.batch_size])

    print(f"{machine_description(args.threads)}; {len(paths)} UCM JPEGs, batch {args.batch_size}, "
          f"{args.image_size} px, decode + resize + assembly + normalise, {args.rounds} rounds alternating\n")
    print("| machine | method | images/s (median) | runs | now/before |")
    print("|---|---|---:|---|---:|")
    notes = []
    for label in ("as it is", "one core kept busy"):
        spinner = None
        if label == "one core kept busy":
            spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            spinner.start()
        try:
            per_second, interference = measure(methods, paths, args.batch_size, args.rounds)
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()
        before, now = (median(v) for v in per_second.values())
        for name, values in per_second.items():
            ratio = f"{now / before:.2f}x" if name.endswith("(now)") else ""
            print(f"| {label} | {name} | {median(values):.0f} | {spread(values)} | {ratio} |")
        notes.append(f"{label}: {interference}")
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
