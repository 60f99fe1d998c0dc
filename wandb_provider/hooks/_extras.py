"""The one declaration of the ``wandb`` connection's extras: name, type, default, help and parser.

``EXTRAS`` drives the hook's parsing and validation (``_connection.client_options``), the
connection form (``conn_fields`` in provider info) and the README's table (``markdown_table``).
Defaults are ``ClientConfig``'s (a test holds them equal). Only the standard library is imported
here: provider info, which Airflow loads in every process, stays cheap.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONN_TYPE = "wandb"
TRUE_TEXTS = frozenset({"true", "1", "yes", "on"})
FALSE_TEXTS = frozenset({"false", "0", "no", "off"})
MAX_RETRIES_LIMIT = 100


class InvalidExtra(ValueError):
    """A parser's complaint about one value; the hook turns it into ``ConnectionConfigError`` naming the extra."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidExtra(f"must be a string, not {type(value).__name__}")
    return value.strip()


def _positive_seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidExtra("must be a number of seconds, not a boolean")
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise InvalidExtra("is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidExtra("must be a finite number of seconds greater than 0")
    return seconds


def _whole_number(value: Any, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise InvalidExtra("must be a whole number, not a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise InvalidExtra("is not a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise InvalidExtra(f"must be {bounds}")
    return value


def _entity(value: Any) -> str:
    from ..client.errors import InvalidArtifactPathError
    from ..client.paths import check_entity

    try:
        return check_entity(_text(value))
    except InvalidArtifactPathError:
        raise InvalidExtra("is not a W&B entity name (letters, digits, '-', '_', '.')") from None


def _project(value: Any) -> str:
    from ..client.errors import InvalidArtifactPathError
    from ..client.paths import check_project

    try:
        return check_project(_text(value))
    except InvalidArtifactPathError as exc:
        raise InvalidExtra(f"is not a W&B project name: {exc.message}") from None


def _max_retries(value: Any) -> int:
    return _whole_number(value, minimum=0, maximum=MAX_RETRIES_LIMIT)


def _cache_max_bytes(value: Any) -> int:
    return _whole_number(value, minimum=1)


def _verify_ssl(value: Any) -> bool | str:
    """``true``/``false`` (also 1/0, yes/no, on/off) or the path of an existing CA bundle file or folder."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _text(value)
    if text.lower() in TRUE_TEXTS:
        return True
    if text.lower() in FALSE_TEXTS:
        return False
    path = os.path.expanduser(text)
    if not os.path.isabs(path) or not os.path.exists(path):
        raise InvalidExtra("is neither true/false nor the absolute path of an existing CA bundle file or folder")
    return path


def _boolean(value: Any) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = _text(value).lower()
    if text in TRUE_TEXTS | FALSE_TEXTS:
        return text in TRUE_TEXTS
    raise InvalidExtra("is not true or false")


def _text_items(value: Any) -> list[str]:
    """A JSON list of strings, or one comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidExtra("is not a valid JSON list") from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise InvalidExtra("must be a list of strings or one comma-separated string")
    return [item.strip() for item in value if item.strip()]


def _folders(value: Any) -> tuple[str, ...]:
    folders = []
    for item in _text_items(value):
        path = os.path.expanduser(item)
        if not os.path.isabs(path):
            raise InvalidExtra(f"holds {item!r}, which is not an absolute path")
        folders.append(os.path.normpath(path))
    return tuple(folders)


def _hosts(value: Any) -> tuple[str, ...]:
    hosts = []
    for item in _text_items(value):
        if "://" in item or any(ch.isspace() for ch in item):
            raise InvalidExtra(f"holds {item!r}; give host names, addresses or CIDR networks, not URLs")
        if "/" in item:
            import ipaddress

            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise InvalidExtra(f"holds {item!r}, which is not a CIDR network such as 10.0.0.0/8") from None
        hosts.append(item.lower())
    return tuple(hosts)


def _cache_dir(value: Any) -> str:
    path = os.path.expanduser(_text(value))
    if not os.path.isabs(path):
        raise InvalidExtra("must be an absolute path")
    return path


def _identity_token_file(value: Any) -> str:
    path = os.path.expanduser(_text(value))
    if not os.path.isabs(path):
        raise InvalidExtra("must be the absolute path of the file holding the JWT")
    return path


def _deployment(value: Any) -> str | None:
    text = _text(value)
    if len(text) > 128:
        raise InvalidExtra("must be at most 128 characters")
    return text or None


@dataclass(frozen=True)
class Extra:
    """One connection extra: how it is shown, typed, documented and parsed.

    :param field: The ``ClientConfig`` field it sets (``record_runs``, ``deployment``: the hook's own settings).
    :param schema_type: JSON schema type(s) for the connection form.
    :param default: ``ClientConfig``'s default for ``field`` (None or ``()``: none).
    :param parse: Turns a stored value into the field's value, or raises ``InvalidExtra``.
    """

    name: str
    label: str
    field: str
    schema_type: tuple[str, ...]
    default: Any
    help: str
    parse: Callable[[Any], Any]
    placeholder: str | None = None

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [*self.schema_type, "null"]}
        if "array" in self.schema_type:
            schema["items"] = {"type": "string"}
        default = self.default
        if default not in (None, ()):
            schema["default"] = default
        return schema


EXTRAS: tuple[Extra, ...] = (
    Extra("entity", "Entity", "entity", ("string",), None,
          "Default entity (team or user) for paths that name none.", _entity, "my-team"),
    Extra("project", "Project", "project", ("string",), None,
          "Default project for paths that name none.", _project, "my-project"),
    Extra("identity_token_file", "Identity token file (instead of the API key)", "identity_token_file",
          ("string",), None,
          "W&B identity federation: absolute path of the file your identity provider writes a JWT to "
          "(as WANDB_IDENTITY_TOKEN_FILE); it is exchanged for a short-lived W&B access token and used "
          "instead of the API key, so the password may stay empty.", _identity_token_file,
          "/var/run/secrets/wandb/token"),
    Extra("timeout", "Timeout (s)", "timeout", ("number",), 60.0,
          "Read timeout of one request, in seconds (finite, > 0).", _positive_seconds),
    Extra("deadline", "Deadline (s)", "deadline", ("number",), 300.0,
          "Total time one call may take, retries and body included, in seconds (finite, > 0).",
          _positive_seconds),
    Extra("max_retries", "Max retries", "max_retries", ("integer",), 8,
          f"Retries of transient failures (5xx, 429, timeouts), 0 to {MAX_RETRIES_LIMIT}.", _max_retries),
    Extra("verify_ssl", "Verify TLS", "verify", ("boolean", "string"), True,
          "true, false, or the absolute path of an existing CA bundle file or folder.", _verify_ssl),
    Extra("cache_dir", "Cache directory", "cache_dir", ("string",), None,
          "Absolute path of the content-addressed download cache (default ~/.cache/airflow-provider-wandb).",
          _cache_dir),
    Extra("cache_max_bytes", "Cache size limit (bytes)", "cache_max_bytes", ("integer",), None,
          "Evict least recently used cached files beyond this many bytes (default: no limit).", _cache_max_bytes),
    Extra("allowed_file_reference_roots", "Allowed file:// reference folders", "allowed_file_reference_roots",
          ("array", "string"), (),
          "Absolute folders that file:// reference entries may be read from (list or comma-separated); "
          "empty refuses every file:// reference.", _folders, "/mnt/datasets"),
    Extra("allowed_reference_hosts", "Allowed private reference hosts", "allowed_reference_hosts",
          ("array", "string"), (),
          "Loopback, link-local or private hosts, addresses or CIDR networks that http(s) reference entries "
          "may reach (list or comma-separated); empty refuses them all.", _hosts, "10.0.0.0/8"),
    Extra("record_runs", "Record tasks as W&B runs", "record_runs", ("boolean", "string"), True,
          "Record each task of the W&B operators as a W&B run (lineage: what it used and logged); false turns "
          "it off for every task using this connection.", _boolean),
    Extra("deployment", "Deployment name", "deployment", ("string",), None,
          "Names this Airflow deployment in the W&B run ids of its tasks, so two deployments writing to one "
          "project never share a run (default: [wandb] deployment, else derived from the metadata database "
          "URL).", _deployment, "prod-airflow"),
)
BY_NAME: dict[str, Extra] = {extra.name: extra for extra in EXTRAS}


def conn_fields() -> dict[str, Any]:
    """``conn-fields`` of provider info: the connection form's extra fields."""
    return {extra.name: {"label": extra.label, "schema": extra.schema(), "description": extra.help}
            for extra in EXTRAS}


def placeholders() -> dict[str, str]:
    return {extra.name: extra.placeholder for extra in EXTRAS if extra.placeholder}


def _default_text(extra: Extra) -> str:
    default = extra.default
    if default in (None, ()):
        return "—"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def markdown_table() -> str:
    """The README's table of extras."""
    rows = ["| extra | type | default | what |", "|---|---|---|---|"]
    for extra in EXTRAS:
        kind = " or ".join("list" if t == "array" else t for t in extra.schema_type)
        rows.append(f"| `{extra.name}` | {kind} | {_default_text(extra)} | {extra.help} |")
    return "\n".join(rows)


# The standard fields of the form: hidden ones, new labels and placeholders (the extras' placeholders join them).
HIDDEN_FIELDS = ("schema", "port", "login")
RELABELING = {"host": "W&B base URL", "password": "API key"}
HOST_PLACEHOLDER = "https://api.wandb.ai"


def ui_field_behaviour() -> dict[str, Any]:
    """The hook's ``get_ui_field_behaviour()`` (read by Airflow 3.1; snake_case keys)."""
    return {"hidden_fields": list(HIDDEN_FIELDS), "relabeling": dict(RELABELING),
            "placeholders": {"host": HOST_PLACEHOLDER, **placeholders()}}


def provider_ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` of provider info (read from Airflow 3.2 on; kebab-case keys)."""
    return {key.replace("_", "-"): value for key, value in ui_field_behaviour().items()}


def form_widgets() -> dict[str, Any]:
    """The hook's ``get_connection_form_widgets()`` (read by Airflow 3.1, which needs ``wtforms``).

    One field per extra, keyed by its plain name (the form stores it as that top-level key of the
    extra JSON): a checkbox for a boolean, a whole-number field for an integer, text otherwise (numbers
    of seconds, lists and "true or a CA bundle path" are typed as text and parsed by the extra's parser).
    """
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for extra in EXTRAS:
        kind = extra.schema_type[0]
        field = BooleanField if kind == "boolean" else IntegerField if kind == "integer" else StringField
        default = extra.default if extra.default not in (None, ()) else None
        if field is StringField and default is not None:
            default = str(default)
        widgets[extra.name] = field(extra.label, validators=[Optional()], description=extra.help, default=default)
    return widgets
