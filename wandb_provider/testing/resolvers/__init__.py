"""The protocol layer: GraphQL arguments in, store calls, W&B-shaped objects out."""

from __future__ import annotations

import functools
from typing import Any

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema, GraphQLUnionType

from ..store.records import Collection, Run, User
from . import artifacts, identity, mutations, runs
from ._common import Context, Resolver

__all__ = ["Context", "bind"]

_TABLES = (identity.RESOLVERS, artifacts.RESOLVERS, runs.RESOLVERS, mutations.RESOLVERS)


def _accept_dicts(resolve: Resolver) -> Resolver:
    """Let a record resolver also serve plain dict parents (payloads built inline)."""

    @functools.wraps(resolve)
    def wrapped(parent: Any, info: GraphQLResolveInfo, **kwargs: Any) -> Any:
        if isinstance(parent, dict):
            return parent.get(info.field_name)
        return resolve(parent, info, **kwargs)

    return wrapped


def _typename(value: Any, info: GraphQLResolveInfo, abstract: Any) -> str:
    if isinstance(value, Collection):
        return value.typename
    if isinstance(value, Run):
        return "Run"
    if isinstance(value, User):
        return "User"
    raise TypeError(f"cannot tell the GraphQL type of {type(value).__name__}")


def bind(schema: GraphQLSchema) -> None:
    """Attach every resolver table to the schema's fields (unknown names fail loudly)."""
    for table in _TABLES:
        for type_name, fields in table.items():
            graphql_type = schema.type_map[type_name]
            assert isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType))
            for field_name, resolve in fields.items():
                field = graphql_type.fields[field_name]
                root = type_name in ("Query", "Mutation")
                field.resolve = resolve if root else _accept_dicts(resolve)
    for name in ("ArtifactCollection", "Initiator"):
        abstract = schema.type_map[name]
        assert isinstance(abstract, (GraphQLInterfaceType, GraphQLUnionType))
        abstract.resolve_type = _typename
