"""``PromoteArtifactOperator`` and ``RollbackArtifactOperator``: a promotion as one trusted step.

The work is the client's (``wandb_provider.client.promotion``): resolve the candidate and the
current holder of the alias, decide the gate, move the alias guarded by the holder it resolved,
keep the replaced version as ``previous-<alias>``, write the audit record. These operators add the
verification (``VerifyArtifactOperator``'s checks), the approval step and the Airflow identity of
the audit record. ``promote_with_approval`` builds the approval variant (Airflow 3.1+).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from .._compat import require_airflow
from .._values import (
    InvalidValueError,
    approver,
    expected_holder,
    is_empty,
    is_template,
    optional_text,
    required_text,
)
from ._base import ArgumentCheck, WandbBaseOperator
from .artifacts import _choice, _flag, _gate
from .verify import _folder, _pin, folder_problems, stop_naming, version_problems

REFUSED_OUTCOMES = ("fail", "skip")
IF_NO_HOLDER = ("pass", "fail")
_DEFAULT = "previous-{alias}"


def _alias(name: str, value: Any) -> str:
    from ..client.rules import check_alias_names

    text = required_text(name, value)
    check_alias_names([text], name)
    return text


def actor(context: Mapping[str, Any], approver: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The audit record's ``by``: this DAG run, task and try, and the approver (if any)."""
    ti = context["ti"]
    dag = context.get("dag")
    return {"dag_id": getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None), "run_id": context.get("run_id"),
            "task_id": ti.task_id, "try_number": getattr(ti, "try_number", None),
            "approver": dict(approver) if approver else None, "user": None, "tool": "airflow"}


