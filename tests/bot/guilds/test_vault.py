"""Servers' own keys sealed at rest: AES-256-GCM under EMO_SECRET_KEY, bound to the server."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from bot.guilds.vault import KeyVault, SealedKeyError

SECRET = SecretStr("operator-secret-0123456789-abcdefghijklmnop")
OTHER_SECRET = SecretStr("another-operator-secret-0123456789-qrstuvwx")
KEY = "sk-own-3f1c9a7be2d84c60a1b2c3d4e5f60718"
GUILD = 111


@pytest.fixture
def backend() -> str:
    """No database here: once is enough (the folder's tests run on both backends)."""
    return "sqlite"


def _windows(text: str, size: int = 6) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def test_a_sealed_key_opens_for_its_server_with_the_same_secret() -> None:
    token = KeyVault(SECRET).seal(KEY, GUILD)
    assert token.startswith("v1:")
    assert KeyVault(SECRET).open(token, GUILD) == KEY  # a new vault: the key is derived again


def test_each_sealing_has_its_own_nonce() -> None:
    vault = KeyVault(SECRET)
    first, second = vault.seal(KEY, GUILD), vault.seal(KEY, GUILD)
    assert first != second
    assert vault.open(first, GUILD) == vault.open(second, GUILD) == KEY


def test_the_token_shows_no_part_of_the_key() -> None:
    token = KeyVault(SECRET).seal(KEY, GUILD)
    body = base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4))
    encoded = base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("=")
    for piece in _windows(KEY):
        assert piece not in token
        assert piece.encode() not in body
    for piece in _windows(encoded, 8):
        assert piece not in token


def test_another_server_or_another_secret_does_not_open_it() -> None:
    token = KeyVault(SECRET).seal(KEY, GUILD)
    with pytest.raises(SealedKeyError) as moved:
        KeyVault(SECRET).open(token, GUILD + 1)  # copied into another server's row
    assert moved.value.guild_id == GUILD + 1
    with pytest.raises(SealedKeyError) as other:
        KeyVault(OTHER_SECRET).open(token, GUILD)  # EMO_SECRET_KEY changed
    assert "EMO_SECRET_KEY" in other.value.reason
    for error in (moved.value, other.value):
        assert token[3:20] not in str(error)
        assert KEY not in str(error)


@pytest.mark.parametrize(
    "damaged",
    ["", "sk-plain-key-stored-by-mistake", "v2:abcdef", "v1:", "v1:!!!not base64!!!", "v1:AAAA"],
)
def test_a_damaged_or_unknown_value_is_a_typed_error(damaged: str) -> None:
    with pytest.raises(SealedKeyError) as caught:
        KeyVault(SECRET).open(damaged, GUILD)
    assert caught.value.guild_id == GUILD
    if len(damaged) > 4:
        assert damaged not in str(caught.value)


def test_a_flipped_bit_is_refused() -> None:
    token = KeyVault(SECRET).seal(KEY, GUILD)
    body = bytearray(base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4)))
    body[-1] ^= 1
    altered = "v1:" + base64.urlsafe_b64encode(bytes(body)).decode().rstrip("=")
    with pytest.raises(SealedKeyError):
        KeyVault(SECRET).open(altered, GUILD)
