"""Image preparation: sniff, orient, check size, strip metadata, write a clean JPEG."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import UserFacingError
from bot.messages import MessageKey

MIN_SHORT_SIDE = 400  # provider rule for both EMO models
MAX_LONG_SIDE = 7000  # provider rule; larger images are scaled down, not refused
JPEG_QUALITY = 92


@dataclass(frozen=True)
class PreparedImage:
    path: Path
    width: int
    height: int


def prepare_image(
    source: Path, destination: Path, *, max_pixels: int, max_long_side: int = MAX_LONG_SIDE
) -> PreparedImage:
    """Write ``source`` as an upright RGB JPEG without metadata. Blocking: run it in a thread."""
    try:
        with Image.open(source) as opened:
            # The header alone gives the size: refuse a decompression bomb before decoding it.
            width, height = opened.size
            if width * height > max_pixels:
                raise UserFacingError(
                    MessageKey.IMAGE_TOO_LARGE_PIXELS,
                    megapixels=round(width * height / 1e6, 1),
                    limit=round(max_pixels / 1e6, 1),
                )
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                opened.seek(0)  # an animated image contributes its first frame
                upright = ImageOps.exif_transpose(opened)
                rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UserFacingError(MessageKey.IMAGE_UNREADABLE) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserFacingError(
            MessageKey.IMAGE_TOO_LARGE_PIXELS,
            megapixels=round(width * height / 1e6, 1),
            limit=round(max_pixels / 1e6, 1),
        ) from None
    if min(rgb.size) < MIN_SHORT_SIDE:
        raise UserFacingError(
            MessageKey.IMAGE_TOO_SMALL,
            width=rgb.width,
            height=rgb.height,
            minimum=MIN_SHORT_SIDE,
        )
    if max(rgb.size) > max_long_side:
        rgb.thumbnail((max_long_side, max_long_side), Image.Resampling.LANCZOS)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A fresh save with no exif/icc arguments carries no metadata (GPS included).
    rgb.save(destination, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return PreparedImage(path=destination, width=rgb.width, height=rgb.height)
