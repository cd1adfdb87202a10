"""FakeDiscord: one aiohttp server on 127.0.0.1 serving gateway, REST and CDN, plus test helpers.

The façade assembles its public surface from one module per concept: world building (world),
user activity (activity), refusal knobs (knobs), queries and waiters (waiting), sharding
queries (shards); the test driver (driver) is a composed object the invoke_*/submit_modal
methods delegate to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .activity import Activity
from .cdn import Cdn
from .driver import InteractionDriver
from .driver_options import OptionValue
from .gateway import OP_INVALID_SESSION, OP_RECONNECT, GatewayHub
from .knobs import Knobs
from .models import JSON, FakeInteraction
from .rest import RestApi
from .sharding import payload_audience
from .shards import Shards
from .uploads import AttachmentInput
from .waiting import Waiting
from .world import World


class FakeDiscord(World, Activity, Knobs, Waiting, Shards):
    """A local Discord (gateway + REST + CDN) for the unmodified discord.py client.

    Point discord.py at it with `discord.http.Route.BASE = fake.api_base_url` and
    `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`.

    Sharding knobs (attributes, settable before or after start): `recommended_shards` and
    `max_concurrency` (what GET /gateway/bot answers), `required_shards` (an IDENTIFY without
    `shard`, or with a smaller shard_count, is closed 4011).
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
        recommended_shards: int = 1,
        max_concurrency: int = 1,
        required_shards: int | None = None,
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
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.required_shards = required_shards
        self.hub = GatewayHub(self)
        self.rest = RestApi(self, self.hub)
        self.cdn = Cdn(self)
        self._driver = InteractionDriver(self, self.hub, self.default_user)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

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

    # --- gateway control ---------------------------------------------------------------------

    async def dispatch(self, event_name: str, payload: JSON) -> int:
        """Send a raw dispatch to the bot's sessions; returns how many got it.

        Routed like Discord: a payload naming a guild (`guild_id`, or `id` for GUILD_CREATE/
        UPDATE/DELETE) goes to that guild's shard, one in a DM channel or an INTERACTION_CREATE
        without a guild to shard 0, anything else to every session.
        """
        dms = {c.id for c in self.channels.values() if c.guild_id is None}
        audience = payload_audience(event_name, payload, dms)
        return await self.hub.dispatch(event_name, payload, audience=audience)

    async def disconnect_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> int:
        """Close the bot's websocket(s) (of one shard if given); discord.py reconnects and
        RESUMEs."""
        return await self.hub.disconnect(code, shard_id)

    async def request_reconnect(self, *, shard_id: int | None = None) -> int:
        """Send op 7 RECONNECT (the client reconnects and resumes), to one shard if given."""
        return await self.hub.send_op(OP_RECONNECT, None, shard_id)

    async def invalidate_session(
        self, resumable: bool = False, *, shard_id: int | None = None
    ) -> int:
        """Send op 9 INVALID_SESSION (the client identifies afresh unless resumable), to one
        shard if given."""
        return await self.hub.send_op(OP_INVALID_SESSION, resumable, shard_id)

    # --- the test driver (see driver.py) -----------------------------------------------------

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
        return await self._driver.invoke_slash(
            command,
            user_id=user_id,
            channel_id=channel_id,
            options=options,
            attachments=attachments,
            locale=locale,
            guild_locale=guild_locale,
        )

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
        return await self._driver.invoke_context_menu(
            name,
            target_message_id=target_message_id,
            target_user_id=target_user_id,
            user_id=user_id,
            channel_id=channel_id,
            locale=locale,
            guild_locale=guild_locale,
        )

    async def invoke_component(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
        forged: bool = False,
    ) -> FakeInteraction:
        """Click a button (or pick select `values`) on a message the bot sent. ``forged``:
        the interaction claims the message carries a button ``custom_id`` it does not have
        (a tampered client: the bot must not trust a custom id alone)."""
        return await self._driver.invoke_component(
            message_id,
            custom_id,
            user_id=user_id,
            component_type=component_type,
            values=values,
            locale=locale,
            forged=forged,
        )

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
        return await self._driver.submit_modal(opened_by, values, files=files, locale=locale)
