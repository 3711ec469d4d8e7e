"""Shared parts of the side-by-side performance benchmarks (ours vs the transformers baseline).

* UCM-captions records read straight from `../shared/data/ucm_captions` (never copied into the repo);
* the tower configs both sides build from (`benchmarks/ucm/config_vit_small_128.json`);
* machine facts (CPU model, cores, load average) and a CPU-interference meter: what other processes used of the
  machine while we measured, from `/proc/stat` minus our own process tree's CPU time;
* resident-memory readings and fresh-subprocess workers that print one JSON line;
* medians and the A B A B ... alternation of configurations.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
UCM_DIR = REPO.parent / "shared" / "data" / "ucm_captions"
TOWERS_CONFIG = REPO / "benchmarks" / "ucm" / "config_vit_small_128.json"
E5_DIR = REPO / "outputs" / "e5"


# 1. Data ----------------------------------------------------------------------------------------------------------

def ucm_records(split: str | None = "train", limit: int | None = None, stride: int = 1) -> list[dict[str, Any]]:
    """UCM images of one split (None: all) as `{"path", "image_id", "captions_en"}`, every `stride`-th one."""
    annotations = json.loads((UCM_DIR / "dataset_ucm.json").read_text(encoding="utf-8"))
    records = [
        {"path": str(UCM_DIR / "images" / image["filename"]), "image_id": int(image["imgid"]),
         "captions_en": [s["raw"].strip() for s in image["sentences"] if s["raw"].strip()]}
        for image in annotations["images"] if split is None or image["split"] == split
    ][::stride]
    if not records:
        raise FileNotFoundError(f"no {split!r} images in {UCM_DIR} (see ../shared/README.md)")
    return records[:limit]


def warm_file_cache(paths: Sequence[str]) -> None:
    """Read every file once, so no configuration pays for the first read from disk."""
    for path in paths:
        Path(path).read_bytes()


def tower_configs(image_size: int) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The vision and text tower configs (dicts) and projection size both sides build from."""
    config = json.loads(TOWERS_CONFIG.read_text())
    strip = ("model_type", "transformers_version")
    vision = {k: v for k, v in config["vision_config"].items() if k not in strip} | {"image_size": image_size}
    text = {k: v for k, v in config["text_config"].items() if k not in strip}
    return vision, text, int(config["projection_dim"])


# 2. Machine, memory and interference -------------------------------------------------------------------------------

def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine_description(threads: int) -> str:
    import torch
    import transformers

    return (f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads), "
            f"transformers {transformers.__version__}, Python {platform.python_version()}")


def wait_for_quiet(max_load: float, timeout_s: float, poll_s: float = 15.0) -> float:
    """Wait (at most `timeout_s`) until the 1-minute load average is below `max_load`; return it."""
    deadline = time.monotonic() + timeout_s
    load = load_average()[0]
    while load >= max_load and time.monotonic() < deadline:
        print(f"# load average {load:.2f} >= {max_load}: waiting", file=sys.stderr, flush=True)
        time.sleep(poll_s)
        load = load_average()[0]
    return load


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (`ru_maxrss` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy since boot (`/proc/stat`, idle and iowait left out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


@dataclass
class Interference:
    """What the rest of the machine did while a measurement ran."""

    wall_s: float
    other_cpu_s: float
    load_before: float
    load_after: float

    @property
    def other_cores(self) -> float:
        """Average number of cores other processes kept busy."""
        return self.other_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def describe(self) -> str:
        return (f"load average (1 min) {self.load_before:.2f} before, {self.load_after:.2f} after (after includes "
                f"this run); other processes used {self.other_cores:.2f} of {os.cpu_count()} cores on average")


class InterferenceMeter:
    """`with InterferenceMeter() as meter: ...` then `meter.result`: others' CPU use while the block ran.

    Counts our own children only once they have finished, so run it around whole subprocess calls.
    """

    def __enter__(self) -> InterferenceMeter:
        self._load = load_average()[0]
        self._wall, self._busy, self._own = time.perf_counter(), _busy_seconds(), _own_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        wall = time.perf_counter() - self._wall
        other = (_busy_seconds() - self._busy) - (_own_seconds() - self._own)
        self.result = Interference(wall, max(other, 0.0), self._load, load_average()[0])


# 3. Workers, alternation, statistics -------------------------------------------------------------------------------

def run_worker(script: str, arguments: Sequence[str], threads: int) -> dict[str, Any]:
    """Run `script --worker ...` in a fresh Python process; return the JSON object it prints last."""
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    with InterferenceMeter() as meter:
        completed = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True, env=env,
                                   cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"worker {arguments} failed:\n{completed.stderr[-4000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["other_cores"] = meter.result.other_cores
    return result


def alternate(names: Sequence[str], rounds: int,
              run_one: Callable[[str], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Run every configuration once per round, in turn (A B A B ...), so drifts of the machine hit all alike."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names:
            result = run_one(name)
            results[name].append(result)
            print(f"# round {round_index + 1}/{rounds} {name}: "
                  + ", ".join(f"{k}={v:.4g}" for k, v in result.items() if isinstance(v, float)),
                  file=sys.stderr, flush=True)
    return results


#: Runs during which other processes kept more than this many cores busy on average are left out of medians:
#: with 2 torch threads on 2 cores, one busy core from elsewhere makes every parallel region wait (3-6x slower).
DISTURBED_CORES = 0.1


def undisturbed(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs no other process disturbed (all of them when every run was disturbed)."""
    return [r for r in runs if r["other_cores"] <= DISTURBED_CORES] or list(runs)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    """`min–max` of the runs, to show how far the median can be trusted."""

    def show(value: float) -> str:
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"

    return f"{show(min(values))}–{show(max(values))}"


__all__ = [
    "DISTURBED_CORES", "E5_DIR", "REPO", "TOWERS_CONFIG", "UCM_DIR", "Interference", "InterferenceMeter", "alternate",
    "cpu_model", "load_average", "machine_description", "median", "peak_rss_mib", "rss_mib", "run_worker", "spread",
    "tower_configs", "ucm_records", "undisturbed", "wait_for_quiet", "warm_file_cache",
]
