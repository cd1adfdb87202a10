"""The media pool: real worker processes, stopped for real.

A worker is frozen with SIGSTOP to stand for a decode stuck in native code (it then answers
nothing until it is killed), and killed with SIGKILL to stand for a decoder's crash.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.media.playable import NotAVideoError
from bot.media.pool import MediaPool, TimeLimits, worker_environment
from bot.messages import MessageKey, Phrase
from tests.support import hostile_media, media

PIXELS = 50_000_000


def _alive(pid: int) -> bool:
    """The process exists (reaped processes do not; a zombie still would)."""
    return Path(f"/proc/{pid}").exists()


@pytest.fixture
async def pool() -> AsyncIterator[MediaPool]:
    pool = MediaPool(2, time_limits=TimeLimits(image=2.0, audio=2.0, grace=1.0))
    yield pool
    await pool.close()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "portrait.jpg").write_bytes(media.portrait_jpeg())
    (tmp_path / "voice.ogg").write_bytes(media.voice_note())
    (tmp_path / "bomb.png").write_bytes(hostile_media.rgba_png())
    return tmp_path


async def _portrait(pool: MediaPool, files: Path) -> None:
    prepared = await pool.prepare_image(
        files / "portrait.jpg", files / "o.jpg", max_pixels=PIXELS, max_side=2048
    )
    assert (prepared.width, prepared.height) == (512, 512)


async def test_a_worker_prepares_and_refuses_as_the_functions_do(
    pool: MediaPool, files: Path
) -> None:
    await _portrait(pool, files)
    audio = await pool.prepare_audio(files / "voice.ogg", files / "o.mp3", trim=False)
    assert audio.seconds == pytest.approx(9.98, abs=0.05)
    with pytest.raises(UserFacingError) as caught:
        await pool.prepare_image(
            files / "bomb.png", files / "o.jpg", max_pixels=PIXELS, max_side=2048
        )
    assert caught.value.message.key is MessageKey.IMAGE_TOO_LARGE_PIXELS
    assert caught.value.message.params == {"megapixels": 49.0, "limit": 25.0}
    assert 1 <= len(pool.pids) <= 2
    assert all(pid != os.getpid() for pid in pool.pids)


async def test_a_cancelled_call_returns_only_once_its_worker_is_gone(
    pool: MediaPool, files: Path
) -> None:
    await _portrait(pool, files)
    [pid] = pool.pids
    os.kill(pid, signal.SIGSTOP)  # the decode is stuck where no check can see it
    call = asyncio.ensure_future(_portrait(pool, files))
    await asyncio.sleep(0.3)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not _alive(pid)
    assert pool.pids == []
    await _portrait(pool, files)  # a new worker takes over


async def test_a_worker_past_its_time_is_killed_and_the_file_refused(
    pool: MediaPool, files: Path
) -> None:
    await _portrait(pool, files)
    [pid] = pool.pids
    os.kill(pid, signal.SIGSTOP)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UserFacingError) as caught:
        await _portrait(pool, files)
    assert caught.value.message.key is MessageKey.MEDIA_TOO_COSTLY
    assert caught.value.message.params == {"what": Phrase(key=MessageKey.WORD_IMAGE)}
    assert 2.5 < loop.time() - started < 10  # its 2 s, the 1 s of grace, then the kill
    assert not _alive(pid)


async def test_a_crashed_worker_is_an_unreadable_file_and_the_pool_goes_on(
    pool: MediaPool, files: Path
) -> None:
    await pool.prepare_audio(files / "voice.ogg", files / "o.mp3", trim=False)
    [pid] = pool.pids
    os.kill(pid, signal.SIGSTOP)
    call = asyncio.ensure_future(
        pool.prepare_audio(files / "voice.ogg", files / "o.mp3", trim=False)
    )
    await asyncio.sleep(0.3)
    os.kill(pid, signal.SIGKILL)  # as a segmentation fault in a decoder would
    with pytest.raises(UserFacingError) as caught:
        await call
    assert caught.value.message.key is MessageKey.AUDIO_UNREADABLE
    assert pool.pids == []
    await _portrait(pool, files)


async def test_a_worker_is_capped_in_memory_by_the_kernel(files: Path) -> None:
    # 60 MB beyond its imports: a 25 MP picture (100 MB decoded) cannot fit.
    pool = MediaPool(1, memory_mb=60)
    try:
        source = files / "big.png"
        source.write_bytes(hostile_media.rgba_png(4990, 4990))
        with pytest.raises(UserFacingError) as caught:
            await pool.prepare_image(source, files / "o.jpg", max_pixels=PIXELS, max_side=2048)
        assert caught.value.message.key is MessageKey.MEDIA_TOO_COSTLY
        await asyncio.sleep(0.2)
        assert pool.pids == []  # retired after running out: its heap may stay large
        await _portrait(pool, files)  # a fresh one does ordinary work
    finally:
        await pool.close()


async def test_at_most_size_workers_and_idle_ones_retire(files: Path) -> None:
    pool = MediaPool(2, idle_seconds=0.5)
    seen: set[int] = set()
    try:

        async def one() -> None:
            await _portrait(pool, files)
            seen.update(pool.pids)
            assert len(pool.pids) <= 2

        await asyncio.gather(*(one() for _ in range(6)))
        assert 1 <= len(seen) <= 2
        await asyncio.sleep(1.2)
        assert pool.pids == []
        assert not any(_alive(pid) for pid in seen)
    finally:
        await pool.close()


async def test_workers_get_no_secret(monkeypatch: pytest.MonkeyPatch, files: Path) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token-not-for-workers")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-not-for-workers")
    monkeypatch.setenv("EMO_S3_SECRET_ACCESS_KEY", "s3-not-for-workers")
    assert not {"DISCORD_TOKEN", "DASHSCOPE_API_KEY"} & set(worker_environment())
    pool = MediaPool(1)
    try:
        await _portrait(pool, files)
        [pid] = pool.pids
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"not-for-workers" not in environ
        assert b"OPENBLAS_NUM_THREADS=1" in environ
    finally:
        await pool.close()


async def test_a_closed_pool_leaves_no_process(files: Path) -> None:
    pool = MediaPool(2)
    await asyncio.gather(_portrait(pool, files), _portrait(pool, files))
    pids = pool.pids
    await pool.close()
    assert pids
    assert not any(_alive(pid) for pid in pids)


async def test_a_result_is_checked_in_a_worker_and_a_stuck_check_refuses_it(
    files: Path,
) -> None:
    """Delivery checks each result (and re-encodes one that does not fit) in a worker too:
    a result that hangs its decoder is refused within the check's time."""
    pool = MediaPool(1, time_limits=TimeLimits(mp4=2.0, grace=1.0))
    try:
        video = files / "result.mp4"
        video.write_bytes(media.video_without_sound())
        facts = await pool.check_video(video)
        assert (facts.width, facts.height) == (128, 128)
        [pid] = pool.pids
        assert pid != os.getpid()
        (files / "page.mp4").write_bytes(b"<html>Access denied</html>" * 20)
        with pytest.raises(NotAVideoError, match="no ftyp"):
            await pool.check_video(files / "page.mp4")

        os.kill(pid, signal.SIGSTOP)  # a decode stuck in native code
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NotAVideoError, match="its check stopped"):
            await pool.check_video(video)
        assert 2.5 < loop.time() - started < 10
        assert not _alive(pid)
        # Fitting: the same file under a limit it already meets is copied as it is.
        assert await pool.fit_video(video, files / "fitted.mp4", 10 * 1024 * 1024)
    finally:
        await pool.close()
