"""The official wandb 0.31.0 SDK, driven against the local server through every artifact capability.

Each test changes state through one SDK client and checks the result through a *fresh*
``wandb.Api`` created afterwards, so what is asserted is the server's state, not the SDK's
local copy. One server serves the whole module (the SDK's ``wandb-core`` sidecar is
process-global); every test uses its own project or collection names.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.testing import (
    DEFAULT_API_KEY,
    DEFAULT_USER,
    LocalWandbServer,
    OrgSpec,
    ServerConfig,
    TeamSpec,
    UserSpec,
)

wandb = pytest.importorskip("wandb")
from wandb.errors import CommError  # noqa: E402

pytestmark = [pytest.mark.sdk, pytest.mark.timeout(120)]

VIEWER, VIEWER_KEY = "viewer", "local-" + "1" * 40
BOB, BOB_KEY = "bob", "local-" + "2" * 40  # a plain member of team acme
EVE, EVE_KEY = "eve", "local-" + "3" * 40  # in no team at all
TEAM, ORG, ORG_ENTITY = "acme", "acme-corp", "acme-corp-org"

RUN_SETTINGS = {"x_disable_stats": True, "x_disable_machine_info": True}


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    """One server for the module: the demo seed plus a viewer, a member and an outsider."""
    config = ServerConfig(
        seed="demo",
        users=(
            UserSpec(DEFAULT_USER, DEFAULT_API_KEY),
            UserSpec(VIEWER, VIEWER_KEY),
            UserSpec(BOB, BOB_KEY),
            UserSpec(EVE, EVE_KEY),
        ),
        teams=(TeamSpec.parse(f"{TEAM}:{DEFAULT_USER}:admin,{VIEWER}:viewer,{BOB}:member"),),
        orgs=(OrgSpec.parse(f"{ORG}:{TEAM}"),),
    )
    with LocalWandbServer(config) as running:
        yield running


@pytest.fixture(autouse=True)
def sdk_env(server: LocalWandbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point ``wandb.init`` at the server; keep every SDK file (runs, cache) under tmp_path."""
    for key, value in {
        "WANDB_BASE_URL": server.base_url,
        "WANDB_API_KEY": server.api_key,
        "WANDB_DIR": str(tmp_path / "wandb-dir"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "WANDB_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_MODE": "online",
        "WANDB_CONSOLE": "off",
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
    }.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "wandb-dir").mkdir()
    return tmp_path


def fresh_api(server: LocalWandbServer, key: str = DEFAULT_API_KEY) -> Any:
    """A new public-API client: what it sees is the server's state.

    ``Artifact._from_id`` answers from a process-wide instance cache; it is emptied so that
    lookups by id reach the server too.
    """
    from wandb.sdk.artifacts.artifact_instance_cache import artifact_instance_cache

    artifact_instance_cache.clear()
    return wandb.Api(api_key=key, overrides={"base_url": server.base_url})


def start_run(project: str, run_id: str, entity: str = DEFAULT_USER) -> Any:
    # Explicit base URL and key: the SDK's process-wide settings may have been set up by an earlier test.
    settings = wandb.Settings(base_url=os.environ["WANDB_BASE_URL"], api_key=os.environ["WANDB_API_KEY"],
                              **RUN_SETTINGS)
    return wandb.init(entity=entity, project=project, id=run_id, settings=settings)


def seed(server: LocalWandbServer, project: str, name: str, versions: int, *, type: str = "dataset",
         entity: str = DEFAULT_USER) -> None:
    """Log ``versions`` distinct versions of ``name`` straight into the store (fast set-up)."""
    for index in range(versions):
        server.seed_artifact(name, {"data.txt": f"{name} version {index}\n"}, type=type, project=project,
                             entity=entity)


def cold_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    """Point the SDK at an empty file cache, so that downloads fetch from the server."""
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / name))


def file_gets(server: LocalWandbServer) -> int:
    return int(server.stats()["files"])


def aliases_of(api: Any, path: str) -> set[str]:
    return set(api.artifact(path).aliases)


def b64_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# --- 1. log, download, verify, deduplicate ---------------------------------------------------


