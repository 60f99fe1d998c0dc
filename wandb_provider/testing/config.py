"""Accounts the server starts with, parsed from the CLI's ``--user``/``--team``/``--org`` forms."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_USER = "demo"
# A fixed, clearly fake key that passes the SDK's client-side check (>= 40 characters of [\w-]).
DEFAULT_API_KEY = "local-" + "0" * 40


@dataclass(frozen=True)
class UserSpec:
    name: str
    api_key: str

    @classmethod
    def parse(cls, text: str) -> UserSpec:
        name, sep, key = text.partition(":")
        if not sep or not name or not key:
            raise ValueError(f"--user {text!r}: expected NAME:API_KEY")
        return cls(name, key)


@dataclass(frozen=True)
class TeamSpec:
    name: str
    members: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> TeamSpec:
        name, sep, rest = text.partition(":")
        if not sep or not name or not rest:
            raise ValueError(f"--team {text!r}: expected TEAM:USER[:ROLE][,USER[:ROLE]...]")
        members = {}
        for item in rest.split(","):
            user, _, role = item.partition(":")
            if not user:
                raise ValueError(f"--team {text!r}: empty user name in {item!r}")
            role = role or "member"
            if role not in ("admin", "member", "viewer"):
                raise ValueError(f"--team {text!r}: role {role!r} is not admin, member or viewer")
            members[user] = role
        return cls(name, members)


@dataclass(frozen=True)
class OrgSpec:
    name: str
    team: str

    @classmethod
    def parse(cls, text: str) -> OrgSpec:
        name, sep, team = text.partition(":")
        if not sep or not name or not team:
            raise ValueError(f"--org {text!r}: expected ORG:TEAM")
        return cls(name, team)


@dataclass(frozen=True)
class ServerConfig:
    """How to start a local W&B server."""

    host: str = "127.0.0.1"
    port: int = 0
    data_dir: str | None = None
    users: tuple[UserSpec, ...] = ()
    teams: tuple[TeamSpec, ...] = ()
    orgs: tuple[OrgSpec, ...] = ()
    seed: str | None = None
    faults: dict[str, object] | None = None
    signed_url_seconds: float = 3600.0
    extra: dict[str, object] = field(default_factory=dict)

    def effective_users(self) -> tuple[UserSpec, ...]:
        return self.users or (UserSpec(DEFAULT_USER, DEFAULT_API_KEY),)
