"""Every kind of image an archive holds becomes 8-bit RGB, and broken input fails with a named error."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from rs_retrieval.processing import ImageConversionError, to_rgb_image


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "I;16", "I", "F", "1", "CMYK"])
def test_pillow_modes_become_rgb(mode):
    image = Image.new(mode, (8, 6))
    converted = to_rgb_image(image)
    assert converted.mode == "RGB" and converted.size == (8, 6)


def test_sixteen_bit_greyscale_is_stretched_to_eight_bits():
    array = np.linspace(1000, 4000, 64, dtype=np.uint16).reshape(8, 8)
    converted = np.asarray(to_rgb_image(Image.fromarray(array)))
    assert converted.dtype == np.uint8 and converted.min() == 0 and converted.max() == 255


def test_sixteen_bit_rgb_tiff_file_loads(tmp_path):
    path = tmp_path / "tile.tif"
    array = np.random.default_rng(0).integers(0, 65535, (12, 10, 3), dtype=np.uint16)
    tifffile.imwrite(path, array)
    converted = to_rgb_image(str(path))
    assert converted.mode == "RGB" and converted.size == (10, 12)


def test_multi_band_array_needs_band_indices():
    bands = np.random.default_rng(1).integers(0, 4000, (16, 16, 5), dtype=np.uint16)
    with pytest.raises(ImageConversionError, match="5 bands.*band_indices"):
        to_rgb_image(bands)
    rgb = np.asarray(to_rgb_image(bands, band_indices=[3, 2, 1]))
    assert rgb.shape == (16, 16, 3)
    with pytest.raises(ImageConversionError, match="out of range"):
        to_rgb_image(bands, band_indices=[7, 2, 1])


def test_float_arrays_in_unit_range_scale_by_255():
    converted = np.asarray(to_rgb_image(np.full((4, 4, 3), 0.5, dtype=np.float32)))
    assert (converted == 128).all()


def test_truncated_jpeg_names_the_file(tmp_path):
    path = tmp_path / "broken.jpg"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageConversionError, match="broken.jpg.*(truncated|unreadable)"):
        to_rgb_image(str(path))


def test_missing_file_and_wrong_type_are_named(tmp_path):
    with pytest.raises(ImageConversionError, match="nowhere.png: file not found"):
        to_rgb_image(str(tmp_path / "nowhere.png"))
    with pytest.raises(ImageConversionError, match="unsupported image type int"):
        to_rgb_image(42)


def test_exif_rotated_jpeg_is_returned_as_viewers_show_it(tmp_path):
    path = tmp_path / "rotated.jpg"
    image = Image.new("RGB", (20, 10), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    image.save(path, exif=exif)
    assert to_rgb_image(str(path)).size == (10, 20)


def test_decompression_bomb_is_a_named_error(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageConversionError, match="huge.png.*safety limit"):
        to_rgb_image(str(path))
