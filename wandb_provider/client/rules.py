"""W&B's rules for what a caller names and sets, as checks that raise before any request.

The one public home of the rules: the client runs these checks itself, and the Airflow layer and
the command line check their arguments with the same functions (when a DAG is parsed, or a command
line read), so a bad value fails early with the client's own message. Rules from W&B's docs:
"Artifact aliases", "Artifact metadata", "Manage artifact data retention" (TTL), and the naming
rules of ``paths``; plus the provider's fail-closed rule for gates and guards (``is_no_value``).

Every check takes *typed* values: a list of names is a list (one ``str`` is one name, never its
letters, and never a list literal to parse), metadata is a dict, a TTL is seconds. Reading text a
template rendered (``"['qa', 'eu']"``) is the Airflow layer's job (``wandb_provider._values``).
Pure; no I/O.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ._ttl import MAX_TTL_SECONDS, check_ttl
from .errors import InvalidArtifactPathError, InvalidValueError
from .paths import REGISTRY_PREFIX, check_alias, check_entity, check_name, check_project, is_version

__all__ = [
    "MAX_METADATA_KEYS", "MAX_TTL_SECONDS", "NO_HOLDER", "NO_VALUE_TEXTS", "REGISTRY_PREFIX", "RESERVED_ALIASES",
    "as_number", "check_alias", "check_alias_names", "check_artifact_type", "check_entity", "check_holder",
    "check_link_target", "check_metadata", "check_name", "check_project", "check_tags", "check_ttl",
    "digest_algorithm", "is_no_value", "is_version", "name_list", "positive_int",
]

# W&B moves `latest` itself (onto the newest version of each collection); a client that sets or
# removes it fights W&B and can point `latest` at an old version.
RESERVED_ALIASES = ("latest",)
NO_HOLDER = "none"  # a guard's explicit "held by no version" as text (the CLI's ALIAS=none); None in Python
# What a template (or a shell variable) renders for a missing value: never a gate's threshold or a
# guard's expected version (gates and guards fail closed, README "Safety").
NO_VALUE_TEXTS = frozenset({"", "None", "null"})
MAX_METADATA_KEYS = 100
RESERVED_TYPE_PREFIX = "wandb-"
_TAG = re.compile(r"^[-\w]+( +[-\w]+)*$")
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$", re.IGNORECASE)


def is_no_value(value: Any) -> bool:
    """``None``, blank text or the text ``"None"``/``"null"``: no value where a gate or guard needs one."""
    return value is None or (isinstance(value, str) and value.strip() in NO_VALUE_TEXTS)


def as_number(value: Any) -> Decimal | None:
    """``value`` as an exact number when it is one, or text that spells one (metadata a template
    wrote as text compares as the number it is); None otherwise.

    Booleans are not numbers here (``True`` is not ``1`` in a gate). Floats convert through their
    shortest repr, so ``0.9`` and ``"0.9"`` are the same number.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return Decimal(repr(number)) if math.isfinite(number) else Decimal(str(number))
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
            return None
    return None


def name_list(value: str | Iterable[str] | None, what: str) -> list[str]:
    """Names (aliases, tags, patterns) as a list: ``None`` or blank text is none, one ``str`` is one
    name (``"['qa', 'eu']"`` too: text is never parsed here), any other iterable its items, which
    must be text. Duplicates removed, order kept."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidValueError(f"{what}: expected a list of names, not {type(value).__name__}.")
    names = list(value)
    bad = [item for item in names if not isinstance(item, str)]
    if bad:
        raise InvalidValueError(f"{what}: every item must be a string, not {bad[0]!r}.")
    return list(dict.fromkeys(names))


def check_alias_names(aliases: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    """Aliases a caller asks to set or remove: W&B's naming rules, no ``vN``, never ``latest``."""
    names = name_list(aliases, what)
    for alias in names:
        if "," in alias:  # a naming rule of ours: W&B allows it, but it is almost always "a,b" meant as two
            raise InvalidArtifactPathError(
                f"{what}: {alias!r} holds a comma; W&B would take it as one alias. Pass several aliases as a list.",
                hint=f"Write {[a.strip() for a in alias.split(',') if a.strip()]!r}.")
        if alias in RESERVED_ALIASES:
            raise InvalidValueError(
                f"{what}: {alias!r} is managed by W&B (it always marks the newest version) and cannot be "
                "set or removed.", hint="Use an alias of your own, e.g. 'production'.",
            )
        try:
            check_alias(alias, allow_version=False)
        except InvalidArtifactPathError as exc:
            raise InvalidArtifactPathError(
                f"{what}: {exc.message.replace('invalid artifact path', 'invalid alias')}", hint=exc.hint) from None
    return tuple(names)


