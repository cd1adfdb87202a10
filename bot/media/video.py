"""Fitting a result video under an upload limit: re-encode H.264 + AAC at a computed bitrate."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import av

log = logging.getLogger(__name__)

AUDIO_BIT_RATE = 32_000  # speech stays clear at 32 kbit/s AAC
MIN_VIDEO_BIT_RATE = 32_000  # below this a 512 px talking head turns to mush: post a link
CONTAINER_OVERHEAD = 0.94  # keep 6 % for the MP4 boxes and the encoder's overshoot
# A talking portrait has a picture and a sound stream; FFmpeg refuses to open a file with
# more than this many before probing them (a thousand would cost hundreds of MB).
MAX_STREAMS = 4
_OPEN_OPTIONS = {"max_streams": str(MAX_STREAMS)}
MAX_SECONDS = 300.0  # up to three passes over a minute of video


class _OutOfTimeError(Exception):
    """The re-encoding passed its time limit."""


def fit_video(
    source: Path, destination: Path, max_bytes: int, *, time_limit: float | None = MAX_SECONDS
) -> bool:
    """Re-encode ``source`` into ``destination`` to be at most ``max_bytes``.

    The bitrate comes from the limit and the duration; a second, leaner try follows if the
    encoder overshot. False when it cannot fit at a watchable quality, cannot be decoded,
    or takes more than ``time_limit`` seconds (checked between packets). Blocking: run it
    in a worker (``MediaPool.fit_video``).
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    try:
        if _fit(source, destination, max_bytes, deadline):
            return True
    except _OutOfTimeError:
        log.warning("re-encoding took more than %.0f s: stopped", time_limit or 0)
    except (av.FFmpegError, MemoryError, ValueError, IndexError) as error:
        log.warning("the video could not be re-encoded: %s", type(error).__name__)
    destination.unlink(missing_ok=True)
    return False


def _fit(source: Path, destination: Path, max_bytes: int, deadline: float | None) -> bool:
    with av.open(str(source), container_options=_OPEN_OPTIONS) as probe:
        seconds = float(probe.duration or 0) / 1e6
        if not probe.streams.video:
            return False
    if seconds <= 0:
        return False
    budget = max_bytes * 8 * CONTAINER_OVERHEAD / seconds
    # The encoder's output size wobbles a few percent around the target: step down if over.
    for attempt, share in enumerate((1.0, 0.85, 0.7), start=1):
        video_rate = int(budget * share) - AUDIO_BIT_RATE
        if video_rate < MIN_VIDEO_BIT_RATE:
            break
        _encode(source, destination, video_rate, deadline)
        size = destination.stat().st_size
        log.info("re-encoded to %d bytes (limit %d, try %d)", size, max_bytes, attempt)
        if size <= max_bytes:
            return True
    return False


def _encode(source: Path, destination: Path, video_rate: int, deadline: float | None) -> None:
    with (
        av.open(str(source), container_options=_OPEN_OPTIONS) as inp,
        av.open(str(destination), mode="w") as out,
    ):
        in_video = inp.streams.video[0]
        video = out.add_stream("libx264", rate=in_video.average_rate or 25)
        video.width, video.height, video.pix_fmt = in_video.width, in_video.height, "yuv420p"
        video.bit_rate = video_rate
        # A hard cap on the rate, not only an average, so the size follows the budget.
        video.codec_context.options = {
            "preset": "veryfast",
            "maxrate": str(video_rate),
            "bufsize": str(video_rate * 2),
        }
        audio = None
        if inp.streams.audio:
            in_audio = inp.streams.audio[0]
            audio = out.add_stream("aac", rate=in_audio.rate or 44_100)
            audio.layout = "mono"
            audio.bit_rate = AUDIO_BIT_RATE
        for packet in inp.demux():
            if deadline is not None and time.monotonic() > deadline:
                raise _OutOfTimeError
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    for encoded in video.encode(frame):
                        out.mux(encoded)
                elif isinstance(frame, av.AudioFrame) and audio is not None:
                    frame.pts = None  # let the encoder time the resampled frames
                    for encoded in audio.encode(frame):
                        out.mux(encoded)
        for encoded in video.encode(None):
            out.mux(encoded)
        if audio is not None:
            for encoded in audio.encode(None):
                out.mux(encoded)
