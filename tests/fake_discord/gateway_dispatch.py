"""The sending half of the fake gateway: the sessions, which of them an event goes to (by
shard, intent), sequence numbers, and the log of who received which dispatch."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import payloads
from .models import CHANNEL_DM, JSON, FakeGuild, FakeMessage
from .sharding import DIRECT, EVERYONE, Audience, DispatchRecord, guild_audience, shard_of
from .state import DiscordState

OP_DISPATCH = 0

# Intents.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15


@dataclass(eq=False)
class GatewaySession:
    """One websocket connection (and the session it identified or resumed)."""

    ws: web.WebSocketResponse
    session_id: str = ""
    seq: int = 0
    intents: int = 0
    shard: list[int] = field(default_factory=lambda: [0, 1])
    identified: bool = False
    ready: bool = False
    # Set when a newer connection resumed this session: it must not become resumable again.
    superseded: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def open(self) -> bool:
        return not self.ws.closed


class Dispatcher:
    """The gateway's sessions and the fan-out of dispatches to those an event is for."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self.sessions: list[GatewaySession] = []

    @property
    def ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.ready and s.open]

    def serving(self, audience: Audience) -> list[GatewaySession]:
        """The ready sessions whose shard an event for `audience` goes to."""
        return [s for s in self.ready_sessions if audience.includes(s.shard)]

    def on_shard(self, shard_id: int | None) -> list[GatewaySession]:
        """Ready sessions of one shard (every ready session for None)."""
        return [s for s in self.ready_sessions if shard_id is None or s.shard[0] == shard_id]

    def shard_guilds(self, session: GatewaySession) -> list[FakeGuild]:
        """The guilds whose events go to the session's shard."""
        shard_id, shard_count = session.shard
        guilds = self.state.guilds.values()
        return [g for g in guilds if shard_of(g.id, shard_count) == shard_id]

    def channel_audience(self, channel_id: int) -> Audience:
        """Who gets a channel's events: its guild's shard, or shard 0 for a DM channel."""
        channel = self.state.channels.get(channel_id)
        if channel is None:
            return EVERYONE
        return DIRECT if channel.type == CHANNEL_DM else guild_audience(channel.guild_id)

    # --- sending -----------------------------------------------------------------------------

    async def _send(self, session: GatewaySession, frame: JSON) -> bool:
        frame.setdefault("s", None)
        frame.setdefault("t", None)
        frame.setdefault("d", None)
        async with session.lock:
            return await self._write(session, frame)

    async def _write(self, session: GatewaySession, frame: JSON) -> bool:
        if session.ws.closed:
            return False
        try:
            await session.ws.send_str(json.dumps(frame))
        except (ConnectionResetError, RuntimeError):
            return False
        return True

    async def _dispatch_to(
        self, session: GatewaySession, event: str, data: JSON, guild_id: int | None = None
    ) -> bool:
        async with session.lock:
            # Sequence numbers increase by one per dispatch within a session.
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            if not await self._write(session, frame):
                return False
            shard_id, shard_count = session.shard
            record = DispatchRecord(
                event, shard_id, shard_count, session.session_id, session.seq, guild_id
            )
            self.state.dispatches.append(record)
            return True

    def _audience(self, event: str, audience: Audience) -> list[GatewaySession]:
        """The sessions serving `audience`; notes an event that no connected shard serves."""
        serving = self.serving(audience)
        ready = self.ready_sessions
        if ready and not serving:
            shards = sorted({tuple(s.shard) for s in ready})
            self.state.note(
                f"{event} for {audience.describe()}: no session serves its shard "
                f"(connected shards {shards}); not delivered"
            )
        return serving

    async def deliver(
        self, event: str, data: JSON, *, intent: int | None = None, audience: Audience = EVERYONE
    ) -> list[GatewaySession]:
        """Send a dispatch to the ready sessions of `audience`'s shard (holding `intent` if
        given); returns the sessions that got it."""
        sent = []
        for session in self._audience(event, audience):
            if intent is not None and not session.intents & intent:
                continue
            if await self._dispatch_to(session, event, data, audience.guild_id):
                sent.append(session)
        return sent

    async def dispatch(
        self, event: str, data: JSON, *, intent: int | None = None, audience: Audience = EVERYONE
    ) -> int:
        """deliver(), returning how many sessions got the dispatch."""
        return len(await self.deliver(event, data, intent=intent, audience=audience))

    async def dispatch_message(self, event: str, msg: FakeMessage) -> int:
        """MESSAGE_CREATE / MESSAGE_UPDATE, honouring message intents and MESSAGE_CONTENT."""
        state = self.state
        if msg.ephemeral:
            return 0
        channel = state.channels.get(msg.channel_id)
        is_dm = channel is not None and channel.type == CHANNEL_DM
        intent = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
        full = payloads.message(state, msg, for_gateway=True)
        state.check_schema("MessageResponse", full)
        sent = 0
        for session in self._audience(event, self.channel_audience(msg.channel_id)):
            if not session.intents & intent:
                continue
            data = full
            privileged = bool(session.intents & INTENT_MESSAGE_CONTENT)
            if not privileged and not is_dm and msg.author_id != state.bot_user_id:
                # Without MESSAGE_CONTENT, other users' guild messages arrive emptied.
                data = dict(full, content="", embeds=[], attachments=[], components=[])
            if await self._dispatch_to(session, event, data, msg.guild_id):
                sent += 1
        return sent

    def reaction_intent(self, channel_id: int) -> int:
        channel = self.state.channels.get(channel_id)
        if channel is not None and channel.type == CHANNEL_DM:
            return INTENT_DIRECT_MESSAGE_REACTIONS
        return INTENT_GUILD_MESSAGE_REACTIONS

    async def send_op(self, op: int, data: Any, shard_id: int | None = None) -> int:
        """Send a non-dispatch opcode (e.g. RECONNECT, INVALID_SESSION) to ready sessions
        (of one shard if given)."""
        sent = 0
        for session in self.on_shard(shard_id):
            if await self._send(session, {"op": op, "d": data}):
                sent += 1
        return sent
