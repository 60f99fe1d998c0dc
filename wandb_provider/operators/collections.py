"""Operators on collections: take a version out of a portfolio or registry, update a collection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._airflow import version_xcom
from .._values import (
    InvalidValueError,
    alias_list,
    collection_target,
    optional_update,
    required_text,
    text_list,
)
from ._base import ArgumentCheck, WandbBaseOperator

if TYPE_CHECKING:
    from ..client import ArtifactVersion, WandbClient


class UnlinkArtifactOperator(WandbBaseOperator):
    """
    Take a version out of a portfolio or registry it was linked into (the reverse of ``LinkArtifactOperator``).

    The version keeps existing in the collection it was logged into and in every other link. A
    version that holds aliases in ``target`` (other than ``latest``) is not unlinked unless each is
    in ``drop_aliases``: unlinking takes them away with it. A re-run after the version left
    ``target`` changes nothing and says so. W&B has no compare-and-set: an alias given to the
    link in the instant between the check and the unlink goes with it.

    :param artifact: The version, through any collection: ``"acme/churn/churn-model:v3"`` or
        ``"acme-corp/wandb-registry-model/churn:staging"``. (templated)
    :param target: The portfolio or registry collection to take it out of:
        ``[entity/]project/collection`` or ``[org/]wandb-registry-<name>/<collection>``. (templated)
    :param drop_aliases: Aliases of the version in ``target`` that may go with it. (templated)
    :return: JSON-safe dict: the ``version``, the ``unlinked`` view (None when it was not in
        ``target``) and ``changed``.
    """

    template_fields: Sequence[str] = ("artifact", "target", "drop_aliases")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "target": collection_target,
        "drop_aliases": alias_list,
    }

    def __init__(self, *, artifact: str, target: str, drop_aliases: Sequence[str] | str = (),
                 wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.target = target
        self.drop_aliases = drop_aliases
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        from .._compat import AirflowFailException
        from ..client.errors import MetadataConflictError

        with self.wandb_client() as client:
            version = client.artifact(args["artifact"])
            self.push_link(context, version)
            linked = _member(client, version, args["target"])
            if linked is None:
                self.log.info("%s is not in %s: nothing to unlink", version.qualified_name, args["target"])
                return {"version": version_xcom(version), "unlinked": None, "changed": False}
            if held := sorted(set(linked.aliases) - {"latest"} - set(args["drop_aliases"])):
                raise AirflowFailException(
                    f"Not unlinking {linked.qualified_name}: it holds {held} there, which would go with it. "
                    "Pass them in drop_aliases, or move them first.")
            client.unlink(linked)
            if _member(client, version, args["target"]) is not None:
                raise MetadataConflictError(
                    f"unlinked {linked.qualified_name}, but the version is in {args['target']} again: another "
                    "writer linked it at the same time.", hint="Re-run to unlink it again.")
        self.log.info("Unlinked %s (%s) from %s", linked.qualified_name, version.qualified_name, args["target"])
        self.record_lineage([version], [linked])
        return {"version": version_xcom(version), "unlinked": version_xcom(linked), "changed": True}


def _member(client: WandbClient, version: ArtifactVersion, target: str) -> ArtifactVersion | None:
    """``version`` as seen in the collection ``target`` (found by its artifact id), or None."""
    return next((seen for seen in client.versions(target) if seen.id == version.id), None)


class UpdateCollectionOperator(WandbBaseOperator):
    """
    Update a collection's description and tags (an artifact collection, a portfolio or a registry collection).

    :param collection: ``[entity/]project/collection`` or ``[org/]wandb-registry-<name>/<collection>``. (templated)
    :param description: New description; None, or a template that renders ``None``, leaves it unchanged. (templated)
    :param tags_add: Tags to add: a list, a rendered list literal or one tag. (templated)
    :param tags_remove: Tags to remove, in the same forms. (templated)
    :return: JSON-safe dict: the collection's ``before`` and ``after`` (name, kind, description, tags)
        and ``changed``.
    """

    template_fields: Sequence[str] = ("collection", "description", "tags_add", "tags_remove")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "collection": collection_target,
        "description": lambda name, value: optional_update(name, None, value),
        "tags_add": text_list,
        "tags_remove": text_list,
    }

    def __init__(
        self,
        *,
        collection: str,
        description: str | None = None,
        tags_add: Sequence[str] | str = (),
        tags_remove: Sequence[str] | str = (),
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.collection = collection
        self.description = description
        self.tags_add = tags_add
        self.tags_remove = tags_remove
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        description = optional_update("description", self.unrendered("description"), args["description"])
        if description is None and not args["tags_add"] and not args["tags_remove"]:
            raise InvalidValueError(
                f"description, tags_add and tags_remove are all empty (description={self.description!r}, "
                f"tags_add={self.tags_add!r}, tags_remove={self.tags_remove!r}): nothing to do.",
                hint="Give at least one; if they come from templates, check what they render.")
        with self.wandb_client() as client:
            before = client.update_collection(args["collection"])
            after = client.update_collection(args["collection"], description=description,
                                             tags_add=args["tags_add"], tags_remove=args["tags_remove"])
        changed = after != before
        self.log.info("Updated collection %s/%s/%s%s", after["entity"], after["project"], after["name"],
                      "" if changed else " (nothing to change)")
        return {"before": before, "after": after, "changed": changed}
