"""Executes GraphQL requests against the project's SDL schema with W&B's request semantics.

Request errors (syntax, validation, bad variables) are answered with HTTP 400; errors raised while
resolving fields become ``errors`` entries in an HTTP 200, as W&B does.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from .errors import EmulatorError
from .profiles import LATEST, Profile
from .resolvers import Context, bind

_OPERATION_NAME = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name(query: str, given: str | None) -> str:
    """The name W&B would log for a request: ``operationName``, else the document's own name."""
    if given:
        return given
    match = _OPERATION_NAME.search(query)
    return match.group(1) if match else "anonymous"


def _json_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _int64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GraphQLError(f"Int64 cannot represent non-integer value: {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"expected a string, got {value!r}")
    return value


def load_schema(profile: Profile = LATEST) -> GraphQLSchema:
    """Build the schema from ``schema.graphql`` (less the fields ``profile``'s server lacks) and bind
    the resolvers and scalars."""
    sdl = resources.files(__package__).joinpath("schema.graphql").read_text(encoding="utf-8")
    schema = build_schema(sdl)
    for type_name, field_name in profile.missing_fields:
        owner = schema.type_map[type_name]
        del owner.fields[field_name]  # type: ignore[attr-defined]
    scalars = {
        "JSONString": (_json_string, _json_string),
        "Int64": (_int64, _int64),
        "DateTime": (_str, _str),
    }
    for name, (serialize, parse_value) in scalars.items():
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.serialize = serialize  # type: ignore[method-assign]
        scalar.parse_value = parse_value  # type: ignore[method-assign]
    bind(schema)
    return schema


@dataclass
class Outcome:
    """What to send back: an HTTP status and a JSON body; ``failed`` = roll the transaction back."""

    status: int
    body: dict[str, Any]
    failed: bool


class GraphQLService:
    """Parses and validates documents once (cached by text) and executes them."""

    def __init__(self, profile: Profile = LATEST) -> None:
        self.profile = profile
        self.schema = load_schema(profile)
        self._documents: OrderedDict[str, DocumentNode | list[GraphQLError]] = OrderedDict()
        self._lock = threading.Lock()

    def document(self, query: str) -> DocumentNode | list[GraphQLError]:
        with self._lock:
            cached = self._documents.get(query)
            if cached is not None:
                self._documents.move_to_end(query)
                return cached
        try:
            parsed = parse(query)
        except GraphQLError as error:
            return self._remember(query, [error])
        errors = validate(self.schema, parsed)
        return self._remember(query, list(errors) if errors else parsed)

    def _remember(
        self, query: str, document: DocumentNode | list[GraphQLError]
    ) -> DocumentNode | list[GraphQLError]:
        with self._lock:
            self._documents[query] = document
            if len(self._documents) > 512:
                self._documents.popitem(last=False)
        return document

    def run(
        self, query: str, variables: dict[str, Any] | None, op_name: str | None, context: Context
    ) -> Outcome:
        document = self.document(query)
        if isinstance(document, list):
            return Outcome(400, {"errors": [e.formatted for e in document], "data": None}, True)
        context.profile = self.profile
        result = execute_sync(self.schema, document, context_value=context, variable_values=variables or {},
                         operation_name=op_name or None)
        if result.errors:
            if result.data is None and all(not e.path for e in result.errors):
                return Outcome(400, {"errors": [e.formatted for e in result.errors], "data": None}, True)
            errors = []
            for error in result.errors:
                if not isinstance(error.original_error, (EmulatorError, GraphQLError, type(None))):
                    raise error.original_error  # a bug in the emulator: let it surface as a 500
                errors.append(error.formatted)
            return Outcome(200, {"errors": errors, "data": result.data}, True)
        return Outcome(200, {"data": result.data}, False)
