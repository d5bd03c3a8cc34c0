"""Where a webhook may go, and sending it there without being led elsewhere.

A receiver's URL is checked when an admin gives it and again at every attempt: its host is
resolved, and every address it resolves to must be public (not loopback, private,
link-local, multicast, reserved, unspecified or otherwise not global; an IPv4 address
written as IPv6 counts as itself), unless it lies in WEBHOOK_ALLOWED_NETWORKS. The
attempt then connects to the address that was checked, never resolving the name again (a
DNS answer that changes between the check and the connection cannot redirect it), while
the Host header and TLS (SNI and the certificate's name) still use the URL's name.
Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

TIMEOUT_SECONDS = 10.0
# Read at most this much of a receiver's answer: only its status matters.
MOST_ANSWER_BYTES = 64 * 1024
MOST_URL_CHARS = 2048

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(ValueError):
    """The URL may not be sent to; the message says why (for admins and `last_error`)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its scheme, the name for Host and TLS, the address to connect to."""

    scheme: str
    host: str
    host_header: str
    port: int
    path: str
    address: str


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_url(url: str, *, https_only: bool) -> None:
    """Refuse a URL that is not an absolute http(s) URL with a host (https only when
    `https_only`), or that holds credentials."""
    if len(url) > MOST_URL_CHARS:
        raise Refused(f"Use at most {MOST_URL_CHARS} characters.")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise Refused("Use a URL of printable ASCII without spaces (percent-encode the rest).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("Not a valid URL.") from None
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed:
        raise Refused(f"Use an {' or '.join(allowed)} URL.")
    if not parts.hostname:
        raise Refused("The URL needs a host.")
    if parts.username is not None or parts.password is not None:
        raise Refused("A URL must not hold credentials; receivers check the signature.")
    if parts.fragment:
        raise Refused("A URL must not have a fragment.")
    if port == 0:
        raise Refused("Port 0 is not a port.")


def why_refused(address: Address, allowed: Iterable[Network]) -> str | None:
    """Why `address` may not be sent to, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allowed):
        return None
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def resolve(url: str, allowed: Iterable[Network]) -> Target:
    """The URL's host resolved and checked (every address it resolves to): a `Target` to
    connect to, or `Refused`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    except (OSError, UnicodeError, ValueError):
        raise Refused(f"{host} does not resolve to an address.") from None
    if not addresses:
        raise Refused(f"{host} does not resolve to an address.")
    allowed = tuple(allowed)
    for address in addresses:
        reason = why_refused(address, allowed)
        if reason is not None:
            raise Refused(f"{host} resolves to {reason}; refused.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return Target(parts.scheme, host, netloc, port, path, str(addresses[0]))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(target: Target, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """POST `body` to the checked `target` (its address, the name in Host and TLS), within
    TIMEOUT_SECONDS, following no redirect."""
    timeout = urllib3.Timeout(total=TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    sent = {**headers, "Host": target.host_header, "Content-Type": "application/json"}
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=sent,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            response.read(MOST_ANSWER_BYTES)
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        return Outcome(None, _error_text(error))
    finally:
        pool.close()
    status = int(response.status)
    if 300 <= status < 400:
        return Outcome(status, f"answered {status}; redirects are not followed")
    if not 200 <= status < 300:
        return Outcome(status, f"answered {status}")
    return Outcome(status, None)


def _error_text(error: Exception) -> str:
    """What went wrong, without the URL's query (it could hold something private)."""
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:g} seconds"
    if isinstance(error, urllib3.exceptions.SSLError):
        return "TLS failed: the certificate does not match or is not trusted"
    if isinstance(error, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError):
        return "could not connect, or the connection broke"
    return type(error).__name__
