"""Duties held by leases: one holder at a time, taken over when the holder dies or leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cluster.duties import Duties, Duty
from bot.cluster.leases import Leases
from bot.db.database import Database
from tests.support.backends import open_test_database

TTL = timedelta(seconds=0.6)
BEAT = 0.1


@pytest.fixture
async def db(tmp_path: Path, database_url: str) -> AsyncIterator[Database]:
    db = await open_test_database(database_url, tmp_path)
    yield db
    await db.close()


class Counter:
    """A duty that counts where it runs."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}

    def duty(self, process: str) -> Duty:
        async def run() -> None:
            self.running[process] = self.running.get(process, 0) + 1
            try:
                await asyncio.Event().wait()
            finally:
                self.running[process] -= 1

        return Duty("sweep", run)

    def holders(self) -> list[str]:
        return [name for name, count in self.running.items() if count]


async def _until(check: object, within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "not reached"
        await asyncio.sleep(0.02)


async def test_one_process_holds_a_duty_and_another_takes_it_when_it_dies(db: Database) -> None:
    counter = Counter()
    processes = {
        name: Duties(Leases(db, owner=name, ttl=TTL), [counter.duty(name)], beat_seconds=BEAT)
        for name in ("a", "b", "c")
    }
    loops = {
        name: asyncio.ensure_future(duties.run_forever()) for name, duties in processes.items()
    }
    try:
        await _until(lambda: len(counter.holders()) == 1)
        await asyncio.sleep(3 * BEAT)
        assert len(counter.holders()) == 1  # still one: the others only watch
        first = counter.holders()[0]
        # The holder dies: its loop stops renewing (and its duty, with the process, ends).
        loops[first].cancel()
        await asyncio.gather(loops[first], return_exceptions=True)
        counter.running[first] = 0
        died = asyncio.get_running_loop().time()
        await _until(lambda: len(counter.holders()) == 1)
        taken_after = asyncio.get_running_loop().time() - died
        assert counter.holders()[0] != first
        assert taken_after < TTL.total_seconds() + 3 * BEAT  # the lease, and a beat or two
    finally:
        for loop in loops.values():
            loop.cancel()
        await asyncio.gather(*loops.values(), return_exceptions=True)


async def test_a_process_that_stops_hands_its_duty_over_at_once(db: Database) -> None:
    counter = Counter()
    long_ttl = timedelta(seconds=60)
    first = Duties(Leases(db, owner="a", ttl=long_ttl), [counter.duty("a")], beat_seconds=BEAT)
    second = Duties(Leases(db, owner="b", ttl=long_ttl), [counter.duty("b")], beat_seconds=BEAT)
    await first.beat()
    await second.beat()
    await _until(lambda: counter.holders() == ["a"])
    await first.close()  # a clean stop gives the lease back: no minute-long wait
    await second.beat()
    await _until(lambda: counter.holders() == ["b"])
    await second.close()


async def test_a_duty_taken_by_another_stops_here(db: Database) -> None:
    counter = Counter()
    mine = Duties(Leases(db, owner="a", ttl=TTL), [counter.duty("a")], beat_seconds=BEAT)
    await mine.beat()
    await _until(lambda: counter.holders() == ["a"])
    # This process froze past its lease (no beat), and another took the duty meanwhile.
    await asyncio.sleep(TTL.total_seconds() + 0.1)
    assert await Leases(db, owner="b", ttl=TTL).take("sweep")
    await mine.beat()
    assert counter.holders() == []
    assert mine.held == frozenset()
    await mine.close()


async def test_a_restarted_process_of_the_same_name_takes_its_duty_back_at_once(
    db: Database,
) -> None:
    assert await Leases(db, owner="a", ttl=timedelta(seconds=60)).take("sweep")
    # "a" was killed: its lease has a minute to run, but a new "a" is its own successor.
    assert not await Leases(db, owner="b", ttl=TTL).take("sweep")
    assert await Leases(db, owner="a", ttl=TTL).take("sweep")
