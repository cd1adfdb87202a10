from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import (
    DASHSCOPE_BEIJING,
    ProviderKind,
    Settings,
    SettingsError,
    load_settings,
    split_bind,
)

REPO = Path(__file__).resolve().parents[2]
ENV_PREFIXES = ("DISCORD_", "DASHSCOPE_", "EMO_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_point_at_beijing_and_the_real_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    settings = load_settings()
    assert str(settings.dashscope_base_url) == DASHSCOPE_BEIJING
    assert str(settings.discord_api_base_url) == "https://discord.com/api/v10"
    assert settings.emo_provider is ProviderKind.DASHSCOPE
    assert settings.database_path == Path("data") / "emo-bot.sqlite3"


def test_the_simulator_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("EMO_PROVIDER", "simulator")
    assert load_settings().dashscope_api_key is None


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "t"}, "DASHSCOPE_API_KEY is required"),
        ({"DISCORD_TOKEN": "t", "DASHSCOPE_API_KEY": "k", "EMO_PROVIDER": "x"}, "EMO_PROVIDER"),
        (
            {"DISCORD_TOKEN": "t", "DASHSCOPE_API_KEY": "k", "EMO_POLL_MIN_SECONDS": "-1"},
            "EMO_POLL_MIN_SECONDS is invalid",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert expected in text
    assert "\n" not in text
    assert text.endswith("(see .env.example)")


def test_shards_are_read_as_a_list_of_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    assert load_settings().discord_shard_ids == ()
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "2, 3")
    settings = load_settings()
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, (2, 3))


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [
        ("", "0,1", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
        ("2", "1,2", "DISCORD_SHARD_IDS must be shard numbers from 0 to 1"),
        ("2", "1,1", "DISCORD_SHARD_IDS names a shard twice"),
        ("2", "one", "DISCORD_SHARD_IDS is invalid"),
        ("0", "", "DISCORD_SHARD_COUNT is invalid"),
    ],
)
def test_bad_shards_are_one_line(
    monkeypatch: pytest.MonkeyPatch, count: str, ids: str, expected: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    monkeypatch.setenv("DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("DISCORD_SHARD_IDS", ids)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)


def test_secret_values_never_appear_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "super-secret-token-value")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-secret-key-value")
    monkeypatch.setenv("EMO_MAX_INPUT_BYTES", "lots")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "secret" not in str(caught.value)
    assert "lots" not in str(caught.value)


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0].strip().lower()
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert listed == set(Settings.model_fields)


def test_python_dash_m_bot_without_a_token_exits_2_with_one_line(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "Configuration error: DISCORD_TOKEN is not set (see .env.example)"
    ]


def test_a_configured_discord_is_trusted_for_its_own_attachments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    assert load_settings().attachment_hosts == {"cdn.discordapp.com", "media.discordapp.net"}
    assert load_settings().configured_discord_urls == ()
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://127.0.0.1:5005/api/v10")
    assert load_settings().configured_discord_urls == ("http://127.0.0.1:5005/api/v10",)
    monkeypatch.setenv("DISCORD_CDN_BASE_URL", "https://Files.Example.org")
    monkeypatch.setenv("EMO_ATTACHMENT_HOSTS", "uploads.example.net")
    settings = load_settings()
    assert settings.attachment_hosts == {"uploads.example.net"}
    assert settings.configured_discord_urls == (
        "http://127.0.0.1:5005/api/v10",
        "https://files.example.org/",
    )


def test_the_media_server_listens_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    assert split_bind(load_settings().emo_media_server_bind) == ("127.0.0.1", 8090)
    monkeypatch.setenv("EMO_MEDIA_SERVER_BIND", "[::1]:8443")
    monkeypatch.setenv("EMO_OPS_BIND", "[2001:db8::7]:9000")
    settings = load_settings()
    assert split_bind(settings.emo_media_server_bind) == ("::1", 8443)
    assert split_bind(settings.emo_ops_bind) == ("2001:db8::7", 9000)
    monkeypatch.setenv("EMO_OPS_BIND", "off")
    assert load_settings().emo_ops_bind == "off"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("EMO_MEDIA_SERVER_BIND", "0.0.0.0:99999", "the port must be from 1 to 65535"),
        ("EMO_MEDIA_SERVER_BIND", "0.0.0.0:0", "the port must be from 1 to 65535"),
        ("EMO_MEDIA_SERVER_BIND", "::1:8090", "use host:port, or [IPv6 address]:port"),
        ("EMO_MEDIA_SERVER_BIND", "8090", "use host:port, or [IPv6 address]:port"),
        ("EMO_OPS_BIND", "[not-v6]:8091", "the address in brackets is not an IPv6 address"),
        ("EMO_OPS_BIND", "127.0.0.1:70000", "the port must be from 1 to 65535"),
    ],
)
def test_a_bad_listen_address_is_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"Configuration error: {variable} is invalid: {expected} (see .env.example)"
    )


def test_emo_secret_key_is_optional_and_long_enough_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    assert load_settings().emo_secret_key is None
    short = "too-short-secret-0123456789"  # 27 characters
    monkeypatch.setenv("EMO_SECRET_KEY", short)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert "EMO_SECRET_KEY is invalid: must be at least 32 characters" in text
    assert "secrets.token_urlsafe(32)" in text  # how to make one
    assert short not in text
    assert "\n" not in text
    good = "a-long-enough-operator-secret-0123456789"
    monkeypatch.setenv("EMO_SECRET_KEY", good)
    secret = load_settings().emo_secret_key
    assert secret is not None
    assert secret.get_secret_value() == good


def test_emo_secret_key_is_among_the_secrets_the_logs_redact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.__main__ import secrets_of

    good = "a-long-enough-operator-secret-0123456789"
    monkeypatch.setenv("DISCORD_TOKEN", "t")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    monkeypatch.setenv("EMO_SECRET_KEY", good)
    assert good in secrets_of(load_settings())
