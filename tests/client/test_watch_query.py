"""The batched watch document validates against the server's (W&B-named) schema, whatever its shape."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from wandb_provider.client.watch import BATCH, batch_document
from wandb_provider.testing.graphql_api import load_schema

SCHEMA = load_schema()


@pytest.mark.parametrize("aliases", [[0], [2], [0, 1, 0, 3], [1] * BATCH, [0] * BATCH])
def test_batch_document_validates(aliases: list[int]) -> None:
    document = parse(batch_document(len(aliases), aliases).document)
    assert validate(SCHEMA, document) == []


def test_values_travel_as_variables_never_inside_the_document() -> None:
    text = batch_document(2, [1, 0]).document
    assert "$e0" in text and "$a0_0" in text and '"' not in text
