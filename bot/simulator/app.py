"""`SimulatorApp`: composes the route groups over one shared context into the aiohttp app."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from .answers import API, error_middleware
from .context import SimContext
from .controls import ControlRoutes, SimStateSnapshot
from .inputs import InputFetcher
from .knobs import SimulatorKnobs
from .oss import Signer
from .plumbing import RequestGate
from .routes_detect import DetectRoutes
from .routes_results import ResultRoutes
from .routes_storage import StorageRoutes
from .routes_synthesis import SynthesisRoutes
from .routes_task_list import TaskListRoutes
from .routes_tasks import TaskRoutes
from .scheduler import Scheduler
from .state import SimState

log = logging.getLogger(__name__)


class SimulatorApp:
    """The simulated provider: state plus the route groups that speak its protocol."""

    def __init__(
        self,
        state: SimState,
        results_dir: Path,
        uploads_dir: Path,
        scheduler: Scheduler,
        signer: Signer,
        *,
        control_endpoints: bool,
    ) -> None:
        self.ctx = SimContext(
            state=state,
            results_dir=results_dir,
            uploads_dir=uploads_dir,
            scheduler=scheduler,
            signer=signer,
        )
        self.control_endpoints = control_endpoints
        gate = RequestGate(self.ctx)
        inputs = InputFetcher(self.ctx)
        self.storage = StorageRoutes(self.ctx, gate)
        self.detection = DetectRoutes(self.ctx, gate, inputs)
        self.synthesis = SynthesisRoutes(self.ctx, gate, inputs)
        self.tasks = TaskRoutes(self.ctx, gate)
        self.task_list = TaskListRoutes(self.ctx, gate)
        self.results = ResultRoutes(self.ctx, gate)
        self.controls = ControlRoutes(self.ctx)

    @property
    def state(self) -> SimState:
        """The simulator's state."""
        return self.ctx.state

    @property
    def scheduler(self) -> Scheduler:
        """The task scheduler."""
        return self.ctx.scheduler

    @property
    def root_url(self) -> str:
        """http://HOST:PORT, once serving ("" before)."""
        return self.ctx.root_url

    @root_url.setter
    def root_url(self, value: str) -> None:
        self.ctx.root_url = value

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The client session used to download http(s) inputs."""
        return self.ctx.session

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:
        self.ctx.session = value

    def build(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(
            middlewares=[error_middleware(self.ctx.state)], client_max_size=4 * 1024 * 1024
        )
        app.router.add_get(f"{API}/uploads", self.storage.get_policy)
        app.router.add_post("/oss", self.storage.upload)
        app.router.add_post(f"{API}/services/aigc/image2video/face-detect", self.detection.detect)
        app.router.add_post(
            f"{API}/services/aigc/image2video/video-synthesis", self.synthesis.submit
        )
        app.router.add_get(f"{API}/tasks", self.task_list.list_tasks)
        app.router.add_get(f"{API}/tasks/", self.task_list.list_tasks)
        app.router.add_get(f"{API}/tasks/{{task_id}}", self.tasks.query)
        app.router.add_post(f"{API}/tasks/{{task_id}}/cancel", self.tasks.cancel)
        app.router.add_get("/results/{name}", self.results.result)
        if self.control_endpoints:
            self.controls.add_routes(app)
        return app

    def sign_result_url(self, task_id: str, expires: int) -> str:
        """Pre-signed URL of a task's MP4 (OSS style: Expires, OSSAccessKeyId, Signature)."""
        return self.results.sign_result_url(task_id, expires)

    def snapshot(self) -> SimStateSnapshot:
        """Everything the simulator knows, for out-of-process inspection."""
        return self.controls.snapshot()

    def update_knobs(self, changes: Mapping[str, Any]) -> SimulatorKnobs:
        """Apply a partial knob update and let the scheduler see it at once."""
        return self.controls.update_knobs(changes)
