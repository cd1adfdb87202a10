"""Running ``python -m bot COMMAND`` as a child process, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_bot_command(
    workdir: Path, *args: str, timeout: float = 100, **variables: str
) -> subprocess.CompletedProcess[str]:
    """``python -m bot *args`` in ``workdir`` with none of the developer's DISCORD_*,
    DASHSCOPE_* or EMO_* settings: a dummy key, ``workdir/data``, then ``variables``."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=workdir,
        env={
            **environment,
            "PYTHONPATH": str(REPO),
            "DASHSCOPE_API_KEY": "sk-x",
            "EMO_DATA_DIR": str(workdir / "data"),
            **variables,
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
