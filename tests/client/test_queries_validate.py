"""Every GraphQL document the client can send validates against the server's (W&B-named) schema."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from wandb_provider.client._queries import ALL_OPERATIONS, all_documents
from wandb_provider.testing.graphql_api import load_schema

SCHEMA = load_schema()


@pytest.mark.parametrize("operation", all_documents(), ids=lambda op: f"{op.name}-{len(op.document)}")
def test_document_validates(operation) -> None:
    document = parse(operation.document)
    assert validate(SCHEMA, document) == []
    names = [d.name.value for d in document.definitions if d.kind == "operation_definition"]
    assert names == [operation.name]


def test_every_operation_constant_is_listed() -> None:
    from wandb_provider.client import _queries

    constants = {v for v in vars(_queries).values() if isinstance(v, _queries.Operation)}
    assert constants == set(ALL_OPERATIONS)
