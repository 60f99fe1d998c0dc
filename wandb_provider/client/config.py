"""Client configuration: one frozen value built from arguments, the environment or a connection."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from .. import __version__

DEFAULT_BASE_URL = "https://api.wandb.ai"
USER_AGENT = f"airflow-provider-wandb/{__version__}"


def default_workers() -> int:
    """Parallel file transfers: 2 per CPU (4 to 32). More threads than that spend their time
    fighting over the GIL when files are small and the network fast (measured in bench/download.py)."""
    return min(32, max(4, 2 * (os.cpu_count() or 2)))


@dataclass(frozen=True)
class ClientConfig:
    """How to reach W&B. Timeouts are in seconds and never infinite.

    :param timeout: Read timeout of one request.
    :param connect_timeout: Connect timeout of one request.
    :param max_retries: Retries of a retryable failure (so at most ``max_retries + 1`` attempts).
    :param deadline: Total time one call may take across its retries: connect, headers, body and the
        waits between attempts. A file transfer is one call per file and is granted at least its size
        at 1 MiB/s.
    :param retry_after_cap: Longest ``Retry-After`` honoured.
    :param verify: TLS verification: a bool or the path of a CA bundle.
    :param max_workers: Parallel file transfers (default: 2 per CPU, 4 to 32).
    :param allowed_file_reference_roots: Local folders that ``file://`` reference entries may be read
        from. Empty (the default) refuses every ``file://`` reference: data from W&B never makes us
        read local files unless the user allowed it.
    :param allowed_reference_hosts: Host names, addresses or CIDR networks that ``http(s)`` reference
        entries may reach although they are loopback, link-local or private. Empty by default.
    :param identity_token_file: The file holding a JWT of your identity provider, for W&B's identity
        federation (the SDK's ``WANDB_IDENTITY_TOKEN_FILE``): it is exchanged for an access token
        and used instead of ``api_key``.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str = field(default="", repr=False)
    entity: str | None = None
    project: str | None = None
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 8
    deadline: float = 300.0
    retry_after_cap: float = 60.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    verify: bool | str = True
    cache_dir: str | None = None
    cache_max_bytes: int | None = None
    max_workers: int = field(default_factory=default_workers)
    allowed_file_reference_roots: tuple[str, ...] = ()
    allowed_reference_hosts: tuple[str, ...] = ()
    identity_token_file: str | None = None

    def __post_init__(self) -> None:
        from .errors import InvalidValueError

        if self.identity_token_file is not None and (not isinstance(self.identity_token_file, str)
                                                     or not self.identity_token_file.strip()):
            raise InvalidValueError(f"client setting identity_token_file={self.identity_token_file!r} is not a path.",
                                    hint="Give the path of the file your identity provider writes the JWT to.")

        object.__setattr__(self, "base_url", (self.base_url or DEFAULT_BASE_URL).rstrip("/"))
        for name in ("timeout", "connect_timeout", "deadline", "retry_after_cap", "backoff_min", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0 or (value == 0 and name in ("timeout", "connect_timeout", "deadline")):
                raise InvalidValueError(f"client setting {name}={value!r} is not a positive, finite number of seconds.",
                                        hint=f"Set {name} to a number of seconds such as 60.")
        for name in ("max_retries", "max_workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "max_retries" else 1):
                raise InvalidValueError(f"client setting {name}={value!r} is not a whole number "
                                        f"{'>= 0' if name == 'max_retries' else '>= 1'}.")
        if self.cache_max_bytes is not None and (isinstance(self.cache_max_bytes, bool)
                                                 or not isinstance(self.cache_max_bytes, int)
                                                 or self.cache_max_bytes < 0):
            raise InvalidValueError(f"client setting cache_max_bytes={self.cache_max_bytes!r} is not a whole number "
                                    "of bytes >= 0.")
        object.__setattr__(self, "allowed_file_reference_roots", tuple(self.allowed_file_reference_roots))
        object.__setattr__(self, "allowed_reference_hosts", tuple(self.allowed_reference_hosts))

    @classmethod
    def from_env(cls, **overrides: object) -> ClientConfig:
        """Read ``WANDB_API_KEY`` (or ``WANDB_IDENTITY_TOKEN_FILE``), ``WANDB_BASE_URL``, ``WANDB_ENTITY``
        and ``WANDB_PROJECT`` now."""
        values: dict[str, object] = {
            "base_url": os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL,
            "api_key": os.environ.get("WANDB_API_KEY", ""),
            "identity_token_file": os.environ.get("WANDB_IDENTITY_TOKEN_FILE") or None,
            "entity": os.environ.get("WANDB_ENTITY") or None,
            "project": os.environ.get("WANDB_PROJECT") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
