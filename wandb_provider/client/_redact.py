"""The one redaction of URLs and secrets for every message and log line of the client.

Signed storage URLs carry their signature in the query string, and proxy URLs may carry a password:
neither may appear in an error text or a task log. Messages name the scheme, host and path only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+""")


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path``: no user info, no query (signatures), no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    hidden = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, host + port, parts.path, "", "")) + hidden


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL redacted and every secret (e.g. the API key) replaced by ``***``."""
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
