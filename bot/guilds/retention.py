"""The media cache's retention: members' files are deleted when their time is up, on request
(``/emo forget``), and when the bot leaves a server.

Each job's files live in ``<media_dir>/job-<id>/`` (``InputPreparer.job_dir``): the inputs
(the downloads and their conversions) and the result (``result*.mp4``). Files of a job that
is still on its way are never touched: erasing them is recorded and done once it ends. Job
rows stay for the audit, but their links to the media are cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.guilds.clock import Clock, system_clock
from bot.jobs.states import TERMINAL_STATES
from bot.jobs.store import JobStore
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

OUTPUT_NAMES = frozenset({"result.mp4", "result-fitted.mp4"})
_JOB_DIR = re.compile(r"job-([0-9]{1,18})")
_FINISHED = ",".join(f"'{state.value}'" for state in TERMINAL_STATES)  # enum values only
_CLEAR_INPUTS = (
    "image_source_url = '', audio_source_url = '', image_url = NULL, audio_url = NULL,"
    " face_box = NULL, ext_box = NULL"
)


def job_dir(media_dir: Path, job_id: int) -> Path:
    """Where a job's files live (the same place ``InputPreparer.job_dir`` gives)."""
    return media_dir / f"job-{job_id}"


@dataclass(frozen=True)
class RetentionPolicy:
    inputs: timedelta = timedelta(hours=48)
    outputs: timedelta = timedelta(days=7)
    interval: timedelta = timedelta(minutes=10)


