"""The fake REST API under /api/v10: routing, auth, rate limits, bodies, and the handlers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import MultiMapping

from . import openapi, payloads
from .components import number_components
from .gateway import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, GatewayHub
from .models import (
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    CHANNEL_DM,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    FakeChannel,
    FakeFile,
    FakeInteraction,
    FakeMessage,
    RateLimitRule,
    RegisteredCommand,
    RequestRecord,
)
from .state import DiscordState

API_PREFIX = "/api/v10"

# Ordinary responses carry a generous, consistent bucket so discord.py never waits long.
_RL_LIMIT = 50
_RL_WINDOW = 1.0

# Flags a message may be created or edited with (others are set by Discord itself).
_SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 13) | (1 << 15)
_MAX_CONTENT = 2000

_FILES_FIELD = re.compile(r"files\[(\d+)\]")
_MESSAGE = "/channels/{channel_id}/messages/{message_id}"


class DiscordError(Exception):
    """An error response in Discord's shape; `violation` is recorded when the client is at fault."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        violation: str | None = None,
        errors: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.violation = violation
        self.errors = errors


@dataclass
class UploadedPart:
    """One `files[n]` part of a multipart request."""

    index: int
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """A matched REST request with its parsed body."""

    request: web.Request
    method: str
    path: str
    template: str
    params: dict[str, str]
    body: Any = None
    parts: list[UploadedPart] = field(default_factory=list)

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    def snowflake(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise DiscordError(
                400, 50035, "Invalid Form Body", violation=f"{self.method} {self.path}: bad {name}"
            ) from None

    def json_object(self) -> JSON:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"{self.method} {self.path}: body is not a JSON object",
            )
        return self.body


@dataclass
class Reply:
    """A handler's answer: JSON body (None = 204 No Content)."""

    body: Any = None
    status: int = 200


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass
class _Route:
    method: str
    template: str
    handler: Handler
    auth: bool
    pattern: re.Pattern[str]


@dataclass
class _Window:
    reset_at: float
    used: int = 0


