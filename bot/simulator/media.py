"""Input inspection: sniff image/audio types from bytes, check sizes, measure audio duration."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Literal

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ApiError

log = logging.getLogger(__name__)

ImageFormat = Literal["jpeg", "png", "bmp", "webp"]
AudioFormat = Literal["wav", "mp3"]

MIN_IMAGE_SIDE = 400
MAX_IMAGE_SIDE = 7000

# EXIF orientations that swap width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ImageInfo:
    """What the provider checks about an image before looking at it."""

    format: ImageFormat
    width: int
    height: int


@dataclass(frozen=True)
class AudioInfo:
    """An audio file's measured properties."""

    format: AudioFormat
    duration: float
    sample_rate: int
    channels: int
    codec: str


def sniff_image(data: bytes) -> ImageFormat | None:
    """Recognise the allowed image types by their magic bytes (never by name or header)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"BM") and len(data) > 26:
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def sniff_audio(data: bytes) -> AudioFormat | None:
    """Recognise WAV and MP3 by their magic bytes."""
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    if data.startswith(b"ID3"):
        return "mp3"
    # A bare MPEG audio frame: 11 sync bits, then a layer field of 01 (Layer III).
    # ADTS AAC shares the sync bits but has layer 00, so it is not taken for MP3.
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and (data[1] >> 1) & 3 == 1:
        return "mp3"
    return None


def inspect_image(data: bytes) -> ImageInfo:
    """Check type and resolution the way both EMO models do; raise ApiError if refused."""
    kind = sniff_image(data)
    if kind is None:
        raise ApiError(
            400,
            "InvalidFile.Format",
            "The image format is not supported. Allowed types are: .jpg, .jpeg, .png, .bmp, .webp.",
        )
    try:
        # Opening reads only the header: no pixel decoding before the size is known to be sane.
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ApiError(400, "InvalidFile.Format", "The image file could not be decoded.") from exc
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    if min(width, height) < MIN_IMAGE_SIDE or max(width, height) > MAX_IMAGE_SIDE:
        raise ApiError(
            400,
            "InvalidFile.Resolution",
            f"The image resolution is invalid: {width}x{height}. The shortest side must be at "
            f"least {MIN_IMAGE_SIDE} pixels and the longest side at most {MAX_IMAGE_SIDE} pixels.",
        )
    return ImageInfo(format=kind, width=width, height=height)


def decode_image(data: bytes, mode: Literal["RGB", "L"]) -> Image.Image:
    """Decode an image upright (EXIF orientation applied) in the given mode.

    Detection and rendering both use this, so boxes always refer to the same pixels.
    """
    with Image.open(io.BytesIO(data)) as img:
        upright = ImageOps.exif_transpose(img)
        return upright.convert(mode)


def probe_audio(data: bytes) -> AudioInfo:
    """Sniff WAV/MP3 and measure the duration by decoding every frame; raise ApiError if refused."""
    kind = sniff_audio(data)
    if kind is None:
        raise ApiError(
            400, "InvalidURL", "File type is not supported. Allowed types are: .wav, .mp3."
        )
    samples = 0
    sample_rate = 0
    channels = 0
    codec = ""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise ApiError(400, "InvalidURL", "The input audio has no audio stream.")
            stream = container.streams.audio[0]
            codec = str(stream.codec_context.name)
            for frame in container.decode(stream):
                samples += int(frame.samples)
                sample_rate = int(frame.sample_rate)
                channels = len(frame.layout.channels)
    except (av.FFmpegError, ValueError) as exc:
        raise ApiError(400, "InvalidURL", "The input audio could not be decoded.") from exc
    if samples == 0 or sample_rate == 0:
        raise ApiError(400, "InvalidURL", "The input audio is empty.")
    return AudioInfo(
        format=kind,
        duration=samples / sample_rate,
        sample_rate=sample_rate,
        channels=channels,
        codec=codec,
    )
