"""Image preparation: sniff, check size, decode within a memory budget, shrink, orient,
strip metadata, write a clean JPEG.

Every check that the header can answer (format, pixels, shortest side, aspect) is made
before decoding. Decoding costs about 4 bytes a pixel in Pillow (more inside the HEIF and
AVIF decoders), so formats decoded at full size are capped at MAX_DECODED_PIXELS; a
baseline JPEG is decoded already scaled down (libjpeg's draft mode). The decoded picture
is then shrunk band by band, each band flattened on white as it goes, so no second
full-size copy is ever made; the small result is rotated as its EXIF says.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bot.errors import UserFacingError
from bot.messages import MessageKey, Phrase

log = logging.getLogger(__name__)

MIN_SHORT_SIDE = 400  # provider rule for both EMO models
PROVIDER_MAX_SIDE = 7000  # provider rule; larger images are scaled down, not refused
JPEG_QUALITY = 90
# What members upload: camera JPEGs (MPO is a multi-picture JPEG), screenshots, phone HEIC.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "GIF", "HEIF", "AVIF"})
_DRAFTABLE = frozenset({"JPEG", "MPO"})
# Pixels decoded at full size, at most: a 25 MP PNG or phone HEIC peaks at about 270 MB in a
# media worker (60 MB of it the imports; bench/hostile_media.py), under the 300 MB a
# preparation may use. libavif holds the YUV planes, an RGB copy and Pillow's picture at
# once (about 8 bytes a pixel): AVIF gets 20 MP.
MAX_DECODED_PIXELS = 25_000_000
_DECODE_LIMITS = {"AVIF": 20_000_000}
BAND_ROWS = 64  # output rows shrunk at a time: a few MB of copies
_LANCZOS_RADIUS = 3.0  # Pillow's Lanczos filter reaches 3 output pixels either side

_IMAGE = Phrase(key=MessageKey.WORD_IMAGE)
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height


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


def _too_many_pixels(pixels: int, limit: int) -> UserFacingError:
    return UserFacingError(
        MessageKey.IMAGE_TOO_LARGE_PIXELS,
        megapixels=round(pixels / 1e6, 1),
        limit=round(limit / 1e6, 1),
    )


class _Clock:
    def __init__(self, time_limit: float | None) -> None:
        self._deadline = None if time_limit is None else time.monotonic() + time_limit

    def check(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise UserFacingError(MessageKey.MEDIA_TOO_COSTLY, what=_IMAGE)


def prepare_image(
    source: Path,
    destination: Path,
    *,
    max_pixels: int,
    max_side: int = PROVIDER_MAX_SIDE,
    time_limit: float | None = None,
) -> PreparedImage:
    """Write ``source`` as an upright RGB JPEG without metadata, at most ``max_side`` px.

    The type comes from the bytes, never from a name or a declared content type. Every
    failure is a UserFacingError; ``time_limit`` seconds of work at most (checked between
    steps). Blocking: run it in a worker.
    """
    _register_heif()
    clock = _Clock(time_limit)
    max_side = min(max_side, PROVIDER_MAX_SIDE)
    pixels = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a broken EXIF tag is not the member's problem
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=None) as opened:
                width, height = opened.size
                pixels = width * height
                source_format = _checked(opened, max_pixels)
                size = _target_size(width, height, max_side, _orientation(opened))
                _decode(opened, size, source_format)
                orientation = _orientation(opened, decoded=True)
                clock.check()
                small = _shrink_flat(opened, size, clock)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        # Pillow's own guard may fire inside Image.open, before we saw the size.
        found = re.search(r"\((\d+) pixels\)", str(bomb))
        raise _too_many_pixels(int(found.group(1)) if found else pixels, max_pixels) from None
    except UserFacingError:
        raise
    except MemoryError:
        raise UserFacingError(MessageKey.MEDIA_TOO_COSTLY, what=_IMAGE) from None
    except Exception as error:  # any decoder error (RuntimeError from AVIF…): not an image
        log.debug("image unreadable: %s", type(error).__name__)
        raise UserFacingError(MessageKey.IMAGE_UNREADABLE) from None
    upright = small.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else small
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A fresh save with no exif/icc arguments carries no metadata (GPS included).
    upright.save(destination, format="JPEG", quality=JPEG_QUALITY)
    return PreparedImage(
        path=destination, width=upright.width, height=upright.height, source_format=source_format
    )


def _checked(opened: Image.Image, max_pixels: int) -> str:
    """The image's format, once its header says it is one we take, of a size we take."""
    source_format = opened.format or "unknown"
    if source_format not in ACCEPTED_FORMATS:
        raise UserFacingError(MessageKey.IMAGE_FORMAT, format=source_format)
    width, height = opened.size
    # The header alone gives the size: refuse a decompression bomb before decoding it.
    if width * height > max_pixels:
        raise _too_many_pixels(width * height, max_pixels)
    if min(width, height) < MIN_SHORT_SIDE:
        shown = (height, width) if _orientation(opened) in _QUARTER_TURNS else (width, height)
        raise UserFacingError(
            MessageKey.IMAGE_TOO_SMALL, width=shown[0], height=shown[1], minimum=MIN_SHORT_SIDE
        )
    return source_format


