"""The provider gate: submissions pause for everyone on an operator problem, until resumed.

Kept in the database (a ``meta`` value) so every bot process sharing it sees the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from bot.clock import utcnow
from bot.db.meta import MetaStore
from bot.jobs.limits import account_meta
from bot.provider.accounts import LONE_ACCOUNT

log = logging.getLogger(__name__)

PAUSE_KEY = "provider_pause"


class ProviderPause(BaseModel):
    code: str
    message: str
    since: datetime
    probes: int = 0


class PauseReader(Protocol):
    """Whether submissions wait for the operator: one account's gate, or the pool's."""

    async def current(self) -> ProviderPause | None: ...


class PoolGate:
    """Several accounts: paused only when every account is (the first one's pause shown)."""

    def __init__(self, gates: Sequence[ProviderGate]) -> None:
        self._gates = list(gates)

    async def current(self) -> ProviderPause | None:
        pauses = [await gate.current() for gate in self._gates]
        if any(pause is None for pause in pauses):
            return None
        return pauses[0]


class ProviderGate:
    """One account's pause (``provider_pause``, or ``provider_pause:<account>`` when there
    are several accounts: each pauses alone)."""

    def __init__(
        self, meta: MetaStore, account: str = LONE_ACCOUNT, label: str = LONE_ACCOUNT
    ) -> None:
        self._meta = meta
        self._key = account_meta(PAUSE_KEY, account)
        self.account = account
        self.label = label

    async def current(self) -> ProviderPause | None:
        raw = await self._meta.get(self._key)
        return ProviderPause.model_validate_json(raw) if raw else None

    async def pause(self, code: str, message: str, *, reference: str = "") -> bool:
        """Pause submissions; True when this call started the pause (alert once).
        ``reference`` names the answer for the log (the code and the provider's request id)."""
        if await self.current() is not None:
            return False
        pause = ProviderPause(code=code, message=message, since=utcnow())
        await self._meta.set(self._key, pause.model_dump_json())
        if self.account == LONE_ACCOUNT:
            log.error(
                "provider refused the bot's account (%s: %s): submissions paused for every"
                " server; fix the account, then it resumes by itself or with"
                " `python -m bot resume-provider`",
                reference or code,
                message,
            )
        else:
            log.error(
                "provider refused account %s (%s: %s): that account is paused, the others"
                " go on; fix it, then it resumes by itself or with"
                " `python -m bot resume-provider`",
                self.label,
                reference or code,
                message,
            )
        return True

    async def record_probe(self, pause: ProviderPause) -> None:
        updated = pause.model_copy(update={"probes": pause.probes + 1})
        await self._meta.set(self._key, updated.model_dump_json())

    async def resume(self, reason: str) -> bool:
        """Lift the pause; True when there was one."""
        if await self.current() is None:
            return False
        await self._meta.delete(self._key)
        log.warning("provider submissions resumed for account %s (%s)", self.label, reason)
        return True
