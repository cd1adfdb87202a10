"""The provider gate: submissions pause for everyone on an operator problem, until resumed.

Kept in the database (a ``meta`` value) so every bot process sharing it sees the same.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel

from bot.clock import utcnow
from bot.db.meta import MetaStore

log = logging.getLogger(__name__)

PAUSE_KEY = "provider_pause"


class ProviderPause(BaseModel):
    code: str
    message: str
    since: datetime
    probes: int = 0


class ProviderGate:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    async def current(self) -> ProviderPause | None:
        raw = await self._meta.get(PAUSE_KEY)
        return ProviderPause.model_validate_json(raw) if raw else None

    async def pause(self, code: str, message: str, *, reference: str = "") -> bool:
        """Pause submissions; True when this call started the pause (alert once).
        ``reference`` names the answer for the log (the code and the provider's request id)."""
        if await self.current() is not None:
            return False
        pause = ProviderPause(code=code, message=message, since=utcnow())
        await self._meta.set(PAUSE_KEY, pause.model_dump_json())
        log.error(
            "provider refused the bot's account (%s: %s): submissions paused for every server; "
            "fix the account, then it resumes by itself or with `python -m bot resume-provider`",
            reference or code,
            message,
        )
        return True

    async def record_probe(self, pause: ProviderPause) -> None:
        updated = pause.model_copy(update={"probes": pause.probes + 1})
        await self._meta.set(PAUSE_KEY, updated.model_dump_json())

    async def resume(self, reason: str) -> bool:
        """Lift the pause; True when there was one."""
        if await self.current() is None:
            return False
        await self._meta.delete(PAUSE_KEY)
        log.warning("provider submissions resumed (%s)", reason)
        return True
