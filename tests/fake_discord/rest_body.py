"""Request bodies: JSON, or multipart with a payload_json part and files[n] parts (upload limit)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import BodyPartReader

from . import openapi
from .rest_call import Call, DiscordError, UploadedPart
from .state import DiscordState

_FILES_FIELD = re.compile(r"files\[(\d+)\]")


async def read_body(state: DiscordState, call: Call) -> None:
    """Fill call.body (and call.parts), checked against the OpenAPI request schema."""
    request = call.request
    if not request.body_exists:
        return
    declared = request.headers.get("Content-Type", "")
    mimetype = request.content_type
    where = f"{call.method} {call.path}"
    if mimetype == "application/json":
        raw = await request.read()
        call.body = parse_json(raw, where)
        problem = openapi.check_request(call.template, call.method, "application/json", call.body)
    elif mimetype == "multipart/form-data":
        await read_multipart(state, call)
        problem = openapi.check_request(
            call.template, call.method, "multipart/form-data", call.body or {}
        )
    else:
        await request.read()
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            violation=f"{where}: body sent with Content-Type {declared!r} "
            "(expected application/json or multipart/form-data)",
        )
    if problem is not None:
        state.violation(problem)


def parse_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscordError(
            400,
            50109,
            "The request body contains invalid JSON.",
            violation=f"{where}: invalid JSON body",
        ) from None


async def read_multipart(state: DiscordState, call: Call) -> None:
    where = f"{call.method} {call.path}"
    limit = state.upload_limit
    oversize: list[str] = []
    saw_payload = False
    reader = await call.request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            state.violation(f"{where}: nested multipart part")
            continue
        name = part.name or ""
        if name == "payload_json":
            saw_payload = True
            call.body = parse_json(bytes(await part.read()), where)
            continue
        match = _FILES_FIELD.fullmatch(name)
        # Read every part completely, even oversize ones: answering before the client
        # finished sending would surface as a connection reset instead of the 413.
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await part.read_chunk(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size <= limit:
                chunks.append(bytes(chunk))
        if match is None:
            state.violation(f"{where}: unexpected multipart field {name!r}")
            continue
        filename = part.filename or f"file{match.group(1)}"
        if size > limit:
            oversize.append(f"{filename} ({size} bytes)")
            continue
        call.parts.append(
            UploadedPart(
                int(match.group(1)),
                filename,
                part.headers.get("Content-Type"),
                b"".join(chunks),
            )
        )
    if oversize:
        raise DiscordError(
            413,
            40005,
            "Request entity too large",
            violation=f"oversize upload: {where}: {', '.join(oversize)} > limit {limit} bytes",
        )
    if not saw_payload:
        state.violation(f"{where}: multipart request without a payload_json part")
