"""What every resolver shares: the request context, Relay pagination and id decoding."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import GraphQLResolveInfo

from .. import ids
from ..errors import InvalidInput, NotFound
from ..store import Store
from ..store.records import User

T = TypeVar("T")
Resolver = Callable[..., Any]


@dataclass
class Context:
    """Per-request state handed to every resolver as ``info.context``."""

    store: Store
    user: User
    urls: Any  # the app's URL builder (signed download and upload URLs)
    profile: Any = None  # the server's profile (profiles.py); set per request by the GraphQL service


def ctx(info: GraphQLResolveInfo) -> Context:
    context: Context = info.context
    return context


def decode_id(value: str, *kinds: str) -> int:
    number = ids.decode(value, *kinds)
    if number is None:
        raise NotFound(f"{' or '.join(kinds)} with id {value!r} not found")
    return number


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:{offset}".encode()).decode("ascii")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor).decode().partition(":")
        if kind == "cursor" and number.isdigit():
            return int(number) + 1
    except ValueError:
        pass
    raise InvalidInput(f"invalid cursor {cursor!r}: pass back an endCursor this server returned")


def connection(
    items: Sequence[T],
    after: str | None,
    first: int | None,
    edge: Callable[[T], dict[str, Any]] | None = None,
    default_page: int = 50,
) -> dict[str, Any]:
    """A Relay connection page over ``items`` (cursors are opaque offsets)."""
    start = _offset(after)
    size = default_page if first is None else first
    if size < 0:
        raise InvalidInput(f"invalid page size {size}: 'first' must not be negative")
    page = items[start : start + size]
    edges: list[dict[str, Any]] = []
    for position, item in enumerate(page, start):
        entry: dict[str, Any] = edge(item) if edge else {"node": item}
        entry["cursor"] = _cursor(position)
        edges.append(entry)
    return {
        "totalCount": len(items),
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": start + len(page) < len(items),
            "hasPreviousPage": start > 0,
        },
    }


def attr(name: str) -> Resolver:
    """A resolver reading attribute ``name`` of the parent record."""
    return lambda obj, info, **_: getattr(obj, name)


def gid(kind: str) -> Resolver:
    """A resolver giving the parent record's global id of type ``kind``."""
    return lambda obj, info, **_: ids.encode(kind, obj.id)