def check_holder(alias: str, value: Any) -> str | None:
    """A guard's expected holder of ``alias``: ``vN``, or ``None`` (or the text ``"none"``) for
    "held by no version". A value that is no value (``""``, ``"None"``: what a template renders for
    a missing one) is refused: the guard would otherwise expect no holder and blame a race for the
    template (README, "Safety")."""
    if value is None or (isinstance(value, str) and value.strip() == NO_HOLDER):
        return None
    if is_no_value(value):
        raise InvalidValueError(
            f"only_if_current[{alias!r}]: your expected value is empty ({value!r}); did a template render "
            "None (e.g. an xcom_pull of a task id that does not exist)?",
            hint=f"Give the version you expect ('v3'); pass None (or the text {NO_HOLDER!r}) for 'held by no "
                 "version'.",
        )
    if isinstance(value, str) and is_version(value.strip()):
        return value.strip()
    raise InvalidValueError(
        f"only_if_current[{alias!r}] must be a version like 'v3' or None (on no version), not {value!r}."
    )


def check_link_target(target: str, what: str = "target") -> str:
    """A collection to link into that names its project or registry: ``[entity/]project/collection``
    or ``[org/]wandb-registry-NAME/collection``; a bare ``churn`` would quietly create a collection
    in the connection's default project, so it is refused, and so is an alias (``:production``)."""
    if ":" in target:
        raise InvalidValueError(f"{what} {target!r} names an alias; a target is a collection.",
                                hint="Pass aliases with aliases=[...].")
    if len(target.split("/")) < 2:
        raise InvalidValueError(
            f"{what} {target!r} names no project or registry.",
            hint=f"Write 'project/{target}', 'entity/project/{target}' or '[org/]{REGISTRY_PREFIX}NAME/{target}'.")
    from .paths import ArtifactPath

    try:
        ArtifactPath.parse(target, default_entity="entity")
    except InvalidArtifactPathError as exc:
        raise InvalidArtifactPathError(f"{what}: {exc.message}", hint=exc.hint) from None
    return target


def check_artifact_type(value: Any) -> str:
    """An artifact type a caller may log: a W&B name, and not one W&B reserves (``wandb-*``, ``job``)."""
    if not isinstance(value, str):
        raise InvalidValueError(f"the artifact type name must be text, not {value!r}.")
    check_name("artifact type", value)
    if value.startswith(RESERVED_TYPE_PREFIX) or value == "job":
        raise InvalidValueError(f"artifact type {value!r} is reserved by W&B.", hint="Choose another type name.")
    return value


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object of at most 100 top-level keys with finite numbers only; returned as a plain dict."""
    if not isinstance(metadata, Mapping):
        raise InvalidValueError(f"metadata must be a dict, not {type(metadata).__name__}.")
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidValueError(
            f"metadata has {len(metadata)} top-level keys; W&B allows at most {MAX_METADATA_KEYS}.",
            hint="Nest related values under fewer keys.",
        )
    try:
        text = json.dumps(dict(metadata), allow_nan=False)
    except RecursionError:
        raise InvalidValueError("metadata is nested too deeply to be stored as JSON.") from None
    except ValueError as exc:
        if "circular" in str(exc).lower():
            raise InvalidValueError("metadata contains itself (a circular reference).") from None
        raise InvalidValueError("metadata contains NaN or Infinity, which JSON (and W&B) cannot store.",
                                hint="Replace them with None or a string.") from None
    except TypeError as exc:
        raise InvalidValueError(f"metadata is not JSON-serializable: {exc}.",
                                hint="Convert values to str, int, float, bool, list or dict.") from None
    value: dict[str, Any] = json.loads(text)
    return value


def check_tags(tags: str | Iterable[str] | None, what: str = "tags") -> list[str]:
    """Tags by W&B's rule (words of letters, digits, ``-`` and ``_``); one string is one tag."""
    result = []
    for tag in name_list(tags, what):
        if len(tag) > 128 or not _TAG.match(tag):
            raise InvalidValueError(
                f"invalid tag {tag!r}: tags are letters, digits, '-' and '_' words separated by single spaces "
                "(at most 128 characters)."
            )
        result.append(tag)
    return result


def digest_algorithm(value: Any) -> str:
    """W&B's per-file digest for a new version, ``"MD5"`` or ``"XXH128"`` (any case), as
    ``"md5"``/``"xxh128"``."""
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in ("MD5", "XXH128"):
        raise InvalidValueError(f"digest_algorithm must be 'MD5' or 'XXH128', not {value!r}.",
                                hint="Leave it unset for MD5, W&B's default.")
    return text.lower()


def positive_int(value: Any, what: str) -> int:
    """A whole number >= 1 (an ``int``, not text: reading text is the caller's layer)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{what} must be a whole number >= 1, not {value!r}.")
    return value
