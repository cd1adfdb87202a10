"""REST handlers for who the bot is and where it connects: the gateway URL, users, the
application, and opening DM channels."""

from __future__ import annotations

from . import payloads
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply


class UserHandlers(Handlers):
    """GET /gateway(/bot), /users/..., /applications/@me and POST /users/@me/channels."""

    gateway_url = ""

    async def get_gateway(self, call: Call) -> Reply:
        return Reply({"url": self.gateway_url})

    async def get_gateway_bot(self, call: Call) -> Reply:
        # The knobs fake.recommended_shards and fake.max_concurrency, read per request.
        return Reply(
            {
                "url": self.gateway_url,
                "shards": self.state.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": self.state.max_concurrency,
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
