"""``log_artifact``: every argument checked into a plan before any request, the files hashed once,
the references read, then the upload sequence (``_upload``) and the version read back."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _queries as q
from . import rules
from ._alias_moves import update_aliases
from ._hashing_files import DEFAULT_MULTIPART_THRESHOLD
from ._metadata_writes import update
from ._runs import as_run, check_texts
from .errors import InvalidArtifactPathError, InvalidValueError, MalformedResponseError
from .models import ArtifactVersion, ProgressUpdate, WandbRun
from .paths import ArtifactPath

if TYPE_CHECKING:
    from ._reads import Cancellable, Reads
    from ._transport import Transport
    from .config import ClientConfig


def log_artifact(
    reads: Reads,
    cancellable: Cancellable,
    name: str,
    type: str,
    files: Any = None,
    *,
    project: str | None = None,
    entity: str | None = None,
    references: Any = (),
    metadata: Mapping[str, Any] | None = None,
    description: str | None = None,
    aliases: str | Sequence[str] = (),
    tags: str | Sequence[str] = (),
    run: WandbRun | Mapping[str, Any] | None = None,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    max_workers: int | None = None,
    progress: Callable[[ProgressUpdate], None] | None = None,
    cancel: threading.Event | None = None,
    created: Callable[[bool], None] | None = None,
    digest_algorithm: str = "MD5",
) -> ArtifactVersion:
    """``WandbClient.log_artifact``: check into a plan, hash, upload (``_upload``), then read the version."""
    import logging

    from ._upload import Destination, Uploader

    plan = log_plan(reads, name, type, files, project, entity, references, metadata, description, aliases,
                    tags, run, multipart_threshold, max_workers)
    plan.algorithm = rules.digest_algorithm(digest_algorithm)
    cancel = cancel if cancel is not None else threading.Event()
    with cancellable(cancel):
        dest_entity = plan.entity or reads.default_entity()
        if plan.algorithm != "md5":
            plan.algorithm = allowed_digest_algorithm(reads, plan, dest_entity)
        hashed, reference_entries = plan.prepare(reads.transport, cancel)
        dest = Destination(dest_entity, plan.project, plan.name, type, plan.run.run_id if plan.run else None)
        uploader = Uploader(reads.graphql, reads.transport, plan.workers, progress, cancel)
        outcome = uploader.run(dest, hashed, reference_entries, plan.create_input(dest_entity), plan.algorithm)
    path = f"{dest_entity}/{plan.project}/{plan.name}:v{outcome.version_index}"
    version = reads.artifact(path)
    log = logging.getLogger("wandb_provider.client.upload")
    if created is not None:
        created(not outcome.deduplicated)
    if outcome.deduplicated:
        log.info("log artifact %s: %s already has exactly this content; no new version was created and no "
                 "file was uploaded.", f"{dest_entity}/{plan.project}/{plan.name}", version.qualified_name)
        version = apply_to_existing(reads, version, plan, log)
        if missing := [a for a in plan.aliases if a != "latest" and a not in version.aliases]:
            version = update_aliases(reads, version, add=missing).artifact
    else:
        log.info("log artifact %s: committed %s (%d file(s), %d bytes uploaded).", dest.name,
                 version.qualified_name, outcome.files_uploaded, outcome.bytes_uploaded)
    return version


def allowed_digest_algorithm(reads: Reads, plan: LogPlan, entity: str) -> str:
    """``plan.algorithm`` if W&B allows it here, else ``"md5"``, decided as wandb-core decides: the
    server must report ARTIFACT_DIGEST_ALGORITHM, the entity allow XXH128 digests, and an existing
    collection keeps its own algorithm. A server that does not know the question gets MD5."""
    import logging

    from ._features import DIGEST_ALGORITHM

    log = logging.getLogger("wandb_provider.client.upload")
    where = f"{entity}/{plan.project}/{plan.name}"
    if not reads.graphql.features.enabled(DIGEST_ALGORITHM):
        log.info("log artifact %s: this W&B server has no per-file digest algorithms; logging with MD5, as "
                 "the SDK does.", where)
        return "md5"
    try:
        data = reads.graphql.execute(q.XXHASH_DIGESTS_ENABLED, {"entityName": entity},
                                     what=f"log artifact {where}: may it use XXH128 digests")
        allowed = bool((data.get("entity") or {}).get("xxhashDigestsEnabled"))
    except (InvalidValueError, MalformedResponseError):
        allowed = False
    if not allowed:
        log.info("log artifact %s: W&B does not allow XXH128 digests for %s; logging with MD5, as the SDK "
                 "does.", where, entity)
        return "md5"
    data = reads.graphql.execute(q.FETCH_ARTIFACT_DIGEST_ALGORITHM, {
        "entityName": entity, "projectName": plan.project, "artifactTypeName": plan.type,
        "artifactCollectionName": plan.name}, what=f"log artifact {where}: read its digest algorithm")
    collection = (((data.get("project") or {}).get("artifactType") or {}).get("artifactCollection") or {})
    existing = collection.get("digestAlgorithm")
    if existing == "MANIFEST_MD5":
        log.info("log artifact %s: the collection holds MD5 versions; logging with MD5, as the SDK does.", where)
        return "md5"
    return plan.algorithm


def apply_to_existing(reads: Reads, version: ArtifactVersion, plan: LogPlan, log: Any) -> ArtifactVersion:
    """The metadata, description and tags asked for, applied to the existing version with the same
    content (W&B returns that version instead of a new one, and they must not be dropped
    silently). Metadata merges (keys written since, e.g. evaluation results, are kept)."""
    description = plan.description if plan.description and plan.description != version.description else None
    tags = [t for t in plan.tags if t not in version.tags]
    if not plan.metadata and description is None and not tags:
        return version
    updated = update(reads, version, description=description, metadata=plan.metadata or None, tags_add=tags)
    applied = [what for what, before, after in (("metadata", version.metadata, updated.metadata),
                                                ("description", version.description, updated.description),
                                                ("tags", version.tags, updated.tags)) if before != after]
    if applied:
        log.warning("log artifact %s: the content is unchanged, so no new version was made; applied the new %s "
                    "to the existing version.", version.qualified_name, ", ".join(applied))
    return updated


def log_plan(reads: Reads, name: str, type: str, files: Any, project: str | None, entity: str | None,
             references: Any, metadata: Mapping[str, Any] | None, description: str | None,
             aliases: str | Sequence[str], tags: str | Sequence[str], run: Any,
             multipart_threshold: int, max_workers: int | None) -> LogPlan:
    """Check every argument of ``log_artifact`` (no request): typed values, by ``rules``."""
    from .paths import REGISTRY_PREFIX, check_entity, check_project
    from .rules import check_alias_names, check_artifact_type, check_metadata, check_tags, name_list

    if not isinstance(name, str):
        raise InvalidValueError(f"the artifact name must be text, not {name!r}.")
    check_artifact_type(type)
    run = as_run(run) if run is not None else None
    name, project, entity = destination(name, project, entity, run, reads.config)
    check_project(project)
    if project.startswith(REGISTRY_PREFIX):
        raise InvalidValueError(f"{project!r} is a registry: versions are logged into a project and then linked "
                                "into a registry.", hint="Log into a project, then call link(version, ...).")
    if entity is not None:
        check_entity(entity)
    if run is not None and (run.project != project or (entity is not None and run.entity != entity)):
        raise InvalidValueError(f"run {run.path} logs into its own project, not {entity}/{project}.",
                                hint="Leave project/entity unset, or use a run of that project.")
    names = list(check_alias_names([a for a in name_list(aliases, "aliases") if a != "latest"], "aliases"))
    tag_names = check_tags(tags, "tags")
    meta = check_metadata(metadata) if metadata is not None else {}
    if description is not None and not isinstance(description, str):
        raise InvalidValueError(f"description must be text, not {description.__class__.__name__}.")
    threshold = rules.positive_int(multipart_threshold, "multipart_threshold")
    workers = rules.positive_int(max_workers, "max_workers") if max_workers is not None else reads.config.max_workers
    local, refs = check_sources(reads, files, references)
    if clash := sorted({f.name for f in local} & {r.name for r in refs}):
        raise InvalidValueError(f"{clash[0]!r} is both a file and a reference of the artifact.")
    if not local and not refs:
        raise InvalidValueError("log_artifact got no files and no references: nothing to log.")
    return LogPlan(name, type, project, entity, [*names, "latest"], tag_names, meta, description, run,
                   threshold, workers, local, refs)


def destination(name: str, project: str | None, entity: str | None, run: WandbRun | None,
                config: ClientConfig) -> tuple[str, str, str | None]:
    """``(collection, project, entity)`` that ``log_artifact`` logs into, from ``name`` written as
    ``[entity/][project/]collection`` (``ArtifactPath.parse``, as every other verb reads a path).

    A part the name leaves out comes from ``project=``/``entity=``, then from ``run``, then from the
    config. A part the name gives and the argument gives too must be the same: two different projects
    (or entities) for one call is refused, not decided silently.
    """
    check_texts(project=project, entity=entity)
    named = name.partition(":")[0].count("/")  # 0: the collection; 1: project/collection; 2: all three
    fallback_project = project or (run.project if run else None) or config.project
    fallback_entity = entity or (run.entity if run else None) or config.entity
    if named == 0 and not fallback_project:
        raise InvalidValueError("log_artifact needs a project: pass project= or set WANDB_PROJECT.",
                                hint="Or name it in the artifact name: 'project/name' or 'entity/project/name'.")
    path = ArtifactPath.parse(name, default_entity=fallback_entity if named < 2 else None,
                              default_project=fallback_project)
    if path.alias is not None:
        raise InvalidArtifactPathError(f"artifact name {name!r} names an alias: log_artifact logs a new version "
                                       "of a collection, [entity/][project/]name.",
                                       hint="Pass aliases with aliases=[...].")
    for part, given, named_as in (("project", project, path.project if named >= 1 else None),
                                  ("entity", entity, path.entity if named == 2 else None)):
        if given and named_as is not None and given != named_as:
            raise InvalidValueError(
                f"log_artifact got {part}={given!r} but the artifact name {name!r} names {part} {named_as!r}.",
                hint=f"Name the {part} once: in the artifact name or with {part}=.")
    return path.name, path.project, path.entity


def check_sources(reads: Reads, files: Any, references: Any) -> tuple[list[Any], list[Any]]:
    """``WandbClient.check_sources``: the files and references ``log_artifact`` would log (no request)."""
    from ._log_references import parse_references
    from ._sources import collect

    local = collect(files) if files not in (None, "", (), []) else []
    refs = (parse_references(references, reads.config, reads.object_stores)
            if references not in (None, "", (), []) else [])
    return local, refs


@dataclasses.dataclass
class LogPlan:
    """The checked arguments of one ``log_artifact`` call."""

    name: str
    type: str
    project: str
    entity: str | None
    aliases: list[str]
    tags: list[str]
    metadata: dict[str, Any]
    description: str | None
    run: WandbRun | None
    threshold: int
    workers: int
    files: list[Any]
    references: list[Any]
    algorithm: str = "md5"  # entries' digests: "md5" or "xxh128"

    def prepare(self, transport: Transport, cancel: threading.Event | None) -> tuple[list[Any], dict[str, Any]]:
        """Hash the files (in parallel, once) and read the references' ETags and sizes."""
        from concurrent.futures import ThreadPoolExecutor

        from ._hashing_files import hash_file
        from ._log_references import file_entries, http_entry, object_entries
        from .object_stores import SCHEMES as OBJECT_SCHEMES

        def hash_some(items: list[Any]) -> list[Any]:
            out = []
            for item in items:
                if cancel is not None and cancel.is_set():
                    from .errors import CancelledError

                    raise CancelledError("log artifact: cancelled while hashing files.")
                out.append(hash_file(item.name, item.path, self.threshold, item.ident,
                                     xxh128=self.algorithm == "xxh128"))
            return out

        # Small files are hashed in tasks of up to 64 files or 4 MiB (a task per small file costs more
        # than hashing it); large files each in their own task, in parallel.
        tasks: list[list[Any]] = [[]]
        task_bytes = 0
        for item in self.files:
            if tasks[-1] and (len(tasks[-1]) >= 64 or task_bytes + max(item.size, 0) > 4 << 20):
                tasks.append([])
                task_bytes = 0
            tasks[-1].append(item)
            task_bytes += max(item.size, 0)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="wandb-hash") as pool:
            hashed = [h for some in pool.map(hash_some, tasks) for h in some]
        entries: dict[str, Any] = {}
        for ref in self.references:
            if ref.scheme == "file":
                for entry_name, path, uri in file_entries(ref):
                    local = hash_file(entry_name, Path(os.path.realpath(path)), 1 << 62)  # whole; a link: its file
                    entries[entry_name] = {"digest": local.b64, "ref": uri, "size": local.size}
            elif ref.scheme in OBJECT_SCHEMES:
                found = object_entries(ref, cancel)
                if clash := sorted(set(found) & set(entries)):
                    raise InvalidValueError(f"{clash[0]!r} is named by two references of the artifact.")
                entries.update(found)
            else:
                entries[ref.name] = http_entry(transport, ref, cancel)
        if clash := sorted(set(entries) & {h.name for h in hashed}):
            raise InvalidValueError(f"{clash[0]!r} is both a file and a reference of the artifact.")
        return hashed, entries

    def create_input(self, entity: str) -> dict[str, Any]:
        """``CreateArtifactInput`` with the fields W&B's SDK sends (digest and client ids added later)."""
        import json as jsonlib

        spec: dict[str, Any] = {
            "entityName": entity, "projectName": self.project, "artifactTypeName": self.type,
            "artifactCollectionName": self.name, "artifactCollectionNames": None,
            "aliases": [{"alias": a, "artifactCollectionName": self.name} for a in self.aliases],
            "description": self.description, "metadata": jsonlib.dumps(self.metadata) if self.metadata else None,
            "runName": self.run.run_id if self.run else None, "historyStep": None, "ttlDurationSeconds": None,
            "labels": None, "distributedID": None, "storageRegion": None, "clientMutationId": None,
        }
        if self.tags:
            spec["tags"] = [{"tagName": t} for t in self.tags]
        return spec
