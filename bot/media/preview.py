"""The crop a member sees before anything is spent: the region EMO animates (the detector's
``ext_bbox``), cut from the converted photo the provider gets, at the output's aspect."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 384  # a few hundred pixels: enough to judge the framing, small to upload
PREVIEW_QUALITY = 85


@dataclass(frozen=True)
class Preview:
    path: Path
    width: int
    height: int


def preview_size(ratio: tuple[int, int], width: int = PREVIEW_WIDTH) -> tuple[int, int]:
    """The preview's size for an output ratio such as (3, 4): ``width`` wide."""
    across, down = ratio
    return width, round(width * down / across)


def write_preview(
    converted: Path,
    box: tuple[int, int, int, int],
    destination: Path,
    *,
    ratio: tuple[int, int],
) -> Preview:
    """Cut ``box`` ``(x1, y1, x2, y2)`` out of ``converted`` and write it as a JPEG of the
    output's ``ratio``. Raises ValueError when the box holds no pixel of the image.
    Blocking: run it in a thread."""
    with Image.open(converted) as opened:
        image = opened.convert("RGB")
    x1, y1, x2, y2 = box
    # The detector keeps the box inside the image; clamped all the same.
    x1, x2 = max(0, min(x1, image.width)), max(0, min(x2, image.width))
    y1, y2 = max(0, min(y1, image.height)), max(0, min(y2, image.height))
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"the box {box} holds no pixel of a {image.width}x{image.height} image")
    size = preview_size(ratio)
    crop = image.crop((x1, y1, x2, y2)).resize(size, Image.Resampling.LANCZOS)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    crop.save(partial, format="JPEG", quality=PREVIEW_QUALITY)
    partial.replace(destination)  # never a half-written preview on the card
    return Preview(path=destination, width=size[0], height=size[1])


def try_write_preview(
    converted: Path,
    box: tuple[int, int, int, int],
    destination: Path,
    *,
    ratio: tuple[int, int],
) -> Preview | None:
    """``write_preview``, or None when it cannot be made: a missing preview never stops a
    job. Blocking: run it in a thread."""
    try:
        return write_preview(converted, box, destination, ratio=ratio)
    except (OSError, ValueError) as error:
        log.warning("no preview written to %s: %s", destination.parent.name, error)
        return None
