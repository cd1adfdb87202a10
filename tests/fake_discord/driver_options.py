"""Slash-command options for the test driver: the registered option tree, what Discord's client
would let a user submit, and the option values with their resolved objects."""

from __future__ import annotations

from collections.abc import Mapping

from . import payloads
from .models import JSON
from .state import DiscordState
from .uploads import AttachmentInput

OptionValue = str | int | float | bool

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
NUMBER = 10
ATTACHMENT = 11


def infer_type(value: OptionValue) -> int:
    """The option type of a value given for an option the bot did not register."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    return STRING


def _coerce(option_type: int, value: OptionValue) -> OptionValue:
    if option_type == INTEGER:
        return int(value)
    if option_type == NUMBER:
        return float(value)
    if option_type == BOOLEAN:
        return bool(value)
    return str(value)


def option_schemas(command: JSON | None, path: list[str]) -> tuple[list[int], list[JSON] | None]:
    """Types along the sub-command path and the leaf's option schemas (None if unknown)."""
    if command is None:
        # Not registered (yet): infer group/sub-command from the position.
        types = [SUB_COMMAND_GROUP] * (len(path) - 1) + [SUB_COMMAND] * bool(path)
        return types, None
    found_types: list[int] = []
    options: list[JSON] = list(command.get("options") or [])
    for name in path:
        found = next((o for o in options if o.get("name") == name), None)
        if found is None or int(found.get("type", 0)) not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise ValueError(f"{command.get('name')!r} has no sub-command {name!r}")
        found_types.append(int(found["type"]))
        options = list(found.get("options") or [])
    return found_types, options


def check_options(
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
        if int(by_name[name].get("type", 0)) != ATTACHMENT:
            raise ValueError(f"option {name!r} of {command!r} is not an attachment option")
    for name, value in options.items():
        choices = by_name[name].get("choices") or []
        if choices and value not in [c.get("value") for c in choices]:
            raise ValueError(f"{value!r} is not a choice of {name!r} in {command!r}")
    for schema in schemas:
        name = str(schema.get("name"))
        if schema.get("required") and name not in options and name not in attachments:
            raise ValueError(f"required option {name!r} of {command!r} is missing")


def option(
    state: DiscordState, option_type: int, name: str, value: OptionValue, resolved: JSON
) -> JSON:
    """One leaf option as Discord sends it; users and channels also go into `resolved`."""
    if option_type == USER:
        target = int(value)
        user = state.users[target]
        resolved.setdefault("users", {})[str(target)] = payloads.user(user)
        guild = state.guilds.get(state.guild_id)
        if guild is not None and target in guild.members:
            member = payloads.interaction_member(state, guild, guild.members[target])
            member.pop("user", None)
            resolved.setdefault("members", {})[str(target)] = member
        return {"name": name, "type": option_type, "value": str(target)}
    if option_type == CHANNEL:
        target_channel = state.channels[int(value)]
        entry = payloads.channel(state, target_channel)
        if target_channel.guild_id is not None:
            everyone = state.guilds[target_channel.guild_id].roles[target_channel.guild_id]
            entry["permissions"] = str(everyone.permissions)
        resolved.setdefault("channels", {})[str(target_channel.id)] = entry
        return {"name": name, "type": option_type, "value": str(target_channel.id)}
    if option_type in (STRING, INTEGER, NUMBER, BOOLEAN):
        return {"name": name, "type": option_type, "value": _coerce(option_type, value)}
    return {"name": name, "type": option_type, "value": str(value)}
