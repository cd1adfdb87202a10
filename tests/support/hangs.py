"""What a test that timed out was waiting for: the stacks of its event loop's tasks.

pytest-timeout prints the threads' stacks; a hung asyncio test shows only the loop idle in
``select``. ``tests/conftest.py`` wraps its handler to print every task's stack first."""

from __future__ import annotations

import asyncio
import io
from typing import Protocol


class Writer(Protocol):
    def sep(self, sepchar: str, title: str) -> None: ...

    def write(self, text: str) -> None: ...


def print_tasks(terminal: Writer) -> None:
    """Every task of the running loop with where it waits (nothing when no loop runs)."""
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        return
    terminal.sep("~", title=f"{len(tasks)} asyncio tasks at the timeout")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        text = io.StringIO()
        task.print_stack(limit=12, file=text)
        terminal.write(f"{task.get_name()}:\n{text.getvalue()}\n")
