"""The model card (README.md with Hub YAML metadata and a `model-index`) of a trained dual encoder.

Filled from the template `model_card.md` with what the checkpoint knows about itself: its config, the training
recipe `train.py` records beside it (`training_recipe.json`) and, when given, the evaluation JSON that
`hub_scripts/evaluate.py` writes. The `model-index` holds every recall of that JSON, so the Hub's evaluation
widgets and `ModelCard.load(...).data.eval_results` give back exactly the numbers that were measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..evaluation import RECALL_COLUMNS, markdown_table
from ..json_files import read_json_object
from .hub_errors import PublishError

RECIPE_FILE = "training_recipe.json"
TASK_TYPE = "image-text-retrieval"
TASK_NAME = "Image-text retrieval"
LANGUAGE_NAMES = {"en": "English", "ar": "Arabic", "fr": "French", "zh": "Chinese", "es": "Spanish"}
EXAMPLE_QUERIES = {"en": "airplanes parked next to the runway", "ar": "طائرات متوقفة بجانب المدرج"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_CHECKPOINT_N = re.compile(r"^checkpoint-\d+$")


def load_template() -> str:
    return (resources.files("rs_retrieval") / "templates" / "model_card.md").read_text(encoding="utf-8")


def is_hub_id(name: str | None) -> bool:
    """True for `org/name` that is not a folder on this machine (local paths make no `base_model`)."""
    return bool(name) and bool(_HUB_ID.match(name)) and not Path(name).exists()


def eval_results_from_report(report: Mapping[str, Any], dataset_id: str, dataset_name: str | None = None
                             ) -> list[EvalResult]:
    """One `EvalResult` per (query set, recall) of an evaluation JSON; the query set is the metric config."""
    results = []
    for queries, metrics in report["results"].items():
        for key, title in RECALL_COLUMNS:
            results.append(EvalResult(
                task_type=TASK_TYPE, task_name=TASK_NAME,
                dataset_type=dataset_id, dataset_name=dataset_name or dataset_id, dataset_split=report.get("split"),
                metric_type=key, metric_name=f"{title} ({queries})", metric_config=queries,
                metric_value=float(metrics[key]),
            ))
    return results


def results_from_card(card: ModelCard) -> dict[str, dict[str, float]]:
    """The inverse of `eval_results_from_report`: {query set: {metric: value}} from a card's model-index."""
    table: dict[str, dict[str, float]] = {}
    for result in card.data.eval_results or []:
        table.setdefault(result.metric_config, {})[result.metric_type] = float(result.metric_value)
    return table


#: A tower whose starting point the recipe does not record: the card says so instead of guessing.
UNKNOWN = object()


def _tower_source(recipe: Mapping[str, Any], kind: str) -> Any:
    """The Hub id or folder a tower started from, None when the recipe records none (trained from scratch), or
    `UNKNOWN` when there is no recipe entry for it."""
    key = f"{kind}_model"
    return recipe[key] if key in recipe else UNKNOWN


def _tower_description(config: Any, source: Any, kind: str) -> str:
    parts = [f"`{config.model_type}`", f"{config.num_hidden_layers} layers", f"hidden size {config.hidden_size}",
             f"{config.num_attention_heads} heads"]
    if kind == "vision":
        parts += [f"patch {config.patch_size}", f"{config.image_size} px input"]
    else:
        parts.append(f"vocabulary {config.vocab_size}")
    if source is UNKNOWN:
        origin = "source of its weights unknown (no training recipe recorded with this checkpoint)"
    else:
        origin = f"initialised from `{source}`" if source else "trained from scratch (no pretrained weights)"
    return ", ".join(parts) + f"; {origin}."


def _training_description(recipe: Mapping[str, Any] | None) -> str:
    if not recipe:
        return "No training recipe was recorded with this checkpoint."
    languages = ", ".join(LANGUAGE_NAMES.get(code, code) for code in recipe.get("languages", []))
    lines = [
        f"- Data: `{recipe.get('dataset')}`, split `{recipe.get('train_split', 'train')}` "
        f"({recipe.get('train_images', '?')} images), captions in {languages}; one caption per image drawn each "
        "epoch; every caption of an image (in every language) is a positive of that image.",
        f"- Budget: {recipe.get('steps', '?')} optimizer steps, {float(recipe.get('epochs') or 0):.3g} epochs, "
        f"batch {recipe.get('batch_size', '?')} per device x {recipe.get('processes', 1)} process(es); "
        f"learning rate {recipe.get('learning_rate')} ({recipe.get('lr_scheduler', 'cosine')} schedule), "
        f"seed {recipe.get('seed')}.",
        f"- Augmentation: {'90-degree rotations, flips, random resized crops' if recipe.get('augment') else 'none'}.",
    ]
    frozen = [name for name in ("vision_tower", "text_tower", "text_embeddings") if recipe.get(f"freeze_{name}")]
    if frozen:
        lines.append("- Frozen: " + ", ".join(name.replace("_", " ") for name in frozen) + ".")
    if recipe.get("best_metric") is not None:
        lines.append(f"- Checkpoint kept: best validation mR ({recipe['best_metric']:.2f}).")
    return "\n".join(lines)


def _logit_scale(checkpoint: Path | None) -> str:
    weights = checkpoint / "model.safetensors" if checkpoint else None
    if not weights or not weights.is_file():
        return "n/a"
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        if "logit_scale" not in handle.keys():
            return "n/a"
        return f"{math.exp(float(handle.get_tensor('logit_scale'))):.2f}"


