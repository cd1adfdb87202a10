"""The crop shown on the card: exactly the detector's box, at the output's aspect, and one of
the job's inputs (deleted with them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.media.cache import MediaCache
from bot.media.preview import PREVIEW_WIDTH, try_write_preview, write_preview


def _photo(path: Path) -> Image.Image:
    """Four flat quarters: a crop's colours say which part of the photo it came from."""
    image = Image.new("RGB", (800, 600), (200, 30, 30))
    image.paste((30, 200, 30), (400, 0, 800, 300))
    image.paste((30, 30, 200), (0, 300, 400, 600))
    image.paste((230, 230, 230), (400, 300, 800, 600))
    image.save(path, format="JPEG", quality=95)
    return image


def test_the_preview_is_the_box_scaled_to_the_ratio(tmp_path: Path) -> None:
    _photo(tmp_path / "image.jpg")
    # The green quarter only, at 3:4.
    written = write_preview(
        tmp_path / "image.jpg", (450, 20, 750, 420), tmp_path / "p.jpg", ratio=(3, 4)
    )
    assert (written.width, written.height) == (PREVIEW_WIDTH, PREVIEW_WIDTH * 4 // 3)
    with Image.open(written.path) as shown:
        assert shown.format == "JPEG"
        assert shown.size == (written.width, written.height)
        pixels = np.asarray(shown.convert("RGB"), dtype=np.float64)
    top, bottom = pixels[: pixels.shape[0] * 5 // 8], pixels[-pixels.shape[0] // 6 :]
    assert np.abs(top.mean(axis=(0, 1)) - (30, 200, 30)).max() < 8
    assert np.abs(bottom.mean(axis=(0, 1)) - (230, 230, 230)).max() < 8
    assert not list(tmp_path.glob("*.part"))


def test_a_box_outside_the_image_gives_no_preview(tmp_path: Path) -> None:
    _photo(tmp_path / "image.jpg")
    with pytest.raises(ValueError, match="no pixel"):
        write_preview(tmp_path / "image.jpg", (900, 0, 1000, 100), tmp_path / "p.jpg", ratio=(1, 1))
    assert (
        try_write_preview(tmp_path / "gone.jpg", (0, 0, 10, 10), tmp_path / "p.jpg", ratio=(1, 1))
        is None
    )
    assert not (tmp_path / "p.jpg").exists()


def test_the_preview_goes_with_the_inputs(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    converted = cache.converted(5, "image")
    converted.parent.mkdir(parents=True)
    _photo(converted)
    write_preview(converted, (0, 0, 400, 400), cache.preview(5), ratio=(1, 1))
    cache.result(5).write_bytes(b"video")
    cache.delete(5, inputs=True, outputs=False)
    assert not cache.preview(5).exists()
    assert cache.result(5).exists()