def test_log_download_verify_and_dedup(
    server: LocalWandbServer, sdk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = sdk_env / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b.bin").write_bytes(b"world")
    (src / "sub" / "deep" / "c.json").write_text('{"k": 1}\n')
    referenced = sdk_env / "referenced.txt"
    referenced.write_text("kept outside the artifact\n")

    def build() -> Any:
        art = wandb.Artifact("cap1-ds", "dataset", metadata={"rows": 3})
        art.add_dir(str(src))
        art.add_reference(referenced.as_uri(), name="refs/referenced.txt")
        return art

    run = start_run("cap1", "cap1-run")
    first = build()
    sdk_digest = first.digest  # computed locally by the SDK before upload
    logged = run.log_artifact(first, aliases=["best"])
    logged.wait()
    again = run.log_artifact(build())  # same content: the server must deduplicate
    again.wait()
    derived = wandb.Artifact("cap1-derived", "dataset")
    derived.add_reference(logged.get_entry("a.txt").ref_url(), name="upstream/a.txt")  # wandb-artifact://
    run.log_artifact(derived).wait()
    (src / "a.txt").write_text("hello again\n")
    changed = build()
    changed_digest = changed.digest
    run.log_artifact(changed).wait()
    with pytest.raises(ValueError, match="already exists with type 'dataset'"):
        run.log_artifact(wandb.Artifact("cap1-ds", "model"))  # the SDK's ArtifactType check
    fast = wandb.Artifact("cap1-xxh", "dataset", digest_algorithm="XXH128")
    fast.add_file(str(src / "sub" / "b.bin"), name="b.bin")
    run.log_artifact(fast).wait()
    run.finish()
    assert again.id == logged.id and again.version == "v0"

    cold_cache(monkeypatch, sdk_env, "cache-after-upload")  # the upload filled the old one
    api = fresh_api(server)
    v0 = api.artifact("demo/cap1/cap1-ds:v0")
    assert v0.digest == sdk_digest
    assert v0.metadata == {"rows": 3}
    assert set(v0.aliases) == {"best"}
    gets_before = file_gets(server)
    root = v0.download(root=str(sdk_env / "dl0"))
    assert file_gets(server) - gets_before >= 4  # the manifest and three stored files
    v0.verify(root=root)
    assert (Path(root) / "a.txt").read_text() == "hello\n"
    assert (Path(root) / "sub" / "b.bin").read_bytes() == b"world"
    assert (Path(root) / "sub" / "deep" / "c.json").read_text() == '{"k": 1}\n'
    assert (Path(root) / "refs" / "referenced.txt").read_text() == "kept outside the artifact\n"
    assert v0.manifest.entries["sub/b.bin"].digest == b64_md5(b"world")
    assert v0.manifest.entries["refs/referenced.txt"].ref == referenced.as_uri()

    by_id = fresh_api(server)._artifact_from_id(logged.id)
    assert (by_id.qualified_name, by_id.digest) == ("demo/cap1/cap1-ds:v0", sdk_digest)

    versions = sorted(a.version for a in api.artifacts("dataset", "demo/cap1/cap1-ds"))
    assert versions == ["v0", "v1"]  # identical content made no version; changed content made v1
    latest = api.artifact("demo/cap1/cap1-ds:latest")
    assert latest.version == "v1"
    assert latest.digest == changed_digest != sdk_digest
    assert "latest" not in api.artifact("demo/cap1/cap1-ds:v0").aliases
    root1 = latest.download(root=str(sdk_env / "dl1"))
    latest.verify(root=root1)
    assert (Path(root1) / "a.txt").read_text() == "hello again\n"

    # A wandb-artifact:// reference resolves through the referenced artifact's id (§10.1).
    upstream = api.artifact("demo/cap1/cap1-derived:v0")
    upstream_root = Path(upstream.download(root=str(sdk_env / "dl-derived")))
    assert (upstream_root / "upstream" / "a.txt").read_text() == "hello\n"

    # The server allows XXH128 digests (xxhashDigestsEnabled): the SDK logged the version with XXH128.
    hashed = api.artifact("demo/cap1/cap1-xxh:latest")
    assert hashed.digest_algorithm.value == "MANIFEST_XXH128"
    assert hashed.manifest.entries["b.bin"].extra == {"alg": "XXH128"}
    assert hashed.manifest.entries["b.bin"].digest != b64_md5(b"world")
    hashed.verify(root=hashed.download(root=str(sdk_env / "dl-xxh")))


# --- 2. resolving, listing, types, collections, files ----------------------------------------


def test_resolve_list_and_paginate(server: LocalWandbServer, sdk_env: Path) -> None:
    seed(server, "cap2", "cap2-ds", 5)
    server.seed_artifact("cap2-ds", {"data.txt": "cap2-ds version 4\n", "extra/notes.md": "notes\n"},
                         project="cap2", aliases=["gold"])  # v5, holds gold and latest
    seed(server, "cap2", "cap2-other", 1)
    seed(server, "cap2", "cap2-model", 1, type="model")
    api = fresh_api(server)

    by_alias = api.artifact("demo/cap2/cap2-ds:gold")
    by_version = api.artifact("demo/cap2/cap2-ds:v5")
    bare = api.artifact("demo/cap2/cap2-ds")
    assert by_alias.id == by_version.id == bare.id
    assert (by_alias.version, bare.version, bare.source_version) == ("v5", "v5", "v5")
    assert set(bare.aliases) == {"gold", "latest"}
    assert api.artifact("demo/cap2/cap2-ds:v2").version == "v2"
    assert api.artifact("demo/cap2/cap2-ds:v2", type="dataset").type == "dataset"
    with pytest.raises((CommError, ValueError)):
        api.artifact("demo/cap2/cap2-ds:v2", type="model")
    with pytest.raises(CommError, match="not found"):
        api.artifact("demo/cap2/cap2-ds:v99")
    assert not api.artifact_exists("demo/cap2/cap2-ds:nope")

    # By id: the public helper and the SDK's own constructor.
    from wandb.sdk.artifacts.artifact import Artifact

    by_id = fresh_api(server)._artifact_from_id(by_alias.id)
    assert (by_id.name, by_id.version, by_id.digest) == ("cap2-ds:v5", "v5", by_alias.digest)
    same = Artifact._from_id(by_alias.id, fresh_api(server)._service_api)
    assert same is not None and same.qualified_name == "demo/cap2/cap2-ds:v5"
    assert set(same.aliases) == {"gold", "latest"}

    # Listing across pages (6 versions, 2 per page).
    server.reset_stats()
    listed = api.artifacts("dataset", "demo/cap2/cap2-ds", per_page=2)
    versions = [a.version for a in listed]
    assert sorted(versions, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(6)]
    assert len(listed) == 6
    assert server.stats()["graphql"]["operations"].get("ProjectArtifacts", 0) >= 3

    # Types and collections.
    dataset_type = api.artifact_type("dataset", "demo/cap2")
    assert dataset_type.name == "dataset"
    assert {c.name for c in dataset_type.collections()} == {"cap2-ds", "cap2-other"}
    assert {t.name for t in api.artifact_types("demo/cap2")} == {"dataset", "model"}
    collections = api.artifact_collections("demo/cap2", "dataset", per_page=1)
    assert sorted(c.name for c in collections) == ["cap2-ds", "cap2-other"]
    collection = api.artifact_collection("dataset", "demo/cap2/cap2-ds")
    assert (collection.name, collection.type, collection.entity, collection.project) == (
        "cap2-ds", "dataset", "demo", "cap2"
    )
    assert collection.is_sequence()
    assert sorted(collection.aliases) == ["gold", "latest"]
    assert len(list(collection.artifacts(per_page=4))) == 6
    with pytest.raises(CommError):
        api.artifact_collection("model", "demo/cap2/cap2-ds")  # exists, but not with that type

    # Files, all of them and by name.
    files = {f.name: f for f in by_alias.files()}
    assert set(files) == {"data.txt", "extra/notes.md"}
    assert files["extra/notes.md"].size == len("notes\n")
    assert files["data.txt"].md5 == b64_md5(b"cap2-ds version 4\n")
    named = [f.name for f in by_alias.files(names=["extra/notes.md"])]
    assert named == ["extra/notes.md"]
    assert len(by_alias.files()) == 2


# --- 3. alias moves and invalid aliases ------------------------------------------------------


def test_alias_moves_and_invalid_aliases(server: LocalWandbServer) -> None:
    seed(server, "cap3", "cap3-ds", 3)

    first = fresh_api(server).artifact("demo/cap3/cap3-ds:v0")
    first.aliases.append("prod")
    first.save()
    api = fresh_api(server)
    assert api.artifact("demo/cap3/cap3-ds:prod").version == "v0"

    second = api.artifact("demo/cap3/cap3-ds:v1")
    second.aliases.append("prod")
    second.save()
    api = fresh_api(server)
    assert api.artifact("demo/cap3/cap3-ds:prod").version == "v1"
    assert "prod" not in aliases_of(api, "demo/cap3/cap3-ds:v0")  # the previous holder lost it
    assert sorted(api.artifact_collection("dataset", "demo/cap3/cap3-ds").aliases) == ["latest", "prod"]

    holder = api.artifact("demo/cap3/cap3-ds:prod")
    holder.aliases.remove("prod")
    holder.save()
    api = fresh_api(server)
    assert "prod" not in aliases_of(api, "demo/cap3/cap3-ds:v1")
    assert not api.artifact_exists("demo/cap3/cap3-ds:prod")

    before = {v: aliases_of(api, f"demo/cap3/cap3-ds:{v}") for v in ("v0", "v1", "v2")}
    for bad in ("v0", "v7", "a/b", "x:y"):
        target = fresh_api(server).artifact("demo/cap3/cap3-ds:v1")
        target.aliases.extend(["ok-alias", bad])  # one good alias in the same request
        with pytest.raises((CommError, ValueError)) as caught:
            target.save()
        assert "alias" in str(caught.value).lower()
    api = fresh_api(server)
    after = {v: aliases_of(api, f"demo/cap3/cap3-ds:{v}") for v in ("v0", "v1", "v2")}
    assert after == before  # nothing changed, not even the valid alias of the same request
    assert api.artifact("demo/cap3/cap3-ds:v1").version == "v1"
    assert not api.artifact_exists("demo/cap3/cap3-ds:ok-alias")
    with pytest.raises(ValueError):
        fresh_api(server).artifact("demo/cap3/cap3-ds:v2").aliases = ["bad/alias"]  # client-side check


# --- 4. version and collection edits ---------------------------------------------------------


def test_update_version_and_collection(server: LocalWandbServer) -> None:
    from datetime import timedelta

    seed(server, "cap4", "cap4-ds", 2)
    art = fresh_api(server).artifact("demo/cap4/cap4-ds:v1")
    art.metadata = {"rows": 10, "nested": {"split": "train"}}
    art.description = "ten rows"
    art.tags = ["reviewed", "team-a"]
    art.ttl = timedelta(days=3)
    art.save()

    api = fresh_api(server)
    again = api.artifact("demo/cap4/cap4-ds:v1")
    assert again.metadata == {"rows": 10, "nested": {"split": "train"}}
    assert again.description == "ten rows"
    assert sorted(again.tags) == ["reviewed", "team-a"]
    assert again.ttl == timedelta(days=3)
    assert api.artifact("demo/cap4/cap4-ds:v0").description is None  # only v1 changed

    again.tags = ["reviewed"]
    again.ttl = None
    again.save()
    api = fresh_api(server)
    third = api.artifact("demo/cap4/cap4-ds:v1")
    assert third.tags == ["reviewed"]
    assert third.ttl is None
    assert third.metadata == {"rows": 10, "nested": {"split": "train"}}

    collection = api.artifact_collection("dataset", "demo/cap4/cap4-ds")
    collection.description = "all the rows"
    collection.tags = ["curated", "q3"]
    collection.name = "cap4-renamed"
    collection.save()
    api = fresh_api(server)
    renamed = api.artifact_collection("dataset", "demo/cap4/cap4-renamed")
    assert renamed.description == "all the rows"
    assert sorted(renamed.tags) == ["curated", "q3"]
    assert api.artifact("demo/cap4/cap4-renamed:v1").description == "ten rows"
    assert not api.artifact_exists("demo/cap4/cap4-ds:v1")

    renamed.tags = ["q3"]
    renamed.type = "training-data"
    renamed.save()
    api = fresh_api(server)
    moved = api.artifact_collection("training-data", "demo/cap4/cap4-renamed")
    assert (moved.type, moved.tags) == ("training-data", ["q3"])
    assert api.artifact("demo/cap4/cap4-renamed:v0").type == "training-data"
    assert [c.name for c in api.artifact_collections("demo/cap4", "dataset")] == []

    moved.change_type("dataset")  # the deprecated spelling of the same move
    api = fresh_api(server)
    assert api.artifact_collection("dataset", "demo/cap4/cap4-renamed").type == "dataset"
    with pytest.raises((CommError, ValueError), match="reserved"):
        api.artifact_collection("dataset", "demo/cap4/cap4-renamed").change_type("wandb-internal")


# --- 5. links: portfolios and registries -----------------------------------------------------


def test_link_into_portfolio_and_unlink(server: LocalWandbServer) -> None:
    seed(server, "cap5", "cap5-model", 3, type="model")
    source = fresh_api(server).artifact("demo/cap5/cap5-model:v1")
    linked = source.link("demo/cap5-links/cap5-portfolio", aliases=["staging"])
    assert linked.is_link
    assert (linked.version, linked.source_version) == ("v0", "v1")
    assert linked.qualified_name == "demo/cap5-links/cap5-portfolio:v0"
    again = fresh_api(server).artifact("demo/cap5/cap5-model:v1").link("demo/cap5-links/cap5-portfolio")
    assert again.version == "v0"  # the same version linked twice is one membership

    api = fresh_api(server)
    members = list(api.artifacts("model", "demo/cap5-links/cap5-portfolio"))
    assert [m.version for m in members] == ["v0"]
    portfolio = api.artifact_collection("model", "demo/cap5-links/cap5-portfolio")
    assert not portfolio.is_sequence()
    assert sorted(portfolio.aliases) == ["latest", "staging"]
    via_link = api.artifact("demo/cap5-links/cap5-portfolio:staging")
    assert via_link.is_link and via_link.source_version == "v1"
    assert via_link.source_qualified_name == "demo/cap5/cap5-model:v1"
    assert via_link.id == source.id
    assert "staging" not in aliases_of(api, "demo/cap5/cap5-model:v1")  # aliases are per collection

    api.artifact("demo/cap5/cap5-model:v2").link("demo/cap5-links/cap5-portfolio")
    api = fresh_api(server)
    newest = api.artifact("demo/cap5-links/cap5-portfolio:latest")
    assert (newest.version, newest.source_version) == ("v1", "v2")
    assert aliases_of(api, "demo/cap5-links/cap5-portfolio:v0") == {"staging"}
    linked_from_source = api.artifact("demo/cap5/cap5-model:v2").linked_artifacts
    assert [a.qualified_name for a in linked_from_source] == ["demo/cap5-links/cap5-portfolio:v1"]

    api.artifact("demo/cap5-links/cap5-portfolio:v1").unlink()
    api = fresh_api(server)
    assert not api.artifact_exists("demo/cap5-links/cap5-portfolio:v1")
    assert api.artifact("demo/cap5-links/cap5-portfolio:latest").source_version == "v1"
    assert api.artifact("demo/cap5/cap5-model:v2").version == "v2"  # the source is untouched
    with pytest.raises((CommError, ValueError)):
        api.artifact("demo/cap5/cap5-model:v2").unlink()  # not a link

    portfolio = api.artifact_collection("model", "demo/cap5-links/cap5-portfolio")
    portfolio.name = "cap5-shortlist"
    portfolio.description = "models worth a look"
    portfolio.tags = ["shortlist"]
    portfolio.save()
    api = fresh_api(server)
    renamed = api.artifact_collection("model", "demo/cap5-links/cap5-shortlist")
    assert (renamed.description, renamed.tags, renamed.is_sequence()) == ("models worth a look",
                                                                          ["shortlist"], False)
    assert api.artifact("demo/cap5-links/cap5-shortlist:staging").source_version == "v1"
    renamed.delete()
    api = fresh_api(server)
    assert not api.artifact_collection_exists("demo/cap5-links/cap5-shortlist", "model")
    assert not api.artifact_exists("demo/cap5-links/cap5-shortlist:staging")
    assert api.artifact("demo/cap5/cap5-model:v1").version == "v1"  # the sources stay
    assert [a.qualified_name for a in api.artifact("demo/cap5/cap5-model:v1").linked_artifacts] == []


def test_link_into_registry(
    server: LocalWandbServer, sdk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(server, "cap5r", "cap5r-model", 2, type="model", entity=TEAM)
    source = fresh_api(server).artifact(f"{TEAM}/cap5r/cap5r-model:v1")
    linked = source.link(f"{ORG}/wandb-registry-model/cap5r-reg", aliases=["candidate"])
    assert (linked.entity, linked.project) == (ORG_ENTITY, "wandb-registry-model")
    assert (linked.version, linked.source_version) == ("v0", "v1")

    monkeypatch.setenv("WANDB_ORGANIZATION", ORG)  # the registry path without an org
    fresh_api(server).artifact(f"{TEAM}/cap5r/cap5r-model:v0").link("wandb-registry-model/cap5r-reg")

    api = fresh_api(server)
    by_org = api.artifact(f"{ORG}/wandb-registry-model/cap5r-reg:candidate")
    assert (by_org.version, by_org.source_version, by_org.is_link) == ("v0", "v1", True)
    by_env = api.artifact("wandb-registry-model/cap5r-reg:latest")
    assert (by_env.version, by_env.source_version) == ("v1", "v0")
    by_entity = api.artifact(f"{ORG_ENTITY}/wandb-registry-model/cap5r-reg:v0")
    assert by_entity.id == source.id
    root = by_env.download(root=str(sdk_env / "reg"))
    assert (Path(root) / "data.txt").read_text() == "cap5r-model version 0\n"
    names = [c.name for c in api.artifact_collections(f"{ORG}/wandb-registry-model", "model")]
    assert "cap5r-reg" in names

    by_org.unlink()
    api = fresh_api(server)
    assert not api.artifact_exists(f"{ORG}/wandb-registry-model/cap5r-reg:v0")
    assert not api.artifact_exists(f"{ORG}/wandb-registry-model/cap5r-reg:candidate")
    assert api.artifact(f"{ORG}/wandb-registry-model/cap5r-reg:latest").source_version == "v0"


# --- 6. deletion ------------------------------------------------------------------------------


def test_delete_versions_and_collection(server: LocalWandbServer) -> None:
    seed(server, "cap6", "cap6-ds", 3)
    api = fresh_api(server)
    newest = api.artifact("demo/cap6/cap6-ds:v2")
    with pytest.raises(CommError, match="alias"):
        newest.delete()  # holds `latest`
    assert fresh_api(server).artifact("demo/cap6/cap6-ds:latest").version == "v2"

    newest.delete(delete_aliases=True)
    api = fresh_api(server)
    assert not api.artifact_exists("demo/cap6/cap6-ds:v2")
    assert api.artifact("demo/cap6/cap6-ds:latest").version == "v1"
    assert api.artifact("demo/cap6/cap6-ds").version == "v1"
    assert fresh_api(server)._artifact_from_id(newest.id) is None

    api.artifact("demo/cap6/cap6-ds:v0").delete()  # no aliases: no flag needed
    api = fresh_api(server)
    assert [a.version for a in api.artifacts("dataset", "demo/cap6/cap6-ds")] == ["v1"]

    # Deleting a link only unlinks it.
    api.artifact("demo/cap6/cap6-ds:v1").link("demo/cap6/cap6-links")
    fresh_api(server).artifact("demo/cap6/cap6-links:v0").delete()
    api = fresh_api(server)
    assert not api.artifact_exists("demo/cap6/cap6-links:v0")
    assert api.artifact("demo/cap6/cap6-ds:v1").version == "v1"

    api.artifact_collection("dataset", "demo/cap6/cap6-ds").delete()
    api = fresh_api(server)
    assert not api.artifact_exists("demo/cap6/cap6-ds:v1")
    assert not api.artifact_collection_exists("demo/cap6/cap6-ds", "dataset")
    assert "cap6-ds" not in [c.name for c in api.artifact_collections("demo/cap6", "dataset")]


# --- 7. lineage -------------------------------------------------------------------------------


def test_lineage_logged_by_and_used_by(
    server: LocalWandbServer, sdk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sdk_env / "lineage.txt"
    data.write_text("lineage\n")
    producer = start_run("cap7", "cap7-producer")
    art = wandb.Artifact("cap7-ds", "dataset")
    art.add_file(str(data))
    producer.log_artifact(art).wait()
    producer.finish()

    cold_cache(monkeypatch, sdk_env, "consumer-cache")
    consumer = start_run("cap7", "cap7-consumer")
    used = consumer.use_artifact("cap7-ds:latest")
    assert (Path(used.download(root=str(sdk_env / "used"))) / "lineage.txt").read_text() == "lineage\n"
    draft = wandb.Artifact("cap7-config", "config")
    draft.add_file(str(data), name="config.txt")
    consumer.use_artifact(draft)  # a draft: logged, then declared used once committed
    consumer.finish()

    api = fresh_api(server)
    version = api.artifact("demo/cap7/cap7-ds:v0")
    creator = version.logged_by()
    assert creator is not None and (creator.id, creator.entity, creator.project) == (
        "cap7-producer", "demo", "cap7"
    )
    assert [r.id for r in version.used_by()] == ["cap7-consumer"]

    run = api.run("demo/cap7/cap7-producer")
    assert [a.qualified_name for a in run.logged_artifacts()] == ["demo/cap7/cap7-ds:v0"]
    assert list(run.used_artifacts()) == []
    reader = api.run("demo/cap7/cap7-consumer")
    assert [a.qualified_name for a in reader.used_artifacts()] == [
        "demo/cap7/cap7-ds:v0", "demo/cap7/cap7-config:v0"
    ]
    # The SDK creates a used draft with runName null: a user-created version, not a run output.
    assert list(reader.logged_artifacts()) == []
    config = api.artifact("demo/cap7/cap7-config:latest")
    assert config.logged_by() is None  # createdBy is the User
    assert [r.id for r in config.used_by()] == ["cap7-consumer"]

    seed(server, "cap7", "cap7-seeded", 1)  # logged without a run
    assert fresh_api(server).artifact("demo/cap7/cap7-seeded:v0").logged_by() is None


def test_public_api_runs_and_project_listings(server: LocalWandbServer) -> None:
    seed(server, "cap7b", "cap7b-ds", 2)
    seed(server, "cap7b", "cap7b-model", 1, type="model")
    api = fresh_api(server)
    created = api.create_run(run_id="cap7b-run", project="cap7b", entity=DEFAULT_USER)
    assert created.id == "cap7b-run"
    created.use_artifact(api.artifact("demo/cap7b/cap7b-ds:v0"), use_as="training data")
    created.log_artifact(api.artifact("demo/cap7b/cap7b-model:v0"), aliases=["attached"])

    api = fresh_api(server)
    run = api.run("demo/cap7b/cap7b-run")
    assert [a.qualified_name for a in run.used_artifacts()] == ["demo/cap7b/cap7b-ds:v0"]
    assert [a.qualified_name for a in run.logged_artifacts()] == ["demo/cap7b/cap7b-model:v0"]
    assert [r.id for r in api.artifact("demo/cap7b/cap7b-ds:v0").used_by()] == ["cap7b-run"]
    attached = api.artifact("demo/cap7b/cap7b-model:attached")
    assert attached.version == "v0"  # declaring an existing version as output makes no new one
    assert [a.version for a in api.artifacts("model", "demo/cap7b/cap7b-model")] == ["v0"]

    project = api.project("cap7b", entity=DEFAULT_USER)
    assert sorted(c.name for c in project.collections()) == ["cap7b-ds", "cap7b-model"]
    assert [c.name for c in project.collections(order="name", per_page=1)] == ["cap7b-ds", "cap7b-model"]
    assert sorted(t.name for t in project.artifacts_types()) == ["dataset", "model"]
    assert api.viewer.username == DEFAULT_USER
    assert fresh_api(server, EVE_KEY).viewer.username == EVE


# --- 8. credentials and permissions -----------------------------------------------------------


def test_bad_api_key_is_refused(server: LocalWandbServer) -> None:
    with pytest.raises(Exception) as caught:
        wandb.Api(api_key="bad-" + "x" * 40, overrides={"base_url": server.base_url})
    message = str(caught.value).lower()
    assert "credentials" in message or "api key" in message


def test_viewer_can_resolve_but_not_download_or_change(server: LocalWandbServer, sdk_env: Path) -> None:
    viewer_api = fresh_api(server, VIEWER_KEY)
    model = viewer_api.artifact("acme/churn/churn-model:production")
    assert (model.version, model.type) == ("v1", "model")
    assert model.metadata["framework"] == "linear"
    with pytest.raises(Exception, match=r"viewer .* cannot download artifact files"):
        model.download(root=str(sdk_env / "viewer-dl"))
    assert not list((sdk_env / "viewer-dl").rglob("*.json"))  # nothing was written

    model.aliases.append("viewer-pick")
    with pytest.raises(CommError, match=r"viewer .* cannot change aliases"):
        model.save()
    candidate = fresh_api(server, VIEWER_KEY).artifact("acme/churn/churn-model:candidate")
    candidate.aliases.remove("candidate")
    with pytest.raises(CommError):
        candidate.save()

    api = fresh_api(server)
    assert aliases_of(api, "acme/churn/churn-model:v1") == {"production"}
    assert aliases_of(api, "acme/churn/churn-model:v2") == {"candidate", "latest"}


def test_user_cannot_see_another_users_entity(server: LocalWandbServer) -> None:
    seed(server, "cap8", "private-ds", 1)
    outsider = fresh_api(server, EVE_KEY)
    with pytest.raises(CommError, match="not found"):
        outsider.artifact("demo/cap8/private-ds:v0")
    with pytest.raises(CommError):
        outsider.artifact("acme/churn/churn-model:production")  # not in team acme either
    assert not outsider.artifact_exists("demo/cap8/private-ds:latest")
    with pytest.raises(CommError):
        outsider.artifact_collection("dataset", "demo/cap8/private-ds")
    hidden_id = fresh_api(server).artifact("demo/cap8/private-ds:v0").id
    assert fresh_api(server, EVE_KEY)._artifact_from_id(hidden_id) is None
    assert fresh_api(server).artifact("demo/cap8/private-ds:v0").version == "v0"


# --- 9. protected aliases and the Model Registry rule -----------------------------------------


def test_protected_alias_needs_a_registry_admin(server: LocalWandbServer) -> None:
    server.store.accounts.set_protected_aliases(ORG_ENTITY, "wandb-registry-model", ["production"])
    seed(server, "cap9", "cap9-model", 2, type="model", entity=TEAM)
    admin = fresh_api(server)
    admin.artifact(f"{TEAM}/cap9/cap9-model:v0").link(f"{ORG}/wandb-registry-model/cap9-reg",
                                                      aliases=["production"])
    admin.artifact(f"{TEAM}/cap9/cap9-model:v1").link(f"{ORG}/wandb-registry-model/cap9-reg")

    member = fresh_api(server, BOB_KEY)
    newer = member.artifact(f"{ORG}/wandb-registry-model/cap9-reg:v1")
    newer.aliases.append("production")
    with pytest.raises(CommError, match="protected"):
        newer.save()
    holder = fresh_api(server, BOB_KEY).artifact(f"{ORG}/wandb-registry-model/cap9-reg:production")
    holder.aliases.remove("production")
    with pytest.raises(CommError, match="protected"):
        holder.save()
    with pytest.raises(CommError, match="protected"):
        fresh_api(server, BOB_KEY).artifact(f"{TEAM}/cap9/cap9-model:v1").link(
            f"{ORG}/wandb-registry-model/cap9-reg", aliases=["production"]
        )
    with pytest.raises(CommError):
        fresh_api(server, BOB_KEY).artifact(f"{ORG}/wandb-registry-model/cap9-reg:v0").unlink()
    plain = fresh_api(server, BOB_KEY).artifact(f"{ORG}/wandb-registry-model/cap9-reg:v1")
    plain.aliases.append("staging")  # unprotected aliases are fine for members
    plain.save()

    api = fresh_api(server)
    assert api.artifact(f"{ORG}/wandb-registry-model/cap9-reg:production").version == "v0"
    assert api.artifact(f"{ORG}/wandb-registry-model/cap9-reg:staging").version == "v1"

    with pytest.raises(CommError, match="protected"):
        fresh_api(server, BOB_KEY).artifact_collection("model", f"{ORG}/wandb-registry-model/cap9-reg").delete()
    source = api.artifact(f"{TEAM}/cap9/cap9-model:v0")
    with pytest.raises(CommError, match="protected"):
        source.delete(delete_aliases=True)  # linked with a protected alias: not even an admin
    assert fresh_api(server).artifact(f"{TEAM}/cap9/cap9-model:v0").version == "v0"

    moved = api.artifact(f"{ORG}/wandb-registry-model/cap9-reg:v1")
    moved.aliases.append("production")  # a registry admin may move it
    moved.save()
    api = fresh_api(server)
    assert api.artifact(f"{ORG}/wandb-registry-model/cap9-reg:production").version == "v1"
    assert "production" not in aliases_of(api, f"{ORG}/wandb-registry-model/cap9-reg:v0")
    api.artifact(f"{TEAM}/cap9/cap9-model:v0").delete()  # no protected alias left on it
    assert not fresh_api(server).artifact_exists(f"{ORG}/wandb-registry-model/cap9-reg:v0")


def test_model_registry_aliases_cannot_change_through_the_artifact(server: LocalWandbServer) -> None:
    seed(server, "cap9m", "cap9m-model", 2, type="model", entity=TEAM)
    api = fresh_api(server)
    api.artifact(f"{TEAM}/cap9m/cap9m-model:v0").link(f"{TEAM}/model-registry/cap9m-registered",
                                                      aliases=["staging"])
    linked = fresh_api(server).artifact(f"{TEAM}/model-registry/cap9m-registered:staging")
    assert linked.is_link and linked.source_version == "v0"
    linked.aliases.append("production")
    rule = "You can not update the alias of artifact linked to a model in Model Registry"
    with pytest.raises(CommError, match=rule):
        linked.save()
    linked = fresh_api(server).artifact(f"{TEAM}/model-registry/cap9m-registered:staging")
    linked.aliases.remove("staging")
    with pytest.raises(CommError, match="Model Registry"):
        linked.save()

    api = fresh_api(server)
    assert aliases_of(api, f"{TEAM}/model-registry/cap9m-registered:v0") == {"latest", "staging"}
    assert not api.artifact_exists(f"{TEAM}/model-registry/cap9m-registered:production")
    # The source sequence is not a Model Registry portfolio: its aliases still change normally.
    source = api.artifact(f"{TEAM}/cap9m/cap9m-model:v0")
    source.aliases.append("reviewed")
    source.save()
    assert fresh_api(server).artifact(f"{TEAM}/cap9m/cap9m-model:reviewed").version == "v0"