def _compile(template: str) -> re.Pattern[str]:
    regex = ""
    for piece in re.split(r"(\{[a-z_]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            regex += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            regex += re.escape(piece)
    return re.compile(regex)


def _flag_bool(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


class RestApi:
    """Dispatches /api/v10 requests to handlers and enforces Discord's HTTP rules."""

    def __init__(self, state: DiscordState, hub: GatewayHub) -> None:
        self.state = state
        self.hub = hub
        self.gateway_url = ""
        self._routes: list[_Route] = []
        self._windows: dict[str, _Window] = {}
        # Per message id: when the edits admitted by the strict edit bucket happened.
        self._edit_times: dict[str, list[float]] = {}
        self._register_routes()

    # --- routing -----------------------------------------------------------------------------

    def _add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        self._routes.append(_Route(method, template, handler, auth, _compile(template)))

    def _register_routes(self) -> None:
        add = self._add
        add("GET", "/gateway", self.get_gateway, auth=False)
        add("GET", "/gateway/bot", self.get_gateway_bot)
        add("GET", "/users/@me", self.get_me)
        add("GET", "/users/@me/guilds", self.get_my_guilds)
        add("POST", "/users/@me/channels", self.create_dm)
        add("GET", "/users/{user_id}", self.get_user)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/applications/@me", self.get_application)
        for template in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            add("GET", template, self.get_commands)
            add("PUT", template, self.put_commands)
            add("POST", template, self.post_command)
            add("GET", template + "/{command_id}", self.get_command)
            add("DELETE", template + "/{command_id}", self.delete_command)
        add("GET", "/guilds/{guild_id}", self.get_guild)
        add("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        add("GET", "/channels/{channel_id}", self.get_channel)
        add("POST", "/channels/{channel_id}/typing", self.typing)
        add("GET", "/channels/{channel_id}/messages", self.get_messages)
        add("POST", "/channels/{channel_id}/messages", self.create_message)
        msg = _MESSAGE
        add("GET", msg, self.get_message)
        add("PATCH", msg, self.edit_message)
        add("DELETE", msg, self.delete_message)
        add("PUT", msg + "/reactions/{emoji_name}/@me", self.add_reaction)
        add("DELETE", msg + "/reactions/{emoji_name}/@me", self.remove_own_reaction)
        add("DELETE", msg + "/reactions/{emoji_name}/{user_id}", self.remove_user_reaction)
        add("GET", msg + "/reactions/{emoji_name}", self.get_reactions)
        add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.interaction_callback,
            auth=False,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        add("POST", hook, self.execute_webhook, auth=False)
        for suffix in ("/messages/@original", "/messages/{message_id}"):
            add("GET", hook + suffix, self.get_webhook_message, auth=False)
            add("PATCH", hook + suffix, self.edit_webhook_message, auth=False)
            add("DELETE", hook + suffix, self.delete_webhook_message, auth=False)

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        """The route, its params, and whether the path exists under another method."""
        path_known = False
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict(), True
            path_known = True
        return None, {}, path_known

    # --- request pipeline --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        method = request.method
        path = request.path[len(API_PREFIX) :] or "/"
        route, params, path_known = self._match(method, path)
        if route is None:
            if path_known:
                state.violation(f"method not allowed: {method} {path}")
                return self._finish(
                    method, path, 405, {"message": "405: Method Not Allowed", "code": 0}
                )
            state.violation(f"unknown route: {method} {path}")
            return self._finish(method, path, 404, {"message": "404: Not Found", "code": 0})
        headers = self._ratelimit_headers(route, params)
        try:
            if route.auth:
                self._check_auth(request, method, path)
            rule = self._take_rate_limit(method, path)
            if rule is not None:
                scope = "global" if rule.is_global else "shared"
                return self._rate_limited(
                    method, path, route, rule.retry_after, scope=scope, is_global=rule.is_global
                )
            if method == "PATCH" and route.template == _MESSAGE:
                retry_after = self._take_edit_slot(params["message_id"])
                if retry_after is not None:
                    state.edit_429s += 1
                    limit = state.edit_bucket[0] if state.edit_bucket else 5
                    return self._rate_limited(
                        method, path, route, retry_after, limit=limit, scope="user"
                    )
            call = Call(request, method, path, route.template, params)
            try:
                await self._read_body(call)
            except (ConnectionResetError, asyncio.IncompleteReadError):
                # The client went away mid-request (e.g. a bot process killed during an
                # upload); nobody reads this answer, and the server carries on.
                self.state.requests.append(RequestRecord(method, path, 499))
                return web.Response(status=400)
            reply = await route.handler(call)
        except DiscordError as err:
            if err.violation:
                state.violation(err.violation)
            body: JSON = {"message": err.message, "code": err.code}
            if err.errors is not None:
                body["errors"] = err.errors
            return self._finish(method, path, err.status, body, headers)
        if reply.body is not None:
            problem = openapi.check_response(route.template, method, reply.status, reply.body)
            if problem is not None:
                state.violation(problem)
            return self._finish(method, path, reply.status, reply.body, headers)
        return self._finish(
            method, path, 204 if reply.status == 200 else reply.status, None, headers
        )

    def _finish(
        self,
        method: str,
        path: str,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.state.requests.append(RequestRecord(method, path, status))
        self.state.notifier.notify()
        out = {"Via": "1.1 google", **(headers or {})}
        if body is None:
            return web.Response(status=status, headers=out)
        # Exactly "application/json": discord.py does not decode "...; charset=utf-8".
        out["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=out)

    def _check_auth(self, request: web.Request, method: str, path: str) -> None:
        if request.headers.get("Authorization") != f"Bot {self.state.bot_token}":
            raise DiscordError(
                401,
                0,
                "401: Unauthorized",
                violation=f"unauthorized: {method} {path} without a valid "
                "'Authorization: Bot' header",
            )

    def _take_rate_limit(self, method: str, path: str) -> RateLimitRule | None:
        full = API_PREFIX + path
        for rule in self.state.rate_limits:
            if rule.remaining <= 0 or rule.method != method:
                continue
            if rule.pattern.search(path) or rule.pattern.search(full):
                rule.remaining -= 1
                return rule
        return None

    def _take_edit_slot(self, message_id: str) -> float | None:
        """With fake.enforce_edit_bucket: None if this edit fits the message's bucket (and
        counts it), else the seconds until it would (a sliding window over admitted edits)."""
        bucket = self.state.edit_bucket
        if bucket is None:
            return None
        limit, per_seconds = bucket
        now = time.monotonic()
        recent = [t for t in self._edit_times.get(message_id, []) if now - t < per_seconds]
        self._edit_times[message_id] = recent
        if len(recent) >= limit:
            return max(recent[0] + per_seconds - now, 0.001)
        recent.append(now)
        return None

    def _rate_limited(
        self,
        method: str,
        path: str,
        route: _Route,
        retry_after: float,
        *,
        limit: int = 5,
        scope: str = "shared",
        is_global: bool = False,
    ) -> web.Response:
        now = time.time()
        retry_after = round(retry_after, 3)
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{now + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": self._bucket(route),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return self._finish(method, path, 429, body, headers)

    @staticmethod
    def _bucket(route: _Route) -> str:
        return hashlib.sha1(f"{route.method} {route.template}".encode()).hexdigest()[:16]

    def _ratelimit_headers(self, route: _Route, params: dict[str, str]) -> dict[str, str]:
        bucket = self._bucket(route)
        major = params.get("channel_id") or params.get("guild_id") or params.get("webhook_id") or ""
        key = f"{bucket}:{major}:{params.get('webhook_token', '')}"
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = _Window(reset_at=now + _RL_WINDOW)
            self._windows[key] = window
        window.used += 1
        return {
            "X-RateLimit-Limit": str(_RL_LIMIT),
            "X-RateLimit-Remaining": str(max(_RL_LIMIT - window.used, 0)),
            "X-RateLimit-Reset": f"{window.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{max(window.reset_at - now, 0.0):.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    async def _read_body(self, call: Call) -> None:
        request = call.request
        if not request.body_exists:
            return
        declared = request.headers.get("Content-Type", "")
        mimetype = request.content_type
        where = f"{call.method} {call.path}"
        if mimetype == "application/json":
            raw = await request.read()
            call.body = self._parse_json(raw, where)
            problem = openapi.check_request(
                call.template, call.method, "application/json", call.body
            )
        elif mimetype == "multipart/form-data":
            await self._read_multipart(call)
            problem = openapi.check_request(
                call.template, call.method, "multipart/form-data", call.body or {}
            )
        else:
            await request.read()
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"{where}: body sent with Content-Type {declared!r} "
                "(expected application/json or multipart/form-data)",
            )
        if problem is not None:
            self.state.violation(problem)

    @staticmethod
    def _parse_json(raw: bytes, where: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise DiscordError(
                400,
                50109,
                "The request body contains invalid JSON.",
                violation=f"{where}: invalid JSON body",
            ) from None

    async def _read_multipart(self, call: Call) -> None:
        where = f"{call.method} {call.path}"
        limit = self.state.upload_limit
        oversize: list[str] = []
        saw_payload = False
        reader = await call.request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                self.state.violation(f"{where}: nested multipart part")
                continue
            name = part.name or ""
            if name == "payload_json":
                saw_payload = True
                call.body = self._parse_json(bytes(await part.read()), where)
                continue
            match = _FILES_FIELD.fullmatch(name)
            # Read every part completely, even oversize ones: answering before the client
            # finished sending would surface as a connection reset instead of the 413.
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = await part.read_chunk(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size <= limit:
                    chunks.append(bytes(chunk))
            if match is None:
                self.state.violation(f"{where}: unexpected multipart field {name!r}")
                continue
            filename = part.filename or f"file{match.group(1)}"
            if size > limit:
                oversize.append(f"{filename} ({size} bytes)")
                continue
            call.parts.append(
                UploadedPart(
                    int(match.group(1)),
                    filename,
                    part.headers.get("Content-Type"),
                    b"".join(chunks),
                )
            )
        if oversize:
            raise DiscordError(
                413,
                40005,
                "Request entity too large",
                violation=f"oversize upload: {where}: {', '.join(oversize)} > limit {limit} bytes",
            )
        if not saw_payload:
            self.state.violation(f"{where}: multipart request without a payload_json part")

    # --- shared helpers ----------------------------------------------------------------------

    def _channel(self, call: Call) -> FakeChannel:
        channel = self.state.channels.get(call.snowflake("channel_id"))
        if channel is None:
            raise DiscordError(
                404,
                10003,
                "Unknown Channel",
                violation=f"{call.method} {call.path}: unknown channel",
            )
        if channel.guild_id is not None and channel.guild_id in self.state.removed_guilds:
            # The channel still exists, but the bot was removed from its guild. Not a client
            # bug: the bot may learn of the removal only after it sent the request.
            raise DiscordError(403, 50001, "Missing Access")
        return channel

    def _check_can_post(self, channel: FakeChannel) -> None:
        """Refusals of Discord's that are not client bugs: no violation is recorded."""
        if channel.id in self.state.posting_forbidden:
            raise DiscordError(403, 50013, "Missing Permissions")
        if channel.type == CHANNEL_DM and set(channel.recipient_ids) & self.state.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")

    def _message(self, call: Call, channel: FakeChannel) -> FakeMessage:
        msg = self.state.messages_by_id.get(call.snowflake("message_id"))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def _check_app(self, call: Call) -> None:
        if call.snowflake("application_id") != self.state.application_id:
            raise DiscordError(
                403,
                50001,
                "Missing Access",
                violation=f"{call.method} {call.path}: another application's id",
            )

    def _files(self, call: Call, channel_id: int, body: JSON) -> list[FakeFile]:
        """New files of a create request, named and described by body['attachments']."""
        meta: dict[int, JSON] = {}
        for entry in body.get("attachments") or []:
            if isinstance(entry, dict) and "id" in entry:
                try:
                    meta[int(entry["id"])] = entry
                except (TypeError, ValueError):
                    continue
        files: list[FakeFile] = []
        for part in sorted(call.parts, key=lambda p: p.index):
            info = meta.get(part.index, {})
            files.append(self._store(part, channel_id, info))
        return files

    def _store(self, part: UploadedPart, channel_id: int, info: JSON) -> FakeFile:
        duration = info.get("duration_secs")
        waveform = info.get("waveform")
        description = info.get("description")
        return self.state.store_file(
            channel_id,
            str(info.get("filename") or part.filename),
            part.data,
            received_content_type=part.content_type,
            description=str(description) if description is not None else None,
            duration_secs=float(duration) if isinstance(duration, int | float) else None,
            waveform=str(waveform) if waveform is not None else None,
        )

    def _check_content(self, call: Call, body: JSON, *, has_files: bool) -> str:
        content = body.get("content")
        text = "" if content is None else str(content)
        flags = body.get("flags") or 0
        components_v2 = bool(int(flags) & (1 << 15))
        if len(text) > _MAX_CONTENT and not components_v2:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"{call.method} {call.path}: content longer than "
                f"{_MAX_CONTENT} characters",
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": f"Must be {_MAX_CONTENT} or fewer in length.",
                            }
                        ]
                    }
                },
            )
        if not (
            text
            or has_files
            or body.get("embeds")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(
                400,
                50006,
                "Cannot send an empty message",
                violation=f"{call.method} {call.path}: empty message",
            )
        return text

    def _apply_edit(self, call: Call, msg: FakeMessage, body: JSON) -> None:
        """Apply an edit body (+ new files) to msg, as Create/Edit Message semantics say."""
        if "content" in body:
            content = body["content"]
            text = "" if content is None else str(content)
            if len(text) > _MAX_CONTENT and not msg.flags & (1 << 15):
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    violation=f"{call.method} {call.path}: content longer than {_MAX_CONTENT}",
                )
            msg.content = text
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = number_components(body["components"] or [])
        if body.get("flags") is not None:
            kept = msg.flags & ~_SETTABLE_FLAGS
            msg.flags = kept | (int(body["flags"]) & _SETTABLE_FLAGS)
        attachments = body.get("attachments")
        if attachments is not None:
            by_index = {p.index: p for p in call.parts}
            existing = {f.attachment_id: f for f in msg.files}
            files: list[FakeFile] = []
            for entry in attachments:
                ident = int(entry["id"]) if isinstance(entry, dict) and "id" in entry else -1
                if ident in existing:
                    files.append(existing[ident])
                elif ident in by_index:
                    files.append(self._store(by_index.pop(ident), msg.channel_id, entry))
                else:
                    self.state.violation(
                        f"{call.method} {call.path}: attachments[] id {ident} is neither kept "
                        "nor an uploaded file"
                    )
            files.extend(self._store(p, msg.channel_id, {}) for p in by_index.values())
            msg.files = files
        elif call.parts:
            msg.files = msg.files + [self._store(p, msg.channel_id, {}) for p in call.parts]
        # An edit fills in a deferred ("thinking") response.
        msg.flags &= ~FLAG_LOADING
        self.state.mark_edited(msg)

    async def _emit(self, event: str, msg: FakeMessage) -> None:
        await self.hub.dispatch_message(event, msg)

    async def _emit_delete(self, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return
        data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        channel = self.state.channels.get(msg.channel_id)
        is_dm = channel is not None and channel.type == CHANNEL_DM
        await self.hub.dispatch(
            "MESSAGE_DELETE",
            data,
            intent=INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES,
        )

    # --- gateway, users, application ---------------------------------------------------------

    async def get_gateway(self, call: Call) -> Reply:
        return Reply({"url": self.gateway_url})

    async def get_gateway_bot(self, call: Call) -> Reply:
        return Reply(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_me(self, call: Call) -> Reply:
        state = self.state
        me = payloads.user(state.users[state.bot_user_id])
        me.update(
            {
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "locale": "en-US",
                "premium_type": 0,
            }
        )
        return Reply(me)

    async def get_user(self, call: Call) -> Reply:
        found = self.state.users.get(call.snowflake("user_id"))
        if found is None:
            raise DiscordError(404, 10013, "Unknown User")
        return Reply(payloads.user(found))

    async def get_application(self, call: Call) -> Reply:
        return Reply(payloads.application(self.state))

    async def create_dm(self, call: Call) -> Reply:
        body = call.json_object()
        try:
            recipient = int(body.get("recipient_id", 0))
        except (TypeError, ValueError):
            recipient = 0
        if recipient not in self.state.users or recipient == self.state.bot_user_id:
            raise DiscordError(
                400, 50033, "Invalid Recipient(s)", violation=f"DM to unknown user {recipient}"
            )
        channel = self.state.dm_channel_for(recipient)
        return Reply(payloads.channel(self.state, channel))

    # --- application commands ----------------------------------------------------------------

    def _command_scope(self, call: Call) -> int | None:
        self._check_app(call)
        if "guild_id" not in call.params:
            return None
        guild_id = call.snowflake("guild_id")
        if guild_id not in self.state.guilds:
            raise DiscordError(
                403, 50001, "Missing Access", violation=f"{call.method} {call.path}: unknown guild"
            )
        return guild_id

    async def get_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        return Reply([payloads.command(self.state, c) for c in self.state.commands_for(scope)])

    def _build_command(
        self, data: JSON, scope: int | None, previous: list[RegisteredCommand]
    ) -> RegisteredCommand:
        name = str(data.get("name", ""))
        ctype = int(data.get("type") or 1)
        same = next((c for c in previous if c.name == name and c.type == ctype), None)
        return RegisteredCommand(
            # Discord keeps a command's id when an overwrite still contains it.
            id=same.id if same is not None else self.state.ids.next(),
            name=name,
            type=ctype,
            guild_id=scope,
            version=self.state.ids.next(),
            request=dict(data),
        )

    async def put_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        body = call.body if call.body is not None else []
        if not isinstance(body, list):
            raise DiscordError(
                400, 50035, "Invalid Form Body", violation=f"PUT {call.path}: body is not an array"
            )
        previous = self.state.commands_for(scope)
        built: list[RegisteredCommand] = []
        seen: set[tuple[str, int]] = set()
        for data in body:
            if not isinstance(data, dict):
                raise DiscordError(
                    400, 50035, "Invalid Form Body", violation=f"PUT {call.path}: bad command"
                )
            command = self._build_command(data, scope, previous)
            key = (command.name, command.type)
            if key in seen:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    violation=f"PUT {call.path}: duplicate command name {command.name!r}",
                )
            seen.add(key)
            built.append(command)
        self.state.commands = [c for c in self.state.commands if c.guild_id != scope] + built
        self.state.command_syncs += 1
        self.state.notifier.notify()
        return Reply([payloads.command(self.state, c) for c in built])

    async def post_command(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        data = call.json_object()
        previous = self.state.commands_for(scope)
        command = self._build_command(data, scope, previous)
        existed = any(c.id == command.id for c in previous)
        self.state.commands = [c for c in self.state.commands if c.id != command.id] + [command]
        self.state.notifier.notify()
        return Reply(payloads.command(self.state, command), 200 if existed else 201)

    def _find_command(self, call: Call) -> RegisteredCommand:
        scope = self._command_scope(call)
        wanted = call.snowflake("command_id")
        for command in self.state.commands_for(scope):
            if command.id == wanted:
                return command
        raise DiscordError(404, 10063, "Unknown application command")

    async def get_command(self, call: Call) -> Reply:
        return Reply(payloads.command(self.state, self._find_command(call)))

    async def delete_command(self, call: Call) -> Reply:
        command = self._find_command(call)
        self.state.commands.remove(command)
        self.state.notifier.notify()
        return Reply(None, 204)

    # --- guilds and channels -----------------------------------------------------------------

    async def get_guild(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        payload = payloads.guild(self.state, guild)
        if _flag_bool(call.query.get("with_counts")):
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0
        return Reply(payload)

    async def get_guild_channels(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return Reply(
            [payloads.channel(self.state, self.state.channels[c]) for c in guild.channel_ids]
        )

    async def get_my_guilds(self, call: Call) -> Reply:
        """The bot's servers, as partial guilds (id, name, icon, owner, permissions, …)."""
        state = self.state
        partial: list[JSON] = [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": g.owner_id == state.bot_user_id,
                "permissions": "0",
                "features": [],
                "approximate_member_count": len(g.members),
                "approximate_presence_count": 0,
            }
            for g in state.guilds.values()
            if state.bot_user_id in g.members
        ]
        return Reply(partial)

    async def get_member(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        member = guild.members.get(call.snowflake("user_id"))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return Reply(payloads.member(self.state, guild, member))

    async def get_channel(self, call: Call) -> Reply:
        return Reply(payloads.channel(self.state, self._channel(call)))

    async def typing(self, call: Call) -> Reply:
        self._channel(call)
        return Reply(None, 204)

    # --- messages (bot token) ----------------------------------------------------------------

    async def get_messages(self, call: Call) -> Reply:
        channel = self._channel(call)
        try:
            limit = max(1, min(100, int(call.query.get("limit", "50"))))
            before = int(call.query["before"]) if "before" in call.query else None
            after = int(call.query["after"]) if "after" in call.query else None
        except ValueError:
            raise DiscordError(400, 50035, "Invalid Form Body") from None
        msgs = self.state.channel_messages(channel.id)
        if after is not None:
            chosen = [m for m in msgs if m.id > after][:limit]
        else:
            if before is not None:
                msgs = [m for m in msgs if m.id < before]
            chosen = msgs[-limit:]
        # Discord lists newest first.
        chosen.sort(key=lambda m: m.id, reverse=True)
        return Reply([payloads.message(self.state, m) for m in chosen])

    async def get_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        return Reply(payloads.message(self.state, self._message(call, channel)))

    async def create_message(self, call: Call) -> Reply:
        state = self.state
        channel = self._channel(call)
        self._check_can_post(channel)
        body = call.json_object()
        nonce = body.get("nonce")
        if isinstance(nonce, str) and len(nonce) > 25:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"POST {call.path}: nonce longer than 25 characters",
            )
        if nonce is not None and body.get("enforce_nonce"):
            existing = state.find_by_nonce(state.bot_user_id, nonce)
            if existing is not None:
                # Same author + nonce within the window: Discord returns the first message.
                return Reply(payloads.message(state, existing))
        content = self._check_content(call, body, has_files=bool(call.parts))
        files = self._files(call, channel.id, body)
        reference = body.get("message_reference")
        msg = state.create_message(
            channel.id,
            state.bot_user_id,
            content=content,
            files=files,
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            nonce=nonce,
            flags=int(body.get("flags") or 0) & _SETTABLE_FLAGS,
            tts=bool(body.get("tts")),
            message_reference=self._reference(reference, channel)
            if isinstance(reference, dict)
            else None,
            message_type=19 if isinstance(reference, dict) else 0,
        )
        await self._emit("MESSAGE_CREATE", msg)
        return Reply(payloads.message(state, msg))

    def _reference(self, reference: JSON, channel: FakeChannel) -> JSON:
        out: JSON = {"type": 0, "channel_id": str(reference.get("channel_id") or channel.id)}
        if reference.get("message_id") is not None:
            out["message_id"] = str(reference["message_id"])
        if channel.guild_id is not None:
            out["guild_id"] = str(channel.guild_id)
        return out

    async def edit_message(self, call: Call) -> Reply:
        state = self.state
        channel = self._channel(call)
        msg = self._message(call, channel)
        if msg.author_id != state.bot_user_id or msg.via_webhook:
            raise DiscordError(
                403,
                50005,
                "Cannot edit a message authored by another user",
                violation=f"PATCH {call.path}: editing a message the bot user did not post "
                f"({'webhook/interaction message' if msg.via_webhook else 'another author'})",
            )
        self._apply_edit(call, msg, call.json_object())
        await self._emit("MESSAGE_UPDATE", msg)
        return Reply(payloads.message(state, msg))

    async def delete_message(self, call: Call) -> Reply:
        channel = self._channel(call)
        msg = self._message(call, channel)
        if channel.type == CHANNEL_DM and msg.author_id != self.state.bot_user_id:
            raise DiscordError(
                403,
                50003,
                "Cannot execute action on a DM channel",
                violation=f"DELETE {call.path}: deleting another user's DM message",
            )
        self.state.delete_message(msg)
        await self._emit_delete(msg)
        return Reply(None, 204)

    # --- reactions ---------------------------------------------------------------------------

    async def _react(self, call: Call, user_id: int, add: bool) -> None:
        channel = self._channel(call)
        msg = self._message(call, channel)
        emoji = call.params["emoji_name"]
        entry = (emoji, user_id)
        if add and entry not in msg.reactions:
            msg.reactions.append(entry)
        elif not add and entry in msg.reactions:
            msg.reactions.remove(entry)
        else:
            return
        self.state.notifier.notify()
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "emoji": payloads.emoji(emoji),
            "burst": False,
            "type": 0,
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            guild = self.state.guilds[channel.guild_id]
            member = guild.members.get(user_id)
            if add and member is not None:
                data["member"] = payloads.member(self.state, guild, member)
        if add:
            data["message_author_id"] = str(msg.author_id)
            data["burst_colors"] = []
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        await self.hub.dispatch(event, data, intent=self.hub.reaction_intent(channel.id))

    async def add_reaction(self, call: Call) -> Reply:
        channel = self._channel(call)
        if channel.id in self.state.posting_forbidden:
            raise DiscordError(403, 50013, "Missing Permissions")
        await self._react(call, self.state.bot_user_id, True)
        return Reply(None, 204)

    async def remove_own_reaction(self, call: Call) -> Reply:
        await self._react(call, self.state.bot_user_id, False)
        return Reply(None, 204)

    async def remove_user_reaction(self, call: Call) -> Reply:
        await self._react(call, call.snowflake("user_id"), False)
        return Reply(None, 204)

    async def get_reactions(self, call: Call) -> Reply:
        channel = self._channel(call)
        msg = self._message(call, channel)
        emoji = call.params["emoji_name"]
        users = [self.state.users[uid] for name, uid in msg.reactions if name == emoji]
        return Reply([payloads.user(u) for u in users])

    # --- interactions ------------------------------------------------------------------------

    async def interaction_callback(self, call: Call) -> Reply:
        state = self.state
        interaction = state.interactions.get(call.snowflake("interaction_id"))
        if interaction is None or interaction.token != call.params["interaction_token"]:
            raise DiscordError(
                404,
                10062,
                "Unknown interaction",
                violation=f"callback for an unknown interaction: {call.path}",
            )
        body = call.json_object()
        try:
            ctype = int(body.get("type", 0))
        except (TypeError, ValueError):
            ctype = 0
        data = body.get("data")
        interaction.callbacks.append((ctype, data if isinstance(data, dict) else None))
        state.notifier.notify()
        if interaction.response_type is not None:
            raise DiscordError(
                400,
                40060,
                "Interaction has already been acknowledged.",
                violation=f"double ack: interaction {interaction.id} ({interaction.command_name}) "
                f"answered with type {ctype} after type {interaction.response_type}",
            )
        age = interaction.age
        if age > state.ack_deadline:
            raise DiscordError(
                404,
                10062,
                "Unknown interaction",
                violation=f"late ack: interaction {interaction.id} ({interaction.command_name}) "
                f"acknowledged {age:.2f}s after creation (deadline {state.ack_deadline:.2f}s)",
            )
        allowed = {
            INTERACTION_APPLICATION_COMMAND: {
                CALLBACK_MESSAGE,
                CALLBACK_DEFERRED_MESSAGE,
                CALLBACK_MODAL,
            },
            INTERACTION_COMPONENT: {
                CALLBACK_MESSAGE,
                CALLBACK_DEFERRED_MESSAGE,
                CALLBACK_DEFERRED_UPDATE,
                CALLBACK_UPDATE_MESSAGE,
                CALLBACK_MODAL,
            },
            INTERACTION_MODAL_SUBMIT: {
                CALLBACK_MESSAGE,
                CALLBACK_DEFERRED_MESSAGE,
                CALLBACK_DEFERRED_UPDATE,
                CALLBACK_UPDATE_MESSAGE,
            },
            4: {CALLBACK_AUTOCOMPLETE},
        }.get(interaction.type, set())
        if ctype not in allowed:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"callback type {ctype} is not valid for interaction type "
                f"{interaction.type}",
            )
        payload_data: JSON = data if isinstance(data, dict) else {}
        resource: FakeMessage | None = None
        if ctype == CALLBACK_MESSAGE:
            resource = await self._interaction_message(
                call, interaction, payload_data, original=True
            )
        elif ctype == CALLBACK_DEFERRED_MESSAGE:
            flags = FLAG_LOADING | (int(payload_data.get("flags") or 0) & FLAG_EPHEMERAL)
            thinking = state.create_message(
                interaction.channel_id,
                state.bot_user_id,
                flags=flags,
                via_webhook=True,
                interaction_id=interaction.id,
                message_type=interaction.response_message_type,
            )
            interaction.original_response = thinking
            await self._emit("MESSAGE_CREATE", thinking)
        elif ctype in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE):
            source = state.messages_by_id.get(interaction.source_message_id or 0)
            if source is None:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    violation=f"type {ctype} without a source message",
                )
            interaction.original_response = source
            if ctype == CALLBACK_UPDATE_MESSAGE:
                self._apply_edit(call, source, payload_data)
                await self._emit("MESSAGE_UPDATE", source)
                resource = source
        elif ctype == CALLBACK_MODAL:
            interaction.modal = payload_data
        elif ctype == CALLBACK_AUTOCOMPLETE:
            interaction.autocomplete_choices = list(payload_data.get("choices") or [])
        interaction.response_type = ctype
        interaction.acked.set()
        state.notifier.notify()
        if not _flag_bool(call.query.get("with_response")):
            return Reply(None, 204)
        original = interaction.original_response
        info: JSON = {"id": str(interaction.id), "type": interaction.type}
        if original is not None and ctype in (
            CALLBACK_MESSAGE,
            CALLBACK_DEFERRED_MESSAGE,
            CALLBACK_UPDATE_MESSAGE,
        ):
            info["response_message_id"] = str(original.id)
            info["response_message_loading"] = original.loading
            info["response_message_ephemeral"] = original.ephemeral
        out: JSON = {"interaction": info}
        if resource is not None:
            out["resource"] = {"type": ctype, "message": payloads.message(state, resource)}
        return Reply(out)

    async def _interaction_message(
        self, call: Call, interaction: FakeInteraction, data: JSON, *, original: bool
    ) -> FakeMessage:
        state = self.state
        content = self._check_content(call, data, has_files=bool(call.parts))
        files = self._files(call, interaction.channel_id, data)
        flags = int(data.get("flags") or 0) & (_SETTABLE_FLAGS | FLAG_EPHEMERAL)
        msg = state.create_message(
            interaction.channel_id,
            state.bot_user_id,
            content=content,
            files=files,
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            flags=flags,
            via_webhook=True,
            interaction_id=interaction.id,
            message_type=interaction.response_message_type,
            tts=bool(data.get("tts")),
        )
        if original:
            interaction.original_response = msg
        else:
            interaction.followups.append(msg)
        await self._emit("MESSAGE_CREATE", msg)
        return msg

    def _webhook_interaction(self, call: Call) -> FakeInteraction:
        state = self.state
        token = call.params["webhook_token"]
        interaction = state.interactions_by_token.get(token)
        if call.snowflake("webhook_id") != state.application_id or interaction is None:
            raise DiscordError(
                404,
                10015,
                "Unknown Webhook",
                violation=f"{call.method} {call.path}: unknown webhook",
            )
        if interaction.is_expired():
            raise DiscordError(
                401,
                50027,
                "Invalid Webhook Token",
                violation=f"expired token: {call.method} webhook call for interaction "
                f"{interaction.id} "
                f"({interaction.command_name}) {interaction.age:.2f}s after creation "
                f"(token lifetime {interaction.token_lifetime:.2f}s)",
            )
        if interaction.response_type is None:
            raise DiscordError(
                404,
                10015,
                "Unknown Webhook",
                violation=f"{call.method} webhook call for interaction {interaction.id} "
                "before it was acknowledged",
            )
        return interaction

    def _webhook_message(self, call: Call, interaction: FakeInteraction) -> FakeMessage:
        if "message_id" not in call.params:
            msg = interaction.original_response
        else:
            wanted = call.snowflake("message_id")
            candidates = [interaction.original_response, *interaction.followups]
            msg = next((m for m in candidates if m is not None and m.id == wanted), None)
        if msg is None or msg.deleted:
            raise DiscordError(
                404,
                10008,
                "Unknown Message",
                violation=f"{call.method} {call.path}: no such interaction message",
            )
        return msg

    async def execute_webhook(self, call: Call) -> Reply:
        state = self.state
        interaction = self._webhook_interaction(call)
        body = call.json_object()
        original = interaction.original_response
        if (
            interaction.response_type == CALLBACK_DEFERRED_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # Kept by Discord for compatibility: the first followup after a defer edits the
            # "thinking" message instead of posting a new one.
            self._check_content(call, body, has_files=bool(call.parts))
            edit = {k: v for k, v in body.items() if k != "flags"}
            edit.setdefault("content", body.get("content"))
            if call.parts and "attachments" not in edit:
                edit["attachments"] = [{"id": p.index} for p in call.parts]
            self._apply_edit(call, original, edit)
            msg = original
            await self._emit("MESSAGE_UPDATE", msg)
        else:
            msg = await self._interaction_message(call, interaction, body, original=False)
        if not _flag_bool(call.query.get("wait")):
            return Reply(None, 204)
        return Reply(payloads.message(state, msg))

    async def get_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        return Reply(payloads.message(self.state, self._webhook_message(call, interaction)))

    async def edit_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        msg = self._webhook_message(call, interaction)
        self._apply_edit(call, msg, call.json_object())
        await self._emit("MESSAGE_UPDATE", msg)
        return Reply(payloads.message(self.state, msg))

    async def delete_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        msg = self._webhook_message(call, interaction)
        self.state.delete_message(msg)
        await self._emit_delete(msg)
        return Reply(None, 204)
