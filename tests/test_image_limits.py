"""One pixel limit guards every decoder path: it is checked from the header, before any pixel is decoded.

The files here are small on disk but declare huge images (a compressed PNG of zeros, a TIFF of pre-compressed
empty tiles that only tifffile can read), the shape of a decompression bomb.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from rs_retrieval.processing import ImageConversionError, to_rgb_image
from rs_retrieval.processing.image_conversion import (
    DEFAULT_MAX_IMAGE_PIXELS,
    MAX_PIXELS_ENVIRONMENT_VARIABLE,
    ImageTooLargeError,
)

REPO = Path(__file__).resolve().parents[1]
PNG_SIZE = (12000, 10100)  # 121.2 megapixels: above the default limit, below Pillow's hard 2x error
TIFF_SIDE = 14000  # 196 megapixels of 5 bands: ~1 GB decoded, ~1 MB on disk
TILE = 512


def write_bilevel_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of zeros, streamed row by row so writing it needs no full image in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def write_tifffile_only_bomb(path: Path, side: int = TIFF_SIDE, bands: int = 5) -> Path:
    """A tiled, zlib-compressed 5-band TIFF (which Pillow cannot identify) of empty tiles, compressed once."""
    tile = zlib.compress(np.zeros((TILE, TILE, bands), np.uint8).tobytes())
    count = ((side + TILE - 1) // TILE) ** 2
    tifffile.imwrite(path, (tile for _ in range(count)), shape=(side, side, bands), dtype="uint8",
                     photometric="minisblack", planarconfig="contig", tile=(TILE, TILE), compression="zlib")
    return path


def peak_memory_of_converting(path: Path) -> dict:
    """Convert `path` in a fresh process that loads only the shipped converter; its error and peak RSS (MiB)."""
    script = f"""
import importlib.util, json, resource, sys
spec = importlib.util.spec_from_file_location("image_conversion", {str(REPO / "processing" / "image_conversion.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    module.to_rgb_image(sys.argv[1])
    error = ""
except module.ImageConversionError as caught:
    error = str(caught)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"error": error, "growth_mib": (after - before) / 1024}}))
"""
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_default_limit_is_pillows_warning_threshold():
    assert DEFAULT_MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS == 89_478_485


def test_a_large_png_is_refused_naming_the_file_its_pixels_and_the_limit(tmp_path, recwarn):
    path = write_bilevel_png(tmp_path / "wide.png", *PNG_SIZE)
    with pytest.raises(ImageTooLargeError) as caught:
        to_rgb_image(str(path))
    message = str(caught.value)
    assert "wide.png" in message and "12000x10100" in message and "121,200,000 pixels" in message
    assert f"{DEFAULT_MAX_IMAGE_PIXELS:,}" in message and MAX_PIXELS_ENVIRONMENT_VARIABLE in message
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("kind", ["png", "tiff"])
def test_the_limit_is_checked_before_pixels_are_decoded(tmp_path, kind):
    if kind == "png":
        path, decoded_mib = write_bilevel_png(tmp_path / "bomb.png", *PNG_SIZE), PNG_SIZE[0] * PNG_SIZE[1] / 2**20
    else:
        path, decoded_mib = write_tifffile_only_bomb(tmp_path / "bomb.tif"), TIFF_SIDE**2 * 5 / 2**20
    assert path.stat().st_size < 2**21  # small on disk
    outcome = peak_memory_of_converting(path)
    assert "pixels, more than the limit" in outcome["error"] and "bomb." in outcome["error"]
    assert outcome["growth_mib"] < decoded_mib / 10


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the test's own Image.open
def test_an_opened_but_not_loaded_pil_image_is_refused_before_it_loads(tmp_path):
    with Image.open(write_bilevel_png(tmp_path / "lazy.png", *PNG_SIZE)) as image:
        image.load = lambda: pytest.fail("the pixels were decoded")
        with pytest.raises(ImageTooLargeError, match="121,200,000 pixels"):
            to_rgb_image(image)


@pytest.mark.parametrize(
    "huge",
    [
        lambda: np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (10100, 12000, 3)),  # views: no memory behind them
        lambda: torch.zeros((1, 1, 3), dtype=torch.uint8).expand(10100, 12000, 3),
    ],
    ids=["numpy", "torch"],
)
def test_arrays_and_tensors_above_the_limit_are_refused(huge):
    with pytest.raises(ImageTooLargeError, match="12000x10100"):
        to_rgb_image(huge())


def test_the_limit_can_be_raised_by_argument_or_environment(tmp_path, monkeypatch):
    small = tmp_path / "small.png"
    Image.new("RGB", (40, 30)).save(small)
    with pytest.raises(ImageTooLargeError, match="1,200 pixels, more than the limit of 1,000"):
        to_rgb_image(str(small), max_pixels=1000)
    assert to_rgb_image(str(small), max_pixels=1200).size == (40, 30)
    monkeypatch.setenv(MAX_PIXELS_ENVIRONMENT_VARIABLE, "1000")
    with pytest.raises(ImageTooLargeError, match="limit of 1,000"):
        to_rgb_image(np.zeros((30, 40, 3), np.uint8))
    assert to_rgb_image(str(small), max_pixels=5000).size == (40, 30)  # the argument wins


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1e9"])
def test_a_bad_limit_in_the_environment_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv(MAX_PIXELS_ENVIRONMENT_VARIABLE, value)
    with pytest.raises(ImageConversionError, match=f"{MAX_PIXELS_ENVIRONMENT_VARIABLE}=.*positive whole number"):
        to_rgb_image(np.zeros((4, 4, 3), np.uint8))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the test's own Image.open
def test_the_processor_refuses_a_large_image_by_path_and_by_opened_image(tiny_processor, tmp_path):
    path = write_bilevel_png(tmp_path / "huge.png", *PNG_SIZE)
    with pytest.raises(ImageTooLargeError, match="huge.png"):
        tiny_processor(images=[str(path)])
    with Image.open(path) as image, pytest.raises(ImageTooLargeError, match="121,200,000 pixels"):
        tiny_processor(images=[image])


def test_without_tifffile_a_tiff_pillow_cannot_read_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "bands.tif"
    tifffile.imwrite(path, np.zeros((8, 8, 5), np.uint8), photometric="minisblack", planarconfig="contig")
    monkeypatch.setitem(sys.modules, "tifffile", None)  # as if not installed
    with pytest.raises(ImageConversionError, match="bands.tif: .*tifffile.*pip install"):
        to_rgb_image(str(path), band_indices=[0, 1, 2])
