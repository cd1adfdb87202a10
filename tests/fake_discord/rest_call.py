"""A REST request as the handlers see it: the matched `Call`, the `Reply`, Discord's error shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from .models import JSON

# Where the REST API lives on the fake's server (discord.py's Route.BASE).
API_PREFIX = "/api/v10"


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


def flag_bool(value: str | None) -> bool:
    """A boolean query parameter (`?wait=true`, `?with_counts=1`, ...)."""
    return value is not None and value.lower() in {"1", "true", "yes"}