def _default_limitations(recipe: Mapping[str, Any] | None, vision_from_scratch: bool) -> str:
    notes = [
        "- Retrieval quality depends on how close your tiles are to the training imagery (sensor, resolution, "
        "region); check it on a labelled sample of your own archive before relying on it.",
        "- Queries are matched in the languages the model was trained on; other languages are not supported.",
    ]
    if vision_from_scratch:
        notes.append("- The vision tower was trained from scratch on a small set, not initialised from a pretrained "
                     "ViT: expect much lower recall than published CLIP-initialised numbers.")
    if recipe and str(recipe.get("dataset", "")).startswith("synthetic"):
        notes.append("- Trained on the package's synthetic demo scenes: a demonstration, not a model for real imagery.")
    return "\n".join(notes)


def build_model_card(
    config: Any,
    *,
    repo_id: str,
    checkpoint: str | Path | None = None,
    recipe: Mapping[str, Any] | None = None,
    report: Mapping[str, Any] | None = None,
    dataset_id: str | None = None,
    license: str = "apache-2.0",
    base_models: Sequence[str] = (),
    languages: Sequence[str] | None = None,
    limitations: str | None = None,
    template: str | None = None,
) -> ModelCard:
    """Render the model card of a checkpoint whose `DualEncoderConfig` is `config`."""
    checkpoint = Path(checkpoint) if checkpoint else None
    recipe = dict(recipe or {})
    languages = list(languages or recipe.get("languages") or
                     [q for q in (report or {}).get("results", {}) if "+" not in q] or ["en", "ar"])
    sources = {kind: _tower_source(recipe, kind) for kind in ("vision", "text")}
    base = list(dict.fromkeys([*base_models, *(name for name in sources.values()
                                              if isinstance(name, str) and is_hub_id(name))]))
    dataset_id = dataset_id or (recipe.get("dataset") if is_hub_id(recipe.get("dataset")) else None)
    model_name = repo_id.split("/")[-1]
    eval_results = None
    if report:
        dataset_name = dataset_id or Path(str(report.get("dataset", "dataset"))).name
        eval_results = eval_results_from_report(report, dataset_id or dataset_name, dataset_name)
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="zero-shot-image-classification",
        tags=["custom_code", "remote-sensing", "image-text-retrieval", "rs-retrieval", "dual-encoder"],
        language=languages,
        license=license,
        datasets=[dataset_id] if dataset_id else None,
        base_model=base or None,
        model_name=model_name,
        eval_results=eval_results,
    )
    table = None
    if report:
        table = markdown_table([(queries, metrics) for queries, metrics in report["results"].items()])
    names = [LANGUAGE_NAMES.get(code, code) for code in languages]
    card = ModelCard.from_template(
        card_data,
        template_str=template or load_template(),
        model_title=model_name,
        repo_id=repo_id,
        language_phrase="bilingual (" + " and ".join(names) + ")" if len(names) > 1 else " ".join(names),
        language_names=" or ".join(names),
        example_queries=[EXAMPLE_QUERIES[code] for code in languages if code in EXAMPLE_QUERIES] or ["a river"],
        vision_tower=_tower_description(config.vision_config, sources["vision"], "vision"),
        text_tower=_tower_description(config.text_config, sources["text"], "text"),
        projection_dim=config.projection_dim,
        vision_pooling=config.vision_pooling,
        text_pooling=config.text_pooling,
        logit_scale=_logit_scale(checkpoint),
        training_description=_training_description(recipe),
        results_table=table,
        evaluation_note=(
            f"On `{(report or {}).get('dataset')}`, split `{(report or {}).get('split')}`: "
            f"{(report or {}).get('images')} images, captions {(report or {}).get('captions')}."
        ),
        limitations=limitations or _default_limitations(recipe, sources["vision"] is None),
    )
    return card


def read_recipe(checkpoint: str | Path) -> dict[str, Any] | None:
    """The training recipe of a checkpoint: its own, or for a `checkpoint-N` folder of a run, the run's."""
    checkpoint = Path(checkpoint)
    candidates = [checkpoint / RECIPE_FILE]
    if _CHECKPOINT_N.match(checkpoint.name):
        candidates.append(checkpoint.parent / RECIPE_FILE)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    return read_json_object(path, what="a training recipe", fix="fix or remove it", error=PublishError)


def check_report(report: Any, source: str) -> dict[str, Any]:
    """`report` if it is an evaluation JSON with every recall of every query set; else `PublishError` naming
    what is missing (`source` names the file)."""
    hint = "write it with `rs-retrieval evaluate --out`"
    if not isinstance(report, dict) or not isinstance(report.get("results"), dict) or not report["results"]:
        raise PublishError(f"{source} has no 'results' table: {hint}")
    for queries, metrics in report["results"].items():
        missing = [key for key, _ in RECALL_COLUMNS
                   if not isinstance(metrics, dict) or not isinstance(metrics.get(key), (int, float))]
        if missing:
            raise PublishError(f"{source}: results for {queries!r} lack {', '.join(missing)}: {hint}")
    return report


__all__ = ["RECIPE_FILE", "build_model_card", "check_report", "eval_results_from_report", "is_hub_id", "read_recipe",
           "results_from_card"]
