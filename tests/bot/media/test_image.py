from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.errors import UserFacingError
from bot.media.image import prepare_image
from bot.messages import MessageKey

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PIXELS = 50_000_000


def test_a_png_becomes_a_clean_jpeg(tmp_path: Path) -> None:
    prepared = prepare_image(FIXTURES / "astronaut.png", tmp_path / "o.jpg", max_pixels=PIXELS)
    assert (prepared.width, prepared.height) == (512, 512)
    with Image.open(prepared.path) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"


def test_exif_orientation_is_applied_and_metadata_stripped(tmp_path: Path) -> None:
    source = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS block
    Image.new("RGB", (800, 500), "white").save(source, exif=exif)
    prepared = prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS)
    assert (prepared.width, prepared.height) == (500, 800)
    with Image.open(prepared.path) as image:
        assert not image.getexif()
        assert "exif" not in image.info


def test_too_small_says_the_size_found_and_needed(tmp_path: Path) -> None:
    source = tmp_path / "small.png"
    Image.new("RGB", (300, 600)).save(source)
    with pytest.raises(UserFacingError) as caught:
        prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS)
    assert caught.value.message.key is MessageKey.IMAGE_TOO_SMALL
    assert caught.value.message.params == {"width": 300, "height": 600, "minimum": 400}


def test_too_many_pixels_is_refused_from_the_header(tmp_path: Path) -> None:
    source = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(source)
    with pytest.raises(UserFacingError) as caught:
        prepare_image(source, tmp_path / "o.jpg", max_pixels=4_000_000)
    assert caught.value.message.key is MessageKey.IMAGE_TOO_LARGE_PIXELS


def test_text_named_png_is_unreadable(tmp_path: Path) -> None:
    source = tmp_path / "fake.png"
    source.write_text("hello, I am not an image")
    with pytest.raises(UserFacingError) as caught:
        prepare_image(source, tmp_path / "o.jpg", max_pixels=PIXELS)
    assert caught.value.message.key is MessageKey.IMAGE_UNREADABLE
