"""Message components as Discord stores them (numbered, without nulls)."""

from __future__ import annotations

import copy
from typing import Any

from .models import JSON


def strip_nulls(value: Any) -> Any:
    """Discord omits unset fields in responses where requests may carry nulls."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def number_components(components: list[Any]) -> list[JSON]:
    """Components as Discord stores them: every component gets a numeric `id` (1, 2, ...)."""
    taken: list[int] = [c["id"] for c in _walk(components) if isinstance(c.get("id"), int)]
    next_id = max(taken, default=0)
    out: list[JSON] = copy.deepcopy([c for c in components if isinstance(c, dict)])
    for component in _walk(out):
        if not isinstance(component.get("id"), int):
            next_id += 1
            component["id"] = next_id
    return [strip_nulls(c) for c in out]


def _walk(components: list[Any]) -> list[JSON]:
    found: list[JSON] = []
    for component in components:
        if not isinstance(component, dict):
            continue
        found.append(component)
        for key in ("components", "component", "accessory"):
            child = component.get(key)
            if isinstance(child, list):
                found.extend(_walk(child))
            elif isinstance(child, dict):
                found.extend(_walk([child]))
    return found


def custom_ids(components: list[Any]) -> tuple[str, ...]:
    """The custom ids of all interactive components, in layout order."""
    return tuple(str(c["custom_id"]) for c in _walk(components) if c.get("custom_id") is not None)
