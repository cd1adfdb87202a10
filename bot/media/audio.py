"""Audio preparation: decode anything PyAV reads, measure it, encode the provider's MP3."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from bot.errors import UserFacingError
from bot.messages import MessageKey

OUTPUT_RATE = 44_100
OUTPUT_BIT_RATE = 96_000  # 60 s of mono speech is about 0.7 MB: far inside the 15 MB limit
MIN_SECONDS = 0.5


@dataclass(frozen=True)
class PreparedAudio:
    path: Path
    seconds: float


def prepare_audio(source: Path, destination: Path, *, max_seconds: float) -> PreparedAudio:
    """Decode ``source`` and write it to ``destination`` as mono MP3.

    The duration is counted from decoded samples, never read from a header that may lie.
    Blocking: run it in a thread.
    """
    try:
        with av.open(str(source), mode="r") as container:
            if not container.streams.audio:
                raise UserFacingError(MessageKey.AUDIO_UNREADABLE)
            seconds = _transcode(container, destination, max_seconds)
    except (av.FFmpegError, UnicodeDecodeError, ValueError, IndexError):
        destination.unlink(missing_ok=True)
        raise UserFacingError(MessageKey.AUDIO_UNREADABLE) from None
    except UserFacingError:
        destination.unlink(missing_ok=True)
        raise
    if seconds > max_seconds:
        destination.unlink(missing_ok=True)
        raise UserFacingError(
            MessageKey.AUDIO_TOO_LONG, seconds=round(seconds, 1), limit=round(max_seconds)
        )
    if seconds < MIN_SECONDS:
        destination.unlink(missing_ok=True)
        raise UserFacingError(
            MessageKey.AUDIO_TOO_SHORT, seconds=round(seconds, 1), minimum=MIN_SECONDS
        )
    return PreparedAudio(path=destination, seconds=seconds)


def _transcode(
    container: av.container.InputContainer, destination: Path, max_seconds: float
) -> float:
    source_stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16p", layout="mono", rate=OUTPUT_RATE)
    samples = 0
    limit = int(max_seconds * OUTPUT_RATE)
    with av.open(str(destination), mode="w", format="mp3") as output:
        stream = output.add_stream("libmp3lame", rate=OUTPUT_RATE)
        stream.layout = "mono"
        stream.bit_rate = OUTPUT_BIT_RATE
        for frame in container.decode(source_stream):
            for mono in resampler.resample(frame):
                samples += mono.samples
                # Past the limit keep counting (to report the length) but stop encoding.
                if samples <= limit:
                    for packet in stream.encode(mono):
                        output.mux(packet)
        for mono in resampler.resample(None):
            samples += mono.samples
            if samples <= limit:
                for packet in stream.encode(mono):
                    output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return samples / OUTPUT_RATE
