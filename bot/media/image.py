"""Image preparation: sniff, orient, check size, strip metadata, write a clean JPEG."""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.errors import UserFacingError
from bot.messages import MessageKey

MIN_SHORT_SIDE = 400  # provider rule for both EMO models
PROVIDER_MAX_SIDE = 7000  # provider rule; larger images are scaled down, not refused
JPEG_QUALITY = 90
# What members upload: camera JPEGs (MPO is a multi-picture JPEG), screenshots, phone HEIC.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "HEIF", "AVIF"})


@dataclass(frozen=True)
class PreparedImage:
    path: Path
    width: int
    height: int
    source_format: str


@functools.cache
def _register_heif() -> None:
    # pillow-heif plugs HEIC/HEIF decoding into Pillow; once per process, on first use.
    import pillow_heif

    pillow_heif.register_heif_opener()


def _too_many_pixels(width: int, height: int, max_pixels: int) -> UserFacingError:
    return UserFacingError(
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        megapixels=round(width * height / 1e6, 1),
        limit=round(max_pixels / 1e6, 1),
    )


def prepare_image(
    source: Path, destination: Path, *, max_pixels: int, max_side: int = PROVIDER_MAX_SIDE
) -> PreparedImage:
    """Write ``source`` as an upright RGB JPEG without metadata, at most ``max_side`` px.

    The type comes from the bytes, never from a name or a declared content type.
    Blocking: run it in a thread.
    """
    _register_heif()
    max_side = min(max_side, PROVIDER_MAX_SIDE)
    width = height = 0
    try:
        with Image.open(source, formats=None) as opened:
            # The header alone gives the size: refuse a decompression bomb before decoding it.
            width, height = opened.size
            source_format = opened.format or "unknown"
            if source_format not in ACCEPTED_FORMATS:
                raise UserFacingError(MessageKey.IMAGE_FORMAT, format=source_format)
            if width * height > max_pixels:
                raise _too_many_pixels(width, height, max_pixels)
            if source_format in ("JPEG", "MPO"):
                # Let libjpeg decode at a reduced scale when the result is scaled down anyway.
                opened.draft("RGB", (max_side, max_side))
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                opened.seek(0)  # an animated image contributes its first frame
                upright = ImageOps.exif_transpose(opened)
                rgb = _flatten(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        # Pillow's own guard may fire inside Image.open, before we saw the size.
        found = re.search(r"\((\d+) pixels\)", str(bomb))
        pixels = int(found.group(1)) if found else width * height
        raise UserFacingError(
            MessageKey.IMAGE_TOO_LARGE_PIXELS,
            megapixels=round(pixels / 1e6, 1),
            limit=round(max_pixels / 1e6, 1),
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UserFacingError(MessageKey.IMAGE_UNREADABLE) from None
    if min(rgb.size) < MIN_SHORT_SIDE:
        raise UserFacingError(
            MessageKey.IMAGE_TOO_SMALL,
            width=rgb.width,
            height=rgb.height,
            minimum=MIN_SHORT_SIDE,
        )
    scale = _scale_for(rgb.width, rgb.height, max_side)
    if scale < 1:
        size = (round(rgb.width * scale), round(rgb.height * scale))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A fresh save with no exif/icc arguments carries no metadata (GPS included).
    rgb.save(destination, format="JPEG", quality=JPEG_QUALITY)
    return PreparedImage(
        path=destination, width=rgb.width, height=rgb.height, source_format=source_format
    )


def _scale_for(width: int, height: int, max_side: int) -> float:
    """The factor that brings the long side to ``max_side`` while the short side stays at
    least MIN_SHORT_SIDE (a panorama may then keep up to the provider's 7000 px)."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_side / long_side)
    if short_side * scale < MIN_SHORT_SIDE:
        scale = MIN_SHORT_SIDE / short_side
    if long_side * scale > PROVIDER_MAX_SIDE:
        raise UserFacingError(
            MessageKey.IMAGE_ASPECT, width=width, height=height, minimum=MIN_SHORT_SIDE
        )
    return scale


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (a cut-out portrait must not turn black)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")
