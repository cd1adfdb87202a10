"""The result download: a 200 MiB video at the cap, a larger one without a length (stopped
at the cap while streaming), a refused private address, and the MP4 check.

Each measured run is a fresh process holding a local server (``sendfile`` of a sparse file,
so the server adds little memory) and the download, the way delivery runs it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.media.download import DownloadRefusedError, DownloadTooLargeError, download_to_file
from bot.media.playable import check_mp4_video
from bot.media.sources import GuardedResolver, SourcePolicy
from tests.support import media

CAP = 200 * 1024 * 1024
TARGET_RSS_MB = 150  # streaming: the body never sits in memory


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _run(folder: Path) -> dict[str, float]:
    body = folder / "big.mp4"
    with body.open("wb") as sparse:
        sparse.truncate(CAP)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\0" * 65536
        for _ in range(CAP // 65536 + 1600):  # 100 MiB past the cap
            await response.write(chunk)
        return response

    app = web.Application()
    app.router.add_get("/video.mp4", lambda _: web.FileResponse(body))
    app.router.add_get("/endless.mp4", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    origin = f"http://127.0.0.1:{runner.addresses[0][1]}"
    policy = SourcePolicy.https_from(["*.aliyuncs.com", "localhost"], trusted_urls=[origin])
    figures: dict[str, float] = {"rss_before_mb": _rss_mb()}
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy))
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        size = await download_to_file(
            session, f"{origin}/video.mp4", folder / "r.mp4", max_bytes=CAP, policy=policy
        )
        figures["200MiB_seconds"] = time.perf_counter() - started
        figures["200MiB_rss_mb"] = _rss_mb()
        assert size == CAP
        started = time.perf_counter()
        try:
            await download_to_file(
                session, f"{origin}/endless.mp4", folder / "e.mp4", max_bytes=CAP, policy=policy
            )
        except DownloadTooLargeError:
            figures["over_cap_stopped_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            await download_to_file(
                session, "https://localhost/v.mp4", folder / "p.mp4", max_bytes=CAP, policy=policy
            )
        except DownloadRefusedError:
            figures["private_refused_ms"] = (time.perf_counter() - started) * 1000
    await runner.cleanup()
    clip = folder / "clip.mp4"
    clip.write_bytes(media.video_without_sound())
    started = time.perf_counter()
    check_mp4_video(clip)
    figures["mp4_check_ms"] = (time.perf_counter() - started) * 1000
    figures["peak_rss_mb"] = _rss_mb()
    return figures


def child() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(asyncio.run(_run(Path(folder)))))


def main(runs: int = 3) -> None:
    results = []
    for _ in range(runs):
        answer = subprocess.run(
            [sys.executable, "-m", "bench.result_download"],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(answer.stdout))
    print("result download (median of", runs, "runs):")
    for name in results[0]:
        values = sorted(result[name] for result in results)
        print(f"  {name}: {values[len(values) // 2]:.1f}")
    peak = max(result["peak_rss_mb"] for result in results)
    verdict = "ok" if peak < TARGET_RSS_MB else "OVER"
    print(f"  peak RSS {peak:.0f} MB (target < {TARGET_RSS_MB} MB): {verdict}")


if __name__ == "__main__":
    child()
