"""Migration scripts as statements."""

from __future__ import annotations


def statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolons inside our literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
