"""Same-origin by default: which `Host` and `Origin` a request to the local server may carry.

A web page the user merely visits can send requests to 127.0.0.1 (a form POST, `fetch` in
no-cors mode) and, through DNS rebinding (a name of its own that resolves to 127.0.0.1),
read the answers. So every request's `Host` must be the address served (DNS rebinding then
fails: the browser sends the attacker's name), and a request a browser marks as coming from
another site (`Origin`, `Sec-Fetch-Site`) is refused unless its origin was allowed
(`tfinpaint serve --allow-origin`). Clients that are not browsers send neither header.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("", "0.0.0.0", "::")


class Refusal(Exception):
    """A request from where this server does not answer; `status` is 421 or 403."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` lower-cased, as browsers send `Origin`; ValueError for others."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"--allow-origin {origin!r}: expected scheme://host[:port], e.g. http://localhost:3000"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _split_host(host: str) -> tuple[str, int | None]:
    parts = urlsplit(f"//{host}")
    try:
        return (parts.hostname or ""), parts.port
    except ValueError:  # a port that is not a number
        return "", None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, bound_host: str, port: int, allowed_origins: tuple[str, ...]) -> bool:
    """Whether a `Host` header names this server: its port, and a name no other site owns.

    Names accepted: the bound host, loopback names, and any IP address when bound to all
    interfaces (a DNS-rebinding page can only send a name); plus the hosts of allowed origins.
    """
    name, host_port = _split_host(host)
    if (host_port or 80) != port:
        return False
    names = {bound_host.lower(), *(urlsplit(o).hostname for o in allowed_origins)}
    if bound_host in _WILDCARDS or bound_host in LOOPBACK_NAMES or _is_loopback_ip(bound_host):
        names.update(LOOPBACK_NAMES)
    return name in names or (bound_host in _WILDCARDS and _is_ip(name))


def _is_loopback_ip(host: str) -> bool:
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback


def check_request(
    headers, method: str, bound_host: str, port: int, allowed_origins: tuple[str, ...]
) -> str | None:
    """Refuse a request from elsewhere; returns the allowed cross origin it came from, if any.

    Args:
        headers: the request's headers (case-insensitive `get`). method: GET, POST, …
        bound_host, port: the address served. allowed_origins: `normalise_origin`d origins.

    Raises:
        Refusal: 421 for a `Host` naming another server, 403 for another site's request.
    """
    host = headers.get("Host")
    if host is not None and not host_allowed(host, bound_host, port, allowed_origins):
        raise Refusal(
            421,
            f"Host {host[:100]!r} is not this server's address (port {port}); "
            "open the page at the address `tfinpaint serve` printed",
        )
    origin = headers.get("Origin")
    if origin is not None:
        try:
            origin = normalise_origin(origin)
        except ValueError:
            origin = origin[:100]  # "null" (a sandboxed page, a file:// page) and the like
        if origin in allowed_origins:
            return origin
        if host is not None and origin in (f"http://{host.lower()}", f"https://{host.lower()}"):
            return None
        raise Refusal(
            403,
            f"requests from {origin!r} are refused: this server answers its own page only; "
            "start it with --allow-origin ORIGIN to let another page use it",
        )
    site = headers.get("Sec-Fetch-Site", "").lower()
    # A link from another site may still open the page (the other site cannot read it).
    navigation = method == "GET" and headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
    if site in ("cross-site", "same-site") and not navigation:
        raise Refusal(
            403,
            f"a {site} request is refused: this server answers its own page only; "
            "start it with --allow-origin ORIGIN to let another page use it",
        )
    return None
