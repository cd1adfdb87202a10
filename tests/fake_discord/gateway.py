"""The fake gateway websocket: HELLO, heartbeats, IDENTIFY/RESUME, dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import payloads
from .models import CHANNEL_DM, JSON, FakeMessage
from .state import DiscordState

log = logging.getLogger("tests.fake_discord.gateway")

# Opcodes.
OP_DISPATCH = 0
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


@dataclass
class _Resumable:
    seq: int
    intents: int
    shard: list[int]


class GatewayHub:
    """Accepts gateway connections and fans dispatches out to every ready session."""

    def __init__(self, state: DiscordState, gateway_url: str = "") -> None:
        self.state = state
        self.gateway_url = gateway_url
        self.sessions: list[GatewaySession] = []
        self._resumable: dict[str, _Resumable] = {}

    @property
    def ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.ready and s.open]

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
        session.identified = True
        session.session_id = uuid.uuid4().hex
        session.intents = int(data.get("intents", 0))
        shard = data.get("shard")
        if isinstance(shard, list) and len(shard) == 2:
            session.shard = [int(shard[0]), int(shard[1])]
        state.identify_count += 1
        await self._dispatch_to(session, "READY", self._ready_payload(session))
        for guild in list(state.guilds.values()):
            await self._dispatch_to(session, "GUILD_CREATE", payloads.guild_create(state, guild))
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
        if guild is None:
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
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _ready_payload(self, session: GatewaySession) -> JSON:
        state = self.state
        me = payloads.user(state.users[state.bot_user_id])
        me.update({"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"})
        return {
            "v": 10,
            "user": me,
            "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds],
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

    async def _dispatch_to(self, session: GatewaySession, event: str, data: JSON) -> bool:
        async with session.lock:
            # Sequence numbers increase by one per dispatch within a session.
            session.seq += 1
            return await self._write(
                session, {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            )

    async def dispatch(self, event: str, data: JSON, *, intent: int | None = None) -> int:
        """Send a dispatch to every ready session (holding `intent` if given); returns how many."""
        sent = 0
        for session in self.ready_sessions:
            if intent is not None and not session.intents & intent:
                continue
            if await self._dispatch_to(session, event, data):
                sent += 1
        return sent

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
        for session in self.ready_sessions:
            if not session.intents & intent:
                continue
            data = full
            privileged = bool(session.intents & INTENT_MESSAGE_CONTENT)
            if not privileged and not is_dm and msg.author_id != state.bot_user_id:
                # Without MESSAGE_CONTENT, other users' guild messages arrive emptied.
                data = dict(full, content="", embeds=[], attachments=[], components=[])
            if await self._dispatch_to(session, event, data):
                sent += 1
        return sent

    def reaction_intent(self, channel_id: int) -> int:
        channel = self.state.channels.get(channel_id)
        if channel is not None and channel.type == CHANNEL_DM:
            return INTENT_DIRECT_MESSAGE_REACTIONS
        return INTENT_GUILD_MESSAGE_REACTIONS

    async def send_op(self, op: int, data: Any) -> int:
        """Send a non-dispatch opcode (e.g. RECONNECT, INVALID_SESSION) to ready sessions."""
        sent = 0
        for session in self.ready_sessions:
            if await self._send(session, {"op": op, "d": data}):
                sent += 1
        return sent

    async def disconnect(self, code: int = 4000) -> int:
        """Close every open connection; sessions stay resumable."""
        sessions = [s for s in self.sessions if s.open]
        for session in sessions:
            await session.ws.close(code=code, message=b"Disconnected by the test.")
        return len(sessions)

    async def close_all(self) -> None:
        for session in list(self.sessions):
            if session.open:
                await session.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
        self._resumable.clear()