class Erased(BaseModel):
    """What one deletion did: jobs whose media went, files and bytes deleted, and jobs
    still on their way whose media will go once they end."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    files: int = 0
    bytes: int = 0
    unfinished: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            jobs=self.jobs + other.jobs,
            files=self.files + other.files,
            bytes=self.bytes + other.bytes,
            unfinished=self.unfinished + other.unfinished,
        )


def _delete(folder: Path, *, inputs: bool, outputs: bool) -> tuple[int, int]:
    """Delete the inputs and/or outputs in ``folder`` (never following links); remove the
    folder once empty. Returns (files, bytes) deleted."""
    files = size = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        is_output = entry.name in OUTPUT_NAMES
        if (is_output and not outputs) or (not is_output and not inputs):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                files += 1
                continue
            length = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # deleted meanwhile (a concurrent sweep or /emo forget)
        files, size = files + 1, size + length
    with contextlib.suppress(OSError):  # not empty (an output kept longer) or already gone
        folder.rmdir()
    return files, size


class MediaJanitor:
    """Deletes cached media by age, on request, and when the bot leaves a server."""

    def __init__(
        self,
        *,
        store: JobStore,
        media_dir: Path,
        policy: RetentionPolicy,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._media_dir = media_dir
        self._policy = policy
        self._clock = clock
        self._tasks = BackgroundTasks()
        self._running = False

    @property
    def policy(self) -> RetentionPolicy:
        return self._policy

    def start(self) -> None:
        """Sweep now and every ``policy.interval`` until closed (idempotent)."""
        if not self._running:
            self._running = True
            self._tasks.spawn(self._sweep_forever(), name="media-retention")

    async def close(self) -> None:
        await self._tasks.cancel_all()
        self._running = False

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                # A disk or database hiccup must not end retention for good.
                log.exception("media retention sweep failed; trying again later")
            await asyncio.sleep(self._policy.interval.total_seconds())

    async def sweep(self) -> Erased:
        """One pass: media past retention, pending erasures whose jobs ended, orphans."""
        now = self._clock()
        done = await self._purge(
            await self._ids(
                "inputs_purged_at IS NULL AND created_at < ?", now - self._policy.inputs
            ),
            inputs=True,
            outputs=False,
        )
        done += await self._purge(
            await self._ids(
                "outputs_purged_at IS NULL AND COALESCE(delivered_at, finished_at, updated_at) < ?",
                now - self._policy.outputs,
            ),
            inputs=False,
            outputs=True,
        )
        done += await self._pending_erasures()
        done += await self._orphans(now)
        if done.files or done.jobs:
            log.info(
                "media retention: %d jobs, %d files, %d bytes deleted",
                done.jobs,
                done.files,
                done.bytes,
            )
        return done

    async def _ids(self, condition: str, cutoff: datetime) -> list[int]:
        cursor = await self._store.db.execute(
            f"SELECT id FROM jobs WHERE state IN ({_FINISHED}) AND {condition} ORDER BY id",
            (cutoff.isoformat(),),
        )
        return [int(row[0]) for row in await cursor.fetchall()]

    async def _purge(self, job_ids: Sequence[int], *, inputs: bool, outputs: bool) -> Erased:
        """Delete the media of finished jobs and clear the rows' links to them."""
        files = size = 0
        for job_id in job_ids:
            folder = job_dir(self._media_dir, job_id)
            count, length = await asyncio.to_thread(_delete, folder, inputs=inputs, outputs=outputs)
            files, size = files + count, size + length
            stamp = self._clock().isoformat()
            sets = []
            if inputs:
                sets.append(f"{_CLEAR_INPUTS}, inputs_purged_at = COALESCE(inputs_purged_at, ?)")
            if outputs:
                sets.append("result_url = NULL, outputs_purged_at = COALESCE(outputs_purged_at, ?)")
            async with self._store.transaction() as db:
                await db.execute(
                    f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state IN ({_FINISHED})",
                    [*([stamp] * len(sets)), job_id],
                )
            kinds = (
                "inputs and outputs" if inputs and outputs else "inputs" if inputs else "outputs"
            )
            log.info("job %d %s deleted: %d files, %d bytes", job_id, kinds, count, length)
        return Erased(jobs=len(job_ids), files=files, bytes=size)

    async def forget_member(self, user_id: int) -> Erased:
        """Erase a member's media in every server: now for finished jobs, and for jobs still
        on their way as soon as they end."""
        return await self._erase("user_id", user_id)

    async def forget_guild(self, guild_id: int) -> Erased:
        """Erase a server's media (the bot was removed from it)."""
        return await self._erase("guild_id", guild_id)

    async def _erase(self, column: str, value: int) -> Erased:
        db = self._store.db
        row = await (await db.execute("SELECT COALESCE(MAX(id), 0) FROM jobs")).fetchone()
        up_to = int(row[0]) if row else 0
        done = await self._purge(
            await self._erasable(column, value, up_to), inputs=True, outputs=True
        )
        unfinished = await self._unfinished(column, value, up_to)
        if unfinished:
            async with self._store.transaction() as db:
                await db.execute(
                    f"INSERT INTO media_erasures ({column}, up_to_job_id, requested_at)"
                    " VALUES (?, ?, ?)",
                    (value, up_to, self._clock().isoformat()),
                )
        log.info(
            "media of %s %d erased: %d jobs, %d files; %d jobs still on their way",
            column.removesuffix("_id"),
            value,
            done.jobs,
            done.files,
            unfinished,
        )
        return done.model_copy(update={"unfinished": unfinished})

    async def _erasable(self, column: str, value: int, up_to: int) -> list[int]:
        cursor = await self._store.db.execute(
            f"SELECT id FROM jobs WHERE {column} = ? AND id <= ? AND state IN ({_FINISHED})"
            " AND (inputs_purged_at IS NULL OR outputs_purged_at IS NULL) ORDER BY id",
            (value, up_to),
        )
        return [int(row[0]) for row in await cursor.fetchall()]

    async def _unfinished(self, column: str, value: int, up_to: int) -> int:
        cursor = await self._store.db.execute(
            f"SELECT COUNT(*) FROM jobs WHERE {column} = ? AND id <= ?"
            f" AND state NOT IN ({_FINISHED})",
            (value, up_to),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _pending_erasures(self) -> Erased:
        """Finish erasures that waited for jobs on their way; drop those with none left."""
        cursor = await self._store.db.execute(
            "SELECT id, guild_id, user_id, up_to_job_id FROM media_erasures ORDER BY id"
        )
        done = Erased()
        for erasure_id, guild_id, user_id, up_to in await cursor.fetchall():
            column, value = ("user_id", user_id) if user_id is not None else ("guild_id", guild_id)
            done += await self._purge(
                await self._erasable(column, value, up_to), inputs=True, outputs=True
            )
            if not await self._unfinished(column, value, up_to):
                async with self._store.transaction() as db:
                    await db.execute("DELETE FROM media_erasures WHERE id = ?", (erasure_id,))
                log.info("media erasure %d complete", erasure_id)
        return done

    async def _orphans(self, now: datetime) -> Erased:
        """Job folders without a row (a database reset, a test): deleted by age alone."""
        cutoff = (now - self._policy.inputs).timestamp()
        try:
            entries = await asyncio.to_thread(lambda: list(os.scandir(self._media_dir)))
        except FileNotFoundError:
            return Erased()
        files = size = 0
        for entry in entries:
            match = _JOB_DIR.fullmatch(entry.name)
            if match is None or not entry.is_dir(follow_symlinks=False):
                continue  # not ours (e.g. the http media host's "hosted" folder)
            cursor = await self._store.db.execute(
                "SELECT 1 FROM jobs WHERE id = ?", (int(match[1]),)
            )
            if await cursor.fetchone() is not None or entry.stat().st_mtime >= cutoff:
                continue
            count, length = await asyncio.to_thread(
                _delete, Path(entry.path), inputs=True, outputs=True
            )
            files, size = files + count, size + length
            log.info("orphan media folder %s deleted: %d files", entry.name, count)
        return Erased(files=files, bytes=size)
