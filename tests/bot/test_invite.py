"""``python -m bot invite``: the link's permissions against discord.py's own flags, and the
command as an operator runs it, against the fake Discord's REST."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from bot.invite import NEEDED, SCOPES, Permission, invite_url, permissions_integer
from tests.fake_discord import FakeDiscord
from tests.support.bot_process import BotProcess
from tests.support.commands import run_bot_command

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)

# What the bot uses, named as discord.py names it; the README's list says the same.
DISCORD_PY_FLAGS = {
    "view_channel": "View Channels",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
    "add_reactions": "Add Reactions",
}


def test_the_permissions_integer_is_discord_pys_value_for_the_named_flags() -> None:
    expected = discord.Permissions(**dict.fromkeys(DISCORD_PY_FLAGS, True))
    assert permissions_integer() == expected.value
    for flag in Permission:  # each bit, by name, is discord.py's bit of that name
        assert getattr(discord.Permissions, flag.name.lower()).flag == flag.value
    assert {label for label, _ in NEEDED.values()} == set(DISCORD_PY_FLAGS.values())
    assert set(NEEDED) == set(Permission)
    # Nothing the bot does not use: no embeds, no moderation, no administrator.
    granted = discord.Permissions(permissions_integer())
    assert not granted.embed_links
    assert not granted.manage_messages
    assert not granted.administrator


def test_the_readme_asks_for_the_same_permissions() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())
    for label in DISCORD_PY_FLAGS.values():
        assert f"*{label}*" in readme
    assert "python -m bot invite" in readme


def test_the_link_for_discord_names_the_application_scopes_and_permissions() -> None:
    url = urlsplit(invite_url(123456789012345678))
    assert (url.scheme, url.netloc, url.path) == ("https", "discord.com", "/oauth2/authorize")
    query = parse_qs(url.query, strict_parsing=True)
    assert query == {
        "client_id": ["123456789012345678"],
        "permissions": [str(permissions_integer())],
        "integration_type": ["0"],
        "scope": ["bot applications.commands"],
    }


def _invite_process(tmp_path: Path, **environment: str) -> BotProcess:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return BotProcess(environment, tmp_path)  # no provider key, no data directory: not needed


async def test_invite_reads_the_application_id_over_rest_and_prints_the_link(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    process = _invite_process(
        tmp_path,
        DISCORD_TOKEN=discord_fake.bot_token,
        DISCORD_API_BASE_URL=discord_fake.api_base_url,
    )
    status, out, err = await process.run("invite", within=60)
    assert status == 0, err
    link = out.strip()
    assert "\n" not in link  # stdout is the link alone: $(python -m bot invite) works
    url = urlsplit(link)
    assert f"{url.scheme}://{url.netloc}" == discord_fake.http_base  # the configured server
    assert url.path == "/oauth2/authorize"
    query = parse_qs(url.query, strict_parsing=True)
    assert query["client_id"] == [str(discord_fake.application_id)]
    assert query["scope"] == [" ".join(SCOPES)]
    assert query["scope"] == ["bot applications.commands"]
    assert query["permissions"] == [str(permissions_integer())]
    assert "View Channels, Send Messages, Send Messages in Threads, Attach Files" in err
    assert "Public Bot" not in err
    assert "Code Grant" not in err
    calls = [(r.method, r.path, r.status) for r in discord_fake.requests]
    assert calls == [("GET", "/oauth2/applications/@me", 200)]
    assert discord_fake.identify_count == 0
    assert discord_fake.violations == []


async def test_invite_warns_when_the_portal_settings_would_stop_the_link(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    discord_fake.application_public = False
    discord_fake.application_requires_code_grant = True
    process = _invite_process(
        tmp_path,
        DISCORD_TOKEN=discord_fake.bot_token,
        DISCORD_API_BASE_URL=discord_fake.api_base_url,
    )
    status, out, err = await process.run("invite", within=60)
    assert status == 0, err
    assert "Public Bot is off" in err
    assert "Requires OAuth2 Code Grant is on" in err
    assert out.strip().startswith(discord_fake.http_base + "/oauth2/authorize?")


async def test_a_rejected_token_is_one_line_and_exit_2(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    wrong = "not-the-token-0123456789"
    process = _invite_process(
        tmp_path, DISCORD_TOKEN=wrong, DISCORD_API_BASE_URL=discord_fake.api_base_url
    )
    status, out, err = await process.run("invite", within=60)
    assert status == 2
    assert out == ""
    assert err.strip() == (
        "Configuration error: DISCORD_TOKEN was rejected by Discord (see .env.example)"
    )
    assert wrong not in err


def test_without_a_token_it_says_so(tmp_path: Path) -> None:
    done = run_bot_command(tmp_path, "invite", timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "Configuration error: DISCORD_TOKEN is not set (see .env.example)"


def test_an_unreachable_discord_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run_bot_command(
        tmp_path,
        "invite",
        timeout=60,
        DISCORD_TOKEN="some-token-0123456789",
        DISCORD_API_BASE_URL=f"http://127.0.0.1:{port}/api/v10",
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Cannot reach Discord at 127.0.0.1:{port} (connection refused); nothing listens "
        "there: check the address in DISCORD_API_BASE_URL, or start that service"
    ]
