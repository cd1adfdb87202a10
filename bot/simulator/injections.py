"""Forced failures: errors to answer instead of the normal ones, and tasks made to fail."""

from __future__ import annotations

import logging
from collections import deque
from typing import Literal

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

Endpoint = Literal["policy", "upload", "detect", "submit", "query", "cancel", "result"]


class InjectedFailure(BaseModel):
    """An error to answer instead of the normal one, `remaining` more times.

    `retry_after` (seconds) adds the `Retry-After` and `retry-after-ms` headers.
    """

    status: int
    code: str
    message: str
    remaining: int = Field(ge=1)
    retry_after: float | None = Field(default=None, ge=0)


class InjectedTaskFailure(BaseModel):
    """A failure the next running task(s) will end with."""

    code: str
    message: str
    remaining: int = Field(ge=1)


class Injections:
    """Queues of forced failures, consumed in FIFO order."""

    def __init__(self) -> None:
        self.endpoints: dict[Endpoint, deque[InjectedFailure]] = {}
        self.tasks: deque[InjectedTaskFailure] = deque()

    def add(self, endpoint: Endpoint, failure: InjectedFailure) -> None:
        """Queue a failure for an endpoint."""
        self.endpoints.setdefault(endpoint, deque()).append(failure)

    def take(self, endpoint: Endpoint) -> InjectedFailure | None:
        """Consume one failure for an endpoint, if any is queued."""
        queue = self.endpoints.get(endpoint)
        if not queue:
            return None
        head = queue[0]
        head.remaining -= 1
        if head.remaining <= 0:
            queue.popleft()
        return head

    def clear(self) -> None:
        """Forget every queued failure (the problem they stood for is fixed)."""
        self.endpoints.clear()
        self.tasks.clear()

    def take_task(self) -> InjectedTaskFailure | None:
        """Consume one task failure, if any is queued."""
        if not self.tasks:
            return None
        head = self.tasks[0]
        head.remaining -= 1
        if head.remaining <= 0:
            self.tasks.popleft()
        return head
