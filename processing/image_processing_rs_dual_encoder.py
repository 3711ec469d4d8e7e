"""Image processor for remote-sensing tiles: any input → RGB → (augment) → resize → normalise → tensor.

Augmentations live here, switched on per call (`augment=True` while training), so training and serving share
one preprocessing path, saved with the model. Overhead imagery has no "up": 90° rotations and both flips keep
the meaning of a tile, which is why they are the default augmentations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from .image_conversion import to_rgb_image

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
_ROTATIONS = [None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]


class DualEncoderImageProcessor(BaseImageProcessor):
    """Turns PIL images, numpy arrays (including multi-band), tensors or file paths into `pixel_values`.

    Every input goes through `to_rgb_image`, so one above the pixel limit (`RS_RETRIEVAL_MAX_IMAGE_PIXELS`, default
    89,478,485) raises `ImageTooLargeError` before its pixels are decoded.

    Args:
        size: output `{"height": H, "width": W}` (or one int for a square).
        image_mean, image_std: per-channel normalisation after scaling to [0, 1].
        resample: "bicubic", "bilinear", "nearest" or "lanczos".
        band_indices: for multi-band arrays (C > 4), which three bands make R, G, B.
        crop_scale: area range of the random resized crop used by `augment=True`.
        rotate_90, flip: the other augmentations of `augment=True`.
    """

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        size: int | dict[str, int] = 64,
        image_mean: Sequence[float] = (0.5, 0.5, 0.5),
        image_std: Sequence[float] = (0.5, 0.5, 0.5),
        resample: str = "bicubic",
        band_indices: Sequence[int] | None = None,
        crop_scale: Sequence[float] = (0.6, 1.0),
        rotate_90: bool = True,
        flip: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(size, int):
            size = {"height": size, "width": size}
        if set(size) != {"height", "width"}:
            raise ValueError(f"size must be an int or {{'height': H, 'width': W}}, got {size}")
        if resample not in _RESAMPLE:
            raise ValueError(f"resample must be one of {sorted(_RESAMPLE)}, got {resample!r}")
        self.size = {"height": int(size["height"]), "width": int(size["width"])}
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]
        self.resample = resample
        self.band_indices = list(band_indices) if band_indices is not None else None
        self.crop_scale = [float(v) for v in crop_scale]
        self.rotate_90 = bool(rotate_90)
        self.flip = bool(flip)

    # -- single-image steps ---------------------------------------------------------------------------------------

    def _random_resized_crop(self, image: Image.Image, generator: torch.Generator | None) -> Image.Image:
        width, height = image.size
        low, high = self.crop_scale
        for _ in range(10):
            area = width * height * float(torch.empty(1).uniform_(low, high, generator=generator))
            log_ratio = torch.empty(1).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
            aspect = math.exp(float(log_ratio))
            crop_w, crop_h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                left = int(torch.randint(0, width - crop_w + 1, (1,), generator=generator))
                top = int(torch.randint(0, height - crop_h + 1, (1,), generator=generator))
                return image.crop((left, top, left + crop_w, top + crop_h))
        return image

    def _augment(self, image: Image.Image, generator: torch.Generator | None) -> Image.Image:
        image = self._random_resized_crop(image, generator)
        if self.rotate_90:
            rotation = _ROTATIONS[int(torch.randint(0, 4, (1,), generator=generator))]
            if rotation is not None:
                image = image.transpose(rotation)
        if self.flip and bool(torch.randint(0, 2, (1,), generator=generator)):
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image

    def _resized_array(self, image: Image.Image) -> np.ndarray:
        """H x W x 3 uint8 pixels at the output size."""
        target = (self.size["width"], self.size["height"])
        if image.size != target:
            image = image.resize(target, _RESAMPLE[self.resample])
        return np.asarray(image, dtype=np.uint8)

    # -- batch --------------------------------------------------------------------------------------------------

    def preprocess(
        self,
        images: Any,
        augment: bool = False,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """Convert one image or a list of images into a `BatchFeature` with `pixel_values` (B x 3 x H x W).

        `generator` drives the augmentations: one for the whole batch, or one per image.
        """
        if kwargs:
            raise TypeError(f"unexpected arguments for the image processor: {sorted(kwargs)}")
        if not isinstance(images, (list, tuple)):
            images = [images]
        if len(images) == 0:
            raise ValueError("no images given")
        if isinstance(generator, (list, tuple)):
            if len(generator) != len(images):
                raise ValueError(f"{len(generator)} generators for {len(images)} images")
            generators = list(generator)
        else:
            generators = [generator] * len(images)
        arrays = []
        for image, image_generator in zip(images, generators):
            rgb = to_rgb_image(image, self.band_indices)
            if augment:
                rgb = self._augment(rgb, image_generator)
            arrays.append(self._resized_array(rgb))
        # One channels-first copy of the whole batch: stacking per-image permuted views makes one small parallel
        # copy per image, whose thread start-up costs more than the copy (many times more on a busy machine).
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().float().div_(255.0)
        mean = torch.tensor(self.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std).view(1, 3, 1, 1)
        pixels = (pixels - mean) / std
        if return_tensors in (None, "pt"):
            return BatchFeature(data={"pixel_values": pixels}, tensor_type=None)
        if return_tensors == "np":
            return BatchFeature(data={"pixel_values": pixels.numpy()}, tensor_type=None)
        raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")

    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(images, **kwargs)


__all__ = ["DualEncoderImageProcessor"]
