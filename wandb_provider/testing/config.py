"""Accounts the server starts with, parsed from the CLI's ``--user``/``--team``/``--org`` forms."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

DEFAULT_USER = "demo"
# A fixed, clearly fake key that passes the SDK's client-side check (>= 40 characters of [\w-]).
DEFAULT_API_KEY = "local-" + "0" * 40

MIB = 1 << 20
GIB = 1 << 30
DEFAULT_MAX_BODY_BYTES = 16 * MIB  # GraphQL, admin and file-stream bodies
DEFAULT_MAX_UPLOAD_BYTES = 5 * GIB  # a PUT of one file or manifest to a signed upload URL
DEFAULT_PENDING_TTL_SECONDS = 24 * 3600.0  # a version still PENDING this long after its last write is dropped


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
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    pending_ttl_seconds: float = DEFAULT_PENDING_TTL_SECONDS
    extra: dict[str, object] = field(default_factory=dict)
    # "latest" or "legacy" (profiles.py); None: $WANDB_PROVIDER_SERVER_PROFILE, else "latest".
    profile: str | None = None

    def effective_users(self) -> tuple[UserSpec, ...]:
        return self.users or (UserSpec(DEFAULT_USER, DEFAULT_API_KEY),)

    def check_limits(self) -> None:
        """Refuse limits that would make the server unusable (ValueError naming the option)."""
        for option, value in (("--max-body-bytes", self.max_body_bytes),
                              ("--max-upload-bytes", self.max_upload_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{option} {value!r}: expected a whole number of bytes > 0")
        ttl = self.pending_ttl_seconds
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < float("inf"):
            raise ValueError(f"--pending-ttl {ttl!r}: expected a number of seconds > 0")


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (127.0.0.0/8, ::1, localhost).

    A name is resolved and counts as loopback only when every address it resolves to is loopback;
    an empty host, ``0.0.0.0`` and ``::`` bind every interface.
    """
    name = host.strip().strip("[]")
    if not name:
        return False
    if is_ip_address(name):
        return is_loopback_address(name)
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(is_loopback_address(a) for a in addresses)


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def is_loopback_address(text: str) -> bool:
    """Whether ``text`` is a loopback IP address (IPv4-mapped IPv6 included); False for anything else."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return bool((mapped or address).is_loopback)
