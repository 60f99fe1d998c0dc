"""The shared conditions: the metadata gate and the version verdict, each true and false."""

from __future__ import annotations

import dataclasses
import math

import pendulum
import pytest

from wandb_provider.client import ArtifactVersion, InvalidValueError, MissingMetadataKeyError, evaluate_gate
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
    ],
)
def test_gate(require, passed: bool) -> None:
    result = evaluate_gate(METADATA, require, on_missing="skip")
    assert result.passed is passed
    if not passed:
        assert result.failures and next(iter(require)) in result.describe()


@pytest.mark.parametrize(
    ("metadata", "require", "passed"),
    [
        pytest.param({"n": "200"}, {"n": {">=": "1000"}}, False, id="text-numbers-compare-as-numbers"),
        pytest.param({"n": "200"}, {"n": {"<": "1000"}}, True, id="text-numbers-lt"),
        pytest.param({"acc": "0.895"}, {"acc": {">=": 0.9}}, False, id="stored-as-text-vs-float"),
        pytest.param({"acc": 0.895}, {"acc": {">=": "0.9"}}, False, id="float-vs-rendered-text"),
        pytest.param({"acc": 0.9}, {"acc": {">=": "0.9"}}, True, id="float-equals-its-text"),
        pytest.param({"k": "1e3"}, {"k": {">": 999}}, True, id="exponent-text"),
        pytest.param({"k": 1000}, {"k": {"==": "1e3"}}, True, id="eq-number-and-text"),
        pytest.param({"k": 1000}, {"k": {"!=": "1000.0"}}, False, id="ne-number-and-text"),
        pytest.param({"big": 2**63 + 1}, {"big": {">": 2**63}}, True, id="big-ints-exact"),
        pytest.param({"f": "torch"}, {"f": {"in": ("torch", "jax")}}, True, id="in-tuple"),
        pytest.param({"n": 2}, {"n": {"in": ["1", "2"]}}, True, id="in-numbers-as-text"),
        pytest.param({"x": math.nan}, {"x": {"!=": 1}}, False, id="nan-never-passes-ne"),
        pytest.param({"x": math.nan}, {"x": {"<": 1}}, False, id="nan-never-passes-lt"),
        pytest.param({"x": "NaN"}, {"x": {">=": 0}}, False, id="nan-text-never-passes"),
        pytest.param({"x": math.nan}, {"x": {"in": [1, 2]}}, False, id="nan-never-in"),
        pytest.param({"ok": True}, {"ok": {"==": "True"}}, True, id="bool-vs-rendered-bool"),
        pytest.param({"ok": False}, {"ok": {"==": True}}, False, id="bool-false"),
        pytest.param({"d": "2026-05-01"}, {"d": {">=": "2026-01-01"}}, True, id="text-orders-as-text"),
        pytest.param({"x": None}, {"x": {">=": 1}}, False, id="null-is-no-value"),
    ],
)
def test_values_as_users_write_them(metadata, require, passed: bool) -> None:
    assert evaluate_gate(metadata, require).passed is passed


@pytest.mark.parametrize(
    ("metadata", "require"),
    [
        pytest.param({"f": "torch"}, {"f": {">": 3}}, id="text-vs-number"),
        pytest.param({"n": 3}, {"n": {">": "abc"}}, id="number-vs-text"),
        pytest.param({"n": "3"}, {"n": {"==": "abc"}}, id="number-text-vs-text-eq"),
        pytest.param({"ok": True}, {"ok": {"==": 1}}, id="bool-vs-number"),
        pytest.param({"ok": True}, {"ok": {">": 0}}, id="bool-ordered"),
        pytest.param({"f": "torch"}, {"f": {"in": [1, 2]}}, id="in-mixed"),
        pytest.param({"l": [1]}, {"l": {">": 0}}, id="list-ordered"),
    ],
)
def test_mixed_types_are_refused_clearly(metadata, require) -> None:
    with pytest.raises(InvalidValueError, match="cannot compare") as info:
        evaluate_gate(metadata, require)
    assert next(iter(require)) in str(info.value)


def test_the_client_takes_a_gate_as_a_dict_never_as_text() -> None:
    """Text a template rendered is read by the Airflow layer (tests/airflow/test_values.py)."""
    assert evaluate_gate({"eval": {"accuracy": 0.91}}, {"eval.accuracy": {">=": "0.9"}}).passed
    with pytest.raises(InvalidValueError, match="require must be a dict"):
        evaluate_gate({"eval": {"accuracy": 0.91}}, "{'eval.accuracy': {'>=': '0.9'}}")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="'in' needs a list"):
        validate_gate({"framework": {"in": "['torch', 'jax']"}})


