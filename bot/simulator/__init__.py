"""A local DashScope EMO simulator (emo-detect-v1 + emo-v1, temporary uploads, tasks).

Importing this package starts nothing and loads no OpenCV; see `Simulator`.
"""

from __future__ import annotations

import logging

from .accounts import Account
from .controls import SimStateSnapshot
from .knobs import RateLimits, SimulatorKnobs
from .records import (
    CancelRecord,
    DetectionRecord,
    PolicyRecord,
    QueryCount,
    SubmissionRecord,
    UploadRecord,
)
from .server import Simulator
from .tasks import SimTask, StatusChange

log = logging.getLogger(__name__)

__all__ = [
    "Account",
    "CancelRecord",
    "DetectionRecord",
    "PolicyRecord",
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