class PromoteArtifactOperator(WandbBaseOperator):
    """
    Promote a candidate version to an alias in one task: resolve, verify, decide the gate, move.

    The task resolves the candidate and the version holding ``alias`` now (none is fine), verifies
    the candidate (state, ``expected_type``, ``pin``, the files in ``path``), decides ``require``
    (metadata, run and relative terms, see below), moves the alias with the compare-and-set guard
    ``only_if_current={alias: <the holder it resolved>}``, gives the replaced version
    ``previous_alias`` (default ``previous-<alias>``: ``RollbackArtifactOperator`` goes back to it
    and retention never deletes it), records the promotion under ``metadata["promotion"]`` of the
    promoted version, and optionally links it into a registry.

    The gate language (the same in every operator, the sensor, the trigger and the CLI)::

        require={
            "eval.accuracy": {">=": {"production": "+0.01"}},  # production + 0.01
            "run.summary.val_loss": {"<=": 0.35},  # the run that logged it
            "eval.split": {"==": "test"},  # its metadata
        }

    Re-running is safe: a candidate that already holds the alias is reported as
    ``already_promoted`` and nothing moves.

    :param artifact: The candidate, e.g. ``"acme/churn/churn-model:candidate"``. (templated)
    :param alias: The alias to move, default ``"production"``. (templated)
    :param require: The gate. A relative term compares with the holder of the alias it names. (templated)
    :param on_missing: ``"fail"`` (default): a gate key the candidate, its run or the holder lacks
        fails the task, naming the keys there are; ``"skip"`` counts it as a failed term.
    :param if_no_holder: When no version holds an alias a relative term names: ``"pass"`` (default:
        only the absolute terms decide; the report says so) or ``"fail"``.
    :param pin: What the candidate must be: an upstream W&B task's XCom, a digest or ``vN``. (templated)
    :param path: A folder the candidate's files must match, e.g. an upstream download's ``path``. (templated)
    :param expected_type: The artifact type the candidate must have, e.g. ``"model"``. (templated)
    :param allow_extra_files: Files in ``path`` that the version does not have are not problems.
    :param previous_alias: The alias the replaced version gets (``"previous-{alias}"`` by default;
        None for none, which leaves nothing to roll back to).
    :param link_to: A registry (or other collection) to link the promoted version into, with ``alias``. (templated)
    :param on_refused: ``"fail"`` (default: the task fails without retries, naming every failed
        term and problem) or ``"skip"``.
    :param approval: Require an approver (``approved_by``) before moving anything; Airflow 3.1+.
        ``promote_with_approval`` builds the steps around Airflow's ``ApprovalOperator``.
    :param approved_by: Who approved: the XCom of Airflow's ``ApprovalOperator`` or a name. (templated)
    :param expect_holder: Fail unless the alias is still on this version (``"vN"``, or ``"none"``):
        what the approver saw. (templated)
    :param plan_only: Decide and report, move nothing (the step before an approval).
    :param allow_rolled_back: Promote a candidate even though the alias was rolled back from it
        (by default such a candidate is refused, so a nightly run does not promote it again).
    :return: JSON-safe report: ``decision`` (``promoted``, ``already_promoted``, ``refused``,
        ``planned``), ``candidate``, ``holder``, ``gate`` (every term with both values),
        ``verification``, ``changed``, ``audit``, ``linked``, ``notes`` and ``summary`` (Markdown).
    """

    template_fields: Sequence[str] = ("artifact", "alias", "require", "pin", "path", "expected_type", "link_to",
                                      "approved_by", "expect_holder")
    template_fields_renderers = {"require": "json", "pin": "json"}
    fail_closed = ("require",)
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "alias": _alias,
        "require": _gate,
        "pin": _pin,
        "path": _folder,
        "expected_type": optional_text,
        "link_to": optional_text,
        "approved_by": approver,
        "expect_holder": expected_holder,
    }

    def __init__(
        self,
        *,
        artifact: str,
        alias: str = "production",
        require: Mapping[str, Any] | str | None = None,
        if_no_holder: str = "pass",
        on_missing: str = "fail",
        pin: Mapping[str, Any] | str | None = None,
        path: str | None = None,
        expected_type: str | None = None,
        allow_extra_files: bool = False,
        previous_alias: str | None = _DEFAULT,
        link_to: str | None = None,
        on_refused: str = "fail",
        approval: bool = False,
        approved_by: Mapping[str, Any] | str | None = None,
        expect_holder: str | None = None,
        plan_only: bool = False,
        allow_rolled_back: bool = False,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact, self.alias, self.require, self.if_no_holder = artifact, alias, require, if_no_holder
        self.pin, self.path, self.expected_type = pin, path, expected_type
        self.allow_extra_files, self.previous_alias, self.link_to = allow_extra_files, previous_alias, link_to
        self.on_refused, self.approval, self.approved_by = on_refused, approval, approved_by
        self.expect_holder, self.plan_only, self.on_missing = expect_holder, plan_only, on_missing
        self.allow_rolled_back = allow_rolled_back
        with self.checking():
            from ..client.conditions import ON_MISSING

            _choice("on_missing", on_missing, ON_MISSING)
            _choice("on_refused", on_refused, REFUSED_OUTCOMES)
            _choice("if_no_holder", if_no_holder, IF_NO_HOLDER)
            for flag in ("allow_extra_files", "approval", "plan_only", "allow_rolled_back"):
                _flag(flag, getattr(self, flag))
            if approval:
                require_airflow("hitl", f"{self.label}: approval=True")
            if previous_alias is not None and previous_alias != _DEFAULT:
                _alias("previous_alias", previous_alias)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        from ..client import promotion

        for name in ("pin", "path", "expected_type", "approved_by", "expect_holder"):
            if is_template(self.unrendered(name)) and is_empty(getattr(self, name)):
                raise InvalidValueError(
                    f"{name} rendered empty ({getattr(self, name)!r}) from {self.unrendered(name)!r}; a promotion "
                    "never drops a check quietly (is an upstream XCom missing?).",
                    hint=f"Check what the template renders; leave {name} unset (None) for no such check.")
        if self.approval and not self.plan_only and args["approved_by"] is None:
            raise InvalidValueError(f"approval=True but approved_by is empty: nobody approved promoting "
                                    f"{args['artifact']} to {args['alias']!r}.",
                                    hint="Pass the XCom of the approval task (promote_with_approval does).")
        alias = args["alias"]
        previous_alias = (promotion.previous_alias_for(alias) if self.previous_alias == _DEFAULT
                          else self.previous_alias)
        with self.wandb_client() as client:
            candidate = client.artifact(args["artifact"])
            self.push_link(context, candidate)
            verification = self.verify(client, candidate, args)
            decided = promotion.plan(client, candidate, alias, args["require"], if_no_holder=self.if_no_holder,
                                     on_missing=self.on_missing, allow_rolled_back=self.allow_rolled_back)
            self.record_lineage([candidate], [])
            problems = list(verification["problems"]) + (
                [] if decided.already_promoted else [f"gate: {failure}" for failure in decided.gate.failures])
            if decided.rolled_back:
                problems.append(decided.rolled_back)
            if args["expect_holder"] is not None and not decided.already_promoted:
                now = decided.holder.version if decided.holder else "none"
                if now != args["expect_holder"]:
                    problems.append(f"{alias!r} is on {now}, not on {args['expect_holder']} as when it was approved")
            if problems:
                report = decided.report(promotion.REFUSED, changed=False, verification=verification)
                self.refuse(context, candidate.qualified_name, alias, problems, report)
            if self.plan_only:
                report = decided.report("planned", changed=False, verification=verification)
                return {**report, "summary": summary(report)}
            report = promotion.promote(client, decided, previous_alias=previous_alias,
                                       actor=actor(context, args["approved_by"]), link_to=args["link_to"])
        report["verification"] = verification
        report["summary"] = summary(report)
        for line in report["summary"].splitlines():
            self.log.info("%s", line)
        self.record_lineage([candidate], [candidate])
        self.publish_asset_event(context, candidate, "aliases", report["changed"])
        return report

    def verify(self, client: Any, candidate: Any, args: Mapping[str, Any]) -> dict[str, Any]:
        """The candidate's checks, as ``VerifyArtifactOperator`` makes them (its gate is decided apart)."""
        problems = version_problems(candidate, {"expected_type": args["expected_type"], "pin": args["pin"],
                                                "require": None})
        report: dict[str, Any] = {}
        if args["path"] is not None:
            problems += folder_problems(client, candidate, Path(args["path"]), report,
                                        allow_extra_files=self.allow_extra_files, log=self.log)
        return {"ok": not problems, "problems": problems, **report}

    def refuse(self, context: Any, name: str, alias: str, problems: list[str], report: dict[str, Any]) -> None:
        """Fail (no retries: the same inputs would be refused again) or skip, naming every failed term."""
        report["summary"] = summary(report)
        context["ti"].xcom_push(key="promotion_report", value=report)
        stop_naming(problems, f"Not promoting {name} to {alias!r} ({len(problems)} failed)",
                    skip=self.on_refused == "skip", log=self.log)


def summary(report: Mapping[str, Any]) -> str:
    """The report in a few Markdown lines: what an approver or an on-call engineer reads."""
    candidate, holder = report.get("candidate") or {}, report.get("holder")
    lines = [f"**{report['decision']}**: {candidate.get('qualified_name')} to `{report['alias']}` "
             f"(now on {holder['version'] if holder else 'no version'})", ""]
    for term in (report.get("gate") or {}).get("terms", []):
        mark = "pass" if term["passed"] else "FAIL"
        text = term["note"] or (f"{term['key']} = {term['candidate']!r} {term['op']} {term['threshold']!r}"
                                + (f" ({term['holder']['alias']} {term['holder']['version']}: "
                                   f"{term['holder']['value']!r})" if term.get("holder") else ""))
        lines.append(f"- {mark}: {text}")
    for problem in (report.get("verification") or {}).get("problems", []):
        lines.append(f"- FAIL: {problem}")
    lines += [f"- note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)


class RollbackArtifactOperator(WandbBaseOperator):
    """
    Move an alias back to the version that held it before the last promotion (``previous-<alias>``).

    Guarded like a promotion (the alias must still be on the version read, or on
    ``only_if_current``); the version rolled back from takes ``previous_alias``, and the restored
    version records the rollback under ``metadata["promotion"]``. A re-run of the same task in the
    same DAG run changes nothing.

    :param collection: ``[entity/]project/collection``, e.g. ``"acme/churn/churn-model"``. (templated)
    :param alias: The alias to roll back, default ``"production"``. (templated)
    :param previous_alias: Where the previous holder is kept (default ``previous-<alias>``).
    :param only_if_current: Roll back only if the alias is on this version (``"vN"``). (templated)
    :return: JSON-safe dict: ``decision`` (``rolled_back``, ``already_rolled_back``), ``restored``,
        ``replaced``, ``changed``, ``audit``.
    """

    template_fields: Sequence[str] = ("collection", "alias", "only_if_current")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "collection": required_text,
        "alias": _alias,
        "only_if_current": optional_text,
    }

    def __init__(self, *, collection: str, alias: str = "production", previous_alias: str | None = None,
                 only_if_current: str | None = None, wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.collection, self.alias, self.previous_alias = collection, alias, previous_alias
        self.only_if_current = only_if_current
        with self.checking():
            if previous_alias is not None:
                _alias("previous_alias", previous_alias)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        from ..client import promotion

        with self.wandb_client() as client:
            result = promotion.rollback(client, args["collection"], args["alias"], previous_alias=self.previous_alias,
                                        actor=actor(context), only_if_current=args["only_if_current"])
        self.log.info("%s: %r is on %s%s", result["decision"], args["alias"], result["restored"]["qualified_name"],
                      f" (was {result['replaced']['version']})" if result.get("replaced") else "")
        return result


def promote_with_approval(group_id: str = "promotion", *, subject: str | None = None,
                          **promote_kwargs: Any) -> Any:
    """A task group for an approved promotion (Airflow 3.1+): ``plan`` (a ``PromoteArtifactOperator``
    that decides and reports, moving nothing) -> ``approve`` (Airflow's ``ApprovalOperator``,
    showing the report) -> ``promote`` (promotes the version the approver saw, only if the alias
    is still where it was then, naming the approver in the audit record). Reject skips ``promote``.

    Call it inside a ``DAG``; ``promote_kwargs`` are ``PromoteArtifactOperator``'s.
    """
    require_airflow("hitl", "promote_with_approval")
    from airflow.providers.standard.operators.hitl import ApprovalOperator
    from airflow.sdk import TaskGroup

    alias = promote_kwargs.get("alias", "production")
    with TaskGroup(group_id=group_id) as group:
        plan = PromoteArtifactOperator(task_id="plan", plan_only=True, **promote_kwargs)
        approve = ApprovalOperator(
            task_id="approve",
            subject=subject or f"Promote {promote_kwargs.get('artifact')} to {alias}?",
            body=f"{{{{ ti.xcom_pull(task_ids='{group_id}.plan')['summary'] }}}}",
        )
        promote = PromoteArtifactOperator(
            task_id="promote", approval=True,
            approved_by=f"{{{{ ti.xcom_pull(task_ids='{group_id}.approve')['responded_by_user'] }}}}",
            expect_holder=(f"{{{{ (ti.xcom_pull(task_ids='{group_id}.plan')['holder'] or {{}})"
                           ".get('version', 'none') }}"),
            **{**promote_kwargs, "pin": f"{{{{ ti.xcom_pull(task_ids='{group_id}.plan')['candidate'] }}}}"},
        )
        plan >> approve >> promote
    return group
