"""Input preparation: a 60 s Discord voice note and a 12-megapixel phone photo.

Each measured run is a fresh process (so its peak RSS is its own): it prepares the inputs
the way the bot does (image and audio in parallel threads), or one of them alone, or both one
after the other for comparison. Prints the median and peak of each, and their ratios.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bot.media.audio import prepare_audio
from bot.media.image import prepare_image
from tests.support import media

MODES = ("image", "audio", "sequential", "parallel")
TARGET_SECONDS = 1.5
TARGET_RSS_MB = 300


def make_inputs(folder: Path) -> tuple[Path, Path]:
    """A 4000×3000 JPEG shot sideways with EXIF orientation (as phones store them) and a
    60 s OGG/Opus voice note at 48 kHz mono, Discord's voice-message format."""
    photo = folder / "photo.jpg"
    base = media.astronaut().resize((3000, 3000), Image.Resampling.BICUBIC)
    canvas = Image.effect_noise((4000, 3000), 24).convert("RGB")
    canvas = Image.blend(canvas, Image.new("RGB", canvas.size, (180, 170, 160)), 0.6)
    canvas.paste(base, (500, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    canvas.transpose(Image.Transpose.ROTATE_90).save(
        photo, format="JPEG", quality=92, exif=exif.tobytes()
    )
    voice = folder / "voice.ogg"
    pcm = media.speech_pcm(60, 48_000)
    voice.write_bytes(media.encode_audio(pcm, container="ogg", codec="libopus", rate=48_000))
    return photo, voice


async def _prepare(mode: str, photo: Path, voice: Path, out: Path) -> None:
    def image() -> None:
        prepare_image(photo, out / "image.jpg", max_pixels=50_000_000, max_side=2048)

    def audio() -> None:
        prepare_audio(voice, out / "audio.mp3")

    if mode == "image":
        await asyncio.to_thread(image)
    elif mode == "audio":
        await asyncio.to_thread(audio)
    elif mode == "sequential":
        await asyncio.to_thread(image)
        await asyncio.to_thread(audio)
    else:  # what the bot does
        await asyncio.gather(asyncio.to_thread(image), asyncio.to_thread(audio))


def _child(mode: str, photo: Path, voice: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        asyncio.run(_prepare(mode, photo, voice, Path(out)))
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries the parent's
    peak across fork and exec into ru_maxrss, which would charge us the benchmark driver's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(mode: str, photo: Path, voice: Path) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.prepare", mode, str(photo), str(voice)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["peak_mb"])


def main(runs: int = 7) -> None:
    with tempfile.TemporaryDirectory() as folder:
        photo, voice = make_inputs(Path(folder))
        with Image.open(photo) as image:
            size = image.size
        print(
            f"\nInput preparation, median of {runs} runs, one fresh process per run"
            f"\n  photo: {size[0]}×{size[1]} JPEG ({photo.stat().st_size / 1e6:.1f} MB, "
            f"EXIF-rotated); voice note: 60 s OGG/Opus ({voice.stat().st_size / 1e3:.0f} kB)\n"
        )
        rows: dict[str, tuple[float, float]] = {}
        for mode in MODES:
            _measure(mode, photo, voice)  # warm the file cache
            samples = [_measure(mode, photo, voice) for _ in range(runs)]
            rows[mode] = (
                statistics.median(s for s, _ in samples),
                max(m for _, m in samples),
            )
    print(f"  {'mode':<12} {'median s':>9} {'peak RSS MB':>12}")
    for mode, (seconds, peak) in rows.items():
        print(f"  {mode:<12} {seconds:>9.3f} {peak:>12.0f}")
    parallel, peak = rows["parallel"]
    sequential = rows["sequential"][0]
    print(f"\n  parallel / sequential: {parallel / sequential:.2f}×")
    verdict = "ok" if parallel < TARGET_SECONDS and peak < TARGET_RSS_MB else "MISSED"
    print(
        f"  target: < {TARGET_SECONDS} s median and < {TARGET_RSS_MB} MB peak "
        f"(bot's way: {parallel:.3f} s, {peak:.0f} MB): {verdict}"
    )


if __name__ == "__main__":
    _child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
