"""Whether a downloaded result is what it should be: an MP4 with a video stream that decodes.

Checked before the file is posted anywhere: the provider's answer is not trusted to be a
video. Bounded work: the container's header, at most a few streams, and the first frame.
Blocking: run it in a thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av

log = logging.getLogger(__name__)

MAX_STREAMS = 4  # a talking portrait has one video and one audio stream
_MAX_PACKETS = 200  # packets read while looking for the first decodable picture
_MP4_BRANDS_AT = slice(4, 8)


class NotAVideoError(Exception):
    """The file is not an MP4 holding a decodable video stream; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoFacts:
    width: int
    height: int
    seconds: float


def check_mp4_video(path: Path) -> VideoFacts:
    """The video's size and length; NotAVideoError when it is not a playable MP4."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError as error:
        raise NotAVideoError(f"unreadable ({error.strerror})") from None
    if len(head) < 12 or head[_MP4_BRANDS_AT] != b"ftyp":
        raise NotAVideoError("not an MP4 file (no ftyp box)")
    try:
        with av.open(str(path), format="mp4") as container:
            return _inspect(container)
    except NotAVideoError:
        raise
    except Exception as error:  # PyAV's decoders raise many kinds: each one means "no video"
        raise NotAVideoError(f"undecodable ({type(error).__name__})") from None


def _inspect(container: av.container.InputContainer) -> VideoFacts:
    if len(container.streams) > MAX_STREAMS:
        raise NotAVideoError(f"{len(container.streams)} streams")
    if not container.streams.video:
        raise NotAVideoError("no video stream")
    stream = container.streams.video[0]
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS:
            break
        for frame in packet.decode():
            seconds = float(container.duration or 0) / 1e6
            return VideoFacts(width=frame.width, height=frame.height, seconds=seconds)
    raise NotAVideoError("no picture decodes")
