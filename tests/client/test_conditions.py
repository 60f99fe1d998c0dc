"""The shared conditions: the metadata gate and the version verdict, each true and false."""

from __future__ import annotations

import dataclasses

import pendulum
import pytest

from wandb_provider.client import ArtifactVersion, BadRequestError, evaluate_gate
from wandb_provider.client.conditions import evaluate_version, validate_gate, validate_newer_than

METADATA = {"accuracy": 0.91, "eval": {"split": "test", "n": 200}, "framework": "torch", "a.b": 1}


@pytest.mark.parametrize(
    ("require", "passed"),
    [
        pytest.param({"accuracy": {">=": 0.9}}, True, id="ge-true"),
        pytest.param({"accuracy": {">": 0.95}}, False, id="gt-false"),
        pytest.param({"accuracy": {"<": 1, "<=": 0.91}}, True, id="lt-le-true"),
        pytest.param({"eval.split": {"==": "test"}}, True, id="dotted-eq"),
        pytest.param({"eval.split": {"!=": "test"}}, False, id="ne-false"),
        pytest.param({"framework": {"in": ["torch", "jax"]}}, True, id="in-true"),
        pytest.param({"framework": {"in": ["jax"]}}, False, id="in-false"),
        pytest.param({"missing.key": {"==": 1}}, False, id="missing"),
        pytest.param({"accuracy": {">=": "0.9"}}, True, id="templated-number"),
        pytest.param({"a.b": {"==": 1}}, True, id="literal-dotted-key"),
        pytest.param({"framework": {">": 3}}, False, id="type-mismatch"),
    ],
)
def test_gate(require, passed: bool) -> None:
    result = evaluate_gate(METADATA, require)
    assert result.passed is passed
    if not passed:
        assert result.failures and next(iter(require)) in result.describe()


@pytest.mark.parametrize(
    "require",
    [
        pytest.param({"accuracy": {"~": 1}}, id="unknown-operator"),
        pytest.param({"accuracy": 0.9}, id="not-a-dict"),
        pytest.param({"": {"==": 1}}, id="empty-key"),
        pytest.param({"framework": {"in": "torch"}}, id="in-needs-list"),
        pytest.param(["accuracy"], id="not-a-mapping"),
    ],
)
def test_bad_gates_are_refused(require) -> None:
    with pytest.raises(BadRequestError):
        validate_gate(require)


def _version(**changes) -> ArtifactVersion:
    base = ArtifactVersion(
        id="QXJ0aWZhY3Q6MQ==", entity="acme", project="churn", name="model", type="model", version="v3",
        source_version="v3", aliases=("latest",), digest="a" * 32, state="COMMITTED", size=1, file_count=1,
        description=None, metadata=METADATA, tags=(), created_at=pendulum.datetime(2026, 5, 1),
        updated_at=None, collection_kind="sequence", url="http://x",
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("version", "options", "ready"),
    [
        pytest.param(None, {}, False, id="not-found"),
        pytest.param(_version(state="PENDING"), {}, False, id="pending"),
        pytest.param(_version(), {}, True, id="committed"),
        pytest.param(_version(), {"newer_than": "v2"}, True, id="newer-true"),
        pytest.param(_version(), {"newer_than": "v3"}, False, id="newer-same"),
        pytest.param(_version(), {"newer_than": "acme/churn/model:v4"}, False, id="newer-qualified-false"),
        pytest.param(_version(), {"newer_than": "b" * 32}, True, id="digest-differs"),
        pytest.param(_version(), {"newer_than": "a" * 32}, False, id="digest-same"),
        pytest.param(_version(), {"created_after": pendulum.datetime(2026, 4, 1)}, True, id="created-after-true"),
        pytest.param(_version(), {"created_after": pendulum.datetime(2026, 6, 1)}, False, id="created-after-false"),
        pytest.param(_version(), {"require": {"accuracy": {">=": 0.95}}}, False, id="gate-false"),
    ],
)
def test_version_verdict(version, options, ready: bool) -> None:
    verdict = evaluate_version(version, **options)
    assert verdict.ready is ready and verdict.reason


def test_newer_than_must_be_a_version_or_digest() -> None:
    validate_newer_than("v3")
    validate_newer_than("e/p/n:v3")
    validate_newer_than("c" * 32)
    with pytest.raises(BadRequestError):
        validate_newer_than("production")
