"""Reading what a gate needs: a version's metadata, its producing run's summary and config, and the
versions holding the aliases it compares with; the decision itself is ``gates``'s (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _queries as q
from ._lineage import creating_run
from .models import ArtifactVersion, WandbRun

if TYPE_CHECKING:
    from ._reads import ArtifactRef, Reads
    from .gates import GateReport, Subject


def gate_subject(reads: Reads, artifact: ArtifactRef, *, with_run: bool) -> Subject:
    """``WandbClient.gate_subject``: a version's metadata and (``with_run``) its run's values, one request."""
    import json

    from ._writes import strict_answer
    from .gates import Subject, run_config_values

    version = reads.version(artifact)
    subject = Subject(qualified_name=version.qualified_name, version=version.version, id=version.id,
                      metadata=version.metadata)
    if not with_run:
        return subject
    what = f"read the run that logged {version.qualified_name}"
    creator = creating_run(reads, q.ARTIFACT_PRODUCER_VALUES, version, what)
    if creator is None:
        return dataclasses.replace(subject, run_read=True)
    with strict_answer(what, q.ARTIFACT_PRODUCER_VALUES.name):
        run = WandbRun.from_graphql(creator, base_url=reads.config.base_url)
        summary, config = (json.loads(creator.get(k) or "{}") for k in ("summaryMetrics", "config"))
        if not isinstance(summary, dict) or not isinstance(config, dict):
            raise TypeError("summaryMetrics and config must be JSON objects")
    return dataclasses.replace(subject, run_read=True, run_path=run.path, summary=summary,
                               config=run_config_values(config))


def evaluate_gate(
    reads: Reads,
    artifact: ArtifactRef,
    require: Mapping[str, Any] | None,
    *,
    if_no_holder: str = "pass",
    holders: Mapping[str, ArtifactVersion | None] | None = None,
    on_missing: str = "fail",
) -> GateReport:
    """``WandbClient.evaluate_gate``: read what the gate's terms need, then decide it (``gates``)."""
    from .conditions import validate_gate
    from .gates import GateReport, decide
    from .gates import reads as gate_reads

    gate = validate_gate(require)
    if not gate:
        return GateReport(passed=True, terms=())
    needs = gate_reads(gate)
    version = reads.version(artifact)
    candidate = gate_subject(reads, version, with_run=needs.run)
    known = dict(holders or {})
    subjects = {}
    for alias in needs.aliases:
        holder = known[alias] if alias in known else reads.alias_holder(version, alias)
        subjects[alias] = None if holder is None else (
            candidate if holder.id == version.id else gate_subject(reads, holder, with_run=needs.run))
    return decide(gate, candidate, subjects, if_no_holder=if_no_holder, on_missing=on_missing)
