"""The straightforward per-image pixel assembly that `DualEncoderImageProcessor`'s batched copy replaced.

Kept as the reference the fast path is held to, bit for bit (tests/test_performance_paths.py), and as the "before"
of its benchmark (benchmarks/perf/bench_pixel_batching.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..processing import to_rgb_image


def per_image_pixels(processor: Any, images: Sequence[Any], generators: Sequence[torch.Generator] | None = None
                     ) -> torch.Tensor:
    """Each image converted, augmented (with its generator, when given), resized, made a CHW tensor; then stacked
    and normalised."""
    tensors = []
    for index, image in enumerate(images):
        rgb = to_rgb_image(image, processor.band_indices)
        if generators is not None:
            rgb = processor._augment(rgb, generators[index])
        target = (processor.size["width"], processor.size["height"])
        if rgb.size != target:
            rgb = rgb.resize(target, Image.Resampling.BICUBIC)
        tensors.append(torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1))
    pixels = torch.stack(tensors).float().div_(255.0)
    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    return (pixels - mean) / std


__all__ = ["per_image_pixels"]
