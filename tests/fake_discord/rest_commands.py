"""REST handlers for application commands, global or per guild: list, overwrite (the bot's
sync), create, get and delete."""

from __future__ import annotations

from . import payloads
from .models import JSON, RegisteredCommand
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply


class CommandHandlers(Handlers):
    """/applications/{application_id}(/guilds/{guild_id})/commands(/{command_id})."""

    def _check_app(self, call: Call) -> None:
        if call.snowflake("application_id") != self.state.application_id:
            raise DiscordError(
                403,
                50001,
                "Missing Access",
                violation=f"{call.method} {call.path}: another application's id",
            )

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
