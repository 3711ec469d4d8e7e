"""Turn whatever a remote-sensing archive holds into an 8-bit RGB `PIL.Image`.

Archives mix JPEGs, palette PNGs, 16-bit TIFFs and multi-band arrays. Everything the processor or the
dataset builder reads goes through `to_rgb_image`, so training and inference see identical pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageLike = Any  # PIL.Image.Image | np.ndarray | str | os.PathLike


class ImageConversionError(ValueError):
    """An input could not be turned into an RGB image; the message names the input and the problem."""


def _rescale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Map integer or float pixel data to uint8.

    Integers wider than 8 bits are stretched from their own min..max (remote-sensing 16-bit tiles rarely use
    the full range); floats in [0, 1] are scaled by 255, other floats are stretched like wide integers.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    data = array.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.all():
        data = np.where(finite, data, 0.0)
    if np.issubdtype(array.dtype, np.floating) and data.min() >= 0.0 and data.max() <= 1.0:
        return np.round(data * 255.0).astype(np.uint8)
    low, high = float(data.min()), float(data.max())
    if high <= low:
        return np.zeros(array.shape, dtype=np.uint8)
    return np.round((data - low) / (high - low) * 255.0).astype(np.uint8)


def array_to_rgb(array: np.ndarray, band_indices: Sequence[int] | None = None, *, name: str = "array") -> Image.Image:
    """Convert an HxW, HxWx1, HxWx3, HxWx4 or HxWxC (C > 4, multi-band) array to RGB.

    Multi-band arrays need `band_indices` (three band positions, e.g. (3, 2, 1) for Sentinel-2 true colour);
    without them the channels are ambiguous and an error says so.
    """
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageConversionError(f"{name}: expected an HxW or HxWxC array, got shape {tuple(array.shape)}")
    channels = array.shape[2]
    if band_indices is not None:
        bands = list(band_indices)
        if len(bands) != 3:
            raise ImageConversionError(f"{name}: band_indices must name 3 bands (R, G, B), got {bands}")
        if any(b < 0 or b >= channels for b in bands):
            raise ImageConversionError(f"{name}: band_indices {bands} out of range for an image with {channels} bands")
        array = array[:, :, bands]
    elif channels in (1, 2):
        array = np.repeat(array[:, :, :1], 3, axis=2)  # grey (+ alpha): drop alpha, replicate grey
    elif channels == 4:
        array = array[:, :, :3]  # RGBA: drop alpha
    elif channels != 3:
        raise ImageConversionError(
            f"{name}: has {channels} bands; pass band_indices (three band positions for R, G, B) "
            "to choose which bands make the RGB image"
        )
    return Image.fromarray(np.ascontiguousarray(_rescale_to_uint8(array)), mode="RGB")


def _read_tiff(path: str) -> np.ndarray:
    import tifffile  # optional: multi-band and 16-bit TIFFs that Pillow cannot open

    return np.asarray(tifffile.imread(path))


def load_image_file(path: str | os.PathLike, band_indices: Sequence[int] | None = None) -> Image.Image:
    """Open an image file fully (so truncation is caught here, not later) and convert it to RGB."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageConversionError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # camera-rotated JPEGs: pixels as viewers show them
            if band_indices is None and image.mode not in ("I;16", "I;16B", "I;16L", "I", "F"):
                return pil_to_rgb(image, name=path)
            return array_to_rgb(np.asarray(image), band_indices, name=path)
    except ImageConversionError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageConversionError(f"{path}: larger than Pillow's safety limit ({error}); tile it first") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if path.lower().endswith((".tif", ".tiff")):
            try:
                return array_to_rgb(_read_tiff(path), band_indices, name=path)
            except ImageConversionError:
                raise
            except Exception as tiff_error:  # tifffile raises many types for broken files
                raise ImageConversionError(f"{path}: unreadable TIFF ({tiff_error})") from tiff_error
        raise ImageConversionError(f"{path}: unreadable or truncated image ({error})") from error


def pil_to_rgb(image: Image.Image, *, name: str = "image") -> Image.Image:
    """RGB conversion for every Pillow mode, including 16/32-bit integer and float greyscale."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return array_to_rgb(np.asarray(image), name=name)
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (0, 0, 0))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode == "P" and "transparency" in image.info:
        return pil_to_rgb(image.convert("RGBA"), name=name)
    return image.convert("RGB")


def to_rgb_image(image: ImageLike, band_indices: Sequence[int] | None = None) -> Image.Image:
    """One entry point: PIL image, numpy array (HxW or HxWxC) or file path → 8-bit RGB PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return load_image_file(image, band_indices)
    if isinstance(image, np.ndarray):
        return array_to_rgb(image, band_indices)
    if isinstance(image, Image.Image):
        if band_indices is not None:
            return array_to_rgb(np.asarray(image), band_indices)
        return pil_to_rgb(image)
    if hasattr(image, "detach") and hasattr(image, "numpy"):  # a torch tensor, CHW or HWC
        array = image.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
            array = np.transpose(array, (1, 2, 0))
        return array_to_rgb(array, band_indices)
    raise ImageConversionError(f"unsupported image type {type(image).__name__}; pass a PIL image, array or path")


__all__ = ["ImageConversionError", "array_to_rgb", "load_image_file", "pil_to_rgb", "to_rgb_image"]
