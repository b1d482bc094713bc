"""Which addresses our servers may call for a tenant.

An organization's admin types the address of their remote system (sign-up is open: anyone can
be that admin), and our servers call it with the tenant's credentials. So the address must
never lead into our own network. It is judged by one set of rules twice: when it is saved
(`check_remote_url`, for a readable field error), and when each request is made
(`PinnedAddressAdapter`, on the address actually connected to: the host is resolved once, that
answer is checked and connected to, so a DNS answer that changed since the save, or between
check and call, leads nowhere else).

Two parsers reading one address differently is how such a check was bypassed
(`https://127.0.0.1:8404\\@8.8.8.8/`: urlsplit saw 8.8.8.8, urllib3 connected to 127.0.0.1), so
an address is taken only when urlsplit and urllib3 (the one that connects) agree on it, and
the forms that make them disagree (backslashes, user info, encoded or numeric-but-odd hosts,
IPv6 zones, control characters) are refused outright: no remote system needs them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import Retry, parse_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

HTTPS_PORT = 443

# Ranges that Python 3.11's `is_global` still calls global, or whose embedded IPv4 address may
# be one of ours. A remote system's public address is never in one of them. (So a server on an
# IPv6-only network behind DNS64 would see every IPv4-only remote as NAT64 and refuse it:
# requests-hardened refuses NAT64 too. Our servers need IPv4 egress.)
_NEVER_A_REMOTE = tuple((ipaddress.ip_network(network), kind) for network, kind in (
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("2002::/16", "6to4"),
    ("2001::/32", "Teredo"),
    ("::/96", "IPv4-compatible"),
    ("fec0::/10", "site-local"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.88.99.0/24", "6to4 relay"),
))
# The last label of a host name is never a number: if it is one, the host is an IPv4 address,
# and only its plain form is taken (inet_aton would read 0x7f.1 or 2130706433 as 127.0.0.1).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


class RemoteAddressRefused(ValueError):
    """An address our servers must not call; `str(error)` says why, in an admin's words."""


@dataclass(frozen=True)
class RemoteAddress:
    """An address as urllib3 will connect to it: host lowercased, in ASCII, IPv6 without
    brackets; `ip` when the host is written as an IP address."""

    scheme: str
    host: str
    port: int
    ip: IPAddress | None
    private_allowed: bool


@dataclass(frozen=True)
class RemoteAddressPolicy:
    """`private_hosts_allowed`: host names that may be private, on any port and in plain http
    (the local emulators: development and tests; none in production). `ports_allowed`: the
    ports a public remote may use, https's 443 unless settings add others."""

    private_hosts_allowed: frozenset[str] = field(default_factory=frozenset)
    ports_allowed: frozenset[int] = frozenset({HTTPS_PORT})

    def __post_init__(self) -> None:
        hosts = frozenset(host.strip().lower() for host in self.private_hosts_allowed if host)
        object.__setattr__(self, "private_hosts_allowed", hosts)
        object.__setattr__(self, "ports_allowed", frozenset(int(p) for p in self.ports_allowed))

    @classmethod
    def of(cls, *, private_hosts_allowed: Iterable[str] = (),
           ports_allowed: Iterable[int] = (HTTPS_PORT,)) -> RemoteAddressPolicy:
        return cls(frozenset(private_hosts_allowed), frozenset(ports_allowed))

    def read(self, url: Any) -> RemoteAddress:
        """The address `url` leads to, or RemoteAddressRefused. No DNS here: an IP address
        written in the URL is judged, a host name is judged by whoever resolves it."""
        address = _read(url)
        private_allowed = address.host.rstrip(".") in self.private_hosts_allowed
        if private_allowed:
            return RemoteAddress(address.scheme, address.host, address.port, address.ip, True)
        if address.scheme != "https":
            raise RemoteAddressRefused("Use an https:// address: credentials must not cross the "
                                       "network in clear.")
        if address.port not in self.ports_allowed:
            allowed = ", ".join(str(port) for port in sorted(self.ports_allowed))
            raise RemoteAddressRefused(
                f"An address on port {address.port} is not allowed: remote systems are called "
                f"on port {allowed} (https). Leave the port out of the address."
            )
        if address.ip is not None:
            check_public(address.host, address.ip)
        return address


PUBLIC_HTTPS_ONLY = RemoteAddressPolicy()


