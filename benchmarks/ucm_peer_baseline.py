"""The peer baseline: `transformers.VisionTextDualEncoderModel` trained the `run_clip.py` way on bilingual UCM.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ucm_peer_baseline.py --dataset outputs/ucm_bilingual_val \
        --text_model outputs/e5 --vision_config benchmarks/ucm/config_vit_small_128.json --image_size 128 \
        --languages en,ar --text_prefix "query: " --freeze_text_embeddings --learning_rate 1e-4 \
        --per_device_train_batch_size 64 --max_steps 162 --seed 42 --eval_every 54 --logging_steps 10 \
        --output_dir outputs/ucm_runs/peer --out benchmarks/ucm/peer.json

What a user would otherwise write with the public transformers API, on the same towers and budget as ours:

* the same from-scratch ViT (the `vision_config` of a DualEncoderConfig JSON, or a ViTConfig JSON) and the same
  text encoder folder, joined by `VisionTextDualEncoderModel.from_vision_text_pretrained`;
* `run_clip.py` data: every caption its own training row (one row per caption, both languages pooled for en,ar),
  images resized and normalised, no augmentation; CLIP's loss (one positive per row);
* the towers' `pooler_output` (what VisionTextDualEncoderModel uses), no logit-scale clamp;
* the plain `Trainer` with one learning rate, run_clip's README schedule (linear, no warmup, weight decay 0.1);
* the same tokenizer and "query: " prefix as ours, padded per batch (run_clip pads to 128 tokens: same outputs
  under the attention mask, several times the compute) and truncated at the same 48 tokens.

Evaluation follows the standard protocol with `rs_retrieval.evaluation.retrieval_recall` on the L2-normalised
`get_image_features` / `get_text_features` outputs, per query language and across languages.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from datasets import Dataset, load_from_disk
from PIL import Image
from transformers import (
    AutoTokenizer,
    HfArgumentParser,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    VisionTextDualEncoderModel,
    VisionTextDualEncoderProcessor,
    ViTConfig,
    ViTImageProcessor,
    ViTModel,
    set_seed,
)

from rs_retrieval.evaluation import query_sets_for, retrieval_recall
from rs_retrieval.inference import inference_mode

logger = logging.getLogger("ucm_peer_baseline")


@dataclass
class PeerArguments:
    dataset: str = field(metadata={"help": "a DatasetDict folder with image and captions_<lang> columns"})
    text_model: str = field(metadata={"help": "pretrained text tower folder (e.g. the offline multilingual-e5-small)"})
    vision_config: str = field(
        metadata={"help": "JSON: a DualEncoderConfig (its vision_config is used) or a ViTConfig"})
    image_size: int = 128
    languages: str = "en,ar"
    text_prefix: str = "query: "
    max_length: int = 48
    projection_dim: int = 512  # VisionTextDualEncoderConfig's default
    freeze_text_embeddings: bool = False
    train_split: str = "train"
    eval_split: str = "validation"
    test_split: str = "test"
    eval_every: int = field(
        default=0, metadata={"help": "log validation recall every N steps and at the end (0: never)"})
    out: str | None = field(default=None, metadata={"help": "write test recall and the training log here as JSON"})


# 1. Data: one row per caption, as run_clip.py reads a captions file -----------------------------------------------

def caption_rows(split, languages: list[str]) -> Dataset:
    rows, captions = [], []
    for row, columns in enumerate(split.select_columns([f"captions_{lang}" for lang in languages])):
        for lang in languages:
            for caption in columns[f"captions_{lang}"] or []:
                rows.append(row)
                captions.append(caption)
    return Dataset.from_dict({"row": rows, "caption": captions})


class CaptionRowCollator:
    """Images decoded lazily from the image split, resized and normalised; captions prefixed and tokenised."""

    def __init__(self, images, processor: VisionTextDualEncoderProcessor, prefix: str, max_length: int):
        self.images, self.processor, self.prefix, self.max_length = images, processor, prefix, max_length

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        images = [self.images[int(e["row"])]["image"].convert("RGB") for e in examples]
        batch = self.processor(images=images, text=[self.prefix + e["caption"] for e in examples], padding=True,
                               truncation=True, max_length=self.max_length, return_tensors="pt")
        return {"pixel_values": batch["pixel_values"], "input_ids": batch["input_ids"],
                "attention_mask": batch["attention_mask"], "return_loss": True}


# 2. Evaluation: the standard protocol over a whole split ---------------------------------------------------------

def split_embeddings(model, processor, split, languages: list[str], prefix: str, max_length: int,
                     batch_size: int = 64) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, list[int]]]]:
    """Normalised image embeddings, and per language the caption embeddings with each caption's image row."""
    with inference_mode(model) as model:
        return _split_embeddings(model, processor, split, languages, prefix, max_length, batch_size)


def _split_embeddings(model, processor, split, languages: list[str], prefix: str, max_length: int,
                      batch_size: int) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, list[int]]]]:
    image_parts = []
    for start in range(0, len(split), batch_size):
        images = [im.convert("RGB") for im in split[start:start + batch_size]["image"]]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        image_parts.append(F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1))
    per_language = {}
    for lang in languages:
        texts, index = [], []
        for row, captions in enumerate(split[f"captions_{lang}"]):
            texts.extend(captions or [])
            index.extend([row] * len(captions or []))
        parts = []
        for start in range(0, len(texts), 4 * batch_size):
            tokens = processor(text=[prefix + t for t in texts[start:start + 4 * batch_size]], padding=True,
                               truncation=True, max_length=max_length, return_tensors="pt")
            features = model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
            parts.append(F.normalize(features.pooler_output, dim=-1))
        per_language[lang] = (torch.cat(parts), index)
    return torch.cat(image_parts), per_language


