"""Reading a ``wandb`` connection: its base URL (host, schema, port) and its extras (``_extras.EXTRAS``).

Every value that cannot be used raises ``ConnectionConfigError`` naming the field or extra, so a
typo (``timeout: "nan"``, ``verify_ssl: "Flase"``, a port given twice) fails the task at once
instead of quietly changing how the provider talks to W&B.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..client.config import DEFAULT_BASE_URL
from ..client.errors import WandbError
from ._extras import BY_NAME, CONN_TYPE, InvalidExtra

log = logging.getLogger(__name__)


class ConnectionConfigError(WandbError, ValueError):
    """A ``wandb`` connection field or extra that cannot be used; names the field. Not transient."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any, secret: str) -> str:
    text = repr(value)
    if secret and secret in text:  # an API key pasted into the wrong field is never echoed
        return "(a value holding the API key)"
    return text if len(text) <= 80 else text[:77] + "..."


def client_options(extra: Mapping[str, Any], conn_id: str, secret: str = "") -> dict[str, Any]:
    """``ClientConfig`` keyword arguments from a connection's extras. An unusable value raises
    ``ConnectionConfigError`` naming the extra (never echoing ``secret``, the API key); unknown
    extras are logged by name, never their values."""
    options: dict[str, Any] = {}
    unknown = []
    for key, value in extra.items():
        name = key.removeprefix(f"extra__{CONN_TYPE}__")  # the key form of Airflow 2 connection forms
        spec = BY_NAME.get(name)
        if spec is None:
            unknown.append(key)
            continue
        if _blank(value):
            continue
        try:
            options[spec.field] = spec.parse(value)
        except InvalidExtra as exc:
            raise ConnectionConfigError(
                f"connection {conn_id!r}: extra {name!r} = {_shown(value, secret)} {exc}.",
                hint=f"{name}: {spec.help}",
            ) from None
    if unknown:
        log.warning("Connection %r: ignoring unknown extras %s; known extras: %s", conn_id, sorted(unknown),
                    sorted(BY_NAME))
    return options


def parse_extra_text(raw: str | None, conn_id: str) -> dict[str, Any]:
    """The extras of a connection from their stored JSON text. Anything but a JSON object is an error:
    Airflow would otherwise drop it and every setting would quietly fall back to its default."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConnectionConfigError(f"connection {conn_id!r}: its extra field is not a JSON object.",
                                    hint='Write the extras as JSON, e.g. {"entity": "my-team", "timeout": 30}.')
    return value


def base_url(host: str | None, schema: str | None, port: int | None, conn_id: str) -> str:
    """The W&B base URL from the connection's host, schema (the URL scheme when host has none) and
    port. A port in host and the port field must agree; only ``http`` and ``https`` are accepted."""
    where = f"connection {conn_id!r}"
    text = (host or "").strip()
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ConnectionConfigError(f"{where}: port {port!r} is not a number from 1 to 65535.")
    if not text:
        if port:
            raise ConnectionConfigError(f"{where}: port {port} is set but host is empty.",
                                        hint=f"Set host to the W&B base URL, e.g. {DEFAULT_BASE_URL}.")
        return DEFAULT_BASE_URL
    if "://" not in text:
        scheme = (schema or "").strip().lower() or "https"
        if scheme not in ("http", "https"):
            raise ConnectionConfigError(
                f"{where}: schema {schema!r} is not a URL scheme (http or https).",
                hint="Leave schema empty (https) or write the scheme in host, e.g. https://wandb.example.com.")
        text = f"{scheme}://{text}"
    split = urlsplit(text)
    hostname = split.hostname
    if split.scheme.lower() not in ("http", "https") or not hostname:
        raise ConnectionConfigError(f"{where}: host is not an http(s) URL.",
                                    hint=f"Set host to the W&B base URL, e.g. {DEFAULT_BASE_URL}.")
    if split.username or split.password or split.query or split.fragment:
        raise ConnectionConfigError(
            f"{where}: host must be a plain base URL, without credentials, query or fragment.",
            hint="Put the API key in the password field.")
    try:
        host_port = split.port
    except ValueError:
        raise ConnectionConfigError(f"{where}: host has an invalid port.",
                                    hint="A port is a number from 1 to 65535.") from None
    if host_port is not None and port and host_port != port:
        raise ConnectionConfigError(f"{where}: port {port} disagrees with the port {host_port} in host.",
                                    hint="Give the port once, in host or in the port field.")
    netloc = split.netloc
    if port and host_port is None:
        netloc = f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"
    return f"{split.scheme.lower()}://{netloc}{split.path}".rstrip("/")
