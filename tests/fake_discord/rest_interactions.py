"""REST handler for the interaction callback (the bot's ack: message, defer, update, modal,
autocomplete), with its deadline, double-ack and callback-type checks."""

from __future__ import annotations

from . import payloads
from .gateway import GatewayHub
from .models import (
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    FakeInteraction,
    FakeMessage,
)
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply, flag_bool
from .rest_content import SETTABLE_FLAGS, MessageContent
from .state import DiscordState

# The callback types Discord accepts per interaction type (4: autocomplete).
_ALLOWED_CALLBACKS: dict[int, set[int]] = {
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
}


class InteractionHandlers(Handlers):
    """POST /interactions/{interaction_id}/{interaction_token}/callback."""

    def __init__(self, state: DiscordState, hub: GatewayHub, content: MessageContent) -> None:
        super().__init__(state, hub)
        self.content = content

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
        if ctype not in _ALLOWED_CALLBACKS.get(interaction.type, set()):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"callback type {ctype} is not valid for interaction type "
                f"{interaction.type}",
            )
        payload_data: JSON = data if isinstance(data, dict) else {}
        resource = await self._respond(call, interaction, ctype, payload_data)
        interaction.response_type = ctype
        interaction.acked.set()
        state.notifier.notify()
        if not flag_bool(call.query.get("with_response")):
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

    async def _respond(
        self, call: Call, interaction: FakeInteraction, ctype: int, payload_data: JSON
    ) -> FakeMessage | None:
        """Carry out an admitted callback; the message it created or updated, if any."""
        state = self.state
        resource: FakeMessage | None = None
        if ctype == CALLBACK_MESSAGE:
            resource = await self.post_message(call, interaction, payload_data, original=True)
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
            await self.emit("MESSAGE_CREATE", thinking)
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
                self.content.apply_edit(call, source, payload_data)
                await self.emit("MESSAGE_UPDATE", source)
                resource = source
        elif ctype == CALLBACK_MODAL:
            interaction.modal = payload_data
        elif ctype == CALLBACK_AUTOCOMPLETE:
            interaction.autocomplete_choices = list(payload_data.get("choices") or [])
        return resource

    async def post_message(
        self, call: Call, interaction: FakeInteraction, data: JSON, *, original: bool
    ) -> FakeMessage:
        """A message answering the interaction: its original response or a followup."""
        state = self.state
        content = self.content.check_content(call, data, has_files=bool(call.parts))
        files = self.content.files(call, interaction.channel_id, data)
        flags = int(data.get("flags") or 0) & (SETTABLE_FLAGS | FLAG_EPHEMERAL)
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
        await self.emit("MESSAGE_CREATE", msg)
        return msg
