"""A local DashScope EMO simulator (emo-detect-v1 + emo-v1, temporary uploads, tasks).

Importing this package starts nothing and loads no OpenCV; see `Simulator`.
"""

from __future__ import annotations

import logging

from .controls import SimStateSnapshot
from .knobs import RateLimits, SimulatorKnobs
from .server import Simulator
from .state import (
    CancelRecord,
    DetectionRecord,
    QueryCount,
    SimTask,
    StatusChange,
    SubmissionRecord,
    UploadRecord,
)

log = logging.getLogger(__name__)

__all__ = [
    "CancelRecord",
    "DetectionRecord",
    "QueryCount",
    "RateLimits",
    "SimStateSnapshot",
    "SimTask",
    "Simulator",
    "SimulatorKnobs",
    "StatusChange",
    "SubmissionRecord",
    "UploadRecord",
]
