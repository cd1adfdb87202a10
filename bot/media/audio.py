"""Audio preparation: decode anything PyAV reads, measure it, encode the provider's MP3.

Bounded work, whatever the file claims: at most a few streams (counted while the container
is opened, so a thousand are never probed), a sane sample rate, a declared length already
past the limit refused before decoding, and decoding stopped as soon as the recording is
past the limit. Each packet checks the time limit, so a slow file ends with a refusal.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from bot.errors import UserFacingError
from bot.messages import MessageKey, Phrase

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # the provider's limit
MIN_SECONDS = 0.5
# Decoded past the limit so a recording just over it is told its exact length; a declared
# length further past than this is refused without decoding anything.
OVERRUN_SECONDS = 2.0
# A voice message has one stream; a phone's video a few (picture, sound, metadata tracks).
MAX_STREAMS = 8
# Telephone speech is 8 kHz; below 4 kHz nothing is speech, and 1 Hz would make one byte a
# second of output. Above 768 kHz no recorder writes.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 768_000
# The most packets read for the limit's length: Opus' shortest frames (2.5 ms) need 25 000.
MAX_PACKETS = 50_000
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

_AUDIO = Phrase(key=MessageKey.WORD_AUDIO)


@dataclass(frozen=True)
class PreparedAudio:
    path: Path
    seconds: float  # what was encoded (after a trim)
    source_seconds: float  # what the member uploaded: decoded, or declared when longer
    trimmed: bool


@dataclass
class _Decoded:
    samples: int = 0  # at OUTPUT_RATE, all decoded (up to the limit and its overrun)
    voiced: int = 0
    cut_short: bool = False  # decoding stopped with more of the recording left


def too_costly(what: Phrase) -> UserFacingError:
    """The refusal of a file that needs more time or memory than any ordinary one."""
    return UserFacingError(MessageKey.MEDIA_TOO_COSTLY, what=what)


def prepare_audio(
    source: Path,
    destination: Path,
    *,
    max_seconds: float = MAX_SECONDS,
    trim: bool = False,
    time_limit: float | None = None,
) -> PreparedAudio:
    """Decode ``source`` and write it to ``destination`` as mono MP3.

    The duration is counted from decoded samples; a declared duration is believed only
    where it says the recording is too long. Longer than ``max_seconds``: refused, or cut to
    ``max_seconds`` when ``trim``. Every failure is a UserFacingError; ``time_limit``
    seconds of work at most. Blocking: run it in a worker.
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    try:
        decoded, declared = _decode(source, destination, max_seconds, trim, deadline)
    except UserFacingError:
        destination.unlink(missing_ok=True)
        raise
    except MemoryError:
        destination.unlink(missing_ok=True)
        raise too_costly(_AUDIO) from None
    except Exception as error:  # any decoder error: the bytes are not usable sound
        destination.unlink(missing_ok=True)
        log.debug("audio unreadable: %s", type(error).__name__)
        raise UserFacingError(MessageKey.AUDIO_UNREADABLE) from None
    seconds = decoded.samples / OUTPUT_RATE
    refusal = _refusal(decoded, declared, max_seconds, trim)
    if refusal is not None:
        destination.unlink(missing_ok=True)
        raise refusal
    if decoded.cut_short:
        # Not decoded to its end: its length is what it declares, or at least what we saw.
        seconds = max(seconds, declared or 0.0)
    return PreparedAudio(
        path=destination,
        seconds=min(seconds, max_seconds),
        source_seconds=seconds,
        trimmed=seconds > max_seconds,
    )


def _refusal(
    decoded: _Decoded, declared: float | None, max_seconds: float, trim: bool
) -> UserFacingError | None:
    seconds = decoded.samples / OUTPUT_RATE
    if decoded.cut_short and not trim:
        if declared is not None and declared >= seconds:
            return _too_long(declared, max_seconds)
        return UserFacingError(MessageKey.AUDIO_LONGER_THAN, limit=round(max_seconds))
    if seconds > max_seconds and not trim:
        return _too_long(seconds, max_seconds)
    if seconds < MIN_SECONDS:
        return UserFacingError(
            MessageKey.AUDIO_TOO_SHORT, seconds=round(seconds, 1), minimum=MIN_SECONDS
        )
    if decoded.voiced / OUTPUT_RATE < MIN_VOICED_SECONDS:
        return UserFacingError(MessageKey.AUDIO_SILENT)
    return None


