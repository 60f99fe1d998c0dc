"""Optional W&B server features, negotiated as the wandb SDK negotiates them.

W&B Server reports what it supports in ``serverInfo { features { name isEnabled } }``; the SDK
asks once and picks its documents by the answer (a server too old to have ``features`` counts as
having none). We do the same, once per client: every document that uses an optional field has a
fallback for a server without the feature (``_queries.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import InvalidValueError, MalformedResponseError

if TYPE_CHECKING:
    from ._graphql import GraphQLClient

# The features our documents depend on (names as W&B reports them).
DIGEST_ALGORITHM = "ARTIFACT_DIGEST_ALGORITHM"
MEMBERSHIP_IN_LINK_RESPONSE = "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE"

_NO_FEATURES_FIELD = 'Cannot query field "features" on type "ServerInfo"'


def parse_features(data: dict[str, Any]) -> frozenset[str]:
    """The enabled feature names in a ``ServerFeaturesQuery`` answer; unknown fields are ignored."""
    what = "read the server's features"
    info = data.get("serverInfo")
    if info is None:
        return frozenset()
    if not isinstance(info, dict) or "features" not in info:
        raise MalformedResponseError(f"{what}: W&B's answer has no field 'serverInfo.features'.",
                                     operation=q.SERVER_FEATURES.name)
    features = info["features"]
    if features is None:
        return frozenset()
    if not isinstance(features, list):
        raise MalformedResponseError(f"{what}: 'serverInfo.features' is not a list.", operation=q.SERVER_FEATURES.name)
    enabled = set()
    for feature in features:
        if feature is None:
            continue
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            raise MalformedResponseError(f"{what}: a feature has no field 'name'.", operation=q.SERVER_FEATURES.name)
        if "isEnabled" not in feature:
            raise MalformedResponseError(f"{what}: feature {feature['name']!r} has no field 'isEnabled'.",
                                         operation=q.SERVER_FEATURES.name)
        if feature["isEnabled"] is True:
            enabled.add(feature["name"])
    return frozenset(enabled)


class ServerFeatures:
    """The features one server reports, asked on first use and kept for the client's life."""

    def __init__(self, graphql: GraphQLClient) -> None:
        self._graphql = graphql
        self._lock = threading.Lock()
        self._enabled: frozenset[str] | None = None

    def enabled(self, name: str) -> bool:
        return name in self.names()

    def names(self) -> frozenset[str]:
        with self._lock:
            if self._enabled is None:
                self._enabled = self._ask()
            return self._enabled

    def _ask(self) -> frozenset[str]:
        try:
            data = self._graphql.execute(q.SERVER_FEATURES, what="read the server's features")
        except InvalidValueError as exc:
            if _NO_FEATURES_FIELD in str(exc):
                return frozenset()  # a server older than feature reporting: no optional feature
            raise
        return parse_features(data)
