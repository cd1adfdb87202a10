"""The media pool: every decode and conversion of a member's file (and the re-encoding of a
result) runs in one of a few worker processes (``bot/media/worker.py``), never in the bot.

Why processes and not threads: a thread cannot be stopped, so a cancelled or runaway decode
would run on unseen, holding memory and a core; a process is killed, and its slot is given
back only once it is reaped, so work that is over has really stopped. A decoder that
crashes on a hostile file takes down a worker, not the bot, and the kernel caps each
worker's memory. The cost: about 0.5 s and 60 MB to start a worker, paid once per worker
(they are kept, and retired after a while idle).

Each request has a wall-clock limit: the worker checks it between packets and steps and
refuses the file; a worker that does not answer a few seconds later is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import UserFacingError
from bot.media.audio import MAX_SECONDS, PreparedAudio
from bot.media.image import PreparedImage
from bot.media.playable import NotAVideoError, VideoFacts
from bot.messages import MessageKey, Phrase, UserMessage
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

START_SECONDS = 30.0
# Memory a worker may take beyond its imports (about 60 MB): a 25 MP image peaks near 210 MB.
WORKER_MEMORY_MB = 320
IDLE_SECONDS = 120.0  # an idle worker is retired after this, giving its memory back
TASKS_PER_WORKER = 200  # then it is replaced (a long-lived allocator only grows)

_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the ``bot`` package
_KEPT_VARIABLES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME", "SYSTEMROOT"})
_IMAGE = Phrase(key=MessageKey.WORD_IMAGE)
_AUDIO = Phrase(key=MessageKey.WORD_AUDIO)


class MediaWorkerError(Exception):
    """The pool could not do the work (no worker would start, or a bug in one): not the
    file's fault. ``op`` is the request, ``reason`` what went wrong."""

    def __init__(self, op: str, reason: str) -> None:
        super().__init__(f"media {op}: {reason}")
        self.op = op
        self.reason = reason


@dataclass(frozen=True)
class TimeLimits:
    """Wall-clock seconds per file, counted from when a worker takes it."""

    image: float = 20.0  # a 25 MP AVIF takes about 1 s here
    audio: float = 30.0  # a minute of any codec takes about 1 s
    video: float = 300.0  # a re-encode to fit an upload limit: up to three passes of a minute
    mp4: float = 20.0  # a result's check: its boxes and one decoded picture
    grace: float = 5.0  # the worker's own clock answers first; past this it is killed


class _WorkerLostError(Exception):
    """The worker died (a decoder crashed) or ran past its time, and was reaped."""

    def __init__(self, *, timed_out: bool, returncode: int | None) -> None:
        super().__init__("timed out" if timed_out else f"exit status {returncode}")
        self.timed_out = timed_out
        self.returncode = returncode


