"""FakeDiscord: one aiohttp server on 127.0.0.1 serving gateway, REST and CDN, plus test helpers."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from . import payloads
from .cdn import Cdn
from .components import number_components
from .gateway import (
    INTENT_GUILD_MEMBERS,
    OP_INVALID_SESSION,
    OP_RECONNECT,
    GatewayHub,
)
from .models import (
    CHANNEL_DM,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    EditRecord,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUpload,
    RateLimitRule,
    RequestRecord,
)
from .rest import RestApi
from .state import DiscordState

AttachmentInput = FakeUpload | tuple[bytes, str] | tuple[bytes, str, str | None]
OptionValue = str | int | float | bool

# Application command option types.
_SUB_COMMAND = 1
_SUB_COMMAND_GROUP = 2
_STRING = 3
_INTEGER = 4
_BOOLEAN = 5
_USER = 6
_CHANNEL = 7
_NUMBER = 10
_ATTACHMENT = 11


def _upload(value: AttachmentInput) -> FakeUpload:
    if isinstance(value, FakeUpload):
        return value
    items: tuple[object, ...] = value
    data, filename = items[0], items[1]
    content_type = items[2] if len(items) > 2 else None
    if not isinstance(data, bytes | bytearray) or not isinstance(filename, str):
        raise TypeError("attachments values are (bytes, filename[, content_type]) or FakeUpload")
    return FakeUpload(
        bytes(data), filename, content_type if isinstance(content_type, str) else None
    )


def _infer_type(value: OptionValue) -> int:
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int):
        return _INTEGER
    if isinstance(value, float):
        return _NUMBER
    return _STRING


def _coerce(option_type: int, value: OptionValue) -> OptionValue:
    if option_type == _INTEGER:
        return int(value)
    if option_type == _NUMBER:
        return float(value)
    if option_type == _BOOLEAN:
        return bool(value)
    return str(value)


class FakeDiscord(DiscordState):
    """A local Discord (gateway + REST + CDN) for the unmodified discord.py client.

    Point discord.py at it with `discord.http.Route.BASE = fake.api_base_url` and
    `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`.
    """

    def __init__(
        self,
        *,
        bot_token: str = "fake-bot-token",
        upload_limit: int = 10 * 1024 * 1024,
        token_lifetime: float = 900.0,
        ack_deadline: float = 3.0,
        bot_name: str = "emo-bot",
        guild_name: str = "Fake Guild",
        channel_name: str = "general",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            bot_token=bot_token,
            upload_limit=upload_limit,
            token_lifetime=token_lifetime,
            ack_deadline=ack_deadline,
            bot_name=bot_name,
            guild_name=guild_name,
            channel_name=channel_name,
        )
        self.host = host
        self.port = port
        self.hub = GatewayHub(self)
        self.rest = RestApi(self, self.hub)
        self.cdn = Cdn(self)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._default_user_id: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port (or the given one) and serve."""
        app = web.Application(client_max_size=1 << 31)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/gateway/", self.hub.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self.cdn.handle)
        app.router.add_get("/avatars/{user_id}/{filename}", self.cdn.avatar)
        app.router.add_get("/embed/avatars/{index}.png", self.cdn.default_avatar)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self.http_base = f"http://{self.host}:{self.port}"
        self.hub.gateway_url = self.gateway_url
        self.rest.gateway_url = self.gateway_url

    async def close(self) -> None:
        """Close gateway connections and stop the server."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _unknown_path(self, request: web.Request) -> web.Response:
        self.violation(f"unknown path: {request.method} {request.path}")
        return web.Response(status=404, text="404: Not Found")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- addresses ---------------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        return f"{self.http_base}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def cdn_base_url(self) -> str:
        """The CDN root: set `discord.asset.Asset.BASE` to it for avatar URLs the fake serves."""
        return self.http_base

    @property
    def attachment_host(self) -> str:
        return self.host

    # --- world building ----------------------------------------------------------------------

    def add_member(
        self,
        user_id: int | None = None,
        name: str = "member",
        *,
        manage_guild: bool = False,
        guild_id: int | None = None,
    ) -> int:
        """Add a user to a guild (default guild); returns the user id."""
        member = self.create_member(user_id, name, manage_guild=manage_guild, guild_id=guild_id)
        guild = self.guilds[guild_id if guild_id is not None else self.guild_id]
        if self.hub.ready_sessions:
            data = payloads.member(self, guild, member)
            data["guild_id"] = str(guild.id)
            self._spawn(self.hub.dispatch("GUILD_MEMBER_ADD", data, intent=INTENT_GUILD_MEMBERS))
        return member.user_id

    def add_guild(self, name: str) -> int:
        """Create a guild the bot is in (announced with GUILD_CREATE if connected)."""
        guild = self.create_guild(name)
        if self.hub.ready_sessions:
            data = payloads.guild_create(self, guild)
            # A join omits "unavailable" (false would mean an outage ended: guild_available).
            data.pop("unavailable")
            self._spawn(self.hub.dispatch("GUILD_CREATE", data))
        return guild.id

    def add_channel(self, guild_id: int, name: str) -> int:
        """Create a text channel in a guild (announced with CHANNEL_CREATE if connected)."""
        channel = self.create_channel(guild_id, name)
        if self.hub.ready_sessions:
            self._spawn(self.hub.dispatch("CHANNEL_CREATE", payloads.channel(self, channel)))
        return channel.id

    def default_user(self) -> int:
        """A plain member of the default guild, created on first use."""
        if self._default_user_id is None:
            self._default_user_id = self.add_member(name="tester")
        return self._default_user_id

    # --- waiting -----------------------------------------------------------------------------
    # The waiters take timeout= (seconds) by design: the e2e tests call them that way.

    async def wait_for_identify(
        self,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        count: int | None = None,
    ) -> None:
        """Wait until a bot session is ready (READY + GUILD_CREATE sent, or RESUMED).

        With `count`, wait until identify_count + resume_count reaches it instead, e.g.
        `n = fake.identify_count; restart bot; await fake.wait_for_identify(count=n + 1)`.
        """

        def check() -> bool | None:
            if count is not None:
                return True if self.identify_count + self.resume_count >= count else None
            return True if self.hub.ready_sessions else None

        await self.notifier.wait_for(check, timeout, "the bot to IDENTIFY")

    async def wait_for_commands(
        self,
        guild_id: int | None = None,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        names: Iterable[str] = (),
    ) -> list[JSON]:
        """Wait until commands are registered in that scope (including all `names`)."""
        wanted = set(names)

        def check() -> list[JSON] | None:
            registered = self.commands_for(guild_id)
            have = {c.name for c in registered}
            if registered and wanted <= have:
                return [payloads.command(self, c) for c in registered]
            return None

        return await self.notifier.wait_for(check, timeout, f"commands {sorted(wanted)}")

    def registered_commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands the bot registered (global, or for guild_id), as Discord returns them."""
        return [payloads.command(self, c) for c in self.commands_for(guild_id)]

    def messages(
        self, channel_id: int | None = None, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages of a channel (default channel) in creation order."""
        cid = channel_id if channel_id is not None else self.channel_id
        return self.channel_messages(cid, include_ephemeral=include_ephemeral)

    async def wait_for_message(
        self,
        channel_id: int | None = None,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109
        *,
        include_ephemeral: bool = False,
    ) -> FakeMessage:
        """First message (existing or future) in the channel satisfying predicate."""

        def check() -> FakeMessage | None:
            for msg in self.messages(channel_id, include_ephemeral=include_ephemeral):
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.notifier.wait_for(check, timeout, "a matching message")

    async def wait_for_request(
        self,
        method: str,
        path_regex: str,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        status: int | None = None,
    ) -> RequestRecord:
        """First logged REST call matching method, path regex (re.search) and status."""
        pattern = re.compile(path_regex)

        def check() -> RequestRecord | None:
            for record in self.requests:
                if (
                    record.method == method.upper()
                    and pattern.search(record.path)
                    and (status is None or record.status == status)
                ):
                    return record
            return None

        return await self.notifier.wait_for(check, timeout, f"{method} {path_regex}")

    async def wait_for_violation(
        self,
        substring: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> str:
        """First recorded violation containing substring."""

        def check() -> str | None:
            return next((v for v in self.violations if substring in v), None)

        return await self.notifier.wait_for(check, timeout, f"violation {substring!r}")

    # --- REST knobs --------------------------------------------------------------------------

    def rate_limit(
        self,
        method: str,
        path_regex: str,
        times: int = 1,
        retry_after: float = 0.3,
        *,
        is_global: bool = False,
    ) -> None:
        """Answer the next `times` REST requests matching method + path regex with 429.

        The regex is searched in the path both with and without the /api/v10 prefix.
        """
        self.rate_limits.append(
            RateLimitRule(method.upper(), re.compile(path_regex), times, retry_after, is_global)
        )

    def enforce_edit_bucket(self, limit: int = 5, per_seconds: float = 5.0) -> None:
        """Answer 429 to the bot's PATCH /channels/{c}/messages/{m} beyond `limit` edits of
        one message within `per_seconds` (Discord's ~5 per 5 s); counted in `edit_429s`."""
        self.edit_bucket = (limit, per_seconds)

    def edits_of(self, message_id: int) -> list[EditRecord]:
        """Successful edits of a message: (at: time.monotonic(), content, custom_ids)."""
        return list(self.messages_by_id[message_id].edit_log)

    def forbid_posting(self, channel_id: int) -> None:
        """Deny the bot Send Messages and Add Reactions in a channel (a member overwrite).

        Create Message and the bot's reactions there then answer 403 code 50013. Editing or
        deleting the bot's existing messages keeps working (on Discord neither needs Send
        Messages), and so do interaction responses (they never need channel permissions).
        """
        self.posting_forbidden.add(channel_id)
        self._announce_channel(channel_id)

    def allow_posting(self, channel_id: int) -> None:
        """Undo forbid_posting."""
        self.posting_forbidden.discard(channel_id)
        self._announce_channel(channel_id)

    def _announce_channel(self, channel_id: int) -> None:
        channel = self.channels[channel_id]
        if channel.guild_id is not None and self.hub.ready_sessions:
            self._spawn(self.hub.dispatch("CHANNEL_UPDATE", payloads.channel(self, channel)))

    def close_dms(self, user_id: int) -> None:
        """The user no longer accepts DMs from the bot: Create Message in the DM channel
        answers 403 code 50007. Opening the DM channel (POST /users/@me/channels) still works."""
        self.dms_closed.add(user_id)

    def open_dms(self, user_id: int) -> None:
        """Undo close_dms."""
        self.dms_closed.discard(user_id)

    def dm_messages(self, user_id: int) -> list[FakeMessage]:
        """Messages in the bot's DM channel with the user ([] if it was never opened)."""
        channel = self.find_dm_channel(user_id)
        return [] if channel is None else self.channel_messages(channel.id)

    def set_avatar(self, user_id: int, image: bytes) -> str:
        """Give a user an avatar (PNG, JPEG or WebP bytes); returns its hash.

        Every user object then carries the hash, and the CDN serves the bytes at
        `{cdn_base_url}/avatars/{user_id}/{hash}.png` (what discord.py builds once
        `discord.asset.Asset.BASE = fake.cdn_base_url`). A connected bot is told through
        GUILD_MEMBER_UPDATE (members intent) or, for itself, USER_UPDATE.
        """
        avatar = self.store_avatar(user_id, image)
        if self.hub.ready_sessions:
            if user_id == self.bot_user_id:
                me = payloads.user(self.users[user_id])
                self._spawn(self.hub.dispatch("USER_UPDATE", me))
            for guild in self.guilds.values():
                member = guild.members.get(user_id)
                if member is not None:
                    data = payloads.member(self, guild, member)
                    data["guild_id"] = str(guild.id)
                    update = self.hub.dispatch(
                        "GUILD_MEMBER_UPDATE", data, intent=INTENT_GUILD_MEMBERS
                    )
                    self._spawn(update)
        return avatar

    async def remove_bot_from_guild(self, guild_id: int) -> int:
        """The bot is kicked (or the guild deleted): GUILD_DELETE without `unavailable`.

        The guild is forgotten: guild routes answer 404 code 10004 Unknown Guild, its
        channels 403 code 50001 Missing Access (their messages stay readable through
        fake.messages). Returns how many sessions got the dispatch.
        """
        if guild_id not in self.guilds:
            raise ValueError(f"the bot is not in guild {guild_id}")
        self.removed_guilds[guild_id] = self.guilds.pop(guild_id)
        self.notifier.notify()
        return await self.hub.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    # --- gateway control ---------------------------------------------------------------------

    async def dispatch(self, event_name: str, payload: JSON) -> int:
        """Send a raw dispatch to every connected bot session; returns how many got it."""
        return await self.hub.dispatch(event_name, payload)

    async def disconnect_gateway(self, code: int = 4000) -> int:
        """Close the bot's websocket(s); discord.py reconnects and RESUMEs."""
        return await self.hub.disconnect(code)

    async def request_reconnect(self) -> int:
        """Send op 7 RECONNECT (the client reconnects and resumes)."""
        return await self.hub.send_op(OP_RECONNECT, None)

    async def invalidate_session(self, resumable: bool = False) -> int:
        """Send op 9 INVALID_SESSION (the client identifies afresh unless resumable)."""
        return await self.hub.send_op(OP_INVALID_SESSION, resumable)

    # --- interactions ------------------------------------------------------------------------

    def _context(
        self, user_id: int | None, channel_id: int | None
    ) -> tuple[int, FakeChannel, FakeGuild | None]:
        uid = user_id if user_id is not None else self.default_user()
        channel = self.channels[channel_id if channel_id is not None else self.channel_id]
        if channel.guild_id in self.removed_guilds:
            raise ValueError(f"the bot was removed from guild {channel.guild_id}")
        if uid not in self.users:
            raise ValueError(f"unknown user {uid}: add it with fake.add_member() first")
        guild = self.guilds[channel.guild_id] if channel.guild_id is not None else None
        if guild is not None and uid not in guild.members:
            raise ValueError(f"user {uid} is not a member of guild {guild.id}")
        return uid, channel, guild

    def _new_interaction(
        self,
        *,
        interaction_type: int,
        user_id: int,
        channel: FakeChannel,
        guild: FakeGuild | None,
        data: JSON,
        command_name: str,
        locale: str,
        guild_locale: str,
        message_type: int,
        source: FakeMessage | None = None,
        opened_by: int | None = None,
    ) -> FakeInteraction:
        interaction_id = self.ids.next()
        token = "fake-" + secrets.token_urlsafe(48)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": payloads.channel(self, channel),
            "app_permissions": str(
                self.bot_channel_permissions(guild, channel) if guild is not None else 0
            ),
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": payloads.integration_owners(
                guild.id if guild else None
            ),
            "attachment_size_limit": self.upload_limit,
        }
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = guild_locale
            payload["guild"] = {"id": str(guild.id), "locale": guild_locale, "features": []}
            payload["member"] = payloads.interaction_member(self, guild, guild.members[user_id])
            payload["context"] = 0
        else:
            payload["user"] = payloads.user(self.users[user_id])
            payload["context"] = 1
        if source is not None:
            payload["message"] = payloads.message(self, source)
        interaction = FakeInteraction(
            id=interaction_id,
            token=token,
            application_id=self.application_id,
            type=interaction_type,
            channel_id=channel.id,
            guild_id=guild.id if guild is not None else None,
            user_id=user_id,
            command_name=command_name,
            payload=payload,
            created_at=time.monotonic(),
            # Captured now: shortening fake.token_lifetime later affects new interactions only.
            token_lifetime=self.token_lifetime,
            notifier=self.notifier,
            source_message_id=source.id if source is not None else None,
            response_message_type=message_type,
            opened_by=opened_by,
        )
        self.interactions[interaction_id] = interaction
        self.interactions_by_token[token] = interaction
        return interaction

    def _check_interaction(self, payload: JSON) -> None:
        # INTERACTION_CREATE is not in the REST spec, but its embedded objects are.
        data = payload.get("data") or {}
        resolved = data.get("resolved") or {}
        for attachment in (resolved.get("attachments") or {}).values():
            self.check_schema("MessageAttachmentResponse", attachment)
        for message in (resolved.get("messages") or {}).values():
            self.check_schema("MessageResponse", message)
        for user in (resolved.get("users") or {}).values():
            self.check_schema("UserResponse", user)
        if "message" in payload:
            self.check_schema("MessageResponse", payload["message"])
        if "user" in payload:
            self.check_schema("UserResponse", payload["user"])
        if "member" in payload:
            self.check_schema("GuildMemberResponse", payload["member"])

    async def _send_interaction(self, interaction: FakeInteraction) -> FakeInteraction:
        self._check_interaction(interaction.payload)
        # The ack deadline runs from the moment the bot could see the interaction.
        interaction.created_at = time.monotonic()
        sent = await self.hub.dispatch("INTERACTION_CREATE", interaction.payload)
        if sent == 0:
            raise RuntimeError(
                "no ready gateway session: await fake.wait_for_identify() before invoking"
            )
        return interaction

    def _option_schemas(
        self, command: JSON | None, path: list[str]
    ) -> tuple[list[int], list[JSON] | None]:
        """Types along the sub-command path and the leaf's option schemas (None if unknown)."""
        if command is None:
            # Not registered (yet): infer group/sub-command from the position.
            types = [_SUB_COMMAND_GROUP] * (len(path) - 1) + [_SUB_COMMAND] * bool(path)
            return types, None
        found_types: list[int] = []
        options: list[JSON] = list(command.get("options") or [])
        for name in path:
            found = next((o for o in options if o.get("name") == name), None)
            if found is None or int(found.get("type", 0)) not in (_SUB_COMMAND, _SUB_COMMAND_GROUP):
                raise ValueError(f"{command.get('name')!r} has no sub-command {name!r}")
            found_types.append(int(found["type"]))
            options = list(found.get("options") or [])
        return found_types, options

    @staticmethod
    def _check_options(
        command: str,
        schemas: list[JSON],
        options: Mapping[str, OptionValue],
        attachments: Mapping[str, AttachmentInput],
    ) -> None:
        """Refuse what Discord's client would not let a user submit."""
        by_name = {str(s.get("name")): s for s in schemas}
        for name in [*options, *attachments]:
            if name not in by_name:
                raise ValueError(f"{command!r} has no option {name!r} (has {sorted(by_name)})")
        for name in attachments:
            if int(by_name[name].get("type", 0)) != _ATTACHMENT:
                raise ValueError(f"option {name!r} of {command!r} is not an attachment option")
        for name, value in options.items():
            choices = by_name[name].get("choices") or []
            if choices and value not in [c.get("value") for c in choices]:
                raise ValueError(f"{value!r} is not a choice of {name!r} in {command!r}")
        for schema in schemas:
            name = str(schema.get("name"))
            if schema.get("required") and name not in options and name not in attachments:
                raise ValueError(f"required option {name!r} of {command!r} is missing")

    def _resolved_attachment(self, channel: FakeChannel, upload: FakeUpload) -> FakeFile:
        return self.store_file(
            channel.id,
            upload.filename,
            upload.data,
            received_content_type=upload.content_type,
            content_type=upload.content_type,
            duration_secs=upload.duration_secs,
            waveform=upload.waveform,
            flags=upload.flags,
        )

    async def invoke_slash(
        self,
        command: str,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        options: Mapping[str, OptionValue] | None = None,
        attachments: Mapping[str, AttachmentInput] | None = None,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> FakeInteraction:
        """Send INTERACTION_CREATE for a chat-input command like "emo animate" to the bot."""
        uid, channel, guild = self._context(user_id, channel_id)
        top, *path = command.split()
        registered = self.find_command(top, guild.id if guild else None)
        types, schemas = self._option_schemas(registered.request if registered else None, path)
        if schemas is not None:
            self._check_options(command, schemas, options or {}, attachments or {})
        by_name = {str(s.get("name")): s for s in schemas or []}
        leaf: list[JSON] = []
        resolved: JSON = {}
        for name, value in (options or {}).items():
            schema = by_name.get(name)
            option_type = int(schema["type"]) if schema and "type" in schema else _infer_type(value)
            leaf.append(self._option(option_type, name, value, resolved))
        for name, item in (attachments or {}).items():
            stored = self._resolved_attachment(channel, _upload(item))
            resolved.setdefault("attachments", {})[str(stored.attachment_id)] = payloads.attachment(
                self, stored
            )
            leaf.append({"name": name, "type": _ATTACHMENT, "value": str(stored.attachment_id)})
        nested = leaf
        for name, option_type in reversed(list(zip(path, types, strict=True))):
            nested = [{"name": name, "type": option_type, "options": nested}]
        data: JSON = {
            "id": str(registered.id if registered else self.ids.next()),
            "name": top,
            "type": 1,
            "options": nested,
        }
        if resolved:
            data["resolved"] = resolved
        if registered is not None and registered.guild_id is not None:
            data["guild_id"] = str(registered.guild_id)
        interaction = self._new_interaction(
            interaction_type=INTERACTION_APPLICATION_COMMAND,
            user_id=uid,
            channel=channel,
            guild=guild,
            data=data,
            command_name=command,
            locale=locale,
            guild_locale=guild_locale,
            message_type=20,
        )
        return await self._send_interaction(interaction)

    def _option(self, option_type: int, name: str, value: OptionValue, resolved: JSON) -> JSON:
        if option_type == _USER:
            target = int(value)
            user = self.users[target]
            resolved.setdefault("users", {})[str(target)] = payloads.user(user)
            guild = self.guilds.get(self.guild_id)
            if guild is not None and target in guild.members:
                member = payloads.interaction_member(self, guild, guild.members[target])
                member.pop("user", None)
                resolved.setdefault("members", {})[str(target)] = member
            return {"name": name, "type": option_type, "value": str(target)}
        if option_type == _CHANNEL:
            target_channel = self.channels[int(value)]
            entry = payloads.channel(self, target_channel)
            if target_channel.guild_id is not None:
                everyone = self.guilds[target_channel.guild_id].roles[target_channel.guild_id]
                entry["permissions"] = str(everyone.permissions)
            resolved.setdefault("channels", {})[str(target_channel.id)] = entry
            return {"name": name, "type": option_type, "value": str(target_channel.id)}
        if option_type in (_STRING, _INTEGER, _NUMBER, _BOOLEAN):
            return {"name": name, "type": option_type, "value": _coerce(option_type, value)}
        return {"name": name, "type": option_type, "value": str(value)}

    async def invoke_context_menu(
        self,
        name: str,
        *,
        target_message_id: int | None = None,
        target_user_id: int | None = None,
        user_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> FakeInteraction:
        """A message (target_message_id) or user (target_user_id) context-menu command."""
        if (target_message_id is None) == (target_user_id is None):
            raise ValueError("give exactly one of target_message_id / target_user_id")
        uid, channel, guild = self._context(user_id, channel_id)
        command_type = 3 if target_message_id is not None else 2
        registered = next(
            (
                c
                for c in self.commands
                if c.name == name
                and c.type == command_type
                and c.guild_id in {None, guild.id if guild else None}
            ),
            None,
        )
        resolved: JSON = {}
        if target_message_id is not None:
            target = self.messages_by_id[target_message_id]
            resolved["messages"] = {str(target.id): payloads.message(self, target)}
            target_id = target.id
        else:
            assert target_user_id is not None
            target_id = target_user_id
            resolved["users"] = {str(target_id): payloads.user(self.users[target_id])}
        data: JSON = {
            "id": str(registered.id if registered else self.ids.next()),
            "name": name,
            "type": command_type,
            "target_id": str(target_id),
            "resolved": resolved,
        }
        if registered is not None and registered.guild_id is not None:
            data["guild_id"] = str(registered.guild_id)
        interaction = self._new_interaction(
            interaction_type=INTERACTION_APPLICATION_COMMAND,
            user_id=uid,
            channel=channel,
            guild=guild,
            data=data,
            command_name=name,
            locale=locale,
            guild_locale=guild_locale,
            message_type=23,
        )
        return await self._send_interaction(interaction)

    async def invoke_component(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Click a button (or pick select `values`) on a message the bot sent."""
        source = self.messages_by_id[message_id]
        uid, channel, guild = self._context(user_id, source.channel_id)
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        interaction = self._new_interaction(
            interaction_type=INTERACTION_COMPONENT,
            user_id=uid,
            channel=channel,
            guild=guild,
            data=data,
            command_name=custom_id,
            locale=locale,
            guild_locale=locale,
            message_type=0,
            source=source,
        )
        return await self._send_interaction(interaction)

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: Mapping[str, str],
        *,
        files: Mapping[str, Sequence[AttachmentInput]] | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Submit the modal the bot answered `opened_by` with.

        `values` by text-input custom_id; `files` by file-upload custom_id (a FileUpload,
        type 19, inside a Label). Uploaded files are stored on the CDN and sent as Discord
        does: the component's `values` are attachment ids, the objects are in
        `data.resolved.attachments`.
        """
        modal = opened_by.modal
        if modal is None:
            raise ValueError(f"interaction {opened_by.id} was not answered with a modal")
        uid, channel, guild = self._context(opened_by.user_id, opened_by.channel_id)
        uploads = dict(files or {})
        resolved: JSON = {}

        def upload(component: JSON) -> list[str]:
            # Refuse what Discord's client would not let a user submit.
            custom_id = str(component.get("custom_id"))
            items = uploads.pop(custom_id, ())
            # Discord's defaults: required, min_values 1, max_values 1.
            required = component.get("required", True) is not False
            minimum = component.get("min_values")
            low = (1 if minimum is None else int(minimum)) if required else 0
            high = int(component.get("max_values") or 1)
            if not low <= len(items) <= high:
                raise ValueError(f"file upload {custom_id!r} takes {low}..{high} files")
            ids = []
            for item in items:
                stored = self._resolved_attachment(channel, _upload(item))
                attachments = resolved.setdefault("attachments", {})
                attachments[str(stored.attachment_id)] = payloads.attachment(self, stored)
                ids.append(str(stored.attachment_id))
            return ids

        def mirror(component: JSON) -> JSON | None:
            # Echo the modal's layout (with Discord's numeric ids), carrying what was entered.
            ctype = int(component.get("type", 0))
            out: JSON = {"type": ctype, "id": component["id"]}
            if ctype == 1:
                children = [mirror(c) for c in component.get("components") or []]
                return out | {"components": [c for c in children if c is not None]}
            if ctype == 18 and isinstance(component.get("component"), dict):
                inner = mirror(component["component"])
                return None if inner is None else out | {"component": inner}
            custom_id = str(component.get("custom_id"))
            if ctype == 4:
                return out | {"custom_id": custom_id, "value": values.get(custom_id, "")}
            if ctype == 19:
                return out | {"custom_id": custom_id, "values": upload(component)}
            return None

        layout = number_components(list(modal.get("components") or []))
        components = [m for m in (mirror(c) for c in layout) if m]
        if uploads:
            raise ValueError(f"the modal has no file upload {sorted(uploads)}")
        data: JSON = {"custom_id": str(modal.get("custom_id")), "components": components}
        if resolved:
            data["resolved"] = resolved
        source = self.messages_by_id.get(opened_by.source_message_id or 0)
        interaction = self._new_interaction(
            interaction_type=INTERACTION_MODAL_SUBMIT,
            user_id=uid,
            channel=channel,
            guild=guild,
            data=data,
            command_name=str(modal.get("custom_id")),
            locale=locale,
            guild_locale=locale,
            message_type=0,
            source=source,
            opened_by=opened_by.id,
        )
        return await self._send_interaction(interaction)

    # --- user activity -----------------------------------------------------------------------

    async def post_user_message(
        self,
        user_id: int,
        content: str = "",
        *,
        channel_id: int | None = None,
        attachments: Iterable[AttachmentInput] = (),
        flags: int = 0,
    ) -> FakeMessage:
        """A message by a (non-bot) user, dispatched as MESSAGE_CREATE.

        A voice message: flags=1 << 13 and one FakeUpload(ogg, "voice-message.ogg",
        "audio/ogg", duration_secs=..., waveform=...).
        """
        cid = channel_id if channel_id is not None else self.channel_id
        files = []
        for item in attachments:
            upload = _upload(item)
            files.append(
                self.store_file(
                    cid,
                    upload.filename,
                    upload.data,
                    received_content_type=upload.content_type,
                    content_type=upload.content_type,
                    duration_secs=upload.duration_secs,
                    waveform=upload.waveform,
                    flags=upload.flags,
                )
            )
        msg = self.create_message(cid, user_id, content=content, files=files, flags=flags)
        await self.hub.dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def add_reaction(self, message_id: int, emoji: str, *, user_id: int) -> None:
        """A user reacts to a message (MESSAGE_REACTION_ADD is dispatched)."""
        msg = self.messages_by_id[message_id]
        if (emoji, user_id) not in msg.reactions:
            msg.reactions.append((emoji, user_id))
        channel = self.channels[msg.channel_id]
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "emoji": payloads.emoji(emoji),
            "burst": False,
            "burst_colors": [],
            "type": 0,
            "message_author_id": str(msg.author_id),
        }
        if channel.type != CHANNEL_DM and channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            if user_id in guild.members:
                data["member"] = payloads.member(self, guild, guild.members[user_id])
        self.notifier.notify()
        await self.hub.dispatch(
            "MESSAGE_REACTION_ADD", data, intent=self.hub.reaction_intent(channel.id)
        )
