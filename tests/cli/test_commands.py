"""Each command of ``wandb-artifacts`` against the local server, run as a subprocess; the SDK observes writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import sdk, tree

V0 = {"data/a.csv": "a,b\n1,2\n", "data/b.csv": "a,b\n3,4\n", "README.md": "v0\n", "old.txt": "only in v0\n"}
V1 = {"data/a.csv": "a,b\n5,6\n", "data/b.csv": "a,b\n3,4\n", "README.md": "v1\n", "model/w.bin": "weights"}


@pytest.fixture
def seeded(wandb_env: Any) -> Any:
    """Two versions of demo/test-project/ds: v0, and v1 with alias ``production`` (and ``latest``)."""
    wandb_env.seed_artifact("ds", V0, metadata={"rows": 2})
    wandb_env.seed_artifact("ds", V1, aliases=["production"],
                            metadata={"eval": {"accuracy": 0.93, "split": "test"}, "rows": 2})
    return wandb_env


def _bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {name: text.encode() for name, text in files.items()}


# --- get ----------------------------------------------------------------------------------------


def test_get_downloads_the_version_and_prints_the_folder(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    result = cli("get", "test-project/ds:production", "--root", str(root))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == str(root)
    assert tree(root) == _bytes(V1)
    assert "demo/test-project/ds:v1: 4 file(s)" in result.stderr


def test_get_default_root_is_named_after_the_version(seeded: Any, cli: Any, tmp_path: Path) -> None:
    result = cli("get", "demo/test-project/ds:v0", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert tree(tmp_path / "artifacts" / "ds:v0") == _bytes(V0)


def test_get_include_exclude_and_json(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    result = cli("get", "test-project/ds:v1", "--root", str(root), "--include", "data/", "--include", "*.md",
                 "--exclude", "data/b.csv", "--json")
    assert result.code == 0, result.stderr
    assert tree(root) == {"data/a.csv": b"a,b\n5,6\n", "README.md": b"v1\n"}
    out = json.loads(result.stdout)
    assert out["artifact"]["qualified_name"] == "demo/test-project/ds:v1"
    assert out["file_count"] == 2 and out["root"] == str(root)
    assert out["bytes_downloaded"] == len("a,b\n5,6\n") + len("v1\n")


def test_get_checkout_replaces_the_earlier_version_and_keeps_user_files(seeded: Any, cli: Any,
                                                                        tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert cli("get", "test-project/ds:v0", "--root", str(root)).code == 0
    (root / "mine.txt").write_text("the user's")
    before = tree(root)
    mixed = cli("get", "test-project/ds:v1", "--root", str(root), "--mode", "merge")
    assert mixed.code == 1 and "Nothing was changed" in mixed.stderr  # merge never mixes two versions
    assert tree(root) == before
    result = cli("get", "test-project/ds:v1", "--root", str(root), "--mode", "checkout")
    assert result.code == 0, result.stderr
    assert tree(root) == {**_bytes(V1), "mine.txt": b"the user's"}  # v0's own file went, the user's stayed


def test_get_type_mismatch_is_not_found(seeded: Any, cli: Any, tmp_path: Path) -> None:
    result = cli("get", "test-project/ds:v1", "--root", str(tmp_path / "out"), "--type", "model")
    assert result.code == 3
    assert "of type 'dataset', not 'model'" in result.stderr
    assert not (tmp_path / "out").exists()


# --- verify -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_reports_changed_missing_and_unexpected_files(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert cli("get", "test-project/ds:v1", "--root", str(root)).code == 0
    ok = cli("verify", "test-project/ds:v1", str(root))
    assert ok.code == 0 and ok.stdout == "", ok.stderr
    (root / "extra.txt").write_text("x")
    assert cli("verify", "test-project/ds:v1", str(root)).code == 0
    strict = cli("verify", "test-project/ds:v1", str(root), "--strict")
    assert strict.code == 5 and strict.stdout == "unexpected\textra.txt\n"
    (root / "README.md").write_text("edited\n")
    (root / "model" / "w.bin").unlink()
    bad = cli("verify", "test-project/ds:v1", str(root), "--json")
    assert bad.code == 5
    report = json.loads(bad.stdout)
    assert (report["ok"], report["missing"], report["mismatched"]) == (False, ["model/w.bin"], ["README.md"])
    # A selection checks only what it selects.
    assert cli("verify", "test-project/ds:v1", str(root), "--include", "data/").code == 0


def test_verify_against_another_version_fails(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert cli("get", "test-project/ds:v1", "--root", str(root)).code == 0
    result = cli("verify", "test-project/ds:v0", str(root))
    assert result.code == 5
    assert "changed\tREADME.md" in result.stdout and "missing\told.txt" in result.stdout


# --- versions -----------------------------------------------------------------------------------


def test_versions_table_and_json(seeded: Any, cli: Any) -> None:
    table = cli("versions", "test-project/ds")
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["VERSION", "ALIASES", "DIGEST", "CREATED", "SIZE", "FILES"]
    assert [line.split()[:2] for line in lines[1:]] == [["v1", "latest,production"], ["v0", "-"]]
    observed = {v.version: v.digest for v in sdk(seeded).artifacts("dataset", "demo/test-project/ds")}
    assert lines[1].split()[2] == observed["v1"] and lines[2].split()[2] == observed["v0"]
    rows = json.loads(cli("versions", "demo/test-project/ds", "--json", "--limit", "1").stdout)
    assert len(rows) == 1 and rows[0]["version"] == "v1" and rows[0]["aliases"] == ["latest", "production"]
    assert rows[0]["digest"] == observed["v1"] and rows[0]["created_at"] and rows[0]["size"] > 0


def test_versions_refuses_a_version_and_reports_a_missing_collection(seeded: Any, cli: Any) -> None:
    assert cli("versions", "test-project/ds:v1").code == 2
    missing = cli("versions", "test-project/nope")
    assert missing.code == 3 and "does not exist" in missing.stderr


# --- log ----------------------------------------------------------------------------------------


def test_log_a_folder_and_a_file_then_rerun_is_the_same_version(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    (tmp_path / "meta.json").write_text(json.dumps({"source": "cli", "rows": 2}))
    args = ("log", "logged", str(folder), "--type", "dataset", "--project", "p", "--alias", "qa",
            "--metadata", f"@{tmp_path / 'meta.json'}", "--description", "from the shell", "--tag", "nightly")
    result = cli(*args)
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "demo/p/logged:v0"
    artifact = sdk(wandb_env).artifact("demo/p/logged:qa")
    assert artifact.version == "v0" and sorted(artifact.aliases) == ["latest", "qa"]
    assert artifact.metadata == {"source": "cli", "rows": 2} and artifact.description == "from the shell"
    assert sorted(f.name for f in artifact.files()) == ["a.txt", "sub/b.txt"]
    assert artifact.tags == ["nightly"]
    again = cli(*args, "--json")
    assert again.code == 0 and json.loads(again.stdout)["version"] == "v0"  # no duplicate version
    assert [v.version for v in sdk(wandb_env).artifacts("dataset", "demo/p/logged")] == ["v0"]


def test_log_refuses_bad_metadata_and_nothing_to_log_before_any_write(wandb_env: Any, cli: Any,
                                                                      tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    bad = cli("log", "x", str(tmp_path / "f.txt"), "--type", "dataset", "--project", "p", "--metadata", "{oops")
    assert bad.code == 2 and "metadata is not JSON" in bad.stderr
    assert cli("log", "x", "--type", "dataset", "--project", "p").code == 2
    assert cli("log", "x", str(tmp_path / "f.txt"), "--project", "p").code == 2  # --type is required
    assert wandb_env.stats()["graphql"]["operations"].get("CreateArtifact", 0) == 0


@pytest.mark.wandb_server(teams=["acme:demo:admin"])
def test_log_takes_the_entity_and_project_from_the_name(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    done = cli("log", "acme/churn/named", str(tmp_path / "f.txt"), "--type", "dataset")
    assert done.code == 0, done.stderr
    assert done.stdout.strip() == "acme/churn/named:v0"
    assert sdk(wandb_env).artifact("acme/churn/named:v0").version == "v0"
    clash = cli("log", "acme/churn/named", str(tmp_path / "f.txt"), "--type", "dataset", "--project", "other")
    assert clash.code == 2 and "names project 'churn'" in clash.stderr


# --- alias --------------------------------------------------------------------------------------


def test_alias_moves_behind_guard_and_gate(seeded: Any, cli: Any) -> None:
    result = cli("alias", "test-project/ds:v0", "--add", "production", "--only-if-current", "production=v1",
                 "--require", "rows>=2", "--require", '{"rows": {"<": 10}}')
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("added\tproduction\tdemo/test-project/ds:v0\t(was on v1)")
    assert "production" in sdk(seeded).artifact("demo/test-project/ds:v0").aliases
    again = cli("alias", "test-project/ds:v0", "--add", "production", "--json")
    assert again.code == 0 and json.loads(again.stdout)["changed"] is False
    removed = cli("alias", "test-project/ds:v0", "--remove", "production")
    assert removed.code == 0 and removed.stdout == "removed\tproduction\tdemo/test-project/ds:v0\n"
    assert "production" not in sdk(seeded).artifact("demo/test-project/ds:v0").aliases


def test_alias_guard_or_gate_that_fails_changes_nothing(seeded: Any, cli: Any) -> None:
    guard = cli("alias", "test-project/ds:v0", "--add", "production", "--only-if-current", "production=none")
    assert guard.code == 6 and "'production' is on v1" in guard.stderr
    gate = cli("alias", "test-project/ds:v1", "--add", "gold", "--require", "eval.accuracy>=0.95")
    assert gate.code == 6 and "eval.accuracy" in gate.stderr
    nested = cli("alias", "test-project/ds:v1", "--add", "gold", "--require", "eval.split==train")
    assert nested.code == 6
    api = sdk(seeded)
    assert "production" not in api.artifact("demo/test-project/ds:v0").aliases
    assert sorted(api.artifact("demo/test-project/ds:v1").aliases) == ["latest", "production"]
    assert cli("alias", "test-project/ds:v1", "--add", "gold", "--require", "eval.accuracy>=0.9").code == 0
    assert "gold" in sdk(seeded).artifact("demo/test-project/ds:v1").aliases


@pytest.mark.parametrize("argv", [
    ("--add", "latest"), ("--add", "v3"), (), ("--add", "a", "--remove", "a"),
    ("--add", "a", "--only-if-current", "production"), ("--add", "a", "--only-if-current", "production=3"),
    ("--add", "a", "--require", "rows"), ("--add", "a", "--require", "{not json"),
    ("--add", "a", "--require", '{"rows": {"~": 1}}'),
], ids=["latest", "version", "nothing", "both", "guard-form", "guard-value", "gate-form", "gate-json", "gate-op"])
def test_alias_usage_errors(seeded: Any, cli: Any, argv: tuple[str, ...]) -> None:
    result = cli("alias", "test-project/ds:v0", *argv)
    assert result.code == 2, result.stderr
    assert "production" not in sdk(seeded).artifact("demo/test-project/ds:v0").aliases


# --- link and lineage ---------------------------------------------------------------------------


def test_link_into_another_collection(seeded: Any, cli: Any) -> None:
    result = cli("link", "test-project/ds:v1", "test-project/golden", "--alias", "best")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "demo/test-project/golden:v0"
    linked = sdk(seeded).artifact("demo/test-project/golden:best")
    assert linked.digest == sdk(seeded).artifact("demo/test-project/ds:v1").digest
    assert cli("link", "test-project/ds:v1", "golden").code == 2  # no project: refused before any request


def test_lineage_names_the_logging_run_and_the_users(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    from wandb_provider.client import WandbClient

    (tmp_path / "f.txt").write_text("x")
    with WandbClient.from_env() as client:
        producer = client.upsert_run(None, "p", "train-1")
        version = client.log_artifact("lin", "dataset", str(tmp_path / "f.txt"), run=producer)
        client.use_artifact(client.upsert_run(None, "p", "eval-1"), version)
    result = cli("lineage", "p/lin:v0", "--json")
    assert result.code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["logged_by"]["path"] == "demo/p/train-1"
    assert [run["path"] for run in out["used_by"]] == ["demo/p/eval-1"]
    lines = cli("lineage", "p/lin:v0").stdout.splitlines()
    assert lines[0] == "artifact\tdemo/p/lin:v0\tdataset"
    assert lines[1].startswith("logged_by\tdemo/p/train-1\ttrain-1")
    assert lines[2].startswith("used_by\tdemo/p/eval-1\teval-1")


def test_names_never_reach_the_terminal_as_control_codes(seeded: Any, cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "out"
    assert cli("get", "test-project/ds:v1", "--root", str(root)).code == 0
    (root / "evil\x1b[2J\u202e.txt").write_text("x")
    result = cli("verify", "test-project/ds:v1", str(root), "--strict")
    assert result.code == 5
    assert result.stdout == "unexpected\tevil\\x1b[2J\\u202e.txt\n"
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_log_metadata_from_a_file_that_is_not_json_never_echoes_its_contents(wandb_env: Any, cli: Any,
                                                                             tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2-very-secret\nAWS_SECRET_ACCESS_KEY=AKIAXXXXSECRET\n")
    args = ("log", "x", str(tmp_path / "f.txt"), "--type", "dataset", "--project", "p")
    bad = cli(*args, "--metadata", f"@{tmp_path / '.env'}")
    assert bad.code == 2 and "not JSON" in bad.stderr and "line 1 column 1" in bad.stderr
    inline = cli(*args, "--metadata", "DB_PASSWORD=hunter2-very-secret")
    assert inline.code == 2 and "not JSON" in inline.stderr
    for result in (bad, inline):
        assert "hunter2" not in result.stderr + result.stdout and "AKIA" not in result.stderr + result.stdout
    assert wandb_env.stats()["graphql"]["operations"].get("CreateArtifact", 0) == 0


@pytest.mark.slow
def test_on_call_commands_promote_compare_and_roll_back(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    from wandb_provider.client import WandbClient
    from wandb_provider.client.promotion import plan, promote

    for accuracy in (0.8, 0.9):
        (tmp_path / "model.json").write_text(json.dumps({"accuracy": accuracy}))
        with WandbClient.from_env() as client:
            client.log_artifact("m", "model", str(tmp_path / "model.json"), project="p",
                                metadata={"eval": {"accuracy": accuracy}})
    assert cli("alias", "p/m:v0", "--add", "production").code == 0
    refused = cli("alias", "p/m:v1", "--add", "production", "--require", "eval.accuracy>=production+0.2")
    assert refused.code == 6 and "production" in refused.stderr
    with WandbClient.from_env() as client:
        report = promote(client, plan(client, "p/m:v1", "production", {"eval.accuracy": {">=": {"production": 0.05}}}),
                         previous_alias="previous-production", actor={"user": "test"})
    assert report["decision"] == "promoted"

    table = cli("versions", "p/m", "--columns", "eval.accuracy,promotion.previous.version").stdout.splitlines()
    assert table[0].split()[-2:] == ["EVAL.ACCURACY", "PROMOTION.PREVIOUS.VERSION"]
    assert table[1].split()[0] == "v1" and table[1].split()[-2:] == ["0.9", "v0"]
    diff = json.loads(cli("diff", "p/m:previous-production", "p/m:production", "--json").stdout)
    assert diff["files"] == {"added": [], "removed": [], "changed": ["model.json"]}
    assert diff["metadata"]["changed"]["eval.accuracy"] == {"a": 0.8, "b": 0.9}
    assert "promotion.action" in diff["metadata"]["added"]

    assert cli("rollback", "p/m", "--only-if-current", "v0").code == 6  # the guard: production is on v1
    rolled = cli("rollback", "p/m", "--json")
    assert rolled.code == 0, rolled.stderr
    assert json.loads(rolled.stdout)["restored"]["version"] == "v0"
    import wandb

    api = wandb.Api(api_key=wandb_env.api_key, overrides={"base_url": wandb_env.base_url})
    path = f"{api.default_entity}/p/m"
    assert api.artifact(f"{path}:production").version == "v0"
    assert "previous-production" in api.artifact(f"{path}:v1").aliases
    assert api.artifact(f"{path}:production").metadata["promotion"]["action"] == "rollback"


def test_lineage_walks_upstream_hops_with_names(wandb_env: Any, cli: Any, tmp_path: Path) -> None:
    from wandb_provider.client import WandbClient

    (tmp_path / "raw.csv").write_text("a\n")
    (tmp_path / "model.json").write_text("{}")
    with WandbClient.from_env() as client:
        prep = client.upsert_run(None, "p", "prep-1", job_type="prep")
        data = client.log_artifact("data", "dataset", str(tmp_path / "raw.csv"), run=prep)
        train = client.upsert_run(None, "p", "train-1", job_type="train")
        client.use_artifact(train, data)
        client.log_artifact("net", "model", str(tmp_path / "model.json"), run=train)
    shallow = json.loads(cli("lineage", "p/net:v0", "--json").stdout)
    assert shallow["upstream"] == [] and shallow["logged_by"]["path"] == "demo/p/train-1"
    deep = json.loads(cli("lineage", "p/net:v0", "--depth", "3", "--json").stdout)
    [item] = deep["upstream"]
    assert item["artifact"] == "demo/p/data:v0" and item["logged_by"]["path"] == "demo/p/prep-1"
    lines = cli("lineage", "p/net:v0", "--depth", "2").stdout.splitlines()
    assert "  input\tdemo/p/data:v0\tdataset" in lines
    assert any(line.startswith("    logged_by\tdemo/p/prep-1\tprep-1 [prep]") for line in lines)
