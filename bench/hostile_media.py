"""Hostile media and the largest accepted photos: the time and peak memory of preparing each.

Each input is prepared in a fresh process (as a media worker does it), so its peak RSS
(VmHWM) is its own; the imports alone take about 60 MB. The target: every hostile file
refused within 5 s, and no preparation over 300 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.prepare import peak_rss_mb
from bot.media.pool import worker_environment
from tests.support import hostile_media, media

TARGET_SECONDS = 5.0
TARGET_RSS_MB = 300

INPUTS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "Opus packet bomb, 2 MB (16 h)": ("audio", hostile_media.opus_packet_bomb),
    "7000² RGBA PNG": ("image", hostile_media.rgba_png),
    "AVIF 6900²": ("image", lambda: hostile_media.tiled_image("avif")),
    "HEIC 6900²": ("image", lambda: hostile_media.tiled_image("heic")),
    "MP4, 1000 audio streams": ("audio", hostile_media.many_streams_mp4),
    "corrupt AVIF": ("image", hostile_media.corrupt_avif),
    "WAV at 1 Hz": ("audio", lambda: hostile_media.wav_at(1)),
    "hostile EXIF": ("image", hostile_media.hostile_exif_jpeg),
    "0-byte image": ("image", lambda: b""),
    "0-byte audio": ("audio", lambda: b""),
    "accepted: 25 MP RGBA PNG": ("image", lambda: hostile_media.rgba_png(4990, 4990)),
    "accepted: 20 MP AVIF": ("image", lambda: hostile_media.tiled_image("avif", 4470)),
    "accepted: 25 MP HEIC": ("image", lambda: hostile_media.tiled_image("heic", 4990)),
    "accepted: 60 s voice note": (
        "audio",
        lambda: media.encode_audio(
            media.speech_pcm(60, 48_000), container="ogg", codec="libopus", rate=48_000
        ),
    ),
}


def _child(kind: str, source: Path) -> None:
    from bot.errors import UserFacingError
    from bot.media.audio import prepare_audio
    from bot.media.image import prepare_image

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        try:
            if kind == "image":
                prepare_image(source, Path(out) / "o.jpg", max_pixels=50_000_000)
            else:
                prepare_audio(source, Path(out) / "o.mp3")
            outcome = "prepared"
        except UserFacingError as refusal:
            outcome = refusal.message.key.value
        seconds = time.perf_counter() - started
    print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": peak_rss_mb()}))


def main(runs: int = 1) -> None:
    print("\nHostile media: one fresh process per input (the imports alone: ~60 MB)\n")
    print(f"  {'input':<32} {'outcome':<24} {'s':>6} {'peak MB':>8}")
    missed = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, make) in INPUTS.items():
            source = Path(folder) / "input"
            source.write_bytes(make())
            for _ in range(runs):
                done = subprocess.run(
                    [sys.executable, "-m", "bench.hostile_media", kind, str(source)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=worker_environment(),  # as a media worker runs
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                seconds, peak = float(result["seconds"]), float(result["peak_mb"])
                print(f"  {name:<32} {result['outcome']:<24} {seconds:>6.2f} {peak:>8.0f}")
                if seconds > TARGET_SECONDS or peak > TARGET_RSS_MB:
                    missed.append(name)
    verdict = "ok" if not missed else f"MISSED: {', '.join(missed)}"
    print(f"\n  target: < {TARGET_SECONDS:.0f} s and < {TARGET_RSS_MB} MB each: {verdict}")


if __name__ == "__main__":
    _child(sys.argv[1], Path(sys.argv[2]))
