"""Artifact paths ``[entity/][project/]name[:alias|:vN]`` and W&B's naming rules. Pure; no I/O.

Registry paths name a project ``wandb-registry-<registry>`` whose entity is the organization's
entity; ``[org/]wandb-registry-model/churn:production`` keeps ``org`` (or nothing) and the client
resolves the org entity through the API.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import InvalidArtifactPathError

NAME_MAX = 128
REGISTRY_PREFIX = "wandb-registry-"
PREVIOUS_PREFIX = "previous-"  # the alias a promotion leaves on the version it replaced (``promotion``)
EXPECTED_FORM = "[entity/][project/]name[:alias|:vN], e.g. 'acme/churn/churn-model:production'"
_FORBIDDEN_IN_PROJECT = set("/\\#?%:\r\n")
_ENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^v(\d+)$")
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}  # control, format (zero-width, bidi), line and paragraph separators


def _fail(path: str, problem: str) -> InvalidArtifactPathError:
    return InvalidArtifactPathError(
        f"invalid artifact path {path!r}: {problem}.", hint=f"Expected {EXPECTED_FORM}."
    )


def check_name(kind: str, value: str, path: str | None = None) -> str:
    """Validate an artifact or collection name: 1-128 characters, no '/' or ':'."""
    where = path if path is not None else value
    if not value:
        raise _fail(where, f"the {kind} name is empty")
    if len(value) > NAME_MAX:
        raise _fail(where, f"the {kind} name is longer than {NAME_MAX} characters")
    if "/" in value or ":" in value or "\x00" in value:
        raise _fail(where, f"the {kind} name {value!r} contains '/', ':' or NUL")
    return value


def check_project(value: str, path: str | None = None) -> str:
    where = path if path is not None else value
    if not value:
        raise _fail(where, "the project name is empty")
    if len(value) > NAME_MAX:
        raise _fail(where, f"the project name is longer than {NAME_MAX} characters")
    bad = sorted(set(value) & _FORBIDDEN_IN_PROJECT)
    if bad:
        raise _fail(where, f"the project name {value!r} contains {''.join(bad)!r}")
    if value == REGISTRY_PREFIX.rstrip("-") or value == REGISTRY_PREFIX:
        raise _fail(where, "a registry project needs a name after 'wandb-registry-'")
    return value


def check_entity(value: str, path: str | None = None) -> str:
    where = path if path is not None else value
    if not value or len(value) > NAME_MAX or not _ENTITY.match(value):
        raise _fail(where, f"the entity {value!r} is not a W&B entity name (letters, digits, '-', '_', '.')")
    return value


def check_alias(alias: str, path: str | None = None, *, allow_version: bool = True) -> str:
    """Validate an alias by W&B's rules: 1-128 characters, no '/' or ':' (``vN`` only where allowed).

    Also refused, because they are always mistakes and look like another alias: whitespace at
    either end, control or invisible format characters, and a list rendered as text (``"['a', 'b']"``).
    """
    where = path if path is not None else alias
    if not isinstance(alias, str):
        raise InvalidArtifactPathError(f"an alias must be a string, not {type(alias).__name__} ({alias!r}).")
    if not alias:
        raise _fail(where, "the alias after ':' is empty" if path is not None else "the alias is empty")
    if len(alias) > NAME_MAX:
        raise _fail(where, f"the alias is longer than {NAME_MAX} characters")
    if "/" in alias or ":" in alias or "\x00" in alias:
        raise _fail(where, f"the alias {alias!r} contains '/', ':' or NUL")
    if not alias.strip() or alias != alias.strip():
        raise _fail(where, f"the alias {alias!r} is blank or has spaces at either end")
    if any(unicodedata.category(char) in _INVISIBLE for char in alias):
        raise _fail(where, f"the alias {alias!r} contains control or invisible characters")
    if alias.startswith("[") and alias.endswith("]"):
        raise InvalidArtifactPathError(
            f"alias {alias!r} looks like a list rendered as text, not one alias.",
            hint="Pass a list of aliases, or render the template as a list (render_template_as_native_obj).",
        )
    if not allow_version and _VERSION.match(alias):
        raise InvalidArtifactPathError(
            f"alias {alias!r} looks like a version: W&B manages vN aliases itself.",
            hint="Choose another alias name.",
        )
    return alias


def is_version(alias: str | None) -> bool:
    return bool(alias and _VERSION.match(alias))


@dataclass(frozen=True)
class ArtifactPath:
    """A parsed artifact path. ``entity`` is None until resolved (registry or viewer default)."""

    entity: str | None
    project: str
    name: str
    alias: str | None = None

    @classmethod
    def parse(
        cls, path: str, *, default_entity: str | None = None, default_project: str | None = None
    ) -> ArtifactPath:
        """Parse ``[entity/][project/]name[:alias|:vN]``, filling missing parts from the defaults."""
        if not isinstance(path, str) or not path.strip():
            raise _fail(str(path), "it is empty")
        if path != path.strip():
            raise _fail(path, "it has leading or trailing spaces")
        base, sep, alias = path.partition(":")
        parts = base.split("/")
        if len(parts) > 3:
            raise _fail(path, "it has more than three '/'-separated parts")
        if any(not part for part in parts):
            raise _fail(path, "it has an empty part")
        name = check_name("artifact", parts[-1], path)
        entity: str | None
        if len(parts) == 3:
            entity, project = parts[0], parts[1]
        elif len(parts) == 2:
            entity, project = default_entity, parts[0]
        else:
            entity, project = default_entity, default_project or ""
            if not project:
                raise _fail(path, "it names no project and no default project is configured")
        check_project(project, path)
        if entity is not None and not (project.startswith(REGISTRY_PREFIX) and len(parts) == 3):
            check_entity(entity, path)
        if project.startswith(REGISTRY_PREFIX) and len(parts) == 2:
            entity = None  # a registry's entity is the organization's, resolved through the API
        return cls(entity, project, name, check_alias(alias, path) if sep else None)

    @property
    def is_registry(self) -> bool:
        return self.project.startswith(REGISTRY_PREFIX)

    @property
    def is_version(self) -> bool:
        return is_version(self.alias)

    @property
    def membership_name(self) -> str:
        """``name:alias`` as W&B's ``artifactCollectionMembership(name:)`` expects it."""
        return f"{self.name}:{self.alias or 'latest'}"

    def with_entity(self, entity: str) -> ArtifactPath:
        return ArtifactPath(entity, self.project, self.name, self.alias)

    def __str__(self) -> str:
        prefix = f"{self.entity}/" if self.entity else ""
        suffix = f":{self.alias}" if self.alias else ""
        return f"{prefix}{self.project}/{self.name}{suffix}"
