"""Run under `torchrun --nproc_per_node N`: loss and gradients of a DDP-wrapped tiny model on this rank's slice of a
fixed batch, through `DualEncoderTrainer.compute_loss`. Rank 0 writes them (averaged as DDP averages), and its loss
with `gather_across_processes=False`, to the JSON file named by argv[1]."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tiny_models import IMAGE_SIZE, tiny_config

from rs_retrieval import DualEncoderModel
from rs_retrieval.training import DualEncoderTrainer, DualEncoderTrainingArguments


def fixed_batch(size: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 60, (size, 7), generator=generator)
    return {
        "pixel_values": torch.randn(size, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator),
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "image_ids": torch.tensor([0, 1, 2, 3, 4, 5, 1, 7])[:size],  # image 1 appears on both ranks
        "caption_ids": torch.tensor([10, 11, 12, 13, 14, 15, 16, 12])[:size],  # images 2 and 7 share a caption
    }


def trainer_loss(trainer: DualEncoderTrainer, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                 gather: bool = True) -> torch.Tensor:
    trainer.args.gather_across_processes = gather
    return trainer.compute_loss(model, batch)


def main() -> None:
    output = Path(sys.argv[1])
    args = DualEncoderTrainingArguments(output_dir=str(output.parent / "trainer"), use_cpu=True, ddp_backend="gloo",
                                        report_to="none")
    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(vocab_size=64))
    trainer = DualEncoderTrainer(model=model, args=args)
    accelerator = trainer.accelerator
    wrapped = accelerator.prepare(model)
    wrapped.eval()  # no dropout: both runs must draw nothing at random
    batch = fixed_batch()
    share = len(batch["pixel_values"]) // accelerator.num_processes
    part = slice(accelerator.process_index * share, (accelerator.process_index + 1) * share)
    batch = {name: values[part] for name, values in batch.items()}
    with torch.no_grad():
        local_loss = trainer_loss(trainer, wrapped, batch, gather=False)
    loss = trainer_loss(trainer, wrapped, batch)
    loss.backward()
    mean_loss = accelerator.reduce(loss.detach(), reduction="mean")
    if accelerator.is_main_process:
        gradients = {n: p.grad.flatten()[:50].tolist() for n, p in model.named_parameters() if p.grad is not None}
        json.dump({"world_size": accelerator.num_processes, "loss": mean_loss.item(),
                   "rank0_local_loss": local_loss.item(), "gradients": gradients}, open(output, "w"))
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
