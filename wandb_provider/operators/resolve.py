"""``ResolveArtifactOperator``: pin the version an alias points to now, without downloading it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._airflow import version_xcom
from .._values import InvalidValueError, optional_text, required_text
from ._base import ArgumentCheck, WandbBaseOperator


class ResolveArtifactOperator(WandbBaseOperator):
    """
    Resolve an artifact path (an alias can move) to the version it names now; download nothing.

    One GraphQL request. The XCom pins the version: downstream tasks read exactly it by its ``id``
    and ``digest`` (``wandb_provider.materialize``, ``VerifyArtifactOperator(pin=...)``,
    ``ArtifactVersionSensor(newer_than=...)``), whatever the alias does meanwhile.

    :param artifact: e.g. ``"acme/churn/churn-model:production"``; ``latest`` when no alias is
        given. (templated)
    :param expected_type: Fail (without retries) unless the version has this artifact type, e.g.
        ``"model"``. (templated)
    :param optional: Return ``None`` instead of failing when no version has the alias (or the
        collection does not exist yet): e.g. the holder of ``production`` before the first promotion.
        A missing project or a bad path still fails.
    :param wandb_conn_id: The W&B connection.
    :return: ``None`` (``optional`` and nothing found), or the version's XCom dict: the keys of
        ``UseArtifactOperator``'s result without the
        download fields (``entity``, ``project``, ``name``, ``version``, ``qualified_name``, ``id``,
        ``type``, ``digest``, ``aliases``, ``metadata``, ``size``, ``file_count``, ``url``).
    """

    template_fields: Sequence[str] = ("artifact", "expected_type")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "expected_type": optional_text,
    }

    def __init__(
        self,
        *,
        artifact: str,
        expected_type: str | None = None,
        optional: bool = False,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.expected_type = expected_type
        self.optional = optional
        if not isinstance(optional, bool):
            with self.checking():
                raise InvalidValueError(f"optional must be True or False, not {optional!r}.")
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any] | None:
        from ..client.errors import ArtifactNotFoundError

        with self.wandb_client() as client:
            try:
                version = client.artifact(args["artifact"])
            except ArtifactNotFoundError as exc:
                if not self.optional:
                    raise
                self.log.info("%s does not exist yet (optional=True): returning None. %s", args["artifact"], exc)
                return None
        self.push_link(context, version)
        if args["expected_type"] and version.type != args["expected_type"]:
            raise InvalidValueError(
                f"{args['artifact']} resolved to {version.qualified_name} of type {version.type!r}, but this "
                f"task expects {args['expected_type']!r}; check the artifact path or expected_type.")
        self.record_lineage([version], [])
        self.log.info("%s is %s (digest %s, aliases %s)", args["artifact"], version.qualified_name, version.digest,
                      list(version.aliases))
        return version_xcom(version)