def _too_long(seconds: float, max_seconds: float) -> UserFacingError:
    found = round(seconds, 1)
    if found <= max_seconds:
        # "60.0 s long; the limit is 60 s" would read as nonsense: show the excess.
        found = math.ceil(seconds * 100) / 100
    return UserFacingError(MessageKey.AUDIO_TOO_LONG, seconds=found, limit=round(max_seconds))


def _decode(
    source: Path, destination: Path, max_seconds: float, trim: bool, deadline: float | None
) -> tuple[_Decoded, float | None]:
    """Open, check what the container says, then transcode; (what was decoded, the
    declared length in seconds if any)."""
    timeout = None if deadline is None else max(0.1, deadline - time.monotonic())
    try:
        # FFmpeg fails to open a file with more streams than this (ENOMEM) before probing
        # any: a thousand streams would cost hundreds of MB just to be counted.
        container = av.open(
            str(source),
            mode="r",
            container_options={"max_streams": str(MAX_STREAMS + 1)},
            timeout=timeout,
        )
    except av.error.MemoryError:
        raise UserFacingError(MessageKey.AUDIO_TOO_MANY_STREAMS, limit=MAX_STREAMS) from None
    with container:
        if len(container.streams) > MAX_STREAMS:
            raise UserFacingError(MessageKey.AUDIO_TOO_MANY_STREAMS, limit=MAX_STREAMS)
        if not container.streams.audio:
            raise UserFacingError(MessageKey.AUDIO_UNREADABLE)
        stream = container.streams.audio[0]
        _check_rate(stream.codec_context.sample_rate)
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds + OVERRUN_SECONDS and not trim:
            raise _too_long(declared, max_seconds)
        return _transcode(container, stream, destination, max_seconds, deadline), declared


def _check_rate(rate: int | None) -> None:
    if rate and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UserFacingError(
            MessageKey.AUDIO_SAMPLE_RATE,
            rate=rate,
            minimum=MIN_SAMPLE_RATE,
            maximum=MAX_SAMPLE_RATE,
        )


def _declared_seconds(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """The length the container declares (an index, a last page's position), if it does."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    return None


def _transcode(
    container: av.container.InputContainer,
    source_stream: av.AudioStream,
    destination: Path,
    max_seconds: float,
    deadline: float | None,
) -> _Decoded:
    """Encode up to ``max_seconds``; decode no further than the overrun past it."""
    resampler = av.AudioResampler(format="s16p", layout="mono", rate=OUTPUT_RATE)
    limit = int(max_seconds * OUTPUT_RATE)
    stop_at = int((max_seconds + OVERRUN_SECONDS) * OUTPUT_RATE)
    decoded = _Decoded()
    with av.open(str(destination), mode="w", format="mp3") as output:
        stream = output.add_stream("libmp3lame", rate=OUTPUT_RATE)
        stream.layout = "mono"
        stream.bit_rate = OUTPUT_BIT_RATE
        stream.codec_context.options = {"compression_level": LAME_SPEED}

        def take(mono: av.AudioFrame) -> None:
            kept = max(0, min(mono.samples, limit - decoded.samples))
            decoded.samples += mono.samples
            if kept == 0:
                return  # past the limit: only counted, to tell how far past
            pcm = mono.to_ndarray()[0, :kept]
            decoded.voiced += _voiced_samples(pcm)
            if kept < mono.samples:
                mono = av.AudioFrame.from_ndarray(pcm[np.newaxis, :], format="s16p", layout="mono")
                mono.sample_rate = OUTPUT_RATE
            for packet in stream.encode(mono):
                output.mux(packet)

        for count, packet in enumerate(container.demux(source_stream)):
            if decoded.samples > stop_at:
                decoded.cut_short = True
                break
            if count >= MAX_PACKETS or (deadline is not None and time.monotonic() > deadline):
                raise too_costly(_AUDIO)
            for frame in packet.decode():
                _check_rate(frame.sample_rate)
                for mono in resampler.resample(frame):
                    take(mono)
        for mono in resampler.resample(None):
            take(mono)
        for packet in stream.encode(None):
            output.mux(packet)
    return decoded


def _voiced_samples(pcm: np.ndarray) -> int:
    """Samples in 20 ms windows loud enough to be speech (not hiss, hum or silence)."""
    whole = len(pcm) - len(pcm) % VOICE_WINDOW
    if whole == 0:
        return 0
    windows = pcm[:whole].astype(np.float32).reshape(-1, VOICE_WINDOW)
    rms = np.sqrt(np.mean(windows * windows, axis=1))
    return int(np.count_nonzero(rms > VOICE_THRESHOLD)) * VOICE_WINDOW
