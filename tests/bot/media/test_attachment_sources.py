"""Where members' attachments may be downloaded from: Discord's CDN over https on port 443,
and a configured Discord-compatible server's own origin exactly as configured."""

from __future__ import annotations

import pytest
from yarl import URL

from bot.media.sources import SourcePolicy, SourceRefusedError
from bot.settings import DISCORD_ATTACHMENT_HOSTS

CDN = "https://cdn.discordapp.com/attachments/1/2/me.png?ex=1&is=2&hm=3"


def _policy(*trusted: str) -> SourcePolicy:
    return SourcePolicy.https_from(DISCORD_ATTACHMENT_HOSTS, trusted_urls=trusted)


def test_discords_cdn_over_https_on_443_only() -> None:
    policy = _policy()
    policy.check_url(URL(CDN))
    policy.check_url(URL("https://media.discordapp.net:443/attachments/1/2/a.ogg"))
    refused = {
        "http://cdn.discordapp.com/attachments/1/2/me.png": "scheme 'http'",
        "https://cdn.discordapp.com:8443/attachments/1/2/me.png": "port 8443",
        "https://cdn.discordapp.com.evil.example/x.png": "host",
        "https://evil.example/cdn.discordapp.com/x.png": "host",
        "ftp://cdn.discordapp.com/x.png": "scheme 'ftp'",
        "https://127.0.0.1/attachments/1/2/me.png": "host",
    }
    for url, reason in refused.items():
        with pytest.raises(SourceRefusedError) as caught:
            policy.check_url(URL(url))
        assert reason in caught.value.reason, url


def test_a_configured_discord_is_trusted_exactly_as_configured() -> None:
    policy = _policy("http://127.0.0.1:5005/api/v10")
    policy.check_url(URL("http://127.0.0.1:5005/attachments/1/2/me.png"))
    for url in (
        "http://127.0.0.1:5006/attachments/1/2/me.png",  # another port: another service
        "https://127.0.0.1:5005/attachments/1/2/me.png",  # another scheme
        "http://localhost:5005/attachments/1/2/me.png",  # another name
    ):
        with pytest.raises(SourceRefusedError):
            policy.check_url(URL(url))
    policy.check_url(URL(CDN))  # Discord's own CDN stays allowed beside it
