"""The provider's queue: per account, one task RUNNING at a time, the rest PENDING in FIFO order.

An account is however many API keys it has: its tasks share one queue and one slot."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from .render import RenderResult, render_talking_head
from .state import SimState, SimTask

log = logging.getLogger(__name__)

# How often expired tasks and uploads are swept when nothing else wakes the loop.
_SWEEP_INTERVAL = 30.0
# Granularity of the render-time wait, so knob changes apply to tasks already running.
_TICK = 0.05


@dataclass
class TaskPayload:
    """The fetched inputs of a task, kept only until it is rendered or dropped."""

    image: bytes
    audio: bytes


class Scheduler:
    """Moves tasks PENDING → (SUSPENDED →) RUNNING → SUCCEEDED/FAILED; one loop task,
    tracked runner tasks."""

    def __init__(
        self,
        state: SimState,
        results_dir: Path,
        executor: Executor,
        sign_result_url: Callable[[str, int], str],
    ) -> None:
        self._state = state
        self._results_dir = results_dir
        self._executor = executor
        self._sign_result_url = sign_result_url
        self._payloads: dict[str, TaskPayload] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False
        self._runners: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the loop (call from inside the event loop)."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name="emo-sim-scheduler")

    async def close(self) -> None:
        """Stop the loop and every runner; renders already in threads finish on their own."""
        # The flag as well as the cancel: a wake-up racing the cancel must not keep it going.
        self._closing = True
        tasks = list(self._runners)
        if self._loop_task is not None:
            tasks.append(self._loop_task)
            self._loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._payloads.clear()

    def enqueue(self, task: SimTask, payload: TaskPayload) -> None:
        """Queue a new PENDING task behind its account's others."""
        self._state.tasks[task.task_id] = task
        self._payloads[task.task_id] = payload
        self._state.accounts[task.account].queue.append(task.task_id)
        self.wake()

    def cancel(self, task: SimTask) -> bool:
        """Cancel a PENDING task; anything else cannot be cancelled."""
        account = self._state.accounts[task.account]
        if task.status != "PENDING" or task.task_id not in account.queue:
            return False
        account.queue.remove(task.task_id)
        self._payloads.pop(task.task_id, None)
        now = self._state.clock.now()
        task.ended_at = now
        task.set_status("CANCELED", now)
        return True

    def wake(self) -> None:
        """Have the loop look at the queues now."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                self._sweep()
                self._dispatch()
            except Exception:
                log.exception("simulator scheduler step failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            # that arrives as the event is set, and close() would then wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SWEEP_INTERVAL):
                    await self._wake.wait()

    def _dispatch(self) -> None:
        limit = self._state.knobs.max_running_per_account
        for account in self._state.accounts.values():
            while account.queue and len(account.running) < limit:
                task = self._state.tasks[account.queue.pop(0)]
                payload = self._payloads.get(task.task_id)
                if payload is None or not self._state.task_alive(task):
                    self._payloads.pop(task.task_id, None)
                    continue
                account.running.append(task.task_id)
                now = self._state.clock.now()
                task.scheduled_at = now
                suspended = self._state.knobs.suspend_seconds > 0
                task.set_status("SUSPENDED" if suspended else "RUNNING", now)
                runner = asyncio.create_task(
                    self._run(task, payload), name=f"emo-sim-{task.task_id}"
                )
                self._runners.add(runner)
                runner.add_done_callback(self._runners.discard)

    async def _run(self, task: SimTask, payload: TaskPayload) -> None:
        loop = asyncio.get_running_loop()
        render: asyncio.Future[RenderResult] | None = None
        try:
            if task.status == "SUSPENDED":
                await self._wait_suspension(loop.time())
                task.set_status("RUNNING", self._state.clock.now())
            started = loop.time()
            forced = self._state.injections.take_task()
            if forced is None:
                job = functools.partial(
                    render_talking_head,
                    payload.image,
                    payload.audio,
                    task.face_bbox,
                    task.ext_bbox,
                    self._results_dir / f"{task.task_id}.mp4",
                    fps=self._state.knobs.video_fps,
                    animate_mouth=self._state.knobs.animate_mouth,
                )
                render = loop.run_in_executor(self._executor, job)
            await self._wait_render_time(task, started)
            if forced is not None:
                self._finish_failed(task, forced.code, forced.message)
            else:
                assert render is not None
                result = await render
                self._finish_succeeded(task, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("simulated render of %s failed", task.task_id)
            self._finish_failed(task, "InternalError.Algo", f"Video synthesis failed: {exc}")
        finally:
            account = self._state.accounts[task.account]
            if task.task_id in account.running:
                account.running.remove(task.task_id)
            self._payloads.pop(task.task_id, None)
            self.wake()

    async def _wait_suspension(self, since: float) -> None:
        """Hold a SUSPENDED task (its render not begun) for the `suspend_seconds` knob."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = since + self._state.knobs.suspend_seconds - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _TICK))

    async def _wait_render_time(self, task: SimTask, started: float) -> None:
        """Sleep until the knob-defined render time has passed, re-reading the knobs as it goes."""
        loop = asyncio.get_running_loop()
        while True:
            knobs = self._state.knobs
            target = (
                started
                + knobs.render_seconds_per_audio_second * task.audio_duration
                + knobs.render_overhead_seconds
            )
            remaining = target - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _TICK))

    def _finish_succeeded(self, task: SimTask, result: RenderResult) -> None:
        now = self._state.clock.now()
        expires = int(now + self._state.knobs.result_url_ttl_seconds)
        task.result_path = result.path
        task.video_duration = round(result.duration, 2)
        task.video_url = self._sign_result_url(task.task_id, expires)
        task.video_url_expires = expires
        task.ended_at = now
        account = self._state.accounts[task.account]
        account.billed_seconds += task.video_duration
        account.billed_usd += task.video_duration * self._state.knobs.price_usd_per_second.get(
            task.ratio, 0.0
        )
        account.succeeded += 1
        task.set_status("SUCCEEDED", now)
        log.info("simulated task %s succeeded (%.2fs video)", task.task_id, task.video_duration)

    def _finish_failed(self, task: SimTask, code: str, message: str) -> None:
        now = self._state.clock.now()
        task.code = code
        task.message = message
        task.ended_at = now
        task.set_status("FAILED", now)
        log.info("simulated task %s failed: %s", task.task_id, code)

    def _sweep(self) -> None:
        """Forget what has outlived its life: task results, pending payloads, uploaded files."""
        state = self._state
        now = state.clock.now()
        for task in state.tasks.values():
            if state.task_alive(task):
                continue
            self._payloads.pop(task.task_id, None)
            account = state.accounts[task.account]
            if task.task_id in account.queue:
                account.queue.remove(task.task_id)
            if task.result_path is not None:
                task.result_path.unlink(missing_ok=True)
                task.result_path = None
        for upload in state.uploads.values():
            if upload.expires_at < now:
                upload.path.unlink(missing_ok=True)
