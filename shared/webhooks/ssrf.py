"""SSRF guard for webhook URLs: http(s) to public addresses only, unless a range is allow-listed.

Checked when an endpoint is saved and again at every delivery. The delivery then connects to the very
address it checked (`Target.url_for_connect`), with the original Host header and TLS SNI, so a DNS answer
that changes between the check and the connection (DNS rebinding) cannot redirect it inside.

Every address the host resolves to must pass, not just the first: a name answering both a public and a
private address is refused. IPv4 inside IPv6 (mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`, NAT64
`64:ff9b::/96`) is checked as the IPv4 it carries. Cloud metadata addresses are refused even inside an
allowed range: no receiver lives there, and allowing 100.64.0.0/10 for a cluster must not open 100.100.100.200.

Python's `ipaddress` flags leave two gaps this module closes itself: the deprecated IPv6 site-local range
fec0::/10 (still routed inside some networks) and all of 192.0.0.0/24, the IETF protocol assignments (only
parts of it count as private there). Both are refused unless allow-listed.
"""

import asyncio
import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_S = 10.0
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrl(ValueError):
    """A webhook URL that may not be called; the message says why, for the API's 422."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (the checked IP) and what to tell the receiver (Host, SNI)."""

    scheme: str
    host: str  # the URL's host as the receiver knows it (IDNA ASCII form, IPv6 without brackets)
    port: int
    path_and_query: str
    address: str  # the checked IP the request goes to
    url_for_connect: str  # the URL with the host replaced by `address`
    host_header: str
    sni_hostname: str | None  # None for http and for IP literal hosts


@functools.lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)
    except ValueError as exc:
        raise ValueError(f"webhook_allowed_cidrs holds a range that is not a CIDR: {exc}") from exc


def parse_cidrs(cidrs: list[str]) -> list[IPNetwork]:
    """The allow-listed ranges; raises ValueError naming a malformed one (for settings validation)."""
    return list(_networks(tuple(cidrs)))


