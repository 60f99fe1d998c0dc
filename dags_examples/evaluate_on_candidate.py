"""Event-driven evaluation: runs when the ``candidate`` alias of the model moves, with no sensor task.

An ``AssetWatcher`` with ``ArtifactEventTrigger`` polls W&B from the triggerer (one batched poll for
every watcher of the triggerer); each move of ``candidate`` becomes an asset event whose extra names
the version (id, digest, aliases). The task materialises that exact version on whatever worker runs
it, so a later move of the alias cannot change what is evaluated.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from wandb_provider.triggers.events import ArtifactEventTrigger

ENTITY = os.environ.get("WANDB_ENTITY") or "acme"
PROJECT = os.environ.get("WANDB_PROJECT") or "churn"
MODEL = os.environ.get("WANDB_PROVIDER_DEMO_MODEL") or "churn-model"
POLL_SECONDS = float(os.environ.get("WANDB_PROVIDER_WATCH_POLL_SECONDS") or 30)
COLLECTION = f"{ENTITY}/{PROJECT}/{MODEL}"

# [START howto_trigger_artifact_event]
candidate_moves = Asset(f"wandb://{COLLECTION}", watchers=[AssetWatcher(
    name="candidate-moves",
    trigger=ArtifactEventTrigger(collection=COLLECTION, alias="candidate", poll_interval=POLL_SECONDS),
)])
# [END howto_trigger_artifact_event]


# [START howto_trigger_artifact_event_consumer]
@task
def describe_candidate(**context: Any) -> dict[str, Any]:
    """Read the model files of the version that moved, by its pin (id and digest); a manual run
    pins the version ``candidate`` points to now."""
    from wandb_provider import materialize
    from wandb_provider.assets import event_version

    events = [e for batch in context["triggering_asset_events"].values() for e in batch]
    # The event itself is the pin: materialize checks its id, digest and name against W&B, and
    # that the name is in the event's collection.
    pin: Any = events[-1] if events and event_version(events[-1]) else None
    if pin is None:
        from wandb_provider.hooks.wandb import WandbHook

        pin = WandbHook().resolve(f"{COLLECTION}:candidate").to_dict()
    root = materialize(pin, include=["model.json"])
    model = json.loads((root / "model.json").read_text())
    named: dict[str, Any] = event_version(pin) or dict(pin)
    print(f"Candidate {named.get('qualified_name')}: {model}")
    return {"qualified_name": named.get("qualified_name"), "digest": named.get("digest"), "model": model}
# [END howto_trigger_artifact_event_consumer]


# [START howto_trigger_artifact_event_dag]
with DAG(
    dag_id="evaluate_on_candidate",
    schedule=[candidate_moves],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["wandb", "example", "event-driven"],
    doc_md=__doc__,
):
    describe_candidate()
# [END howto_trigger_artifact_event_dag]
