"""Odd and broken media, generated from the fixtures: what members really upload."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@cache
def astronaut() -> Image.Image:
    with Image.open(FIXTURES / "astronaut.png") as image:
        return image.convert("RGB")


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if format == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def portrait_jpeg() -> bytes:
    return encode(astronaut(), "JPEG", quality=92)


def rotated_jpeg() -> bytes:
    """Stored sideways with EXIF orientation 6, as phones do: upright only if the tag is applied."""
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = astronaut().transpose(Image.Transpose.ROTATE_90)
    return encode(sideways, "JPEG", exif=exif.tobytes(), quality=92)


def animated_gif() -> bytes:
    first = astronaut().quantize(colors=128)
    second = Image.new("RGB", first.size, (40, 40, 40)).quantize(colors=8)
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=200)
    return buffer.getvalue()


def two_people() -> bytes:
    canvas = Image.new("RGB", (1024, 512), (200, 200, 200))
    canvas.paste(astronaut(), (0, 0))
    canvas.paste(astronaut(), (512, 0))
    return encode(canvas, "JPEG")


def blank(width: int, height: int, format: str = "PNG") -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    return encode(gradient, format)


def head_only() -> bytes:
    """The face with too little body below it for half-body (3:4) framing."""
    crop = astronaut().crop((60, 0, 452, 200)).resize((1176, 600))
    return encode(crop, "JPEG")


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header claims 1.6 billion pixels: must be refused before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + width // 8) * 16)  # a few rows; the rest never read
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def speech_pcm(seconds: float, rate: int = 16_000) -> np.ndarray:
    """The English voice note, decoded to mono int16 and looped to ``seconds``."""
    with av.open(str(FIXTURES / "voice-note-en.ogg")) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        parts = [
            frame.to_ndarray()[0]
            for decoded in container.decode(audio=0)
            for frame in resampler.resample(decoded)
        ]
    voice = np.concatenate(parts)
    repeats = int(np.ceil(seconds * rate / len(voice)))
    return np.tile(voice, repeats)[: int(seconds * rate)]


def encode_audio(
    pcm: np.ndarray,
    *,
    container: str,
    codec: str,
    rate: int = 16_000,
    channels: int = 1,
    video: bool = False,
) -> bytes:
    """Encode mono int16 ``pcm`` with PyAV into ``container``/``codec`` (optionally beside a
    short video track, as a phone's screen recording would be)."""
    buffer = io.BytesIO()
    layout = "mono" if channels == 1 else "stereo"
    with av.open(buffer, mode="w", format=container) as output:
        if video:
            picture = output.add_stream("libx264", rate=5)
            picture.width, picture.height, picture.pix_fmt = 128, 128, "yuv420p"
        sound = output.add_stream(codec, rate=rate)
        sound.layout = layout
        if codec == "vorbis":
            sound.codec_context.options = {"strict": "experimental"}  # FFmpeg's own encoder
        planes = np.repeat(pcm.astype(np.int16)[np.newaxis, :], channels, axis=0)
        frame = av.AudioFrame.from_ndarray(
            planes.T.reshape(1, -1).copy() if channels > 1 else planes,
            format="s16",
            layout=layout,
        )
        frame.sample_rate = rate
        for packet in sound.encode(frame):
            output.mux(packet)
        for packet in sound.encode(None):
            output.mux(packet)
        if video:
            for index in range(int(len(pcm) / rate * 5)):
                still = av.VideoFrame.from_ndarray(
                    np.full((128, 128, 3), index % 255, np.uint8), format="rgb24"
                )
                for packet in picture.encode(still):
                    output.mux(packet)
            for packet in picture.encode(None):
                output.mux(packet)
    return buffer.getvalue()


def video_without_sound() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as output:
        picture = output.add_stream("libx264", rate=5)
        picture.width, picture.height, picture.pix_fmt = 128, 128, "yuv420p"
        for index in range(10):
            still = av.VideoFrame.from_ndarray(np.full((128, 128, 3), index, np.uint8), "rgb24")
            for packet in picture.encode(still):
                output.mux(packet)
        for packet in picture.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def wav(pcm: np.ndarray, rate: int = 16_000, channels: int = 1) -> bytes:
    return encode_audio(pcm, container="wav", codec="pcm_s16le", rate=rate, channels=channels)


def streaming_wav(pcm: np.ndarray, rate: int = 16_000) -> bytes:
    """A WAV whose header sizes say 'unknown' (0xFFFFFFFF), as live recorders write them."""
    data = bytearray(wav(pcm, rate))
    data[4:8] = b"\xff\xff\xff\xff"
    marker = data.index(b"data")
    data[marker + 4 : marker + 8] = b"\xff\xff\xff\xff"
    return bytes(data)


def wav_with_unknown_codec() -> bytes:
    """A well-formed WAV whose format tag names a codec no decoder knows."""
    data = bytearray(wav(speech_pcm(2)))
    marker = data.index(b"fmt ")
    data[marker + 8 : marker + 10] = struct.pack("<H", 0x4242)
    return bytes(data)


def midi_file() -> bytes:
    """A valid Standard MIDI File: a format with no sound track PyAV can decode."""
    track = b"\x00\x90\x3c\x40\x60\x80\x3c\x40\x00\xff\x2f\x00"
    return (
        b"MThd"
        + struct.pack(">IHHH", 6, 0, 1, 96)
        + b"MTrk"
        + struct.pack(">I", len(track))
        + track
    )


def voice_note() -> bytes:
    return (FIXTURES / "voice-note-en.ogg").read_bytes()


Generator = Callable[[], bytes]
