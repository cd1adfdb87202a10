"""Wake-ups between processes: "a job was queued", "poll this task now".

A signal rings this process's listeners at once. On PostgreSQL it is also sent with NOTIFY,
and a dedicated connection LISTENs for the other processes' signals, reconnecting by itself.
A signal sent while a listener reconnects is lost, so every loop that listens also looks
again on a timer (the polling fallback), and a listener that reconnects rings every topic
once, for whatever it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from bot.retry import Backoff
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

CHANNEL = "emo_bot"
RECONNECT = Backoff(first=0.5, cap=15.0)
CONNECT_TIMEOUT = 5
OUTBOX = 1000  # signals waiting to be sent; past that, the timers make up for them
SEND_TRIES = 3

Listener = Callable[[str], None]
"""Called with the signal's argument ("" when it has none)."""


class Signals:
    """Named wake-ups within this process."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    def on(self, topic: str, listener: Listener) -> None:
        self._listeners.setdefault(topic, []).append(listener)

    def ring(self, topic: str, argument: str = "") -> None:
        """Wake this process's listeners of ``topic``."""
        for listener in self._listeners.get(topic, ()):
            listener(argument)

    def ring_all(self) -> None:
        for topic in list(self._listeners):
            self.ring(topic)

    def send(self, topic: str, argument: str = "") -> None:
        """Wake every process's listeners of ``topic`` (here at once, elsewhere soon)."""
        self.ring(topic, argument)

    async def start(self) -> None:
        """Start hearing the other processes (nothing to do alone)."""

    async def close(self) -> None:
        """Stop hearing them."""


class PostgresSignals(Signals):
    """Signals carried by LISTEN/NOTIFY on one PostgreSQL database."""

    def __init__(self, url: str, *, sender: str) -> None:
        super().__init__()
        self._url = url
        self._sender = sender  # our own signals come back to us: they are skipped
        self._outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX)
        self._tasks = BackgroundTasks()
        self.listening = asyncio.Event()

    def send(self, topic: str, argument: str = "") -> None:
        self.ring(topic, argument)
        with contextlib.suppress(asyncio.QueueFull):  # the others look again on their timers
            self._outbox.put_nowait(f"{self._sender}|{topic}|{argument}")

    async def start(self) -> None:
        self._tasks.spawn(self._listen_forever(), name="signals-listen")
        self._tasks.spawn(self._send_forever(), name="signals-send")

    async def close(self) -> None:
        await self._tasks.cancel_all()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
        )

    async def _send_forever(self) -> None:
        """Send the outbox over one connection. A signal whose send failed (the connection
        was found dead, as after a server restart) is sent again on the next connection, up
        to ``SEND_TRIES`` times; then it is dropped and the others' timers make up for it."""
        failures = 0
        pending: str | None = None
        tries = 0
        while True:
            if pending is None:
                pending, tries = await self._outbox.get(), 0
            try:
                async with await self._connect() as connection:
                    failures = 0
                    while True:
                        tries += 1
                        await connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, pending))
                        pending, tries = await self._outbox.get(), 0
            except (psycopg.Error, OSError) as error:
                failures += 1
                if tries >= SEND_TRIES:
                    pending = None
                log.debug("signals: sending failed (%s)", type(error).__name__)
                await asyncio.sleep(RECONNECT.delay(failures))

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                async with await self._connect() as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if failures:
                        log.info("signals: listening again")
                        self.ring_all()  # whatever was sent meanwhile was missed
                    failures = 0
                    async for notice in connection.notifies():
                        self._heard(notice.payload)
            except (psycopg.Error, OSError) as error:
                self.listening.clear()
                failures += 1
                if failures == 1:
                    log.info("signals: the listener lost its connection (%s)", error)
                await asyncio.sleep(RECONNECT.delay(failures))

    def _heard(self, payload: str) -> None:
        sender, _, rest = payload.partition("|")
        topic, _, argument = rest.partition("|")
        if sender != self._sender and topic:
            self.ring(topic, argument)
