"""Audio preparation: decode anything PyAV reads, measure it, encode the provider's MP3."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from bot.errors import UserFacingError
from bot.messages import MessageKey

MAX_SECONDS = 60.0  # the provider's limit
MIN_SECONDS = 0.5
# Speech needs no more than 11 kHz of bandwidth; 22.05 kHz mono at 64 kbit/s makes 60 s about
# 0.5 MB (far inside the 15 MB limit) and encodes twice as fast as 44.1 kHz (bench/prepare.py).
OUTPUT_RATE = 22_050
OUTPUT_BIT_RATE = 64_000
LAME_SPEED = (
    "7"  # LAME's quality/speed trade-off (0 slowest … 9 fastest); 7 is transparent for speech
)
# Speech is "there" in a 20 ms window louder than -45 dBFS; at least MIN_VOICED_SECONDS of it.
VOICE_WINDOW = OUTPUT_RATE // 50
VOICE_THRESHOLD = 32768 * 10 ** (-45 / 20)
MIN_VOICED_SECONDS = 0.3


@dataclass(frozen=True)
class PreparedAudio:
    path: Path
    seconds: float  # what was encoded (after a trim)
    source_seconds: float  # what the member uploaded, measured by decoding
    trimmed: bool


def prepare_audio(
    source: Path, destination: Path, *, max_seconds: float = MAX_SECONDS, trim: bool = False
) -> PreparedAudio:
    """Decode ``source`` and write it to ``destination`` as mono MP3.

    The duration is counted from decoded samples, never read from a header that may lie.
    Longer than ``max_seconds``: refused, or cut to ``max_seconds`` when ``trim``.
    Blocking: run it in a thread.
    """
    try:
        with av.open(str(source), mode="r") as container:
            if not container.streams.audio:
                raise UserFacingError(MessageKey.AUDIO_UNREADABLE)
            samples, voiced = _transcode(container, destination, max_seconds)
    except UserFacingError:
        destination.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError, IndexError, MemoryError):
        destination.unlink(missing_ok=True)
        raise UserFacingError(MessageKey.AUDIO_UNREADABLE) from None
    source_seconds = samples / OUTPUT_RATE
    refusal = _refusal(source_seconds, voiced / OUTPUT_RATE, max_seconds, trim)
    if refusal is not None:
        destination.unlink(missing_ok=True)
        raise refusal
    return PreparedAudio(
        path=destination,
        seconds=min(source_seconds, max_seconds),
        source_seconds=source_seconds,
        trimmed=source_seconds > max_seconds,
    )


def _refusal(
    seconds: float, voiced_seconds: float, max_seconds: float, trim: bool
) -> UserFacingError | None:
    if seconds > max_seconds and not trim:
        found = round(seconds, 1)
        if found <= max_seconds:
            # "60.0 s long; the limit is 60 s" would read as nonsense: show the excess.
            found = math.ceil(seconds * 100) / 100
        return UserFacingError(MessageKey.AUDIO_TOO_LONG, seconds=found, limit=round(max_seconds))
    if seconds < MIN_SECONDS:
        return UserFacingError(
            MessageKey.AUDIO_TOO_SHORT, seconds=round(seconds, 1), minimum=MIN_SECONDS
        )
    if voiced_seconds < MIN_VOICED_SECONDS:
        return UserFacingError(MessageKey.AUDIO_SILENT)
    return None


def _transcode(
    container: av.container.InputContainer, destination: Path, max_seconds: float
) -> tuple[int, int]:
    """Encode up to ``max_seconds``; return (all decoded samples, samples in voiced windows)."""
    source_stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16p", layout="mono", rate=OUTPUT_RATE)
    limit = int(max_seconds * OUTPUT_RATE)
    samples = voiced = 0
    with av.open(str(destination), mode="w", format="mp3") as output:
        stream = output.add_stream("libmp3lame", rate=OUTPUT_RATE)
        stream.layout = "mono"
        stream.bit_rate = OUTPUT_BIT_RATE
        stream.codec_context.options = {"compression_level": LAME_SPEED}

        def take(mono: av.AudioFrame) -> None:
            nonlocal samples, voiced
            kept = max(0, min(mono.samples, limit - samples))
            samples += mono.samples
            if kept == 0:
                return  # past the limit: keep counting (to report the length), stop encoding
            pcm = mono.to_ndarray()[0, :kept]
            voiced += _voiced_samples(pcm)
            if kept < mono.samples:
                mono = av.AudioFrame.from_ndarray(pcm[np.newaxis, :], format="s16p", layout="mono")
                mono.sample_rate = OUTPUT_RATE
            for packet in stream.encode(mono):
                output.mux(packet)

        for frame in container.decode(source_stream):
            for mono in resampler.resample(frame):
                take(mono)
        for mono in resampler.resample(None):
            take(mono)
        for packet in stream.encode(None):
            output.mux(packet)
    return samples, voiced


def _voiced_samples(pcm: np.ndarray) -> int:
    """Samples in 20 ms windows loud enough to be speech (not hiss, hum or silence)."""
    whole = len(pcm) - len(pcm) % VOICE_WINDOW
    if whole == 0:
        return 0
    windows = pcm[:whole].astype(np.float32).reshape(-1, VOICE_WINDOW)
    rms = np.sqrt(np.mean(windows * windows, axis=1))
    return int(np.count_nonzero(rms > VOICE_THRESHOLD)) * VOICE_WINDOW
