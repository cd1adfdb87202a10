"""Servers' own provider keys, sealed at rest under the operator's ``EMO_SECRET_KEY``.

AES-256-GCM with a key derived from ``EMO_SECRET_KEY`` by HKDF-SHA256, a random 96-bit nonce
per sealing, and the server's id as associated data: a sealed key copied into another
server's row does not open. The stored form is text, ``v1:`` then the nonce and the
ciphertext (with its tag) in unpadded base64url; the version names the scheme, so another
one can be added beside it.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

VERSION = "v1"
_PREFIX = f"{VERSION}:"
_INFO = b"emo-bot guild provider keys v1"  # fixed: changing it makes every stored key unreadable
_NONCE_BYTES = 12
_TAG_BYTES = 16


class SealedKeyError(Exception):
    """A stored key cannot be opened: another ``EMO_SECRET_KEY``, another server's row, or a
    damaged value. Carries the server and why, never the sealed value or the key."""

    def __init__(self, guild_id: int, reason: str) -> None:
        super().__init__(f"the provider key stored for guild {guild_id} cannot be read: {reason}")
        self.guild_id = guild_id
        self.reason = reason


def _associated_data(guild_id: int) -> bytes:
    return f"emo-bot guild {guild_id}".encode()


class KeyVault:
    """Seals and opens servers' keys; one per process, built from ``EMO_SECRET_KEY``."""

    def __init__(self, secret: SecretStr) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret.get_secret_value().encode()
        )
        self._cipher = AESGCM(derived)

    def seal(self, key: str, guild_id: int) -> str:
        """``key`` encrypted for ``guild_id``'s row, as stored text (``v1:…``)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, key.encode(), _associated_data(guild_id))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, guild_id: int) -> str:
        """The key sealed in ``token`` for ``guild_id``; SealedKeyError if it cannot be."""
        if not token.startswith(_PREFIX):
            raise SealedKeyError(guild_id, "not a sealed key of a version this bot knows")
        body = token[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise SealedKeyError(guild_id, "the stored value is damaged") from None
        if len(raw) <= _NONCE_BYTES + _TAG_BYTES:
            raise SealedKeyError(guild_id, "the stored value is damaged")
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        try:
            plain = self._cipher.decrypt(nonce, sealed, _associated_data(guild_id))
        except InvalidTag:
            reason = "EMO_SECRET_KEY is not the one it was stored with, or the value was altered"
            raise SealedKeyError(guild_id, reason) from None
        return plain.decode()
