"""Run under `torchrun --nproc_per_node N`: loss and gradients of a DDP-wrapped tiny model on this rank's
slice of a fixed batch. Rank 0 writes them (averaged as DDP averages) to the JSON file named by argv[1]."""

from __future__ import annotations

import json
import sys

import torch
from accelerate import Accelerator
from tiny_models import IMAGE_SIZE, tiny_config

from rs_retrieval import DualEncoderModel


def fixed_batch(size: int = 8):
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(size, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    input_ids = torch.randint(5, 60, (size, 7), generator=generator)
    image_ids = torch.tensor([0, 1, 2, 3, 4, 5, 1, 7])[:size]  # image 1 appears on both ranks
    return pixels, input_ids, torch.ones_like(input_ids), image_ids


def loss_and_gradients(model, pixels, input_ids, attention_mask, image_ids):
    loss = model(pixel_values=pixels, input_ids=input_ids, attention_mask=attention_mask, image_ids=image_ids).loss
    loss.backward()
    return loss


def main() -> None:
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = DualEncoderModel(tiny_config(vocab_size=64))
    model = accelerator.prepare(model)
    model.eval()  # no dropout: both runs must draw nothing at random
    pixels, input_ids, attention_mask, image_ids = fixed_batch()
    share = len(pixels) // accelerator.num_processes
    part = slice(accelerator.process_index * share, (accelerator.process_index + 1) * share)
    loss = loss_and_gradients(model, pixels[part], input_ids[part], attention_mask[part], image_ids[part])
    mean_loss = accelerator.reduce(loss.detach(), reduction="mean")
    if accelerator.is_main_process:
        bare = accelerator.unwrap_model(model)
        gradients = {n: p.grad.flatten()[:50].tolist() for n, p in bare.named_parameters() if p.grad is not None}
        json.dump({"world_size": accelerator.num_processes, "loss": mean_loss.item(), "gradients": gradients},
                  open(sys.argv[1], "w"))
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
