"""``WandbHook``: turns an Airflow connection of type ``wandb`` into a ``WandbClient``. No HTTP here."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook

from ..client import ClientConfig, WandbClient, WandbError
from ..client.config import DEFAULT_BASE_URL

log = logging.getLogger(__name__)

KNOWN_EXTRAS = frozenset({"entity", "project", "timeout", "max_retries", "verify_ssl", "cache_dir", "cache_max_bytes"})


def _verify(value: Any) -> bool | str:
    """``verify_ssl``: a bool (or "true"/"false") or the path of a CA bundle."""
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip()
    if text.lower() in {"true", "1", "yes"}:
        return True
    if text.lower() in {"false", "0", "no"}:
        return False
    return text


class WandbHook(BaseHook):
    """Interact with W&B Artifacts through the connection's base URL and API key.

    Connection fields: host = W&B base URL (default ``https://api.wandb.ai``), password = API key;
    extras ``entity``, ``project``, ``timeout``, ``max_retries``, ``verify_ssl``, ``cache_dir``,
    ``cache_max_bytes`` (the download cache's size limit; least recently used files go first).

    :param wandb_conn_id: The Airflow connection to use.
    """

    conn_name_attr = "wandb_conn_id"
    default_conn_name = "wandb_default"
    conn_type = "wandb"
    hook_name = "Weights & Biases"

    def __init__(self, wandb_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wandb_conn_id = wandb_conn_id

    def get_config(self) -> ClientConfig:
        """Read the connection (its password is masked in task logs by Airflow) into a ClientConfig."""
        return self.config_from_connection(self.get_connection(self.wandb_conn_id))

    async def aget_config(self) -> ClientConfig:
        """``get_config`` for async code (the triggerer): never blocks the event loop."""
        return self.config_from_connection(await self.aget_connection(self.wandb_conn_id))

    def config_from_connection(self, conn: Any) -> ClientConfig:
        from airflow.sdk.log import mask_secret

        if conn.password:
            mask_secret(conn.password)  # however the connection was found, its key is masked in task logs
        extra = conn.extra_dejson
        unknown = sorted(set(extra) - KNOWN_EXTRAS)
        if unknown:
            log.warning("Connection %s: ignoring unknown extras %s", self.wandb_conn_id, unknown)
        host = (conn.host or "").strip()
        if host and "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if host and conn.port:
            host = f"{host.rstrip('/')}:{conn.port}"
        options: dict[str, Any] = {}
        if extra.get("timeout") not in (None, ""):
            options["timeout"] = float(extra["timeout"])
        if extra.get("max_retries") not in (None, ""):
            options["max_retries"] = int(extra["max_retries"])
        if extra.get("cache_max_bytes") not in (None, ""):
            options["cache_max_bytes"] = int(extra["cache_max_bytes"])
        return ClientConfig(
            base_url=host or DEFAULT_BASE_URL,
            api_key=conn.password or "",
            entity=extra.get("entity") or None,
            project=extra.get("project") or None,
            verify=_verify(extra.get("verify_ssl")),
            cache_dir=extra.get("cache_dir") or None,
            **options,
        )

    def get_conn(self) -> WandbClient:
        return self.get_client()

    def get_client(self) -> WandbClient:
        """A new client for this connection (one pooled session per client)."""
        return WandbClient(config=self.get_config())

    def test_connection(self) -> tuple[bool, str]:
        """One viewer round trip; says who the key belongs to, never the key."""
        try:
            with self.get_client() as client:
                viewer = client.viewer()
        except (WandbError, ValueError) as exc:
            return False, str(exc)
        teams = f" (teams: {', '.join(viewer.teams)})" if viewer.teams else ""
        return True, f"Connected to {client.config.base_url} as {viewer.username}{teams}"