def check_url_syntax(url: str) -> None:
    """Refuse what is wrong without DNS: scheme, host, user info, port, length, whitespace."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise UnsafeUrl("the URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a malformed port or IPv6 literal
        raise UnsafeUrl(f"the URL is not valid: {exc}") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise UnsafeUrl("only http and https URLs can receive webhooks")
    if "@" in parts.netloc:
        raise UnsafeUrl("the URL may not carry a user name or password")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if port == 0:
        raise UnsafeUrl("the URL's port may not be 0")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """What non-public kind of address this is, or None for a public one."""
    if address in SITE_LOCAL:
        return "a site-local address"
    if address in IETF_PROTOCOL:
        return "an IETF protocol assignment address"
    for flag, what in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, flag):
            return what
    if address in SHARED_SPACE:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def _refusal(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> str | None:
    if address in METADATA:
        return "a cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None and (problem := _refusal(embedded, allowed)):
        return f"{problem} inside IPv6"
    if any(address in net for net in allowed):
        return None
    return _kind(address)


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing: check it, and connect to it, as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int, timeout_s: float) -> list[IPAddress]:
    try:
        async with asyncio.timeout(timeout_s):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise UnsafeUrl(f"the host {host!r} did not resolve within {timeout_s:g} s") from exc
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = _unmapped(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeUrl(f"the host {host!r} does not resolve")
    return addresses


async def _checked_addresses(
    hostname: str, port: int, allowed_cidrs: list[str], resolve_timeout_s: float, *, what: str, advice: str
) -> tuple[str, IPAddress | None, list[IPAddress]]:
    """The host (IDNA ASCII form), the IP it is if a literal, and every address it stands for, each one checked.
    Raises UnsafeUrl naming the refused address, then `advice` (which setting opens a range) for the operator."""
    literal = _literal(hostname)
    if literal is not None:
        if getattr(literal, "scope_id", None):
            raise UnsafeUrl(f"IPv6 zone identifiers are not allowed in {what}")
        host, addresses = hostname, [_unmapped(literal)]
    else:
        try:
            host = hostname.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsafeUrl(f"the URL's host is not a valid host name: {exc}") from exc
        addresses = await _resolve(host, port, resolve_timeout_s)
    allowed = _networks(tuple(allowed_cidrs))
    for address in addresses:
        if problem := _refusal(address, allowed):
            shown = host if str(address) == host else f"{host} ({address})"
            raise UnsafeUrl(f"{shown} is {problem}; {advice}")
    return host, literal, addresses


async def resolve_safe(url: str, *, allowed_cidrs: list[str], resolve_timeout_s: float = RESOLVE_TIMEOUT_S) -> Target:
    """Resolve the URL's host (IPv4 and IPv6), check every address, and aim at the first (resolver order)."""
    check_url_syntax(url)
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or _DEFAULT_PORTS[scheme]
    hostname = parts.hostname
    if not hostname:  # check_url_syntax refuses a URL without a host; this only tells the type checker
        raise UnsafeUrl("the URL has no host")
    host, literal, addresses = await _checked_addresses(
        hostname,
        port,
        allowed_cidrs,
        resolve_timeout_s,
        what="webhook URLs",
        advice="webhooks go to public addresses only (an operator may allow a network with WEBHOOK_ALLOWED_CIDRS, "
        "e.g. for a receiver inside the cluster)",
    )

    chosen = addresses[0]
    connect_host = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    named_host = f"[{host}]" if ":" in host else host
    path_and_query = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    url_for_connect = f"{scheme}://{connect_host}:{port}{path_and_query}"
    if urlsplit(url_for_connect).hostname != str(chosen):  # belt and braces: the path must not move the host
        raise UnsafeUrl("the URL's path changes its host")
    return Target(
        scheme=scheme,
        host=host,
        port=port,
        path_and_query=path_and_query,
        address=str(chosen),
        url_for_connect=url_for_connect,
        host_header=named_host if port == _DEFAULT_PORTS[scheme] else f"{named_host}:{port}",
        sni_hostname=host.rstrip(".") if scheme == "https" and literal is None else None,
    )


async def check_url(url: str, allowed_cidrs: list[str]) -> Target:
    """Syntax and every resolved address, exactly as at delivery time (used when an endpoint is saved)."""
    check_url_syntax(url)
    return await resolve_safe(url, allowed_cidrs=allowed_cidrs)


@dataclass(frozen=True)
class CheckedHost:
    """A checked host and port for a protocol other than HTTP (SMTP): connect to `address`, and verify TLS
    against `host` (so a DNS answer that changes after the check cannot move the connection inside)."""

    host: str  # IDNA ASCII form, IPv6 without brackets
    port: int
    address: str  # the checked IP to connect to


def _check_host_syntax(host: str, port: int) -> str:
    if not host or len(host) > 253:
        raise UnsafeUrl("the host must be 1 to 253 characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "/@[]" for ch in host):
        raise UnsafeUrl("the host may not contain spaces, control characters, '/', '@' or brackets")
    if not 0 < port < 65536:
        raise UnsafeUrl("the port must be between 1 and 65535")
    if _literal(host) is not None:
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UnsafeUrl(f"the host {host!r} is not a valid host name: {exc}") from exc


async def check_host(
    host: str,
    port: int,
    *,
    allowed_cidrs: list[str],
    advice: str = "only public addresses may be called (an operator may allow-list a network)",
    resolve_timeout_s: float = RESOLVE_TIMEOUT_S,
) -> CheckedHost:
    """The webhook URLs' guard for a bare host and port (an SMTP server): every address the host resolves to
    must pass; raises UnsafeUrl naming the refused address, then `advice`; otherwise aims at the first."""
    ascii_host = _check_host_syntax(host, port)
    checked, _literal_ip, addresses = await _checked_addresses(
        ascii_host, port, allowed_cidrs, resolve_timeout_s, what="host names", advice=advice
    )
    return CheckedHost(host=checked, port=port, address=str(addresses[0]))