@pytest.mark.parametrize(
    "require",
    [
        pytest.param({"accuracy": {"~": 1}}, id="unknown-operator"),
        pytest.param({"accuracy": {">=": ""}}, id="rendered-empty"),
        pytest.param({"accuracy": {">=": None}}, id="none-ordered"),
        pytest.param({"eval.split": {"==": None}}, id="none-equals"),
        pytest.param({"eval.split": {"==": "None"}}, id="rendered-none-equals"),
        pytest.param({"eval.split": {"!=": "null"}}, id="rendered-null-differs"),
        pytest.param({"framework": {"in": ["torch", None]}}, id="none-in-list"),
        pytest.param({"accuracy": {">=": [1]}}, id="list-ordered"),
        pytest.param({"accuracy": {">=": True}}, id="bool-ordered"),
        pytest.param({"accuracy": {"==": math.nan}}, id="nan-expected"),
        pytest.param({"framework": {"in": "[]"}}, id="in-empty"),
        pytest.param({"framework": {"in": "['a',"}}, id="in-broken-literal"),
        pytest.param({"framework": {"in": "__import__('os')"}}, id="in-code-is-not-run"),
        pytest.param({"framework": {"in": "[__import__('os')]"}}, id="in-list-code-is-not-run"),
        pytest.param("", id="rendered-empty-gate"),
        pytest.param("None", id="rendered-none-gate"),
        pytest.param("[1, 2]", id="gate-literal-not-a-dict"),
        pytest.param({"accuracy": 0.9}, id="not-a-dict"),
        pytest.param({"": {"==": 1}}, id="empty-key"),
        pytest.param({"framework": {"in": "torch"}}, id="in-needs-list"),
        pytest.param(["accuracy"], id="not-a-mapping"),
    ],
)
def test_bad_gates_are_refused(require) -> None:
    with pytest.raises(InvalidValueError):
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
    with pytest.raises(InvalidValueError):
        validate_newer_than("production")


def test_an_empty_term_value_says_it_is_yours() -> None:
    with pytest.raises(InvalidValueError, match=r"require\['accuracy'\]\['>='\]: your expected value is empty"):
        evaluate_gate(METADATA, {"accuracy": {">=": "None"}})


def test_a_missing_key_fails_closed_naming_the_keys_and_the_closest() -> None:
    with pytest.raises(MissingMetadataKeyError) as caught:
        evaluate_gate(METADATA, {"eval.acuracy": {">=": 0.9}, "accuracy": {">=": 0.5}}, subject="acme/p/m:v3")
    error = caught.value
    assert error.missing == ("eval.acuracy",)
    assert "accuracy" in error.available and "eval.split" in error.available
    assert error.suggestions == {"eval.acuracy": "accuracy"} or error.suggestions["eval.acuracy"].startswith("eval")
    assert "did you mean" in str(error) and "acme/p/m:v3" in str(error)
    assert not error.transient


def test_on_missing_skip_is_a_failed_condition() -> None:
    result = evaluate_gate(METADATA, {"eval.acuracy": {">=": 0.9}}, on_missing="skip")
    assert not result.passed and result.missing == ("eval.acuracy",)
    with pytest.raises(InvalidValueError, match="on_missing"):
        evaluate_gate(METADATA, {"accuracy": {">=": 0.9}}, on_missing="ignore")


def test_each_term_carries_both_values() -> None:
    result = evaluate_gate(METADATA, {"accuracy": {">=": 0.95, "<": 1}, "eval.split": {"==": "test"}})
    assert [(t.key, t.op, t.expected, t.actual, t.passed) for t in result.terms] == [
        ("accuracy", ">=", 0.95, 0.91, False), ("accuracy", "<", 1, 0.91, True),
        ("eval.split", "==", "test", "test", True)]
    assert result.failures == ("accuracy = 0.91 does not satisfy >= 0.95",)


def test_the_sensor_verdict_fails_on_a_missing_key() -> None:
    with pytest.raises(MissingMetadataKeyError):
        evaluate_version(_version(), require={"acuracy": {">=": 0.5}})
    assert not evaluate_version(_version(), require={"acuracy": {">=": 0.5}}, on_missing="skip").ready
