"""Checks on URLs that users configure and the service then calls (CUSTOM_HTTP baseUrl, store URLs).

A user who can set a connector's URL could otherwise make the service's
workers call anything they can reach: cloud metadata endpoints
(169.254.169.254), the embedded Redis, an admin port on loopback, hosts on the
private network. So such a URL must be absolute http(s) and every address its
host resolves to must be public, unless the deployment explicitly allows
private addresses (settings.allow_private_urls: tests, a shop on the same LAN).

The check on the URL gives the user a clear answer when a connector is
built, but the HTTP client resolves the name again when it connects, and a DNS
answer can change in between (rebinding). So the channels' HTTP client also
connects through PublicAddressBackend (on transport.ChannelTransport): it
judges the addresses the name resolves to at that moment and connects to
exactly the address it judged.
Redirects are not followed (a redirect is a new URL nobody vetted), and proxy
settings from the environment are not used: through a proxy, the address
connected to would be the proxy's, and the check meaningless.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

import httpcore
import structlog

from app.channels.base import CredentialsRejected

log = structlog.get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why in words a user can act on."""


class UnresolvableHost(UnsafeUrl):
    """The host name does not resolve (now). Unlike other UnsafeUrl, this can be transient."""


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise UnsafeUrl(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise UnsafeUrl(f"{url!r} must be an absolute http:// or https:// URL")
    if not parts.hostname:
        raise UnsafeUrl(f"{url!r} has no host")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and error messages; they belong in the credential fields.
        raise UnsafeUrl("the URL must not carry a user name or password; use the credential fields")
    return parts


def _unwrap(address: IPAddress) -> IPAddress:
    """An IPv4 address smuggled inside IPv6 (::ffff:a.b.c.d, 6to4, Teredo) is judged as the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def is_public_address(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved, unspecified and other non-global ranges."""
    address = _unwrap(address)
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # e.g. 100.64.0.0/10 (carrier-grade NAT), which is_private leaves out
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"the host {host!r} does not resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id (fe80::1%eth0)
        address = _literal(text)
        if address is not None:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"the host {host!r} resolves to no IP address")
    return addresses


async def check_outbound_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeUrl unless `url` is absolute http(s) and (unless `allow_private`) reaches only public addresses.

    Every address the host resolves to must be public: a name with one public
    and one private address could be answered either way at connect time.
    """
    parts = _split(url)
    if allow_private:
        return
    host = parts.hostname
    assert host is not None  # _split guarantees it
    literal = _literal(host)
    addresses = [literal] if literal is not None else await _resolve(host, parts.port or _DEFAULT_PORTS[parts.scheme])
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrl(_refusal(host, address, literal=literal is not None))


def _refusal(host: str, address: IPAddress, *, literal: bool) -> str:
    """Why `host` is not called, in words for the tenant who named it: a name is said to resolve to a refused
    address, and which one goes to the operator's log only. Shown to anyone able to set a connector's URL, the
    address would map the service's network name by name (what billing.internal is)."""
    if literal:
        return (
            f"{host} is a loopback, private, link-local or reserved address; "
            "the service only calls public addresses unless private URLs are allowed"
        )
    log.info("outbound.private_address_refused", host=host, address=str(address))
    return (
        f"{host} resolves to a loopback, private, link-local or reserved address; "
        "the service only calls public addresses unless private URLs are allowed"
    )


Origin = tuple[str, int]
"""A host name (lower case) and port."""


def _share(deadline: float | None, *, attempts: int) -> float | None:
    """The seconds the next of `attempts` connection attempts may take: an equal part of the time left to `deadline`."""
    if deadline is None:
        return None
    return max(deadline - asyncio.get_running_loop().time(), 0.0) / attempts


class PublicAddressBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to public addresses as the name resolves right now.

    The name is resolved once, every address is judged (as check_outbound_url
    does), and the connection goes to one of those very addresses, so no
    second DNS answer can slip a private one in. TLS still verifies the
    certificate for the name (httpcore passes the name, not the address).
    `trusted` origins, which the operator configured (an egress proxy for
    Shopify's API), are resolved the same way but not judged.

    A refusal raises CredentialsRejected, as the check at build time does:
    the connector needs its address fixed, retrying will not help.
    """

    def __init__(self, *, trusted: Iterable[Origin] = (), inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._trusted = frozenset(trusted)
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface, called with timeout=)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first of the name's addresses that answers, all within `timeout` (lookup included).

        Each attempt gets an equal share of the time left, the last all of it: an address that drops the
        attempt (an IPv6 route to nowhere) leaves the next one time, and the total stays within `timeout`.
        """
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        addresses = await self._addresses(host, port, timeout)
        failure: Exception | None = None
        for index, address in enumerate(addresses):
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=_share(deadline, attempts=len(addresses) - index),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:  # the name's next address may answer
                failure = exc
        assert failure is not None  # _addresses returns at least one
        raise failure

    async def _addresses(self, host: str, port: int, within: float | None) -> list[IPAddress]:
        """Every address `host` stands for now; CredentialsRejected when one is not public and may not be called."""
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(within):
                    addresses = await _resolve(host, port)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"the host {host!r} did not resolve within {within}s") from None
            except UnresolvableHost as exc:
                raise httpcore.ConnectError(str(exc)) from None
        if (host.lower(), port) not in self._trusted:
            for address in addresses:
                if not is_public_address(address):
                    raise CredentialsRejected(_refusal(host, address, literal=literal is not None))
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("channels are reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def url_origin(url: str) -> Origin | None:
    """The (host, port) a URL reaches; None when it has none or its host is a template (`https://{shop}/`)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None or "{" in parts.netloc:
        return None
    return parts.hostname.lower(), port
