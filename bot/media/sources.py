"""Where a download may go: schemes, hosts, ports and the addresses they resolve to.

A ``SourcePolicy`` is checked on the first URL and on every redirect. Host patterns are
exact names or ``*.example.com`` (any name under it, not the bare domain). A host outside
the trusted origins must resolve to public addresses only: private, loopback, link-local,
shared, reserved and multicast addresses are refused, literal or resolved. The trusted
origins (the configured provider endpoint, exactly as configured: scheme, host and port)
are exempt, so a simulator on 127.0.0.1 or a compatible endpoint keeps working.

``GuardedResolver`` applies the same address rule when a connection is made, so a name
that resolved to a public address when checked cannot connect to a private one later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

Origin = tuple[str, str, int]  # scheme, host, port
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}


class SourceRefusedError(Exception):
    """The URL may not be fetched under the policy; ``reason`` says why (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AddressRefusedError(OSError):
    """A name resolved to no address the policy allows (raised inside the connector)."""


def origin_of(url: str | URL) -> Origin | None:
    """``(scheme, host, port)`` of an http(s) URL, the port made explicit; None otherwise."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        scheme, host, port = parsed.scheme.lower(), _host(parsed), parsed.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def _host(url: URL) -> str:
    return (url.raw_host or "").lower().rstrip(".")


def public_address(address: IpAddress) -> bool:
    """Whether ``address`` is on the public internet (an IPv4-mapped IPv6 address is judged
    as the IPv4 address it carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class SourcePolicy:
    """What a download may fetch; ``trusted`` origins skip the scheme, port, host pattern
    and address checks."""

    hosts: frozenset[str]
    schemes: frozenset[str] = frozenset({"https"})
    ports: frozenset[int] | None = frozenset({443})  # None: any port
    trusted: frozenset[Origin] = field(default_factory=frozenset)
    public_only: bool = True

    @classmethod
    def https_from(
        cls, hosts: Iterable[str], *, trusted_urls: Collection[str] = ()
    ) -> SourcePolicy:
        """https on port 443 from ``hosts`` at public addresses, and the trusted URLs'
        origins as they are: the provider endpoint the bot is configured with (results),
        a Discord-compatible server it is pointed at (attachments)."""
        origins = {origin for url in trusted_urls if (origin := origin_of(url)) is not None}
        return cls(
            hosts=frozenset(host.strip().lower().rstrip(".") for host in hosts if host.strip()),
            trusted=frozenset(origins),
        )

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` matches a name or a ``*.`` pattern of the allowlist."""
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False

    def is_trusted(self, url: URL) -> bool:
        return origin_of(url) in self.trusted

    def trusts_host(self, host: str) -> bool:
        """Whether ``host`` is a trusted origin's host (its addresses are not judged)."""
        host = host.lower().rstrip(".")
        return any(origin[1] == host for origin in self.trusted)

    def check_url(self, url: URL) -> None:
        """Raise SourceRefusedError unless the scheme, host and port are allowed (the
        addresses are checked apart: ``check_addresses``)."""
        if self.is_trusted(url):
            return
        scheme = url.scheme.lower()
        if scheme not in self.schemes:
            raise SourceRefusedError(f"scheme {scheme!r} is not allowed")
        host = _host(url)
        if not host:
            raise SourceRefusedError("the URL names no host")
        if not self.host_allowed(host):
            raise SourceRefusedError(f"host {host!r} is not allowed")
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme)
        if self.ports is not None and port not in self.ports:
            raise SourceRefusedError(f"port {port} is not allowed")

    async def check_addresses(self, url: URL) -> None:
        """Raise SourceRefusedError when the URL's host is, or resolves to, an address that
        is not public (trusted origins and policies without ``public_only`` pass); OSError
        when the name does not resolve now (a resolver away: worth another try)."""
        if not self.public_only or self.is_trusted(url):
            return
        host = _host(url)
        literal = _literal_address(host)
        if literal is not None:
            addresses: list[IpAddress] = [literal]
        else:
            addresses = await _resolve(host, url.port or 443)
        refused = [str(address) for address in addresses if not public_address(address)]
        if refused or not addresses:
            shown = ", ".join(refused) or "no address"
            raise SourceRefusedError(f"host {host!r} resolves to {shown}: not a public address")


async def _resolve(host: str, port: int) -> list[IpAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IpAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = _literal_address(str(sockaddr[0]))
        if address is not None:
            found.append(address)
    return found


class GuardedResolver(AbstractResolver):
    """The default resolver, keeping only the addresses ``policy`` allows a host."""

    def __init__(self, policy: SourcePolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._policy.public_only or self._policy.trusts_host(host):
            return results
        kept = [
            result
            for result in results
            if (address := _literal_address(result["host"])) is not None and public_address(address)
        ]
        if not kept:
            raise AddressRefusedError(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()
