"""What may be shown of a URL that can carry a secret (an RPC endpoint with an API key).

RPC providers put keys in the user part, the query or the path (``https://host/v1/<key>``), so
only the scheme, host and port are shown, and ``/…`` says that something was left out.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def redact_url(url: str) -> str:
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not host:
        return "<redacted>"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    hidden = parts.path.strip("/") or parts.query or parts.fragment or parts.username
    return f"{parts.scheme}://{host}{port}" + ("/…" if hidden else "/")
