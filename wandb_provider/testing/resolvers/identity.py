"""Viewer, entities, organizations and the server feature probe."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from .. import ids
from ..profiles import LATEST
from ..store.records import Entity, Organization, User
from ._common import Resolver, attr, ctx, gid

# Features the SDK checks; advertising them makes 0.31 send its modern documents (§3, §13.5).
ENABLED_FEATURES = (
    "LARGE_FILENAMES",
    "ARTIFACT_TAGS",
    "CLIENT_IDS",
    "ARTIFACT_COLLECTION_MEMBERSHIP_FILES",
    "ARTIFACT_COLLECTION_MEMBERSHIP_FILE_DOWNLOAD_HANDLER",
    "USE_ARTIFACT_WITH_ENTITY_AND_PROJECT_INFORMATION",
    "PROJECT_ARTIFACT_COLLECTION_MEMBERSHIP",
    "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE",
    "TOTAL_COUNT_IN_FILE_CONNECTION",
    "ARTIFACT_COLLECTIONS_FILTERING_SORTING",
    "ARTIFACT_V2_DOWNLOAD_HANDLER_SUPPORTS_ARTIFACT_ID",
    "ARTIFACT_DIGEST_ALGORITHM",
)
DISABLED_FEATURES = ("FILESTREAM_GZIP", "MARK_RUN_FILES_UPLOADED", "ARTIFACT_REGISTRY_SEARCH")


def resolve_viewer(_: Any, info: GraphQLResolveInfo) -> User:
    return ctx(info).user


def resolve_server_info(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    profile = ctx(info).profile or LATEST
    off = set(DISABLED_FEATURES) | profile.disabled_features
    features = [{"name": n, "isEnabled": n not in off} for n in ENABLED_FEATURES]
    features += [{"name": n, "isEnabled": False} for n in DISABLED_FEATURES]
    return {
        "features": features,
        "cliVersionInfo": "{}",
    }


def resolve_entity(_: Any, info: GraphQLResolveInfo, name: str | None = None) -> Entity | None:
    store = ctx(info).store
    entity = store.accounts.entity_by_name(name)
    return entity if entity and store.accounts.can_read(ctx(info).user, entity) else None


def resolve_organization(_: Any, info: GraphQLResolveInfo, name: str | None = None) -> Organization | None:
    store = ctx(info).store
    org = store.accounts.organization_by_name(name)
    if org is None or org not in store.accounts.organizations_of(ctx(info).user):
        return None
    return org


def _user_entity(user: User, info: GraphQLResolveInfo) -> str:
    return ctx(info).store.accounts.personal_entity(user).name


def _teams(user: User, info: GraphQLResolveInfo) -> dict[str, Any]:
    return {"edges": [{"node": team} for team in ctx(info).store.accounts.teams_of(user)]}


def _entity_org(entity: Entity, info: GraphQLResolveInfo) -> Organization | None:
    return ctx(info).store.accounts.organization(entity.org_id) if entity.org_id else None


def _entity_user(entity: Entity, info: GraphQLResolveInfo) -> User | None:
    return ctx(info).store.accounts.user(entity.user_id) if entity.kind == "user" and entity.user_id else None


RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "viewer": resolve_viewer,
        "serverInfo": resolve_server_info,
        "entity": resolve_entity,
        "organization": resolve_organization,
    },
    "User": {
        "id": gid("User"),
        "name": attr("username"),
        "username": attr("username"),
        "email": attr("email"),
        "admin": lambda u, info: False,
        "flags": lambda u, info: "{}",
        "entity": _user_entity,
        "deletedAt": lambda u, info: None,
        "apiKeys": lambda u, info: {"edges": []},
        "teams": _teams,
        "organizations": lambda u, info: ctx(info).store.accounts.organizations_of(u),
    },
    "Entity": {
        "id": gid("Entity"),
        "name": attr("name"),
        "isTeam": lambda e, info: e.kind != "user",
        "organization": _entity_org,
        "user": _entity_user,
        # W&B's current servers allow XXH128 digests: wandb-core then logs XXH128 artifacts as asked
        # (entries' digests XXH128, files' md5 still MD5); with false (a server without per-file
        # digests, the legacy profile) it re-hashes them with MD5.
        "xxhashDigestsEnabled": lambda e, info: "ARTIFACT_DIGEST_ALGORITHM" not in (
            ctx(info).profile or LATEST).disabled_features,
    },
    "Organization": {
        "id": gid("Organization"),
        "name": attr("name"),
        "orgEntity": lambda o, info: ctx(info).store.accounts.entity(o.entity_id),
        "featureFlags": lambda o, info, rampIDType: [],
    },
    "ClientIDMappingResult": {"serverID": lambda v, info: ids.encode("Artifact", v.id)},
}