def check_remote_url(url: Any, *, policy: RemoteAddressPolicy = PUBLIC_HTTPS_ONLY) -> None:
    """Refuse, when it is saved, an address no remote system can have: every address its host
    name resolves to now must be public. (Each request checks again: see the module.) Resolves
    the host name, a network call of its own: never call it inside a transaction."""
    address = policy.read(url)
    if address.private_allowed or address.ip is not None:
        return
    try:
        answers = socket.getaddrinfo(address.host, address.port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise RemoteAddressRefused(f"{address.host} cannot be found; check the address.") \
            from error
    for answer in answers:
        check_public(address.host, ipaddress.ip_address(answer[4][0]))


def check_public(host: str, ip: IPAddress) -> None:
    kind = _not_public(ip)
    if kind is None:
        return
    where = f"{ip} is" if host == str(ip) else f"{host} points at"
    raise RemoteAddressRefused(f"{where} a private address ({ip}: {kind}); give the remote "
                               "system's public address.")


def _not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is, or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return "IPv4-mapped"
    for network, kind in _NEVER_A_REMOTE:
        if ip in network:
            return kind
    for kind, flagged in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                          ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                          ("private network", ip.is_private), ("reserved", ip.is_reserved)):
        if flagged:
            return kind
    return None if ip.is_global else "not routed on the internet"


def _read(url: Any) -> RemoteAddress:
    if not isinstance(url, str) or not url.strip():
        raise RemoteAddressRefused("Give the full address, starting with https://.")
    if "\\" in url:
        raise RemoteAddressRefused("An address cannot hold a backslash (\\): programs disagree "
                                   "on what it means. Write it with / only.")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise RemoteAddressRefused("An address cannot hold spaces or control characters.")
    try:
        ours = urlsplit(url)
        port = ours.port
        theirs = parse_url(url)  # how requests and urllib3, which connect, read it
    except (ValueError, LocationParseError) as error:
        raise RemoteAddressRefused("This is not a web address; give the full address, starting "
                                   "with https://.") from error
    if ours.scheme not in ("http", "https") or not ours.hostname:
        raise RemoteAddressRefused("Give the full address, starting with https://.")
    if "@" in ours.netloc or theirs.auth:
        raise RemoteAddressRefused("An address cannot carry a user name or password (the part "
                                   "before @): the API key has a field of its own.")
    if "%" in ours.hostname:
        raise RemoteAddressRefused("The host in an address cannot hold %-encoded characters or "
                                   "an IPv6 zone; write it plainly.")
    host = _ascii_host(ours.hostname)
    their_host = (theirs.host or "").lower().removeprefix("[").removesuffix("]")
    if (theirs.scheme, their_host, theirs.port) != (ours.scheme, host, port):
        raise RemoteAddressRefused("This address reads as two different places; write it "
                                   "plainly, as https://host/path.")
    default_port = HTTPS_PORT if ours.scheme == "https" else 80
    return RemoteAddress(ours.scheme, host, default_port if port is None else port,
                         _ip_in_host(host), False)


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise RemoteAddressRefused(f"{host} is not a valid host name.") from error


def _ip_in_host(host: str) -> IPAddress | None:
    """The IP address a host is written as, None for a host name; refuses every other form."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as error:
            raise RemoteAddressRefused(f"[{host}] is not an IPv6 address.") from error
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return ipaddress.IPv4Address(host)
        except ValueError as error:
            raise RemoteAddressRefused(
                f"{host} is not written as an IP address is: use four numbers from 0 to 255, "
                "without leading zeros (like 203.0.113.7), or the host's name."
            ) from error
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise RemoteAddressRefused(f"{host} is not a valid host name.")
    return None


class PinnedAddressAdapter(IPFilterAdapter):
    """requests-hardened's adapter resolves the host once, refuses a private answer and
    connects to the address it checked, while TLS still verifies the host name (SNI and the
    certificate). On top of it: the policy's rules on every request's URL as urllib3 reads it,
    our list of non-public addresses on the pinned one (wider than the library's), and the
    allowed private hosts, connected to as named."""

    def __init__(self, *, https: bool, policy: RemoteAddressPolicy, max_retries: Retry,
                 pool_maxsize: int) -> None:
        super().__init__(is_https_proto=https)
        self.policy = policy
        self.max_retries = max_retries
        self._pool_maxsize = pool_maxsize
        self.init_poolmanager(self._pool_connections, pool_maxsize, block=self._pool_block)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> tuple[dict, dict]:
        address = self.policy.read(request.url)
        if address.private_allowed:
            return HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert)
        except InvalidIPAddress as error:
            check_public(address.host, ipaddress.ip_address(str(error.args[0])))
            raise RemoteAddressRefused(f"{address.host} points at a private address.") \
                from error
        # The address urllib3 will connect to, whatever DNS answers from now on.
        check_public(address.host, ipaddress.ip_address(host_params["host"].strip("[]")))
        return host_params, pool_kwargs
