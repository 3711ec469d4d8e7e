"""`make demo`: the main job on the embedded synthetic dataset, end to end, on a CPU in a few minutes.

1. draw the bilingual synthetic dataset and save it (outputs/demo/dataset), its test images as a gallery;
2. train a small bilingual (English + Arabic) dual encoder with the Trainer (outputs/demo/checkpoint);
3. evaluate it on the test split: English, Arabic and cross-lingual queries (outputs/demo/results.{json,md});
4. in a fresh process, load the checkpoint through AutoModel/AutoProcessor with trust_remote_code=True and
   answer one English and one Arabic query against the gallery;
5. explain: query relevance maps (English, Arabic), a t-SNE of the joint space and retrieval grids
   (outputs/demo/pictures);
6. publish: start a local Hub (the same HTTP API as huggingface.co, on 127.0.0.1), push the dataset with its card
   and the model with its code and a model card holding the test results, then load the model back from that Hub
   in a fresh process and answer the queries again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from rs_retrieval.command_line import ArgumentParser, positive_int
from rs_retrieval.errors import UsageError, command

DEMO_MODEL_REPO = "rs-retrieval/demo-bilingual"
DEMO_DATASET_REPO = "rs-retrieval/synthetic-scenes-en-ar"
QUERIES = ("three airplanes parked next to the runway", "ثلاث طائرات متوقفة بجانب المدرج")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="rs-retrieval demo", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/demo")
    parser.add_argument("--epochs", type=float, default=40)
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="from-scratch towers take a high rate")
    parser.add_argument("--train-per-scene", type=positive_int, default=32)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--query", action="append", default=None, help="override the two demo queries")
    args = parser.parse_args(argv)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a file, not a folder")
    if not args.epochs > 0 or not args.learning_rate > 0:
        raise UsageError("--epochs and --learning-rate must be positive numbers")
    return args


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def write_pictures(checkpoint: Path, dataset_dir: Path, folder: Path, test_split) -> list[Path]:
    """One of each explanation picture for the demo model, drawn by `rs-retrieval visualize`."""
    from rs_retrieval import cli

    folder.mkdir(parents=True, exist_ok=True)
    airport = next((i for i, row in enumerate(test_split.select_columns(["filename", "count"]))
                    if row["filename"].startswith("airport") and row["count"] == 3), 0)
    common = ["--model", str(checkpoint), "--dataset", str(dataset_dir), "--split", "test"]
    jobs = {
        "attention_en.png": ["attention", *common, "--row", str(airport), "--text", QUERIES[0]],
        "attention_ar.png": ["attention", *common, "--row", str(airport), "--text", QUERIES[1]],
        "tsne.png": ["tsne", *common, "--languages", "en,ar"],
        "grid_en.png": ["grid", *common, "--text", QUERIES[0], "-k", "6"],
        "grid_ar.png": ["grid", *common, "--caption-row", str(airport), "--language", "ar", "-k", "6"],
    }
    written = []
    for name, arguments in jobs.items():
        path = folder / name
        if cli.main(["visualize", *arguments, "--out", str(path)]) == 0:
            written.append(path)
    return written


def publish_and_reload(out: Path, checkpoint: Path, dataset_dir: Path, gallery: Path, queries: list[str]) -> int:
    """Push dataset and model to a local Hub started here, then query the model loaded from that Hub.

    The Hub clients read HF_ENDPOINT when they are imported, so every client step runs in a fresh process
    whose environment points at the local Hub.
    """
    import os

    from rs_retrieval.testing.local_hub import LocalHub, client_environment

    with LocalHub(out / "local_hub") as hub:  # writes need the token it draws for this run
        env = {**os.environ, **client_environment(hub.url, token=hub.token, home=str((out / "hf_home").resolve()))}
        print(f"local Hub at {hub.url} (data in {out / 'local_hub'})")
        commands = [
            ["push_dataset.py", "--dataset", str(dataset_dir), "--repo-id", DEMO_DATASET_REPO],
            ["push_model.py", "--checkpoint", str(checkpoint), "--repo-id", DEMO_MODEL_REPO,
             "--results", str(out / "results.json"), "--dataset-id", DEMO_DATASET_REPO, "--overwrite-card"],
            ["query.py", "--model", DEMO_MODEL_REPO, "--images", str(gallery.resolve()), "-k", "3",
             *[arg for query in queries for arg in ("--text", query)]],
        ]
        for script, *arguments in commands:
            completed = subprocess.run([sys.executable, str(Path(__file__).with_name(script)), *arguments],
                                       env=env, text=True, capture_output=True)
            print(completed.stdout.rstrip())
            if completed.returncode != 0:
                print(completed.stderr[-3000:], file=sys.stderr)
                return completed.returncode
    return 0


@command("rs-retrieval demo")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    out = Path(args.out)
    dataset_dir, checkpoint_dir, gallery_dir = out / "dataset", out / "checkpoint", out / "gallery"
    out.mkdir(parents=True, exist_ok=True)

    step("1/6 synthetic bilingual dataset")
    from rs_retrieval.data.cards import synthetic_dataset_card
    from rs_retrieval.data.synthetic import make_synthetic_dataset

    dataset = make_synthetic_dataset(splits={"train": args.train_per_scene, "validation": 4, "test": 8}, seed=args.seed)
    dataset.save_to_disk(str(dataset_dir))
    synthetic_dataset_card(dataset, seed=args.seed, image_size=64).save(dataset_dir / "README.md")
    gallery_dir.mkdir(exist_ok=True)
    for row in dataset["test"]:
        row["image"].save(gallery_dir / row["filename"])
    print({split: len(rows) for split, rows in dataset.items()}, "->", dataset_dir)

    step("2/6 train a bilingual model (English + Arabic captions)")
    from rs_retrieval import cli

    steps_per_epoch = -(-len(dataset["train"]) // args.batch_size)
    eval_steps = max(1, int(steps_per_epoch * args.epochs) // 4)
    code = cli.main([
        "train", "--dataset", str(dataset_dir), "--languages", "en,ar", "--output_dir", str(checkpoint_dir),
        "--num_train_epochs", str(args.epochs), "--per_device_train_batch_size", str(args.batch_size),
        "--eval_strategy", "steps", "--eval_steps", str(eval_steps), "--save_strategy", "no",
        "--load_best_model_at_end", "false", "--seed", str(args.seed), "--logging_steps", str(eval_steps),
        "--learning_rate", str(args.learning_rate),
        "--disable_tqdm", "false",
    ])
    if code != 0:
        return code

    step("3/6 evaluate on the test split")
    from rs_retrieval.evaluation import evaluate_checkpoint, markdown_table

    report = evaluate_checkpoint(str(checkpoint_dir), str(dataset_dir), "test", progress=False)
    table = markdown_table([(f"bilingual / {q}", m) for q, m in report["results"].items()], "model / queries")
    (out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    print(f"{report['images']} test images, captions {report['captions']}; chance R@1 = {100 / report['images']:.2f}")
    print(table)

    step("4/6 reload with trust_remote_code in a fresh process and query")
    query_script = Path(__file__).with_name("query.py")
    command = [sys.executable, str(query_script), "--model", str(checkpoint_dir.resolve()),
               "--images", str(gallery_dir.resolve()), "-k", "3"]
    for query in args.query or QUERIES:
        command += ["--text", query]
    completed = subprocess.run(command, cwd=out, text=True, capture_output=True)
    print(completed.stdout)
    if completed.returncode != 0:
        print(completed.stderr[-3000:], file=sys.stderr)
        return completed.returncode

    step("5/6 pictures: attention relevance, t-SNE, retrieval grids")
    pictures = write_pictures(checkpoint_dir, dataset_dir, out / "pictures", dataset["test"])
    for path in pictures:
        print(path)

    step("6/6 publish to a local Hub, then load the model back from it")
    code = publish_and_reload(out, checkpoint_dir, dataset_dir, gallery_dir, args.query or QUERIES)
    if code != 0:
        return code

    print(f"done in {time.perf_counter() - started:.0f} s; checkpoint (weights + code + processor): {checkpoint_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
