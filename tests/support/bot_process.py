"""Runs the real bot as ``python -m bot`` in a child process, configured only by environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_OWN_PREFIXES = ("DISCORD_", "DASHSCOPE_", "EMO_")


class BotProcess:
    """One bot process; its output goes to a log file so a full pipe never blocks it."""

    def __init__(self, environment: dict[str, str], workdir: Path) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
        self.environment = {**inherited, "PYTHONPATH": str(REPO), **environment}
        self.workdir = workdir
        self.log_path = workdir / "bot.log"
        self._process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts} ----\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.workdir,
                env=self.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def run(self, *args: str, within: float = 60.0) -> tuple[int, str, str]:
        """``python -m bot *args`` to its end, in this bot's directory and environment (a
        one-off command beside the bot process, not it): the exit status, stdout, stderr."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=self.workdir,
            env=self.environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), within)
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    @property
    def pid(self) -> int | None:
        """The running process's id (its /proc entry tells its memory)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def stop(self, sig: int = signal.SIGTERM, grace: float = 15.0) -> int | None:
        """Signal the process and wait for it; SIGKILL if it outlives ``grace`` seconds."""
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            return await process.wait()

    async def kill(self) -> None:
        await self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
