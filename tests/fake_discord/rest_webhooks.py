"""REST handlers for the interaction webhook (the interaction token): followups, and getting,
editing or deleting the original response or a followup, with the token's lifetime."""

from __future__ import annotations

from . import payloads
from .gateway import GatewayHub
from .models import CALLBACK_DEFERRED_MESSAGE, FakeInteraction, FakeMessage
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply, flag_bool
from .rest_content import MessageContent
from .rest_interactions import InteractionHandlers
from .state import DiscordState


class WebhookHandlers(Handlers):
    """/webhooks/{webhook_id}/{webhook_token}(/messages/@original|/messages/{message_id})."""

    def __init__(
        self,
        state: DiscordState,
        hub: GatewayHub,
        content: MessageContent,
        interactions: InteractionHandlers,
    ) -> None:
        super().__init__(state, hub)
        self.content = content
        self.interactions = interactions

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
            self.content.check_content(call, body, has_files=bool(call.parts))
            edit = {k: v for k, v in body.items() if k != "flags"}
            edit.setdefault("content", body.get("content"))
            if call.parts and "attachments" not in edit:
                edit["attachments"] = [{"id": p.index} for p in call.parts]
            self.content.apply_edit(call, original, edit)
            msg = original
            await self.emit("MESSAGE_UPDATE", msg)
        else:
            msg = await self.interactions.post_message(call, interaction, body, original=False)
        if not flag_bool(call.query.get("wait")):
            return Reply(None, 204)
        return Reply(payloads.message(state, msg))

    async def get_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        return Reply(payloads.message(self.state, self._webhook_message(call, interaction)))

    async def edit_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        msg = self._webhook_message(call, interaction)
        self.content.apply_edit(call, msg, call.json_object())
        await self.emit("MESSAGE_UPDATE", msg)
        return Reply(payloads.message(self.state, msg))

    async def delete_webhook_message(self, call: Call) -> Reply:
        interaction = self._webhook_interaction(call)
        msg = self._webhook_message(call, interaction)
        self.state.delete_message(msg)
        await self.emit_delete(msg)
        return Reply(None, 204)
