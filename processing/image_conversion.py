"""Turn whatever a remote-sensing archive holds into an 8-bit RGB `PIL.Image`.

Archives mix JPEGs, palette PNGs, 16-bit TIFFs and multi-band arrays. Everything the processor or the
dataset builder reads goes through `to_rgb_image`, so training and inference see identical pixels.

Every input is held to one pixel limit (`max_image_pixels`), checked from the file header or the array shape
before any pixel is decoded or copied, so a small file that declares a huge image (a decompression bomb) is
refused instead of filling memory.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageLike = Any  # PIL.Image.Image | np.ndarray | str | os.PathLike


#: Largest image (width x height) converted by default: Pillow's own warning threshold, 89,478,485 pixels (a
#: 9459-pixel square, 256 MiB as 8-bit RGB). Retrieval tiles are far smaller (UCM 256 px, RSICD 224 px) and are
#: resized to a few hundred pixels anyway; a whole scene above this (a 10980-pixel Sentinel-2 granule) should be
#: tiled first. Raise it per call (`max_pixels=`) or per process (the environment variable below).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
MAX_PIXELS_ENVIRONMENT_VARIABLE = "RS_RETRIEVAL_MAX_IMAGE_PIXELS"
_PILLOW_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


class ImageConversionError(ValueError):
    """An input could not be turned into an RGB image; the message names the input and the problem."""


class ImageTooLargeError(ImageConversionError):
    """An image holds more pixels than the limit; raised before its pixels are decoded."""


def max_image_pixels(max_pixels: int | None = None) -> int:
    """The limit in force: `max_pixels` if given, else $RS_RETRIEVAL_MAX_IMAGE_PIXELS, else the default."""
    if max_pixels is not None:
        return int(max_pixels)
    text = os.environ.get(MAX_PIXELS_ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not text.isdigit() or int(text) <= 0:
        raise ImageConversionError(
            f"{MAX_PIXELS_ENVIRONMENT_VARIABLE}={text!r}: the pixel limit must be a positive whole number "
            f"(default {DEFAULT_MAX_IMAGE_PIXELS})"
        )
    return int(text)


def check_image_size(name: str, width: int, height: int, max_pixels: int | None = None, *, planes: int = 1) -> None:
    """Refuse an image of `width` x `height` (x `planes` pages or frames) above the pixel limit."""
    limit = max_image_pixels(max_pixels)
    pixels = int(width) * int(height) * int(planes)
    if pixels > limit:
        shape = f"{width}x{height}" + (f"x{planes} pages" if planes != 1 else "")
        raise ImageTooLargeError(
            f"{name}: {shape} = {pixels:,} pixels, more than the limit of {limit:,}; tile or downscale it, "
            f"or raise the limit (max_pixels=..., or the environment variable {MAX_PIXELS_ENVIRONMENT_VARIABLE})"
        )


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


def array_to_rgb(
    array: np.ndarray, band_indices: Sequence[int] | None = None, *, name: str = "array", max_pixels: int | None = None
) -> Image.Image:
    """Convert an HxW, HxWx1, HxWx3, HxWx4 or HxWxC (C > 4, multi-band) array to RGB.

    Multi-band arrays need `band_indices` (three band positions, e.g. (3, 2, 1) for Sentinel-2 true colour);
    without them the channels are ambiguous and an error says so.
    """
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageConversionError(f"{name}: expected an HxW or HxWxC array, got shape {tuple(array.shape)}")
    check_image_size(name, array.shape[1], array.shape[0], max_pixels)
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


def _import_tifffile(path: str) -> Any:
    """tifffile, imported only when needed and out of sight of transformers' remote-code import check, which would
    otherwise demand it of everyone who loads a checkpoint."""
    try:
        return importlib.import_module("tifffile")
    except ImportError as error:
        raise ImageConversionError(
            f"{path}: Pillow cannot read this TIFF and the optional package 'tifffile' is not installed: "
            'pip install tifffile (or pip install "rs-retrieval[data]")'
        ) from error


def _read_tiff(path: str, max_pixels: int | None) -> np.ndarray:
    """The first image series of a TIFF (multi-band, 16-bit, ...), its size checked from the header first."""
    tifffile = _import_tifffile(path)
    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        sizes = dict(zip(series.axes, series.shape))
        planes = int(np.prod([size for axis, size in sizes.items() if axis not in "YXSC"], dtype=np.int64))
        check_image_size(path, sizes.get("X", 1), sizes.get("Y", 1), max_pixels, planes=planes)
        return np.asarray(series.asarray())


def _open_pillow(path: str, max_pixels: int | None) -> Image.Image:
    """Open (header only) with Pillow and check the size; our limit replaces Pillow's bomb warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(path)
    try:
        check_image_size(path, *image.size, max_pixels)  # Pillow decodes only the first frame
    except ImageConversionError:
        image.close()
        raise
    return image