def _orientation(opened: Image.Image, *, decoded: bool = False) -> int:
    """The EXIF orientation (1 to 8); 1 when it is missing, malformed or out of range. A
    PNG's EXIF may follow its pixels: before decoding, only one met in the header counts
    (Pillow would decode the whole picture to look further)."""
    if opened.format == "PNG" and "exif" not in opened.info and not decoded:
        return 1
    try:
        value = opened.getexif().get(_ORIENTATION, 1)
    except Exception:  # a hostile EXIF block: ignore it, as viewers do
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _target_size(width: int, height: int, max_side: int, orientation: int) -> tuple[int, int]:
    """The stored (unrotated) picture's size once scaled down: the long side to ``max_side``
    while the short side keeps at least MIN_SHORT_SIDE (a panorama may keep up to the
    provider's 7000 px)."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_side / long_side)
    if short_side * scale < MIN_SHORT_SIDE:
        scale = MIN_SHORT_SIDE / short_side
    if long_side * scale > PROVIDER_MAX_SIDE:
        shown = (height, width) if orientation in _QUARTER_TURNS else (width, height)
        raise UserFacingError(
            MessageKey.IMAGE_ASPECT, width=shown[0], height=shown[1], minimum=MIN_SHORT_SIDE
        )
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decode(opened: Image.Image, size: tuple[int, int], source_format: str) -> None:
    """Decode the first frame, already scaled down where the format allows, if its decoded
    size fits the budget."""
    width, height = opened.size
    opened.seek(0)  # an animated image contributes its first frame
    decoded = width * height
    if source_format in _DRAFTABLE:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below ``size``. A progressive JPEG
        # still holds every coefficient at full size while it decodes.
        opened.draft("RGB", size)
        if not opened.info.get("progressive") and not opened.info.get("progression"):
            decoded = opened.size[0] * opened.size[1]
    limit = _DECODE_LIMITS.get(source_format, MAX_DECODED_PIXELS)
    if decoded > limit:
        raise _too_many_pixels(width * height, limit)
    opened.load()


def _shrink_flat(image: Image.Image, size: tuple[int, int], clock: _Clock) -> Image.Image:
    """``image`` at ``size``, RGB on white, made a band of rows at a time: each band is cut
    with the rows the filter reaches, flattened, and resampled into its place, so the result
    equals one whole-image Lanczos resize without a second full-size copy."""
    width, height = image.size
    out_width, out_height = size
    same = size == image.size
    step = height / out_height  # source rows per output row
    reach = 0 if same else math.ceil(_LANCZOS_RADIUS * max(step, 1.0)) + 2
    result = Image.new("RGB", size, (255, 255, 255))
    for top in range(0, out_height, BAND_ROWS):
        clock.check()
        bottom = min(out_height, top + BAND_ROWS)
        first, last = top * step, bottom * step
        cut_top = max(0, math.floor(first) - reach)
        cut_bottom = min(height, math.ceil(last) + reach)
        band = _flatten(image.crop((0, cut_top, width, cut_bottom)))
        if not same:
            box = (0.0, first - cut_top, float(width), last - cut_top)
            band = band.resize((out_width, bottom - top), Image.Resampling.LANCZOS, box=box)
        result.paste(band, (0, top))
    return result


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (a cut-out portrait must not turn black)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")
