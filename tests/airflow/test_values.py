"""Values as users write them (``wandb_provider._values``): what rendered text means, and what is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from wandb_provider._values import (
    InvalidValueError,
    alias_list,
    collection_target,
    created_after_text,
    gate,
    is_plain,
    literal_from_text,
    mapping,
    required_text,
    text_list,
    typed_from_template,
)
from wandb_provider._waiting import WaitSpec
from wandb_provider.client.errors import WandbError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(["qa", "eu"], ["qa", "eu"], id="list"),
        pytest.param("['qa', 'eu']", ["qa", "eu"], id="python-literal"),
        pytest.param('["qa", "eu"]', ["qa", "eu"], id="json"),
        pytest.param("('qa', 'eu')", ["qa", "eu"], id="tuple-literal"),
        pytest.param("qa", ["qa"], id="one-string"),
        pytest.param("qa,eu", ["qa,eu"], id="plain-string-is-one-item"),
        pytest.param(" qa\n", ["qa"], id="stripped"),
        pytest.param(["qa", "qa", "eu"], ["qa", "eu"], id="deduplicated"),
        pytest.param(None, [], id="none"),
        pytest.param("", [], id="empty"),
        pytest.param("None", [], id="rendered-none"),
        pytest.param("[]", [], id="empty-literal"),
    ],
)
def test_text_list_reads_what_users_write(value: object, expected: list[str]) -> None:
    assert text_list("add", value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("[1, 2]", "item 1 is int", id="numbers-in-literal"),
        pytest.param(["qa", 3], "item 2 is int", id="number-in-list"),
        pytest.param(["qa", None], "item 2 is NoneType", id="none-item"),
        pytest.param(["qa", " "], "item 2 is empty", id="blank-item"),
        pytest.param("['qa', ", "not a valid list literal", id="broken-literal"),
        pytest.param("[x for x in 'ab']", "not a valid list literal", id="code-is-not-a-literal"),
        pytest.param(5, "must be a list of strings", id="number"),
        pytest.param({"qa": 1}, "must be a list of strings", id="dict"),
    ],
)
def test_text_list_refuses_what_is_not_a_list_of_strings(value: object, problem: str) -> None:
    with pytest.raises(InvalidValueError, match=problem) as info:
        text_list("add", value)
    assert str(info.value).startswith("add")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("latest", "managed by W&B"),
        ("['qa', 'latest']", "managed by W&B"),
        ("v3", "looks like a version"),
        ("a/b", "contains"),
        ("a:b", "contains"),
        ("x" * 129, "longer than"),
    ],
)
def test_alias_list_applies_w_and_b_rules_before_any_request(value: str, problem: str) -> None:
    with pytest.raises(WandbError, match=problem):  # the client's own typed error (client.rules)
        alias_list("add", value)


@pytest.mark.parametrize("value", [None, "", "  ", "None", "\n"])
def test_required_text_refuses_empty(value: object) -> None:
    with pytest.raises(InvalidValueError, match="artifact is empty"):
        required_text("artifact", value)


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("churn", False),
        ("", False),
        ("churn:production", False),
        ("churn-project/churn", True),
        ("acme/churn-project/churn", True),
        ("wandb-registry-model/churn", True),
        ("acme-corp/wandb-registry-model/churn", True),
        ("a/b/c/d", False),
    ],
)
def test_link_target_must_name_a_project_or_registry(target: str, ok: bool) -> None:
    if ok:
        assert collection_target("target", target) == target
    else:
        with pytest.raises(WandbError, match="target"):  # InvalidValueError, or the client's rule error
            collection_target("target", target)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.895", 0.895),
        ("200", 200),
        ("-1e3", -1000.0),
        ("true", True),
        ("True", True),
        ("None", None),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ("{'a': 1}", {"a": 1}),
        ('{"a": [1, "x"]}', {"a": [1, "x"]}),
        ("v3", "v3"),
        ("007", "007"),
        ("1_000", "1_000"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("[NaN]", "[NaN]"),
        ('"quoted"', '"quoted"'),
        ("{1, 2}", "{1, 2}"),
        ("", ""),
        ("acc=0.9", "acc=0.9"),
    ],
)
def test_literal_from_text(text: str, value: object) -> None:
    assert literal_from_text(text) == value
    assert type(literal_from_text(text)) is type(value)


def test_only_values_from_templates_are_read_as_literals() -> None:
    template = {"eval": {"accuracy": "{{ x }}", "note": "0.5", "tags": ["{{ y }}", "7"]}, "n": "{{ n }}"}
    rendered = {"eval": {"accuracy": "0.895", "note": "0.5", "tags": ["True", "7"]}, "n": "None"}
    assert typed_from_template(template, rendered) == {
        "eval": {"accuracy": 0.895, "note": "0.5", "tags": [True, "7"]}, "n": None}


def test_mapping_reads_a_rendered_dict_literal() -> None:
    assert mapping("require", "{'eval.accuracy': {'>=': 0.9}}") == {"eval.accuracy": {">=": 0.9}}
    assert mapping("require", "None") is None
    with pytest.raises(InvalidValueError, match="require must be a dict"):
        mapping("require", "['a']")


@pytest.mark.parametrize(
    ("metadata", "require", "passed"),
    [
        pytest.param({"f": "torch"}, {"f": {"in": "['torch', 'jax']"}}, True, id="in-rendered-list"),
        pytest.param({"f": "tf"}, {"f": {"in": '["torch", "jax"]'}}, False, id="in-rendered-json-list"),
        pytest.param({"n": 2}, {"n": {"in": "['1', '2']"}}, True, id="in-numbers-as-text"),
        pytest.param({"eval": {"accuracy": 0.91}}, "{'eval.accuracy': {'>=': '0.9'}}", True, id="gate-literal"),
        pytest.param({"eval": {"accuracy": 0.91}}, '{"eval.accuracy": {">=": 0.95}}', False, id="gate-json"),
        pytest.param({"acc": 0.91}, {"acc": "{'>=': 0.9}"}, True, id="conditions-literal"),
    ],
)
def test_a_rendered_gate_is_read_once_then_judged_by_the_client(metadata, require, passed: bool) -> None:
    from wandb_provider.client.conditions import evaluate_gate

    assert evaluate_gate(metadata, gate("require", require)).passed is passed


@pytest.mark.parametrize(
    ("require", "problem"),
    [
        pytest.param({"f": {"in": "['a',"}}, "not a valid list literal", id="in-broken-literal"),
        pytest.param({"f": {"in": "[__import__('os')]"}}, "not a valid list literal", id="in-code-is-not-run"),
        pytest.param({"f": "None"}, r"require\['f'\] rendered empty", id="conditions-rendered-none"),
        pytest.param("[1, 2]", "require must be a dict", id="gate-literal-not-a-dict"),
    ],
)
def test_a_rendered_gate_that_cannot_be_read_is_refused(require: object, problem: str) -> None:
    with pytest.raises(InvalidValueError, match=problem):
        gate("require", require)


@pytest.mark.parametrize(
    "require",
    [
        pytest.param({"f": {"in": "torch"}}, id="in-needs-list"),
        pytest.param({"f": {"in": "[]"}}, id="in-empty"),
        pytest.param({"f": {"in": "__import__('os')"}}, id="in-code-is-text"),
        pytest.param({"f": {"==": "None"}}, id="rendered-none-equals"),
        pytest.param({"f": {"!=": "null"}}, id="rendered-null-differs"),
    ],
)
def test_what_the_gate_reader_leaves_the_client_refuses(require: object) -> None:
    from wandb_provider.client.conditions import validate_gate
    from wandb_provider.client.errors import InvalidValueError

    with pytest.raises(InvalidValueError):
        validate_gate(gate("require", require))


def test_gate_empty_means_no_gate() -> None:
    assert gate("require", None) is None and gate("require", "None") is None and gate("require", "") is None


def test_is_plain_tells_written_values_from_templates() -> None:
    assert is_plain(["qa", "eu"]) and is_plain({"a": {"b": 1}}) and is_plain(None)
    assert not is_plain("{{ params.x }}") and not is_plain(["qa", "{% if x %}y{% endif %}"])
    assert not is_plain(object())


@pytest.mark.parametrize("value", [None, "None", "", "   ", " None "])
def test_created_after_empty_means_no_condition(value: object) -> None:
    assert created_after_text(value) is None
    assert WaitSpec.of("acme/churn/churn-model:production", created_after=value).created_after is None


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T02:00:00+02:00", "2026-01-01T02:00:00+02:00"),
        ("2026-01-01", "2026-01-01T00:00:00+00:00"),
        (dt.datetime(2026, 1, 1, 12), "2026-01-01T12:00:00+00:00"),
        (dt.date(2026, 1, 1), "2026-01-01T00:00:00+00:00"),
    ],
)
def test_created_after_is_an_aware_time(value: object, iso: str) -> None:
    assert created_after_text(value) == iso


@pytest.mark.parametrize("value", ["yesterday", "12:00", "P1D", "2026-13-45", 1700000000, ["2026-01-01"]])
def test_created_after_garbage_is_a_clear_error(value: object) -> None:
    with pytest.raises(InvalidValueError, match="created_after"):
        created_after_text(value)


def test_wait_spec_reads_rendered_arguments() -> None:
    spec = WaitSpec.of(" acme/churn/churn-model:production\n", newer_than="None",
                       require="{'accuracy': {'>=': 0.9}}", created_after="")
    assert spec == WaitSpec("acme/churn/churn-model:production", None, {"accuracy": {">=": 0.9}}, None)