def load_image_file(
    path: str | os.PathLike, band_indices: Sequence[int] | None = None, *, max_pixels: int | None = None
) -> Image.Image:
    """Open an image file fully (so truncation is caught here, not later) and convert it to RGB.

    Only regular files are read (a FIFO or device would block or never end); the size is checked before decoding.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageConversionError(f"{path}: file not found")
    if not os.path.isfile(path):
        raise ImageConversionError(f"{path}: not a regular file")
    try:
        with _open_pillow(path, max_pixels) as image:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # camera-rotated JPEGs: pixels as viewers show them
            if band_indices is None and image.mode not in _PILLOW_HIGH_BIT_MODES:
                return pil_to_rgb(image, name=path, max_pixels=max_pixels)
            return array_to_rgb(np.asarray(image), band_indices, name=path, max_pixels=max_pixels)
    except ImageConversionError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{path}: larger than Pillow's own safety limit ({error}); tile it first, or raise "
            "PIL.Image.MAX_IMAGE_PIXELS as well as this package's limit"
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if path.lower().endswith((".tif", ".tiff")):
            try:
                return array_to_rgb(_read_tiff(path, max_pixels), band_indices, name=path, max_pixels=max_pixels)
            except ImageConversionError:
                raise
            except Exception as tiff_error:  # tifffile raises many types for broken files
                raise ImageConversionError(f"{path}: unreadable TIFF ({tiff_error})") from tiff_error
        raise ImageConversionError(f"{path}: unreadable or truncated image ({error})") from error


def pil_to_rgb(image: Image.Image, *, name: str = "image", max_pixels: int | None = None) -> Image.Image:
    """RGB conversion for every Pillow mode, including 16/32-bit integer and float greyscale.

    The size is checked first, so a lazily opened image (`Image.open`) is refused before it is decoded.
    """
    check_image_size(name, *image.size, max_pixels)
    if image.mode == "RGB":
        return image
    if image.mode in _PILLOW_HIGH_BIT_MODES:
        return array_to_rgb(np.asarray(image), name=name, max_pixels=max_pixels)
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (0, 0, 0))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode == "P" and "transparency" in image.info:
        return pil_to_rgb(image.convert("RGBA"), name=name, max_pixels=max_pixels)
    return image.convert("RGB")


def to_rgb_image(
    image: ImageLike, band_indices: Sequence[int] | None = None, *, max_pixels: int | None = None
) -> Image.Image:
    """One entry point: PIL image, numpy array (HxW or HxWxC) or file path → 8-bit RGB PIL image.

    `max_pixels` overrides the pixel limit (`max_image_pixels`) for this call.
    """
    if isinstance(image, (str, os.PathLike)):
        return load_image_file(image, band_indices, max_pixels=max_pixels)
    if isinstance(image, np.ndarray):
        return array_to_rgb(image, band_indices, max_pixels=max_pixels)
    if isinstance(image, Image.Image):
        if band_indices is not None:
            check_image_size("image", *image.size, max_pixels)
            return array_to_rgb(np.asarray(image), band_indices, max_pixels=max_pixels)
        return pil_to_rgb(image, max_pixels=max_pixels)
    if hasattr(image, "detach") and hasattr(image, "numpy"):  # a torch tensor, CHW or HWC
        tensor = image.detach()
        if tensor.ndim == 3 and tensor.shape[0] in (1, 3, 4) and tensor.shape[2] not in (1, 3, 4):
            tensor = tensor.permute(1, 2, 0)
        if tensor.ndim in (2, 3):  # before any copy to the CPU
            check_image_size("tensor", tensor.shape[1], tensor.shape[0], max_pixels)
        return array_to_rgb(tensor.cpu().numpy(), band_indices, name="tensor", max_pixels=max_pixels)
    raise ImageConversionError(f"unsupported image type {type(image).__name__}; pass a PIL image, array or path")


__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "MAX_PIXELS_ENVIRONMENT_VARIABLE",
    "ImageConversionError",
    "ImageTooLargeError",
    "array_to_rgb",
    "check_image_size",
    "load_image_file",
    "max_image_pixels",
    "pil_to_rgb",
    "to_rgb_image",
]
