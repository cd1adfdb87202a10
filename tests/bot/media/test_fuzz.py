"""A bounded mutation fuzz of image and audio preparation: whatever the bytes, the answer is
a prepared file or a typed refusal (UserFacingError), never another exception.

Deterministic: a fixed seed drives a small mutator over small valid files of every format
members upload; each side runs for a fixed time budget (the number of runs depends on the
machine, their sequence does not). A failure names the run and keeps its input, so it can be
replayed with ``replay(kind, seed_index, run)``.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from bot.errors import UserFacingError
from bot.media.audio import prepare_audio
from bot.media.image import prepare_image
from tests.support import media

SEED = 15
BUDGET_SECONDS = 8.0  # per side: about 16 s in all
MIN_RUNS = 100  # fewer would mean the fuzz hardly ran
CALL_SECONDS = 5.0  # each call's own time limit
INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00")


@cache
def image_seeds() -> tuple[bytes, ...]:
    picture = media.astronaut().resize((448, 448))
    with_alpha = picture.convert("RGBA")
    with_alpha.putalpha(Image.linear_gradient("L").resize(picture.size))
    exif = Image.Exif()
    exif[0x0112] = 6
    return (
        media.encode(picture, "JPEG", quality=60, exif=exif.tobytes()),
        media.encode(picture, "JPEG", quality=60, progressive=True),
        media.encode(with_alpha, "PNG"),
        media.encode(picture.quantize(64), "PNG", transparency=0),
        media.encode(picture, "WEBP", quality=50),
        media.encode(picture.quantize(64), "GIF"),
        media.encode(picture, "BMP"),
        media.encode(picture, "HEIF", quality=30),
        media.encode(picture, "AVIF", quality=30, speed=10),
    )


@cache
def audio_seeds() -> tuple[bytes, ...]:
    speech = media.speech_pcm(1.2)
    speech48 = media.speech_pcm(1.2, 48_000)
    return (
        media.wav(speech),
        media.encode_audio(speech, container="mp3", codec="libmp3lame"),
        media.encode_audio(speech, container="mp4", codec="aac"),
        media.encode_audio(speech, container="flac", codec="flac"),
        media.encode_audio(speech48, container="ogg", codec="libopus", rate=48_000),
        media.encode_audio(speech48, container="webm", codec="libopus", rate=48_000),
    )


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four mutations, half of them within the first 512 bytes (the headers)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        span = min(len(out), 512) if rng.random() < 0.5 else len(out)
        at = rng.randrange(span)
        action = rng.randrange(6)
        if action == 0:  # a few random bytes
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(span)] = rng.randrange(256)
        elif action == 1:  # a boundary value over whatever was there
            value = rng.choice(INTERESTING)
            out[at : at + len(value)] = value
        elif action == 2:  # a run of one byte
            out[at : at + rng.randint(1, 64)] = bytes([rng.randrange(256)]) * rng.randint(1, 64)
        elif action == 3:  # cut short
            del out[at:]
        elif action == 4:  # a piece copied elsewhere
            start = rng.randrange(len(out))
            piece = out[start : start + rng.randint(1, 256)]
            out[at:at] = piece
        else:  # a piece removed
            del out[at : at + rng.randint(1, 256)]
    return bytes(out)


def _image(source: Path, out: Path) -> None:
    prepare_image(source, out / "o.jpg", max_pixels=50_000_000, time_limit=CALL_SECONDS)


def _audio(source: Path, out: Path) -> None:
    prepare_audio(source, out / "o.mp3", trim=True, time_limit=CALL_SECONDS)


SIDES: dict[str, tuple[Callable[[], tuple[bytes, ...]], Callable[[Path, Path], None]]] = {
    "image": (image_seeds, _image),
    "audio": (audio_seeds, _audio),
}


def replay(kind: str, seed_index: int, run: int) -> bytes:
    """The input of one run, as the fuzz made it."""
    seeds, _ = SIDES[kind]
    rng = random.Random(f"{SEED}-{kind}-{seed_index}-{run}")
    return mutate(seeds()[seed_index], rng)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(SIDES))
def test_mutated_files_get_a_prepared_file_or_a_typed_refusal(kind: str, tmp_path: Path) -> None:
    seeds, prepare = SIDES[kind]
    count = len(seeds())
    escaped: list[str] = []
    runs = refused = 0
    slowest = 0.0
    source = tmp_path / "input"
    deadline = time.monotonic() + BUDGET_SECONDS
    while time.monotonic() < deadline:
        seed_index, run = runs % count, runs // count
        source.write_bytes(replay(kind, seed_index, run))
        started = time.monotonic()
        try:
            prepare(source, tmp_path)
        except UserFacingError:
            refused += 1
        except Exception as error:
            kept = tmp_path / f"escaped-{seed_index}-{run}"
            kept.write_bytes(source.read_bytes())
            escaped.append(f"replay({kind!r}, {seed_index}, {run}): {error!r} ({kept})")
        slowest = max(slowest, time.monotonic() - started)
        runs += 1
    assert escaped == [], f"{len(escaped)} of {runs} runs escaped:\n" + "\n".join(escaped[:10])
    assert runs >= MIN_RUNS
    assert refused > 0  # the mutations do break files
    assert slowest < CALL_SECONDS + 2


def test_the_mutator_is_deterministic() -> None:
    assert replay("image", 2, 7) == replay("image", 2, 7)
    assert replay("image", 2, 7) != replay("image", 2, 8)
    data = bytes(range(256)) * 8
    assert mutate(data, random.Random(1)) != data
    assert io.BytesIO(replay("audio", 0, 0)).getbuffer().nbytes > 0
