"""The test driver: what a user does through Discord's client (a slash command, a context-menu
command, a component click, a modal submission), sent to the bot as INTERACTION_CREATE."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

from . import payloads
from .components import number_components
from .driver_options import (
    ATTACHMENT,
    OptionValue,
    check_options,
    infer_type,
    option,
    option_schemas,
)
from .driver_payload import InteractionFactory
from .gateway import GatewayHub
from .models import (
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    FakeInteraction,
)
from .state import DiscordState
from .uploads import AttachmentInput, store_upload, to_upload


class InteractionDriver:
    """Invokes commands, components and modals on behalf of users (FakeDiscord delegates)."""

    def __init__(
        self, state: DiscordState, hub: GatewayHub, default_user: Callable[[], int]
    ) -> None:
        self.state = state
        self.factory = InteractionFactory(state, hub, default_user)

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
        state = self.state
        uid, channel, guild = self.factory.context(user_id, channel_id)
        top, *path = command.split()
        registered = state.find_command(top, guild.id if guild else None)
        types, schemas = option_schemas(registered.request if registered else None, path)
        if schemas is not None:
            check_options(command, schemas, options or {}, attachments or {})
        by_name = {str(s.get("name")): s for s in schemas or []}
        leaf: list[JSON] = []
        resolved: JSON = {}
        for name, value in (options or {}).items():
            schema = by_name.get(name)
            option_type = int(schema["type"]) if schema and "type" in schema else infer_type(value)
            leaf.append(option(state, option_type, name, value, resolved))
        for name, item in (attachments or {}).items():
            stored = store_upload(state, channel.id, to_upload(item))
            resolved.setdefault("attachments", {})[str(stored.attachment_id)] = payloads.attachment(
                state, stored
            )
            leaf.append({"name": name, "type": ATTACHMENT, "value": str(stored.attachment_id)})
        nested = leaf
        for name, option_type in reversed(list(zip(path, types, strict=True))):
            nested = [{"name": name, "type": option_type, "options": nested}]
        data: JSON = {
            "id": str(registered.id if registered else state.ids.next()),
            "name": top,
            "type": 1,
            "options": nested,
        }
        if resolved:
            data["resolved"] = resolved
        if registered is not None and registered.guild_id is not None:
            data["guild_id"] = str(registered.guild_id)
        interaction = self.factory.new(
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
        return await self.factory.send(interaction)

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
        if (target_message_id is None) == (target_user_id is None):
            raise ValueError("give exactly one of target_message_id / target_user_id")
        state = self.state
        uid, channel, guild = self.factory.context(user_id, channel_id)
        command_type = 3 if target_message_id is not None else 2
        registered = next(
            (
                c
                for c in state.commands
                if c.name == name
                and c.type == command_type
                and c.guild_id in {None, guild.id if guild else None}
            ),
            None,
        )
        resolved: JSON = {}
        if target_message_id is not None:
            target = state.messages_by_id[target_message_id]
            resolved["messages"] = {str(target.id): payloads.message(state, target)}
            target_id = target.id
        else:
            assert target_user_id is not None
            target_id = target_user_id
            resolved["users"] = {str(target_id): payloads.user(state.users[target_id])}
        data: JSON = {
            "id": str(registered.id if registered else state.ids.next()),
            "name": name,
            "type": command_type,
            "target_id": str(target_id),
            "resolved": resolved,
        }
        if registered is not None and registered.guild_id is not None:
            data["guild_id"] = str(registered.guild_id)
        interaction = self.factory.new(
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
        return await self.factory.send(interaction)

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
        source = self.state.messages_by_id[message_id]
        uid, channel, guild = self.factory.context(user_id, source.channel_id)
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        interaction = self.factory.new(
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
        if forged:
            _claim_button(interaction.payload["message"], custom_id)
        return await self.factory.send(interaction)

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: Mapping[str, str],
        *,
        files: Mapping[str, Sequence[AttachmentInput]] | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        state = self.state
        modal = opened_by.modal
        if modal is None:
            raise ValueError(f"interaction {opened_by.id} was not answered with a modal")
        uid, channel, guild = self.factory.context(opened_by.user_id, opened_by.channel_id)
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
                stored = store_upload(state, channel.id, to_upload(item))
                attachments = resolved.setdefault("attachments", {})
                attachments[str(stored.attachment_id)] = payloads.attachment(state, stored)
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
        source = state.messages_by_id.get(opened_by.source_message_id or 0)
        interaction = self.factory.new(
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
        return await self.factory.send(interaction)


def _claim_button(message: JSON, custom_id: str) -> None:
    """What a tampered client sends: the message's first button, renamed ``custom_id``
    (in a copy: the stored message keeps its own)."""
    message["components"] = copy.deepcopy(message.get("components") or [])
    for row in message["components"]:
        for component in row.get("components") or []:
            if component.get("type") == 2:
                component["custom_id"] = custom_id
                return
    raise ValueError("a forged click needs a message with a button to rename")
