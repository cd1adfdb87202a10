"""The fake gateway websocket: HELLO, heartbeats, IDENTIFY/RESUME, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import payloads
from .gateway_dispatch import (
    INTENT_DIRECT_MESSAGE_REACTIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    OP_DISPATCH,
    Dispatcher,
    GatewaySession,
)
from .models import JSON, FakeGuild
from .sharding import identify_shard
from .state import DiscordState

__all__ = [
    "INTENT_DIRECT_MESSAGES",
    "INTENT_DIRECT_MESSAGE_REACTIONS",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_GUILD_MESSAGE_REACTIONS",
    "INTENT_MESSAGE_CONTENT",
    "OP_DISPATCH",
    "GatewayHub",
    "GatewaySession",
]

log = logging.getLogger("tests.fake_discord.gateway")

# Opcodes (OP_DISPATCH = 0 in gateway_dispatch).
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11
OP_REQUEST_SOUNDBOARD_SOUNDS = 31


@dataclass
class _Resumable:
    seq: int
    intents: int
    shard: list[int]


class GatewayHub(Dispatcher):
    """Accepts gateway connections; fans dispatches out to the sessions of each event's shard."""

    def __init__(self, state: DiscordState, gateway_url: str = "") -> None:
        super().__init__(state)
        self.gateway_url = gateway_url
        self._resumable: dict[str, _Resumable] = {}

    # --- connection --------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        # The client asks for compress=zlib-stream; plain text frames are accepted by it.
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        try:
            await self._send(
                session,
                {"op": OP_HELLO, "d": {"heartbeat_interval": self.state.heartbeat_interval_ms}},
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(session, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.state.violation("gateway: binary frame from client (expected JSON text)")
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                elif msg.type == WSMsgType.ERROR:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            # A killed bot process drops its socket; that must never break the server.
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            if session.identified and session.session_id and not session.superseded:
                self._resumable[session.session_id] = _Resumable(
                    session.seq, session.intents, session.shard
                )
            self.state.notifier.notify()
        return ws

    async def _on_text(self, session: GatewaySession, text: str) -> None:
        try:
            frame = json.loads(text)
            op = frame["op"]
        except (ValueError, KeyError, TypeError):
            self.state.violation("gateway: undecodable payload")
            await session.ws.close(code=4002, message=b"Error while decoding payload.")
            return
        data: Any = frame.get("d")
        if op == OP_HEARTBEAT:
            await self._send(session, {"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(session, data if isinstance(data, dict) else {})
        elif op == OP_RESUME:
            await self._resume(session, data if isinstance(data, dict) else {})
        elif not session.identified:
            self.state.violation(f"gateway: op {op} before IDENTIFY")
            await session.ws.close(code=4003, message=b"Not authenticated.")
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._request_members(session, data if isinstance(data, dict) else {})
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE, OP_REQUEST_SOUNDBOARD_SOUNDS):
            pass
        else:
            self.state.violation(f"gateway: unknown opcode {op}")
            await session.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, session: GatewaySession, data: JSON) -> None:
        state = self.state
        if data.get("token") != state.bot_token:
            state.violation("gateway: IDENTIFY with a wrong token")
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session.identified:
            state.violation("gateway: second IDENTIFY on one connection")
            await session.ws.close(code=4005, message=b"Already authenticated.")
            return
        counts = {s.shard[1] for s in self.sessions if s is not session and s.identified and s.open}
        shard, refusal = identify_shard(data.get("shard"), state.required_shards, counts)
        if refusal is not None:
            if refusal.violation is not None:
                state.violation(refusal.violation)
            else:
                state.note(
                    f"gateway: IDENTIFY with shard {data.get('shard')!r} closed "
                    f"{refusal.code} {refusal.reason} (required_shards "
                    f"{state.required_shards})"
                )
            await session.ws.close(code=refusal.code, message=refusal.reason.encode())
            return
        session.identified = True
        session.session_id = uuid.uuid4().hex
        session.intents = int(data.get("intents", 0))
        session.shard = shard
        state.identify_count += 1
        guilds = self.shard_guilds(session)
        await self._dispatch_to(session, "READY", self._ready_payload(session, guilds))
        for guild in guilds:
            data = payloads.guild_create(state, guild)
            await self._dispatch_to(session, "GUILD_CREATE", data, guild.id)
        session.ready = True
        state.notifier.notify()

    async def _resume(self, session: GatewaySession, data: JSON) -> None:
        state = self.state
        if data.get("token") != state.bot_token:
            state.violation("gateway: RESUME with a wrong token")
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        session_id = str(data.get("session_id", ""))
        saved = self._resumable.pop(session_id, None)
        stale = next(
            (s for s in self.sessions if s is not session and s.session_id == session_id), None
        )
        if saved is None and stale is not None:
            # The client reconnected before the server noticed the old socket closing.
            stale.superseded = True
            stale.ready = False
            saved = _Resumable(stale.seq, stale.intents, stale.shard)
            await stale.ws.close(code=4009, message=b"Session superseded.")
        if saved is None:
            # Unknown or already-resumed session: the client must IDENTIFY afresh.
            await self._send(session, {"op": OP_INVALID_SESSION, "d": False})
            return
        session.identified = True
        session.session_id = session_id
        session.seq = saved.seq
        session.intents = saved.intents
        session.shard = saved.shard
        state.resume_count += 1
        # Events missed while disconnected are not replayed (documented simplification).
        await self._dispatch_to(session, "RESUMED", {})
        session.ready = True
        state.notifier.notify()

    async def _request_members(self, session: GatewaySession, data: JSON) -> None:
        state = self.state
        guild = state.guilds.get(int(data.get("guild_id", 0) or 0))
        if guild is None or guild not in self.shard_guilds(session):
            return
        query = str(data.get("query") or "")
        wanted = {int(u) for u in (data.get("user_ids") or [])}
        members = [
            payloads.member(state, guild, m)
            for m in guild.members.values()
            if (not wanted or m.user_id in wanted)
            and state.users[m.user_id].username.startswith(query)
        ]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk, guild.id)

    def _ready_payload(self, session: GatewaySession, guilds: list[FakeGuild]) -> JSON:
        state = self.state
        me = payloads.user(state.users[state.bot_user_id])
        me.update({"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"})
        return {
            "v": 10,
            "user": me,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": session.shard,
            "application": {
                "id": str(state.application_id),
                "flags": payloads.state_application_flags(),
            },
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "user_settings": {},
            "_trace": ['["fake-discord",{"micros":0}]'],
        }

    async def disconnect(self, code: int = 4000, shard_id: int | None = None) -> int:
        """Close every open connection (of one shard if given); sessions stay resumable."""
        sessions = [
            s for s in self.sessions if s.open and (shard_id is None or s.shard[0] == shard_id)
        ]
        for session in sessions:
            await session.ws.close(code=code, message=b"Disconnected by the test.")
        return len(sessions)

    async def close_all(self) -> None:
        for session in list(self.sessions):
            if session.open:
                await session.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
        self._resumable.clear()
