"""Face detection (OpenCV Haar cascade, loaded lazily) and the face/ext box computation."""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from .errors import ImageRejectedError
from .media import decode_image
from .tasks import BBox, Ratio

if TYPE_CHECKING:
    import cv2

log = logging.getLogger(__name__)

EXTRA_HINT = "install the `emo-bot[simulator]` extra (pip install 'emo-bot[simulator]')"

# Detection runs on a copy whose longest side is at most this: fast on 7000 px photos too.
DETECT_MAX_SIDE = 1024
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_FACE_SIZE = 40

# ext_bbox geometry, in face sizes (max of face width and height):
# 1:1 is a head shot 2.5 faces wide with the face centre at 56% of the height
# (the proportions of the provider's documented example: face [302,286,610,593] ->
# ext [71,9,840,778]); 3:4 is a half-body shot 3 faces wide, 4 faces tall, face centre
# at 27.5% of the height, so the box reaches well below the chin.
_UNITS: dict[Ratio, tuple[int, int]] = {"1:1": (1, 1), "3:4": (3, 4)}
_FACES_PER_UNIT: dict[Ratio, float] = {"1:1": 2.5, "3:4": 1.0}
_FACE_CENTRE_AT: dict[Ratio, float] = {"1:1": 0.56, "3:4": 0.275}
# 3:4 needs the image (and the box) to show at least this many face heights below the chin.
_MIN_BODY_BELOW_FACE = 1.5
_MIN_BOX_BELOW_FACE = 1.0

NO_HUMAN = "The input image has no human body, please upload other image with single person."
MULTI_HUMAN = (
    "The input image has multi human bodies, please upload other image with single person."
)
TOO_SMALL = "The human body in the image is too small, please upload other image."
TOO_LARGE = "The human body in the image is too large, please upload other image."
FULL_BODY = (
    "The input image does not show the upper body down to the hips, please upload other image "
    "or change the ratio parameter to 1:1."
)

# CascadeClassifier is not documented as thread-safe: one detection at a time.
_detect_lock = threading.Lock()


@dataclass(frozen=True)
class DetectedImage:
    """Faces found in an image, as [x1, y1, x2, y2] boxes in upright-image pixels."""

    width: int
    height: int
    faces: list[BBox]


@functools.cache
def load_cascade() -> cv2.CascadeClassifier:
    """Load OpenCV's frontal-face Haar cascade once (first detection, not import)."""
    try:
        import cv2
        import cv2.data
    except ImportError as exc:
        raise RuntimeError(
            f"The DashScope simulator needs OpenCV for face detection: {EXTRA_HINT}."
        ) from exc
    path = str(cv2.data.haarcascades) + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load its Haar cascade from {path}.")
    log.debug("loaded face cascade %s", path)
    return cascade


def detect_faces(data: bytes) -> DetectedImage:
    """Find frontal faces in an encoded image. Blocking: run it in a thread."""
    try:
        import numpy as np
    except ImportError as exc:
        raise RuntimeError(f"The DashScope simulator needs numpy: {EXTRA_HINT}.") from exc
    cascade = load_cascade()
    gray = decode_image(data, "L")
    width, height = gray.size
    scale = min(1.0, DETECT_MAX_SIDE / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = gray.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(gray, dtype=np.uint8)
    with _detect_lock:
        found = cascade.detectMultiScale(
            pixels,
            scaleFactor=SCALE_FACTOR,
            minNeighbors=MIN_NEIGHBORS,
            minSize=(MIN_FACE_SIZE, MIN_FACE_SIZE),
        )
    faces: list[BBox] = []
    for x, y, w, h in (tuple(int(v) for v in row) for row in found):
        faces.append(
            (
                round(x / scale),
                round(y / scale),
                min(width, round((x + w) / scale)),
                min(height, round((y + h) / scale)),
            )
        )
    faces.sort()
    return DetectedImage(width=width, height=height, faces=faces)


def compute_boxes(
    detected: DetectedImage,
    ratio: Ratio,
    *,
    min_face_fraction: float,
    max_face_fraction: float,
) -> tuple[BBox, BBox]:
    """Pick the face and the ext box (exact `ratio`, inside the image).

    Raises ImageRejectedError with the provider's code when the image does not fit.
    """
    if not detected.faces:
        raise ImageRejectedError("InvalidFile.NoHuman", NO_HUMAN)
    if len(detected.faces) > 1:
        raise ImageRejectedError("InvalidFile.MultiHuman", MULTI_HUMAN)
    face = detected.faces[0]
    img_w, img_h = detected.width, detected.height
    fx1, fy1, fx2, fy2 = face
    face_w, face_h = fx2 - fx1, fy2 - fy1
    face_size = max(face_w, face_h)
    fraction = face_size / min(img_w, img_h)
    if fraction < min_face_fraction:
        raise ImageRejectedError("InvalidFile.BodyProportion", TOO_SMALL)
    if fraction > max_face_fraction:
        raise ImageRejectedError("InvalidFile.BodyProportion", TOO_LARGE)
    if ratio == "3:4" and img_h - fy2 < _MIN_BODY_BELOW_FACE * face_h:
        raise ImageRejectedError("InvalidFile.FullBody", FULL_BODY)

    unit_w, unit_h = _UNITS[ratio]
    # Whole units keep the ratio exact; shrink to what the image can hold.
    units = min(max(1, round(_FACES_PER_UNIT[ratio] * face_size)), img_w // unit_w, img_h // unit_h)
    box_w, box_h = unit_w * units, unit_h * units
    centre_x = (fx1 + fx2) / 2
    centre_y = (fy1 + fy2) / 2
    x1 = _clamp(round(centre_x - box_w / 2), 0, img_w - box_w)
    y1 = _clamp(round(centre_y - _FACE_CENTRE_AT[ratio] * box_h), 0, img_h - box_h)
    ext: BBox = (x1, y1, x1 + box_w, y1 + box_h)

    inside = x1 <= fx1 and y1 <= fy1 and fx2 <= ext[2] and fy2 <= ext[3]
    if ratio == "3:4" and (not inside or ext[3] - fy2 < _MIN_BOX_BELOW_FACE * face_h):
        raise ImageRejectedError("InvalidFile.FullBody", FULL_BODY)
    if not inside:
        raise ImageRejectedError("InvalidFile.BodyProportion", TOO_LARGE)
    return face, ext


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))
