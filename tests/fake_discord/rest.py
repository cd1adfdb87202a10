"""The fake REST API under /api/v10: the route table, matching, auth and the request pipeline.

The handlers live in the rest_* modules, one per concept (users, commands, guilds, messages,
reactions, interactions, webhooks) and share rest_base and rest_content; requests are typed in
rest_call, their bodies read by rest_body, rate limits kept by rest_limits.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import openapi
from .gateway import GatewayHub
from .models import JSON, RequestRecord
from .rest_body import read_body
from .rest_call import API_PREFIX, Call, DiscordError, Handler
from .rest_commands import CommandHandlers
from .rest_content import MessageContent
from .rest_guilds import GuildHandlers
from .rest_interactions import InteractionHandlers
from .rest_limits import RateLimits
from .rest_messages import MessageHandlers
from .rest_reactions import ReactionHandlers
from .rest_users import UserHandlers
from .rest_webhooks import WebhookHandlers
from .state import DiscordState

_MESSAGE = "/channels/{channel_id}/messages/{message_id}"


@dataclass
class _Route:
    method: str
    template: str
    handler: Handler
    auth: bool
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    regex = ""
    for piece in re.split(r"(\{[a-z_]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            regex += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            regex += re.escape(piece)
    return re.compile(regex)


class RestApi:
    """Dispatches /api/v10 requests to handlers and enforces Discord's HTTP rules."""

    def __init__(self, state: DiscordState, hub: GatewayHub) -> None:
        self.state = state
        self.hub = hub
        self.limits = RateLimits(state)
        content = MessageContent(state)
        self.users = UserHandlers(state, hub)
        self.commands = CommandHandlers(state, hub)
        self.guilds = GuildHandlers(state, hub)
        self.messages = MessageHandlers(state, hub, content)
        self.reactions = ReactionHandlers(state, hub)
        self.interactions = InteractionHandlers(state, hub, content)
        self.webhooks = WebhookHandlers(state, hub, content, self.interactions)
        self._routes: list[_Route] = []
        self._register_routes()

    @property
    def gateway_url(self) -> str:
        """What GET /gateway(/bot) answers; set once the server listens."""
        return self.users.gateway_url

    @gateway_url.setter
    def gateway_url(self, url: str) -> None:
        self.users.gateway_url = url

    # --- routing -----------------------------------------------------------------------------

    def _add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        self._routes.append(_Route(method, template, handler, auth, _compile(template)))

    def _register_routes(self) -> None:
        # The first route of a method matching a path wins: literal segments (@me, @original)
        # come before the parameters that would match them too.
        add = self._add
        users, commands, guilds = self.users, self.commands, self.guilds
        messages, reactions = self.messages, self.reactions
        add("GET", "/gateway", users.get_gateway, auth=False)
        add("GET", "/gateway/bot", users.get_gateway_bot)
        add("GET", "/users/@me", users.get_me)
        add("GET", "/users/@me/guilds", guilds.get_my_guilds)
        add("POST", "/users/@me/channels", users.create_dm)
        add("GET", "/users/{user_id}", users.get_user)
        add("GET", "/oauth2/applications/@me", users.get_application)
        add("GET", "/applications/@me", users.get_application)
        for template in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            add("GET", template, commands.get_commands)
            add("PUT", template, commands.put_commands)
            add("POST", template, commands.post_command)
            add("GET", template + "/{command_id}", commands.get_command)
            add("DELETE", template + "/{command_id}", commands.delete_command)
        add("GET", "/guilds/{guild_id}", guilds.get_guild)
        add("GET", "/guilds/{guild_id}/channels", guilds.get_guild_channels)
        add("GET", "/guilds/{guild_id}/members/{user_id}", guilds.get_member)
        add("GET", "/channels/{channel_id}", guilds.get_channel)
        add("POST", "/channels/{channel_id}/typing", guilds.typing)
        add("GET", "/channels/{channel_id}/messages", messages.get_messages)
        add("POST", "/channels/{channel_id}/messages", messages.create_message)
        msg = _MESSAGE
        add("GET", msg, messages.get_message)
        add("PATCH", msg, messages.edit_message)
        add("DELETE", msg, messages.delete_message)
        add("PUT", msg + "/reactions/{emoji_name}/@me", reactions.add_reaction)
        add("DELETE", msg + "/reactions/{emoji_name}/@me", reactions.remove_own_reaction)
        add("DELETE", msg + "/reactions/{emoji_name}/{user_id}", reactions.remove_user_reaction)
        add("GET", msg + "/reactions/{emoji_name}", reactions.get_reactions)
        add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.interactions.interaction_callback,
            auth=False,
        )
        hooks = self.webhooks
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        add("POST", hook, hooks.execute_webhook, auth=False)
        for suffix in ("/messages/@original", "/messages/{message_id}"):
            add("GET", hook + suffix, hooks.get_webhook_message, auth=False)
            add("PATCH", hook + suffix, hooks.edit_webhook_message, auth=False)
            add("DELETE", hook + suffix, hooks.delete_webhook_message, auth=False)

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
        headers = self.limits.headers(route.method, route.template, params)
        try:
            if route.auth:
                self._check_auth(request, method, path)
            rule = self.limits.take_rule(method, path)
            if rule is not None:
                scope = "global" if rule.is_global else "shared"
                return self._rate_limited(
                    method, path, route, rule.retry_after, scope=scope, is_global=rule.is_global
                )
            if method == "PATCH" and route.template == _MESSAGE:
                retry_after = self.limits.take_edit_slot(params["message_id"])
                if retry_after is not None:
                    state.edit_429s += 1
                    limit = state.edit_bucket[0] if state.edit_bucket else 5
                    return self._rate_limited(
                        method, path, route, retry_after, limit=limit, scope="user"
                    )
            call = Call(request, method, path, route.template, params)
            try:
                await read_body(state, call)
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
        headers, body = self.limits.refusal(
            route.method, route.template, retry_after, limit=limit, scope=scope, is_global=is_global
        )
        return self._finish(method, path, 429, body, headers)
