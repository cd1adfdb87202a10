"""Where each waiting job stands, as the cards say it: each lane on its own. A server on its
own key waits only behind its own jobs; the others behind the operator's queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.support.engine import fast_simulator, running_engine

KEY = "sk-forecast-test"
OWN = "own-2-acct-000000000000"  # a server's own account (none configured: never sent)
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with fast_simulator(KEY) as simulator:
        yield simulator


async def test_a_job_on_its_servers_own_key_waits_only_behind_its_own(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        await engine.service.gate.pause("Test", "hold the dispatcher")
        shared = [await engine.enqueue_prepared(guild_id=1, user_id=n) for n in range(3)]
        own = [
            await engine.enqueue_prepared(guild_id=2, user_id=10 + n, own_account=OWN)
            for n in range(2)
        ]
        spots = await engine.core.service.forecast()
        assert [spots[job.id].ahead for job in shared] == [0, 1, 2]
        assert [spots[job.id].ahead for job in own] == [0, 1]
        # Each lane's first job is expected as soon as its account is free: now and a render.
        first_shared, first_own = spots[shared[0].id].ready_at, spots[own[0].id].ready_at
        assert first_shared is not None
        assert first_own is not None
        assert abs((first_own - first_shared).total_seconds()) < 1
