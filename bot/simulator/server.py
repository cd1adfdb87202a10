"""`Simulator`: lifecycle and the Python-side API (knobs, failure injection, records)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from .accounts import Account, AccountDirectory, api_key_id_for
from .answers import API
from .app import SimulatorApp
from .controls import SimStateSnapshot
from .injections import Endpoint, InjectedFailure, InjectedTaskFailure
from .knobs import SimulatorKnobs, apply_changes
from .oss import Signer
from .records import (
    CancelRecord,
    DetectionRecord,
    PolicyRecord,
    QueryCount,
    SubmissionRecord,
    UploadRecord,
)
from .scheduler import Scheduler
from .state import SimState
from .tasks import TERMINAL_STATUSES, SimTask, TaskStatus

log = logging.getLogger(__name__)

_UNSPECIFIED_HOSTS = frozenset({"0.0.0.0", "::", ""})


class Simulator:
    """An in-process DashScope EMO look-alike served over real HTTP.

    >>> sim = Simulator(knobs=SimulatorKnobs(render_overhead_seconds=0.1), api_keys={"sk-test"})
    >>> await sim.start()            # 127.0.0.1, free port
    >>> sim.base_url                 # http://127.0.0.1:PORT/api/v1
    >>> await sim.close()

    `api_keys`: accepted keys, each its own account. `accounts`: account label -> the keys
    of one Alibaba Cloud account, which share its queue, running slot, rate limits, bill and
    task list. Both may be given (a key in both belongs to its labelled account); with
    neither, any non-empty key is accepted as its own account.
    """

    def __init__(
        self,
        knobs: SimulatorKnobs | None = None,
        api_keys: Collection[str] | None = None,
        *,
        accounts: Mapping[str, Collection[str]] | None = None,
        control_endpoints: bool = True,
        render_workers: int = 2,
    ) -> None:
        self._state = SimState(
            knobs=knobs if knobs is not None else SimulatorKnobs(),
            directory=AccountDirectory(api_keys, accounts),
        )
        self._control_endpoints = control_endpoints
        self._render_workers = render_workers
        self._signer = Signer()
        self._workdir: Path | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._scheduler: Scheduler | None = None
        self._app: SimulatorApp | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._root_url: str | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (0 = a free port); returns once the socket is listening."""
        if self._runner is not None:
            raise RuntimeError("Simulator already started")
        self._workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="emo-sim-"))
        results_dir = self._workdir / "results"
        uploads_dir = self._workdir / "uploads"
        results_dir.mkdir()
        uploads_dir.mkdir()
        self._executor = ThreadPoolExecutor(
            max_workers=self._render_workers, thread_name_prefix="emo-sim-render"
        )
        self._session = aiohttp.ClientSession()
        app = SimulatorApp(
            self._state,
            results_dir,
            uploads_dir,
            Scheduler(self._state, results_dir, self._executor, self._sign_result_url),
            self._signer,
            control_endpoints=self._control_endpoints,
        )
        self._scheduler = app.scheduler
        app.session = self._session
        self._app = app
        runner = web.AppRunner(
            app.build(), access_log=logging.getLogger("bot.simulator.access"), shutdown_timeout=1.0
        )
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await self.close()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        public_host = "127.0.0.1" if bound_host in _UNSPECIFIED_HOSTS else bound_host
        if ":" in public_host:
            public_host = f"[{public_host}]"
        self._root_url = f"http://{public_host}:{bound_port}"
        app.root_url = self._root_url
        app.scheduler.start()
        log.info("DashScope EMO simulator listening: %s", self.base_url)

    async def close(self) -> None:
        """Stop serving, stop the scheduler, wait for renders, delete the work directory."""
        if self._scheduler is not None:
            await self._scheduler.close()
            self._scheduler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._executor is not None:
            executor = self._executor
            self._executor = None
            # Renders cannot be interrupted; wait so the directory is not deleted under them.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        if self._workdir is not None:
            await asyncio.to_thread(shutil.rmtree, self._workdir, ignore_errors=True)
            self._workdir = None
        self._app = None
        self._root_url = None

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- addresses

    @property
    def root_url(self) -> str:
        """http://HOST:PORT (no path)."""
        if self._root_url is None:
            raise RuntimeError("Simulator not started")
        return self._root_url

    @property
    def base_url(self) -> str:
        """The DashScope API base, http://HOST:PORT/api/v1."""
        return self.root_url + API

    @property
    def upload_host(self) -> str:
        """Where upload forms are POSTed."""
        return self.root_url + "/oss"

    @property
    def port(self) -> int:
        """The listening port."""
        return int(self.root_url.rsplit(":", 1)[1])

    # ----------------------------------------------------------------- knobs and injection

    @property
    def knobs(self) -> SimulatorKnobs:
        """The live knobs; assignments are validated and take effect at once."""
        return self._state.knobs

    @knobs.setter
    def knobs(self, value: SimulatorKnobs) -> None:
        self._state.knobs = value
        if self._scheduler is not None:
            self._scheduler.wake()

    def update_knobs(self, **changes: Any) -> SimulatorKnobs:
        """Change several knobs at once, validated as a whole (like POST /_sim/knobs)."""
        if self._app is not None:
            return self._app.update_knobs(changes)
        return apply_changes(self._state.knobs, changes)

    def fail_next(
        self,
        endpoint: Endpoint,
        status: int,
        code: str,
        message: str,
        times: int = 1,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` calls to `endpoint` with this error.

        For "detect", status 200 answers check_pass=false with this code and message.
        "upload" and "result" answer OSS-style XML; the others DashScope-style JSON.
        `retry_after` (seconds) adds the `Retry-After` and `retry-after-ms` headers.
        """
        self._state.injections.add(
            endpoint,
            InjectedFailure(
                status=status,
                code=code,
                message=message,
                remaining=times,
                retry_after=retry_after,
            ),
        )

    def fail_next_task(
        self,
        code: str = "InternalError.Algo",
        message: str = "Simulated algorithm failure.",
        times: int = 1,
    ) -> None:
        """End the next `times` tasks to start running as FAILED with this code."""
        self._state.injections.tasks.append(
            InjectedTaskFailure(code=code, message=message, remaining=times)
        )

    def clear_failures(self) -> None:
        """Drop every failure queued with fail_next / fail_next_task."""
        self._state.injections.clear()

    def advance_time(self, seconds: float) -> None:
        """Jump the simulated clock (expiry of policies, URLs, tasks; not render timing)."""
        self._state.clock.advance(seconds)
        if self._scheduler is not None:
            self._scheduler.wake()

    def now(self) -> float:
        """The simulated unix time."""
        return self._state.clock.now()

    def set_arrears(self, account: str, arrears: bool = True) -> None:
        """Put an account (label, id or API key) in arrears: every API call with its keys
        then answers 400 Arrearage, until cleared with `arrears=False`. KeyError if unknown."""
        self._state.set_arrears(account, arrears)

    # ----------------------------------------------------------------- accounts and records

    def account_id(self, api_key: str) -> str:
        """The id records use for the account of an API key."""
        return self._state.directory.account_id_of(api_key)

    @staticmethod
    def api_key_id(api_key: str) -> str:
        """The stable, non-secret id of an API key (digits), as tasks and list rows show it."""
        return api_key_id_for(api_key)

    def account(self, account: str) -> Account | None:
        """An account's live state (label, id or API key), or None if it is not known."""
        return self._state.find_account(account)

    @property
    def policies(self) -> list[PolicyRecord]:
        """Upload policies handed out by getPolicy, in order."""
        return self._state.policies

    @property
    def submissions(self) -> list[SubmissionRecord]:
        """Accepted synthesis submissions, in order."""
        return self._state.submissions

    @property
    def tasks(self) -> dict[str, SimTask]:
        """Every task by id (with its status history)."""
        return self._state.tasks

    @property
    def list_calls(self) -> int:
        """Task lists asked for (GET /tasks, once authenticated, throttled or not)."""
        return self._state.list_calls

    @property
    def query_count(self) -> QueryCount:
        """Task polls: `.total` and `.of(task_id)`."""
        return self._state.query_count

    @property
    def throttled(self) -> dict[str, int]:
        """How many requests were answered 429, by endpoint."""
        return self._state.throttled

    @property
    def cancels(self) -> list[CancelRecord]:
        """Cancel requests for known tasks, accepted or not."""
        return self._state.cancels

    @property
    def uploads(self) -> list[UploadRecord]:
        """Stored uploads, in order."""
        return list(self._state.uploads.values())

    @property
    def detections(self) -> list[DetectionRecord]:
        """Detector runs, in order (passed and rejected)."""
        return self._state.detections

    def billed_seconds(self, account: str) -> float:
        """Seconds of video billed to an account (API key, account id or label)."""
        found = self._state.accounts.get(self._resolve_account(account))
        return round(found.billed_seconds, 2) if found else 0.0

    def billed_usd(self, account: str) -> float:
        """The bill in USD at the knobs' per-ratio prices."""
        found = self._state.accounts.get(self._resolve_account(account))
        return found.billed_usd if found else 0.0

    def snapshot(self) -> SimStateSnapshot:
        """What GET /_sim/state answers."""
        if self._app is None:
            raise RuntimeError("Simulator not started")
        return self._app.snapshot()

    async def wait_for_task(
        self,
        task_id: str,
        statuses: frozenset[TaskStatus] = TERMINAL_STATUSES,
        within: float = 30.0,
    ) -> SimTask:
        """Wait (without HTTP polls) until a task reaches one of `statuses`."""
        async with asyncio.timeout(within):
            while True:
                task = self._state.tasks.get(task_id)
                if task is not None and task.status in statuses:
                    return task
                await asyncio.sleep(0.02)

    def _resolve_account(self, account: str) -> str:
        return self._state.resolve_account_id(account)

    def _sign_result_url(self, task_id: str, expires: int) -> str:
        if self._app is None:
            raise RuntimeError("Simulator not started")
        return self._app.sign_result_url(task_id, expires)
