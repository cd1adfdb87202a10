"""deploy/emo-bot.service: what it must say, and `systemd-analyze verify` where that exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "emo-bot.service"
HOME = "/opt/emo-bot"


def _entries(text: str) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_unit_restarts_the_bot_as_its_own_user_with_the_data_directory_writable() -> None:
    unit = _entries(UNIT.read_text())
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["Restart"] == "on-failure"
    assert service["RestartSec"].endswith("s")
    assert int(service["RestartSec"].removesuffix("s")) >= 10  # a back-off, not a busy loop
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]  # never gives up for good
    assert service["User"] == service["Group"] == "emo-bot"
    assert service["WorkingDirectory"] == HOME  # where the bot reads .env
    assert unit["Unit"]["AssertPathExists"] == [f"{HOME}/.env"]
    assert service["ExecStart"] == f"{HOME}/.venv/bin/python -m bot"
    # Hardening, and the one place it may write: the default EMO_DATA_DIR under its home.
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service[key] == value, key
    data_dir = Settings.model_fields["emo_data_dir"].default
    assert service["ReadWritePaths"] == f"{HOME}/{Path(data_dir).as_posix()}"
    assert int(service["TimeoutStopSec"].removesuffix("s")) > 10  # a clean stop takes < 10 s
    assert "network-online.target" in unit["Unit"]["After"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    # Verify checks that ExecStart exists: point the unit at this checkout's interpreter and
    # a home of its own. It exits 0 even for unknown keys, so its output must be empty too.
    home = tmp_path / "emo-bot"
    (home / "data").mkdir(parents=True)
    (home / ".env").write_text("DISCORD_TOKEN=\n")
    text = UNIT.read_text().replace(f"{HOME}/.venv/bin/python", sys.executable)
    unit = tmp_path / "emo-bot.service"
    unit.write_text(text.replace(HOME, str(home)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""