def split_recall(model, processor, split, languages: list[str], prefix: str, max_length: int,
                 batch_size: int = 64) -> dict[str, dict[str, float]]:
    """Recall per query language and, with several, across languages (the standard protocol)."""
    image_embeds, per_language = split_embeddings(model, processor, split, languages, prefix, max_length, batch_size)
    return {name: retrieval_recall(image_embeds, torch.cat([per_language[lang][0] for lang in langs]),
                                   [row for lang in langs for row in per_language[lang][1]])
            for name, langs in query_sets_for(languages).items()}


class ValidationRecallCallback(TrainerCallback):
    """Log validation recall every N steps (a learning curve; no checkpoint is chosen by it)."""

    def __init__(self, every: int, evaluate):
        self.every, self.evaluate = every, evaluate

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every and (state.global_step % self.every == 0 or state.global_step == state.max_steps):
            results = self.evaluate(model)
            metrics = {f"eval_{q}_{k}": v for q, values in results.items() for k, v in values.items()}
            metrics["eval_mr"] = sum(v["mr"] for v in results.values()) / len(results)
            state.log_history.append({**metrics, "epoch": state.epoch, "step": state.global_step})
            logger.info("step %d: validation mR %.2f", state.global_step, metrics["eval_mr"])


# 3. Train and evaluate --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = HfArgumentParser((PeerArguments, TrainingArguments))
    defaults = {"remove_unused_columns": False, "report_to": "none", "save_strategy": "no", "eval_strategy": "no",
                "lr_scheduler_type": "linear", "warmup_steps": 0, "weight_decay": 0.1, "logging_steps": 10,
                "per_device_train_batch_size": 64, "dataloader_num_workers": 0, "dataloader_pin_memory": False}
    argv = list(sys.argv[1:] if argv is None else argv)
    given = {a.lstrip("-").split("=")[0] for a in argv if a.startswith("--")}
    peer_args, training_args = parser.parse_args_into_dataclasses(
        args=[f"--{k}={v}" for k, v in defaults.items() if k not in given] + argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    set_seed(training_args.seed)
    languages = [lang.strip() for lang in peer_args.languages.split(",") if lang.strip()]

    data = load_from_disk(peer_args.dataset)
    train_rows = caption_rows(data[peer_args.train_split], languages)

    vision_dict = json.loads(Path(peer_args.vision_config).read_text())
    vision_dict = vision_dict.get("vision_config", vision_dict)
    vision_dict = {k: v for k, v in vision_dict.items() if k not in ("model_type", "transformers_version")}
    vision_config = ViTConfig(**{**vision_dict, "image_size": peer_args.image_size})
    model = VisionTextDualEncoderModel.from_vision_text_pretrained(
        text_model_name_or_path=peer_args.text_model, vision_model=ViTModel(vision_config),
        projection_dim=peer_args.projection_dim)
    if peer_args.freeze_text_embeddings:
        model.text_model.get_input_embeddings().requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(peer_args.text_model)
    image_processor = ViTImageProcessor(size={"height": peer_args.image_size, "width": peer_args.image_size},
                                        resample=Image.Resampling.BICUBIC, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    processor = VisionTextDualEncoderProcessor(image_processor=image_processor, tokenizer=tokenizer)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("peer: %.2fM parameters (%.2fM trainable); languages %s; %d caption rows from %d train images",
                sum(p.numel() for p in model.parameters()) / 1e6, trainable / 1e6, languages, len(train_rows),
                len(data[peer_args.train_split]))

    def evaluate(split_name: str, module=None):
        return split_recall(module or model, processor, data[split_name], languages, peer_args.text_prefix,
                            peer_args.max_length)

    callback = ValidationRecallCallback(peer_args.eval_every, lambda m: evaluate(peer_args.eval_split, m))
    trainer = Trainer(model=model, args=training_args, train_dataset=train_rows,
                      data_collator=CaptionRowCollator(data[peer_args.train_split], processor, peer_args.text_prefix,
                                                       peer_args.max_length),
                      callbacks=[callback])
    started = time.perf_counter()
    result = trainer.train()
    train_seconds = time.perf_counter() - started
    trainer.save_model()
    processor.save_pretrained(training_args.output_dir)
    trainer.save_state()

    report = {"name": "peer (VisionTextDualEncoderModel, run_clip-style)", "dataset": peer_args.dataset,
              "languages": languages, "train_metrics": result.metrics, "train_seconds": round(train_seconds, 1),
              "logit_scale": float(model.logit_scale.detach().exp())}
    report["results"] = evaluate(peer_args.test_split)
    report["split"] = peer_args.test_split
    report["images"] = len(data[peer_args.test_split])
    report["log_history"] = trainer.state.log_history
    for query_set, metrics in report["results"].items():
        logger.info("test %s: %s", query_set, {k: round(v, 2) for k, v in metrics.items()})
    if peer_args.out:
        Path(peer_args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(peer_args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
