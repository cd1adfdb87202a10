"""The base of FakeDiscord's public parts (world, knobs, activity, waiting): the state, plus the
gateway hub and the background dispatches that FakeDiscord sets up."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .gateway import GatewayHub
from .state import DiscordState


class Surface(DiscordState):
    """What the mixins of FakeDiscord's public surface may use besides the state."""

    hub: GatewayHub
    _tasks: set[asyncio.Task[Any]]

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a dispatch in the background (a world change announced to a connected bot)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
