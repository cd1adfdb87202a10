"""Checks JSON bodies against Discord's OpenAPI description (tests/fixtures/discord-openapi.json).

The spec (1.2 MB) is parsed once per process; one validator per schema location is built on
first use and cached. Refs like "#/components/schemas/X" resolve through a `referencing`
registry holding the whole spec.

Known spec quirk handled narrowly: `SnowflakeType` is a string in the spec, but Discord
accepts integer snowflakes in requests and discord.py sends some (e.g. `attachments[].id`
is the integer file index). Request bodies therefore accept integer snowflakes; response
bodies, which the fake produces, must use strings as Discord does.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "discord-openapi.json"
_BASE_URI = "urn:discord-openapi"
_MAX_MESSAGE = 300


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed OpenAPI document."""
    with SPEC_PATH.open("rb") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


@functools.cache
def _registry(for_requests: bool) -> Registry[Any]:
    spec = load_spec()
    if for_requests:
        spec = dict(spec)
        components = dict(spec["components"])
        schemas = dict(components["schemas"])
        strict = copy.deepcopy(schemas["SnowflakeType"])
        schemas["SnowflakeType"] = {"anyOf": [strict, {"type": "integer", "minimum": 0}]}
        components["schemas"] = schemas
        spec["components"] = components
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
    return registry


@functools.cache
def _validator(pointer: str, for_requests: bool) -> Any:
    return Draft202012Validator(
        {"$ref": f"{_BASE_URI}#{pointer}"}, registry=_registry(for_requests)
    )


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _operation(template: str, method: str) -> dict[str, Any] | None:
    path_item = load_spec()["paths"].get(template)
    if not isinstance(path_item, dict):
        return None
    op = path_item.get(method.lower())
    return op if isinstance(op, dict) else None


def request_pointer(template: str, method: str, content_type: str) -> str | None:
    """JSON pointer of the request body schema, or None when the spec has none."""
    op = _operation(template, method)
    if op is None:
        return None
    content = op.get("requestBody", {}).get("content", {})
    for candidate in (content_type, "application/json"):
        if candidate in content and "schema" in content[candidate]:
            return (
                "/"
                + "/".join(
                    _escape(s)
                    for s in (
                        "paths",
                        template,
                        method.lower(),
                        "requestBody",
                        "content",
                        candidate,
                    )
                )
                + "/schema"
            )
    return None


def response_pointer(template: str, method: str, status: int) -> str | None:
    """JSON pointer of the application/json response schema for `status`, if any."""
    op = _operation(template, method)
    if op is None:
        return None
    response = op.get("responses", {}).get(str(status))
    if not isinstance(response, dict):
        return None
    if "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    return (
        "/"
        + "/".join(
            _escape(s)
            for s in ("paths", template, method.lower(), "responses", str(status), "content")
        )
        + "/application~1json/schema"
    )


def _describe(errors: list[Any]) -> str:
    best = best_match(errors)
    # For anyOf/oneOf failures, descend into the branch that matched deepest into the
    # instance (the intended one, e.g. the branch whose "type" const matched).
    while best.context:
        branches: dict[Any, list[Any]] = {}
        for error in best.context:
            branches.setdefault(error.relative_schema_path[0], []).append(error)
        chosen = max(
            branches.values(),
            key=lambda errs: (max(len(e.absolute_path) for e in errs), -len(errs)),
        )
        best = max(chosen, key=lambda e: len(e.absolute_path))
    where = "/".join(str(p) for p in best.absolute_path) or "<root>"
    message = str(best.message)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def validate(pointer: str, body: Any, *, for_requests: bool) -> str | None:
    """Validate body against the schema at pointer; a short description of the problem or None."""
    errors = list(_validator(pointer, for_requests).iter_errors(body))
    return _describe(errors) if errors else None


def check_request(template: str, method: str, content_type: str, body: Any) -> str | None:
    """Violation text for a request body the spec rejects, else None."""
    pointer = request_pointer(template, method, content_type)
    if pointer is None:
        return None
    problem = validate(pointer, body, for_requests=True)
    if problem is None:
        return None
    return f"openapi: {method} {template} request body: {problem}"


def check_response(template: str, method: str, status: int, body: Any) -> str | None:
    """Violation text for a response body (produced by the fake) the spec rejects, else None."""
    pointer = response_pointer(template, method, status)
    if pointer is None:
        return None
    problem = validate(pointer, body, for_requests=False)
    if problem is None:
        return None
    return f"openapi: {method} {template} response {status}: {problem}"


def check_schema(name: str, body: Any) -> str | None:
    """Validate against components/schemas/<name> (used for gateway payloads that match one)."""
    problem = validate(f"/components/schemas/{_escape(name)}", body, for_requests=False)
    return None if problem is None else f"openapi: {name}: {problem}"
