"""`SimContext`: what every route shares (state and its accounts, directories, scheduler,
signer)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .oss import Signer
from .scheduler import Scheduler
from .state import SimState

log = logging.getLogger(__name__)


@dataclass(eq=False)
class SimContext:
    """The simulator's shared parts; `root_url` and `session` are set once it is serving."""

    state: SimState
    results_dir: Path
    uploads_dir: Path
    scheduler: Scheduler
    signer: Signer
    root_url: str = ""
    session: aiohttp.ClientSession | None = None
