"""W&B's rules for what a caller names and sets, as checks that raise before any request.

The public face of the checks the client itself runs (``InvalidValueError`` /
``InvalidArtifactPathError`` naming the value): the Airflow layer and the command line check their
arguments with these, when a DAG is parsed or a command line read, so that a bad value fails early
with the client's own message. Rules from W&B's docs: "Artifact aliases", "Artifact metadata",
"Manage artifact data retention" (TTL).
"""

from __future__ import annotations

from ._aliases import NO_HOLDER, check_alias_names
from ._metadata import check_metadata, check_tags
from ._ttl import check_ttl

__all__ = ["NO_HOLDER", "check_alias_names", "check_metadata", "check_tags", "check_ttl"]
