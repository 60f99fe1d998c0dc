"""``WandbHook``: turns an Airflow connection of type ``wandb`` into a ``WandbClient``. No HTTP here."""

from __future__ import annotations

from typing import Any

from .._compat import BaseHook
from ..client import ArtifactVersion, AuthenticationError, ClientConfig, ServerError, WandbClient, WandbError
from ._connection import ConnectionConfigError, base_url, client_options, parse_extra_text

__all__ = ["ConnectionConfigError", "SdkNotInstalledError", "WandbHook"]


class SdkNotInstalledError(WandbError, ImportError):
    """``get_sdk_api`` without the official ``wandb`` package; names the extra that installs it."""


def _scrubbed(error: Exception, api_key: str) -> str:
    """An SDK error's text without URLs' queries and never the API key."""
    from ..client.errors import redact as scrub

    return scrub(str(error), [api_key])[:300]


def _stored_connection(conn_id: str) -> Any:
    """The connection row in Airflow's metadata database, if this process can read it (else None)."""
    try:
        from airflow.secrets.metastore import MetastoreBackend

        return MetastoreBackend().get_connection(conn_id)
    except Exception:  # no database configured or reachable from here: the SDK's answer stands
        return None


class WandbHook(BaseHook):
    """Interact with W&B Artifacts through the connection's base URL and API key.

    Connection fields: host = W&B base URL (default ``https://api.wandb.ai``; a port in host and the
    port field must agree), password = API key. The extras (``entity``, ``project``, ``timeout``,
    ``deadline``, ``max_retries``, ``verify_ssl``, ``cache_dir``, ``cache_max_bytes``,
    ``allowed_file_reference_roots``, ``allowed_reference_hosts``, ``record_runs``) are declared once in
    ``wandb_provider.hooks._extras``; a value that cannot be used raises ``ConnectionConfigError``
    naming the extra.

    :param wandb_conn_id: The Airflow connection to use.
    """

    conn_name_attr = "wandb_conn_id"
    default_conn_name = "wandb_default"
    conn_type = "wandb"
    hook_name = "Weights & Biases"
    #: The connection's ``record_runs`` extra, as read by the last ``get_config``: whether the W&B
    #: operators record each task as a W&B run (an Airflow setting, so not in the client's config).
    record_runs: bool = True
    #: The connection's ``deployment`` extra (None: derived): this deployment's name in W&B run ids.
    deployment: str | None = None

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's extra fields for Airflow 3.1 (3.2+ read ``conn-fields`` of provider info);
        both come from ``hooks._extras``."""
        from ._extras import form_widgets

        return form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields for Airflow 3.1 (3.2+ read provider info)."""
        from ._extras import ui_field_behaviour

        return ui_field_behaviour()

    def __init__(self, wandb_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wandb_conn_id = wandb_conn_id

    def get_config(self) -> ClientConfig:
        """Read the connection (its password is masked in task logs by Airflow) into a ClientConfig."""
        return self.config_from_connection(self.get_connection(self.wandb_conn_id))

    async def aget_config(self) -> ClientConfig:
        """``get_config`` for async code (the triggerer): never blocks the event loop.

        Where the Task SDK finds no such connection but this process can read the metadata
        database itself, the connection stored there is used: ``airflow dags test`` runs a
        deferred task's trigger in line, after the task's supervisor (the SDK's way to the
        database) is gone, so a connection added with ``airflow connections add`` was not found.
        """
        import asyncio

        from .._compat import AirflowNotFoundException

        try:
            conn = await self.aget_connection(self.wandb_conn_id)
        except AirflowNotFoundException:
            stored = await asyncio.to_thread(_stored_connection, self.wandb_conn_id)
            if stored is None:
                raise
            conn = stored
        return self.config_from_connection(conn)

    def config_from_connection(self, conn: Any) -> ClientConfig:
        """A validated ClientConfig; raises ``ConnectionConfigError`` naming the field or extra at fault."""
        from airflow.sdk.log import mask_secret

        if conn.password:
            mask_secret(conn.password)  # however the connection was found, its key is masked in task logs
        conn_id = self.wandb_conn_id
        raw_extra = conn.extra
        extra = parse_extra_text(raw_extra, conn_id) if isinstance(raw_extra, str) else dict(conn.extra_dejson)
        options = client_options(extra, conn_id, conn.password or "")
        self.record_runs = bool(options.pop("record_runs", True))  # the operators' settings, not the client's
        self.deployment = options.pop("deployment", None)
        url = base_url(conn.host, conn.schema, conn.port, conn_id)
        try:
            return ClientConfig(base_url=url, api_key=conn.password or "", **options)
        except (TypeError, ValueError) as exc:  # a combination of values the client refuses
            raise ConnectionConfigError(f"connection {conn_id!r}: {exc}.") from None

    def get_conn(self) -> WandbClient:
        return self.get_client()

    def get_client(self, *, aws_conn_id: str | None = None, gcp_conn_id: str | None = None) -> WandbClient:
        """A new client for this connection (one pooled session per client).

        ``aws_conn_id`` / ``gcp_conn_id`` let it read and log ``s3://`` / ``gs://`` references through
        those Airflow connections (extras ``amazon`` / ``google``; README "S3 and GCS references").
        """
        config = self.get_config()
        if not (aws_conn_id or gcp_conn_id):
            return WandbClient(config=config)
        from .object_stores import object_stores_for

        stores = object_stores_for(aws_conn_id, gcp_conn_id, config)
        return WandbClient(config=config, object_stores=stores)

    def resolve(self, artifact: str) -> ArtifactVersion:
        """The version ``artifact`` names now (``[entity/][project/]collection[:alias|:vN]``, default
        alias ``latest``), without downloading anything: one GraphQL request (one more when the path
        and the connection name no entity). Its ``id`` and ``digest`` pin it for later tasks
        (``version.to_dict()``, ``wandb_provider.materialize``).

        :raises ArtifactNotFoundError: no version has that alias or index; other ``WandbError``
            subclasses for a bad path, authentication, permission or W&B failing (``transient``).
        """
        from .._values import required_text

        path = required_text("artifact", artifact)
        with self.get_client() as client:
            return client.artifact(path)

    def get_sdk_api(self) -> Any:
        """A ``wandb.Api`` (the official SDK) configured from this connection: base URL, API key,
        entity, project and timeout. For what the provider's operators do not cover.

        The key is handed to ``wandb.Api`` directly: it is never put in the process environment and
        never logged. TLS and proxy settings are the SDK's own (``WANDB_*`` settings), not the
        connection's ``verify_ssl``. Needs the ``sdk`` extra: ``pip install 'airflow-provider-wandb[sdk]'``.
        """
        import math

        config = self.get_config()
        if not config.api_key:
            raise ConnectionConfigError(
                f"connection {self.wandb_conn_id!r} has no API key, so the W&B SDK cannot authenticate.",
                hint="Set the connection's password to a W&B API key.")
        try:
            import wandb
        except ImportError:
            raise SdkNotInstalledError(
                "WandbHook.get_sdk_api needs the official W&B SDK (wandb), which is not installed.",
                hint="Install the provider's 'sdk' extra: pip install 'airflow-provider-wandb[sdk]'.",
            ) from None
        overrides = {"base_url": config.base_url}
        if config.entity:
            overrides["entity"] = config.entity
        if config.project:
            overrides["project"] = config.project
        try:
            return wandb.Api(overrides=overrides, timeout=max(1, math.ceil(config.timeout)), api_key=config.api_key)
        except wandb.errors.AuthenticationError as exc:
            # The SDK says "AuthenticationError" for a host it cannot reach too; our client tells the two
            # apart (an unreachable host is a transient ServerError that Airflow retries).
            self._raise_if_unreachable()
            raise AuthenticationError(
                f"the W&B SDK could not sign in to {config.base_url} with connection {self.wandb_conn_id!r}: "
                f"{_scrubbed(exc, config.api_key)}", hint="Check the connection's API key and host.") from None
        except wandb.errors.CommError as exc:
            raise ServerError(f"the W&B SDK could not reach {config.base_url}: {_scrubbed(exc, config.api_key)}",
                              hint="Airflow will retry the task.") from None

    def _raise_if_unreachable(self) -> None:
        """Raise our client's transient error when W&B cannot be reached (one viewer request)."""
        try:
            with self.get_client() as client:
                client.viewer()
        except WandbError as exc:
            if exc.transient:
                raise
        except ValueError:
            pass

    def test_connection(self) -> tuple[bool, str]:
        """One viewer round trip; says who the key belongs to, never the key."""
        try:
            with self.get_client() as client:
                viewer = client.viewer()
        except (WandbError, ValueError) as exc:
            return False, str(exc)
        teams = f" (teams: {', '.join(viewer.teams)})" if viewer.teams else ""
        return True, f"Connected to {client.config.base_url} as {viewer.username}{teams}"
