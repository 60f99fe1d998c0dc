"""``VerifyArtifactOperator``: a pipeline step that says "these are the version and the bytes we
expect, or stop" before a deployment or a promotion.

It checks the version (state, type, a pin from an upstream task, metadata conditions in the gate
language of promotion) and, when given a folder, the files in it against the version's manifest
(with the same hashing as downloads, through ``WandbClient.verify``). Every problem found is named
in one message; a failed verification fails the task without retries, or skips it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from .._airflow import version_xcom
from .._values import InvalidValueError, is_empty, is_template, mapping, optional_text, required_text
from ._base import ArgumentCheck, WandbBaseOperator
from .artifacts import _choice, _flag, _gate

if TYPE_CHECKING:
    from ..client import ArtifactVersion, WandbClient

FAILURE_OUTCOMES = ("fail", "skip")
REPORT_XCOM_KEY = "verify_report"
LISTED_FILES = 100  # per kind in the report; the counts are always complete
NAMED_IN_MESSAGE = 10
REFERENCES_NOT_CHECKED = (
    "not checked: no checksum was recorded when they were placed (their size alone proves nothing)"
)


def _pin(name: str, value: Any) -> dict[str, str] | None:
    """What the version must be, read as written or rendered (a dict literal) and parsed by the one
    pin reader (``pins.pin_of``): an upstream version XCom (its ``digest`` and ``id``), or text: a
    digest (32 hex digits), ``vN``, or ``entity/project/collection:vN``. Empty: no pin."""
    from ..pins import pin_of

    if is_empty(value):
        return None
    if isinstance(value, str):
        value = mapping(name, value) if value.strip().startswith("{") else required_text(name, value)
    return pin_of(value, whole=False, what=name).fields()


def _folder(name: str, value: Any) -> str | None:
    text = optional_text(name, value)
    if text is not None and not Path(text).expanduser().is_absolute():
        raise InvalidValueError(f"{name} {text!r} is not an absolute path; a relative one depends on the worker.",
                                hint="Pass the 'path' of the upstream download's XCom, or an absolute folder.")
    return str(Path(text).expanduser()) if text is not None else None


def _listed(paths: Sequence[str]) -> list[str]:
    return sorted(paths)[:LISTED_FILES]


def _named(kind: str, paths: Sequence[str]) -> str:
    shown = ", ".join(repr(p) for p in sorted(paths)[:NAMED_IN_MESSAGE])
    more = f" and {len(paths) - NAMED_IN_MESSAGE} more" if len(paths) > NAMED_IN_MESSAGE else ""
    return f"{len(paths)} {kind} file{'s' if len(paths) != 1 else ''}: {shown}{more}"


class VerifyArtifactOperator(WandbBaseOperator):
    """
    Check an artifact version, and optionally a local folder against it; fail (or skip) naming every problem.

    Without ``path`` this costs one GraphQL request. With it, the version's manifest is fetched
    and every file in the folder is hashed as downloads do.

    :param artifact: The version to check, e.g. ``"acme/churn/churn-model:candidate"``. (templated)
    :param path: An absolute folder to compare with the version's files: missing, changed and (unless
        ``allow_extra_files``) extra files are problems. Typically the ``path`` of an upstream
        ``UseArtifactOperator``'s XCom. (templated)
    :param pin: What the version must be: the XCom of an upstream W&B task (its ``digest`` and
        ``id``, or those of its ``artifact``, must match, so an alias moved in between is caught), a
        digest, ``"vN"`` or ``"entity/project/collection:vN"`` (as resolved: for a registry, the
        organization's entity). (templated)
    :param expected_type: The artifact type the version must have, e.g. ``"model"``. (templated)

    A template for ``path``, ``pin`` or ``expected_type`` that renders empty (a missing upstream
    XCom renders ``"None"``) fails the task rather than skipping that check.

    :param require: Conditions on the version's metadata in the gate language of promotion, e.g.
        ``{"eval.accuracy": {">=": 0.9}}``. A gate, or a term's value, whose template renders empty
        fails the task (gates fail closed). (templated)
    :param on_missing: ``"fail"`` (default) fails the task when the metadata lacks a gate key
        (naming the keys it has and the closest match); ``"skip"`` makes it a problem like a failed condition.
    :param allow_empty: Opt out of failing closed: a gate or term whose template renders empty is dropped.
    :param allow_extra_files: Files in ``path`` that the version does not have are not problems.
    :param allow_unverified_references: Reference files (http, S3, GCS) in ``path`` whose bytes no
        recorded checksum covers (the provider did not place them) are not problems; by default they
        are, since a same-size edit cannot be told apart.
    :param on_failure: ``"fail"`` (default: the task fails without retries) or ``"skip"``. Errors
        that are not findings (a version that does not exist, a bad argument, W&B unreachable)
        fail the task whatever this says; only W&B being unreachable is retried.
    :return: JSON-safe report: ``ok``, ``problems``, the version, and ``files`` (counts and the
        first 100 paths of each kind) and ``references`` when a folder was checked. A failed
        verification pushes the same report under the XCom key ``verify_report``.
    """

    template_fields: Sequence[str] = ("artifact", "path", "pin", "expected_type", "require")
    template_fields_renderers = {"pin": "json", "require": "json"}
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "path": _folder,
        "pin": _pin,
        "expected_type": optional_text,
        "require": _gate,
    }
    fail_closed = ("require",)

    def __init__(
        self,
        *,
        artifact: str,
        path: str | None = None,
        pin: Mapping[str, Any] | str | None = None,
        expected_type: str | None = None,
        require: Mapping[str, Any] | str | None = None,
        allow_extra_files: bool = False,
        allow_unverified_references: bool = False,
        on_failure: str = "fail",
        on_missing: str = "fail",
        allow_empty: bool = False,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.path = path
        self.pin = pin
        self.expected_type = expected_type
        self.require = require
        self.allow_extra_files = allow_extra_files
        self.allow_unverified_references = allow_unverified_references
        self.on_failure = on_failure
        self.on_missing = on_missing
        self.allow_empty = allow_empty
        with self.checking():
            from ..client.conditions import ON_MISSING

            _choice("on_missing", on_missing, ON_MISSING)
            _flag("allow_empty", allow_empty)
            _flag("allow_extra_files", allow_extra_files)
            _flag("allow_unverified_references", allow_unverified_references)
            _choice("on_failure", on_failure, FAILURE_OUTCOMES)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        for name in ("path", "pin", "expected_type"):
            if is_template(self.unrendered(name)) and is_empty(getattr(self, name)):
                raise InvalidValueError(
                    f"{name} rendered empty ({getattr(self, name)!r}) from {self.unrendered(name)!r}; a verification "
                    "never drops a check quietly (is an upstream XCom missing?).",
                    hint=f"Check what the template renders; leave {name} unset (None) for no such check.")
        from ..client.gates import reads

        reads_more = bool(args["require"]) and reads(args["require"]).any
        with self.wandb_client() as client:
            version = client.artifact(args["artifact"])
            self.push_link(context, version)
            problems = self.version_problems(version, {**args, "require": None} if reads_more else args)
            if reads_more:  # run and relative terms: the one gate language, read by the client (client.gates)
                gate = client.evaluate_gate(version, args["require"], on_missing=self.on_missing)
                problems += [f"gate: {failure}" for failure in gate.failures]
            report: dict[str, Any] = {"artifact": version_xcom(version), "state": version.state}
            if args["path"] is not None:
                problems += self.folder_problems(client, version, Path(args["path"]), report)
        self.record_lineage([version], [])
        report = {"ok": not problems, "problems": problems, **report}
        if problems:
            self.reject(context, version, problems, report)
        self.log.info("Verified %s: %s", version.qualified_name,
                      "version and folder as expected" if args["path"] else "version as expected")
        return report

    def version_problems(self, version: ArtifactVersion, args: dict[str, Any]) -> list[str]:
        """What is wrong with the version itself: state, type, pin, metadata conditions."""
        return version_problems(version, {**args, "on_missing": self.on_missing})

    def folder_problems(self, client: WandbClient, version: ArtifactVersion, root: Path,
                        report: dict[str, Any]) -> list[str]:
        """What differs between ``root`` and the version's files; fills ``report["files"]``."""
        return folder_problems(client, version, root, report, allow_extra_files=self.allow_extra_files,
                               allow_unverified_references=self.allow_unverified_references, log=self.log)

    def reject(self, context: Any, version: ArtifactVersion, problems: list[str], report: dict[str, Any]) -> None:
        """Fail (no retries: the same inputs would fail again) or skip, naming every problem."""
        context["ti"].xcom_push(key=REPORT_XCOM_KEY, value=report)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        stop_naming(problems, f"{version.qualified_name} failed verification ({count})",
                    skip=self.on_failure == "skip", log=self.log)


def stop_naming(problems: Sequence[str], lead: str, *, skip: bool, log: Any) -> NoReturn:
    """Stop the task with one message naming every problem, numbered: a skip, or a failure without
    retries (the same inputs would be refused again). Verification and promotion share it."""
    from .._compat import AirflowFailException, AirflowSkipException

    message = f"{lead}: " + "; ".join(f"({i}) {p}" for i, p in enumerate(problems, start=1)) + "."
    log.error("%s", message)
    if skip:
        raise AirflowSkipException(message)
    raise AirflowFailException(message)


def version_problems(version: ArtifactVersion, args: Mapping[str, Any]) -> list[str]:
    """What is wrong with the version itself: state, type (``expected_type``), ``pin``, and a gate
    (``require``) that reads its metadata alone. Shared with ``PromoteArtifactOperator``."""
    from ..client.conditions import evaluate_gate

    problems = []
    if version.state != "COMMITTED":
        problems.append(f"the version is {version.state}, not COMMITTED")
    if args["expected_type"] and version.type != args["expected_type"]:
        problems.append(f"its type is {version.type!r}, not {args['expected_type']!r}")
    pin = args["pin"] or {}
    if "digest" in pin and version.digest != pin["digest"]:
        problems.append(f"its digest is {version.digest}, not the pinned {pin['digest']}"
                        + (f" (of {pin['qualified_name']})" if "qualified_name" in pin else "")
                        + ": it is another version, or its files changed")
    if "id" in pin and version.id != pin["id"]:
        problems.append(f"it is artifact {version.id}, not the pinned {pin['id']}"
                        + (f" ({pin['qualified_name']})" if "qualified_name" in pin else ""))
    if "version" in pin and version.version != pin["version"]:
        problems.append(f"it is {version.version}, not the pinned {pin['version']}")
    if set(pin) == {"qualified_name"} and version.qualified_name != pin["qualified_name"]:
        problems.append(f"it is {version.qualified_name}, not the pinned {pin['qualified_name']}")
    if args["require"]:
        gate = evaluate_gate(version.metadata, args["require"], on_missing=args.get("on_missing", "fail"),
                             subject=version.qualified_name)
        problems += [f"metadata: {failure}" for failure in gate.failures]
    return problems


def folder_problems(client: WandbClient, version: ArtifactVersion, root: Path, report: dict[str, Any], *,
                    allow_extra_files: bool, log: Any, allow_unverified_references: bool = False) -> list[str]:
    """What differs between ``root`` and the version's files; fills ``report["files"]``."""
    if version.state != "COMMITTED":  # its manifest may not exist yet; the state is already a problem
        report["files"] = {"path": str(root), "checked": False, "reason": f"the version is {version.state}"}
        report["references"] = {"checked": False, "reason": f"the version is {version.state}"}
        return []
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist on this worker"
        report["files"] = {"path": str(root), "exists": False}
        report["references"] = {"checked": False, "reason": "no folder"}
        return [f"the folder {str(root)!r} {what}"]
    result = client.verify(version, root, allow_unverifiable=allow_unverified_references)
    manifest = client.manifest(version)
    references = sorted(entry.path for entry in manifest if entry.ref is not None)
    extra = list(result.unexpected)
    report["files"] = {
        "path": str(root), "exists": True, "checked": result.checked,
        "missing_count": len(result.missing), "changed_count": len(result.mismatched),
        "extra_count": len(extra), "extra_allowed": allow_extra_files,
        "missing": _listed(result.missing), "changed": _listed(result.mismatched), "extra": _listed(extra),
    }
    unverified = list(result.unverifiable)
    report["references"] = {"checked": bool(references) and not unverified, "count": len(references),
                            "entries": _listed(references), "unverified": _listed(unverified),
                            "unverified_allowed": allow_unverified_references}
    if unverified:
        report["references"]["reason"] = REFERENCES_NOT_CHECKED
        log.warning("%d reference entries of %s were %s", len(unverified), version.qualified_name,
                    REFERENCES_NOT_CHECKED)
    problems = []
    if unverified and not allow_unverified_references:
        problems.append(_named("unverifiable", unverified) + " (references " + REFERENCES_NOT_CHECKED
                        + "; allow_unverified_references=True accepts them)")
    if result.missing:
        problems.append(_named("missing", result.missing))
    if result.mismatched:
        problems.append(_named("changed", result.mismatched) + " (size or digest differs from the manifest)")
    if extra and not allow_extra_files:
        problems.append(_named("extra", extra) + " (not in the version; allow_extra_files=True accepts them)")
    return problems
