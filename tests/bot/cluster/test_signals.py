"""Wake-ups between processes: NOTIFY on PostgreSQL, with a listener that reconnects."""

from __future__ import annotations

import asyncio

import pytest

from bot.cluster.signals import PostgresSignals, Signals
from tests.support.postgres import running_postgres

# Signals travel only on PostgreSQL (alone on SQLite, a signal rings here and nowhere else).
pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


async def _heard(signals: Signals, topic: str) -> asyncio.Queue[str]:
    heard: asyncio.Queue[str] = asyncio.Queue()
    signals.on(topic, heard.put_nowait)
    return heard


async def test_a_signal_reaches_the_other_processes_and_rings_here_at_once() -> None:
    with running_postgres() as server:
        url = server.create_database()
        a, b = PostgresSignals(url, sender="a"), PostgresSignals(url, sender="b")
        heard_a, heard_b = await _heard(a, "poll"), await _heard(b, "poll")
        await a.start()
        await b.start()
        try:
            await asyncio.wait_for(b.listening.wait(), 10)
            a.send("poll", "42")
            assert heard_a.get_nowait() == "42"  # here: at once
            assert await asyncio.wait_for(heard_b.get(), 5) == "42"
            await asyncio.sleep(0.3)
            assert heard_a.empty()  # our own NOTIFY coming back is not heard twice

            # The server restarts: the listener reconnects by itself and, since a signal
            # may have been lost meanwhile, rings its topics once.
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(server.start)
            assert await asyncio.wait_for(heard_b.get(), 30) == ""
            a.send("poll", "43")
            assert await asyncio.wait_for(heard_b.get(), 10) == "43"
        finally:
            await a.close()
            await b.close()
