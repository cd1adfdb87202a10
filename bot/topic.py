"""Publish and subscribe inside one process: the core tells, the edges (and metrics) listen."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.errors import QuietError

log = logging.getLogger(__name__)

EventT = TypeVar("EventT")


class Topic(Generic[EventT]):
    """Subscribers are awaited in the order they subscribed. One that fails is logged and
    skipped: showing a change must never undo it or stop the others from hearing of it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._subscribers: list[Callable[[EventT], Awaitable[None]]] = []

    def subscribe(self, subscriber: Callable[[EventT], Awaitable[None]]) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Callable[[EventT], Awaitable[None]]) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    async def publish(self, event: EventT) -> None:
        for subscriber in list(self._subscribers):
            try:
                await subscriber(event)
            except QuietError as error:  # logged where it happened (the database is away)
                log.warning("a subscriber of %s skipped a change: %s", self._name, error)
            except Exception:
                log.exception("a subscriber of %s failed", self._name)