def worker_environment(base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What a worker is started with: locale and paths, no secret, one thread per library."""
    kept = {k: v for k, v in base.items() if k in _KEPT_VARIABLES or k.startswith("LC_")}
    paths = [str(_ROOT), *filter(None, base.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **kept,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    done: int = 0
    idle_since: float = 0.0
    pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.pid = self.process.pid


class MediaPool:
    """At most ``size`` media workers, started when first needed. Each call runs in one of
    them; a cancelled call kills its worker and returns once it is reaped."""

    def __init__(
        self,
        size: int,
        *,
        memory_mb: int = WORKER_MEMORY_MB,
        idle_seconds: float = IDLE_SECONDS,
        time_limits: TimeLimits = TimeLimits(),
    ) -> None:
        self.size = size
        self.time_limits = time_limits
        self._memory_mb = memory_mb
        self._idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._tasks = BackgroundTasks()
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """The worker processes alive now (for tests and diagnostics)."""
        return [worker.pid for worker in (*self._idle, *self._busy)]

    async def prepare_image(
        self, source: Path, destination: Path, *, max_pixels: int, max_side: int
    ) -> PreparedImage:
        """``bot.media.image.prepare_image`` in a worker; every failure a refusal."""
        args = {
            "source": _absolute(source),
            "destination": _absolute(destination),
            "max_pixels": max_pixels,
            "max_side": max_side,
        }
        try:
            result = await self._run("image", args, self.time_limits.image)
        except _WorkerLostError as lost:
            raise _lost_refusal(lost, _IMAGE, MessageKey.IMAGE_UNREADABLE) from None
        return PreparedImage(
            path=Path(result["path"]),
            width=int(result["width"]),
            height=int(result["height"]),
            source_format=str(result["source_format"]),
        )

    async def prepare_audio(
        self, source: Path, destination: Path, *, max_seconds: float = MAX_SECONDS, trim: bool
    ) -> PreparedAudio:
        """``bot.media.audio.prepare_audio`` in a worker; every failure a refusal."""
        args = {
            "source": _absolute(source),
            "destination": _absolute(destination),
            "max_seconds": max_seconds,
            "trim": trim,
        }
        try:
            result = await self._run("audio", args, self.time_limits.audio)
        except _WorkerLostError as lost:
            raise _lost_refusal(lost, _AUDIO, MessageKey.AUDIO_UNREADABLE) from None
        return PreparedAudio(
            path=Path(result["path"]),
            seconds=float(result["seconds"]),
            source_seconds=float(result["source_seconds"]),
            trimmed=bool(result["trimmed"]),
        )

    async def fit_video(self, source: Path, destination: Path, max_bytes: int) -> bool:
        """``bot.media.video.fit_video`` in a worker: False when it cannot fit (or the
        worker died or ran out of time on it)."""
        args = {
            "source": _absolute(source),
            "destination": _absolute(destination),
            "max_bytes": max_bytes,
        }
        try:
            result = await self._run("video", args, self.time_limits.video)
        except _WorkerLostError as lost:
            log.warning("re-encoding %s stopped: the worker %s", source.name, lost)
            return False
        if "storage" in result:
            raise OSError(errno.ENOSPC, str(result["storage"]))
        return bool(result["fitted"])

    async def check_video(self, path: Path) -> VideoFacts:
        """``bot.media.playable.check_mp4_video`` in a worker: NotAVideoError when the file
        is no playable MP4, or its check ran out of time or memory."""
        try:
            result = await self._run("mp4", {"path": _absolute(path)}, self.time_limits.mp4)
        except _WorkerLostError as lost:
            raise NotAVideoError(f"its check stopped: the worker {lost}") from None
        if not result["video"]:
            raise NotAVideoError(str(result["reason"]))
        return VideoFacts(
            width=int(result["width"]),
            height=int(result["height"]),
            seconds=float(result["seconds"]),
        )

    async def close(self) -> None:
        """Stop every worker (a call still running fails, its worker killed)."""
        self._closed = True
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(self._stop(worker) for worker in workers))
        await self._tasks.cancel_all()

    # -- one request ---------------------------------------------------------------------

    async def _run(self, op: str, args: dict[str, Any], seconds: float) -> dict[str, Any]:
        async with self._slots:
            worker = await self._take(op)
            try:
                answer = await self._ask(worker, op, args, seconds)
            except BaseException:
                # Cancelled, timed out or dead: the slot is free once the process is gone.
                await self._stop(worker)
                raise
            self._give_back(worker, answer)
        if "refused" in answer:
            message = UserMessage.model_validate(answer["refused"])
            raise UserFacingError(message.key, **message.params)
        if "ok" not in answer:
            raise MediaWorkerError(op, str(answer.get("failed", "no answer")))
        result: dict[str, Any] = answer["ok"]
        return result

    async def _ask(
        self, worker: _Worker, op: str, args: dict[str, Any], seconds: float
    ) -> dict[str, Any]:
        process = worker.process
        assert process.stdin is not None
        assert process.stdout is not None
        request = {"op": op, "args": args, "seconds": seconds}
        try:
            async with asyncio.timeout(seconds + self.time_limits.grace):
                process.stdin.write(json.dumps(request).encode() + b"\n")
                await process.stdin.drain()
                line = await process.stdout.readline()
        except TimeoutError:
            log.warning("media worker %d: %s ran past %.0f s; killed", worker.pid, op, seconds)
            raise _WorkerLostError(timed_out=True, returncode=None) from None
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:
            returncode = await process.wait()
            log.warning(
                "media worker %d died on a file (%s, exit status %d)", worker.pid, op, returncode
            )
            raise _WorkerLostError(timed_out=False, returncode=returncode)
        reply: dict[str, Any] = json.loads(line)
        return reply

    # -- the workers ---------------------------------------------------------------------

    async def _take(self, op: str) -> _Worker:
        if self._closed:
            raise MediaWorkerError(op, "the media pool is closed")
        worker = self._idle.pop() if self._idle else await self._start(op)
        self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker, answer: dict[str, Any]) -> None:
        self._busy.discard(worker)
        worker.done += 1
        refused = answer.get("refused") or {}
        costly = refused.get("key") == MessageKey.MEDIA_TOO_COSTLY.value
        if self._closed or costly or worker.done >= TASKS_PER_WORKER:
            # Out of memory or time once: its heap may stay large; start a fresh one later.
            self._tasks.spawn(self._stop(worker), name=f"media-worker-{worker.pid}-retire")
            return
        loop = asyncio.get_running_loop()
        worker.idle_since = loop.time()
        self._idle.append(worker)
        loop.call_later(self._idle_seconds, self._retire_idle)

    def _retire_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for worker in list(self._idle):
            if now - worker.idle_since >= self._idle_seconds:
                self._idle.remove(worker)
                self._tasks.spawn(self._stop(worker), name=f"media-worker-{worker.pid}-retire")

    async def _start(self, op: str) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.media.worker",
            str(self._memory_mb),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=worker_environment(),
        )
        worker = _Worker(process)
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_SECONDS):
                line = await process.stdout.readline()
            hello = json.loads(line) if line else {}
        except BaseException:
            await self._stop(worker)
            raise
        if "ready" not in hello:
            await self._stop(worker)
            reason = str(hello.get("failed", f"exit status {process.returncode}"))
            log.error("a media worker would not start: %s", reason)
            raise MediaWorkerError(op, f"no worker would start ({reason})")
        log.debug("media worker %d started", worker.pid)
        return worker

    async def _stop(self, worker: _Worker) -> None:
        """Kill ``worker`` and reap it; a cancel meanwhile waits for the reaping too."""
        self._busy.discard(worker)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        reaping = self._tasks.spawn(worker.process.wait(), name=f"media-worker-{worker.pid}-reap")
        cancelled = False
        while not reaping.done():
            try:
                await asyncio.shield(reaping)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError


def _absolute(path: Path) -> str:
    """A worker may not share our working directory's idea of a relative path."""
    return str(path.absolute())


def _lost_refusal(lost: _WorkerLostError, what: Phrase, unreadable: MessageKey) -> UserFacingError:
    """A worker lost on a file: out of time is a costly file; a crash, a damaged one."""
    if lost.timed_out:
        return UserFacingError(MessageKey.MEDIA_TOO_COSTLY, what=what)
    return UserFacingError(unreadable)
