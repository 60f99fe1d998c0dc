"""The deployment's promises, checked through Airflow's REST API (run by ``scripts/e2e.sh``).

1. The connection test passes for a good key and fails clearly, without the key, for a bad one.
2. ``model_promotion`` and ``e2e_two_machines`` succeed; one run's tasks ran on both workers, and the
   version downloaded on machine A was materialised on machine B through B's own cache and root.
3. The deferrable sensor deferred (seen in the DEFERRED state, with its trigger on the triggerer)
   and resumed in the same try once the official SDK moved the alias it waits for.
4. ``evaluate_on_candidate`` runs within two poll intervals after the SDK moves ``candidate``, and
   evaluates exactly that version.
5. The W&B extra link of a task is the URL of the version the task used.

Then the screenshots (``e2e.screenshots``). Findings go to ``<artifacts>/summary.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .api import AirflowApi, CheckFailed, wait_until

E2E_DAG = "e2e_two_machines"
PROMOTION_DAG = "model_promotion"
EVENT_DAG = "evaluate_on_candidate"
COLLECTION = "acme/churn/churn-model"
DATASET = "acme/churn/churn-dataset"
READY_ALIAS = "e2e-ready"
FINISHED = {"success", "failed"}


def log(message: str) -> None:
    print(f"[e2e check] {message}", file=sys.stderr, flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def parse_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Deployment:
    """What the checks share: the API, the SDK as an independent observer, and the findings."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work)
        password = json.loads(Path(args.password_file).read_text())[args.username]
        self.api = AirflowApi(args.api, args.username, password)
        self.summary: dict[str, Any] = {"airflow": args.api, "wandb": args.wandb_url}
        os.environ.update({key: str(self.work / "sdk" / name) for key, name in
                           (("WANDB_DIR", "dir"), ("WANDB_CONFIG_DIR", "config"), ("WANDB_CACHE_DIR", "cache"),
                            ("WANDB_DATA_DIR", "data"))})
        import wandb

        self.sdk = wandb.Api(api_key=args.wandb_key, overrides={"base_url": args.wandb_url})

    # --- start-up ---------------------------------------------------------------------------

    def wait_healthy(self) -> None:
        def healthy() -> dict[str, Any] | None:
            health = self.api.get("monitor/health")
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return health if all(health.get(p, {}).get("status") == "healthy" for p in parts) else None

        wait_until("the scheduler, triggerer and dag-processor to report healthy", healthy, 180)
        # The API server builds the Execution API on its first request, blocking for a long while on a
        # busy machine: do that now, not while the workers' first tasks wait for it.
        started = time.monotonic()
        self.api.session.get(f"{self.args.api}/execution/health", timeout=300).raise_for_status()
        log(f"Execution API ready ({time.monotonic() - started:.1f}s)")

    def wait_dags(self) -> None:
        def parsed() -> bool | None:
            found = {d["dag_id"] for d in self.api.get("dags", params={"limit": 100})["dags"]}
            return True if {E2E_DAG, PROMOTION_DAG, EVENT_DAG} <= found else None

        wait_until("the dag-processor to parse the DAGs", parsed, 180)
        errors = self.api.get("importErrors")["import_errors"]
        expect(not errors, f"DAG import errors: {errors}")

    # --- 1. the connection ------------------------------------------------------------------

    def connection(self, password: str) -> dict[str, Any]:
        return {"connection_id": "wandb_default", "conn_type": "wandb", "host": self.args.wandb_url,
                "password": password, "extra": json.dumps({"entity": "acme", "project": "churn"})}

    def check_connection(self) -> None:
        self.api.request("POST", "connections", json=self.connection(self.args.wandb_key), ok=(201,))
        good = self.api.request("POST", "connections/test", json=self.connection(self.args.wandb_key))
        expect(good["status"] is True, f"the connection test failed for the good key: {good}")
        bad_key = "local-" + "9" * 40
        bad = self.api.request("POST", "connections/test", json=self.connection(bad_key))
        expect(bad["status"] is False, f"the connection test passed for a bad key: {bad}")
        message = str(bad["message"])
        expect(bad_key not in message and "9999999999" not in message, "the failure message shows the API key")
        expect(any(word in message.lower() for word in ("key", "auth", "401")),
               f"the failure message does not say the key was refused: {message!r}")
        self.summary["connection_test"] = {"good": good["message"], "bad": message}
        log(f"connection test: good key -> {good['message']!r}; bad key -> {message!r}")

    # --- 2 and 3. runs, workers, deferral ---------------------------------------------------

    def start_runs(self) -> dict[str, str]:
        self.api.unpause(EVENT_DAG)  # its watcher starts polling now
        # A manual run at the logical date the scheduler would take next stands in for the scheduled
        # run of that date, so the daily DAG does not run twice at once.
        next_date = self.api.get(f"dags/{PROMOTION_DAG}")["next_dagrun_logical_date"]
        runs = {PROMOTION_DAG: self.api.trigger(PROMOTION_DAG, next_date)}
        self.api.unpause(PROMOTION_DAG)
        runs[E2E_DAG] = self.api.trigger(E2E_DAG)
        self.api.unpause(E2E_DAG)
        log(f"triggered {runs}")
        return runs

    def follow_runs(self, runs: dict[str, str]) -> dict[str, Any]:
        """Wait for both runs; release the sensor once it is seen DEFERRED on the triggerer."""
        deferred: dict[str, Any] | None = None
        states: dict[str, str] = {}
        deadline = time.monotonic() + self.args.run_timeout
        while time.monotonic() < deadline:
            states = {dag: self.api.run_state(dag, run) for dag, run in runs.items()}
            if deferred is None:
                sensor = self.api.task_instances(E2E_DAG, runs[E2E_DAG]).get("wait_for_ready", {})
                expect(sensor.get("state") not in ("success", "failed", "up_for_retry"),
                       f"the sensor finished without waiting for the alias: {sensor.get('state')}")
                if sensor.get("state") == "deferred":
                    deferred = {"trigger": sensor.get("trigger"), "triggerer_job": sensor.get("triggerer_job"),
                                "try_number": sensor["try_number"], "hostname": sensor["hostname"]}
                    log(f"sensor DEFERRED (try {sensor['try_number']}, trigger "
                        f"{(sensor.get('trigger') or {}).get('classpath')}); moving '{READY_ALIAS}' with the SDK")
                    self.move_alias(f"{DATASET}:v0", READY_ALIAS)
            if set(states.values()) <= FINISHED and deferred is not None:
                break
            time.sleep(2.5)
        for dag, run in runs.items():
            if states.get(dag) != "success":
                tis = {t: ti["state"] for t, ti in self.api.task_instances(dag, run).items()}
                raise CheckFailed(f"{dag} run {run} ended {states.get(dag)!r}; task states {tis}")
        expect(deferred is not None, "the sensor was never seen DEFERRED")
        assert deferred is not None
        log(f"runs succeeded: {runs}")
        return deferred

    def move_alias(self, version: str, alias: str) -> float:
        """Point ``alias`` at ``version`` with the official SDK; returns when the write was done."""
        artifact = self.sdk.artifact(version)
        if alias not in artifact.aliases:
            artifact.aliases.append(alias)
        artifact.save()
        return time.time()

    def check_workers(self, runs: dict[str, str]) -> None:
        tis = self.api.task_instances(E2E_DAG, runs[E2E_DAG])
        hosts = {task: ti["hostname"] for task, ti in tis.items()}
        expect(hosts.get("download_on_a") == "machine-a" and hosts.get("materialize_on_b") == "machine-b",
               f"the run's tasks did not run on both workers as queued: {hosts}")
        pin = self.api.xcom(E2E_DAG, runs[E2E_DAG], "download_on_a")
        landed = self.api.xcom(E2E_DAG, runs[E2E_DAG], "materialize_on_b")
        root_a, root_b = Path(pin["path"]), Path(landed["root"])
        for root, machine in ((root_a, "machine-a"), (root_b, "machine-b")):
            expect(root.is_relative_to(self.work / machine / "downloads"), f"{machine} wrote outside its root: {root}")
        expect((landed["id"], landed["digest"]) == (pin["id"], pin["digest"]), f"B got another version: {landed}")
        expect(bool(landed["files"]), "B materialised no files")
        for name in landed["files"]:
            expect(filecmp.cmp(root_a / name, root_b / name, shallow=False), f"{name} differs between A and B")
        for machine in ("machine-a", "machine-b"):
            cached = [p for p in (self.work / machine / "cache").rglob("*") if p.is_file()]
            expect(bool(cached), f"{machine}'s own cache is empty")
        promotion = {t: ti["hostname"] for t, ti in self.api.task_instances(PROMOTION_DAG, runs[PROMOTION_DAG]).items()}
        self.summary["workers"] = {E2E_DAG: hosts, PROMOTION_DAG: promotion,
                                   "materialized": {"machine-a": str(root_a), "machine-b": str(root_b),
                                                    "files": landed["files"], "digest": pin["digest"]}}
        log(f"hosts: {E2E_DAG} {hosts}; {PROMOTION_DAG} {promotion}")
        log(f"{pin['qualified_name']} downloaded on machine-a and materialised on machine-b, same bytes")

    def check_deferral(self, runs: dict[str, str], deferred: dict[str, Any]) -> None:
        sensor = self.api.task_instances(E2E_DAG, runs[E2E_DAG])["wait_for_ready"]
        trigger = deferred.get("trigger") or {}
        expect("ArtifactVersionTrigger" in str(trigger.get("classpath")),
               f"the deferred sensor's trigger is not the W&B trigger: {trigger}")
        expect(sensor["state"] == "success" and sensor["try_number"] == deferred["try_number"],
               f"the sensor did not resume in the try that deferred: {sensor['state']} try {sensor['try_number']}")
        version = self.api.xcom(E2E_DAG, runs[E2E_DAG], "wait_for_ready")
        expect(READY_ALIAS in version["aliases"], f"the sensor returned a version without {READY_ALIAS!r}: {version}")
        text = self.api.log_text(E2E_DAG, runs[E2E_DAG], "wait_for_ready", sensor["try_number"])
        expect("Ready:" in text, "the sensor's log does not show it resumed with the version")
        self.summary["deferral"] = {"trigger": trigger.get("classpath"), "trigger_id": trigger.get("id"),
                                    "triggerer": (deferred.get("triggerer_job") or {}).get("hostname"),
                                    "try_number": sensor["try_number"], "resumed_on": sensor["hostname"],
                                    "version": version["qualified_name"]}
        log(f"sensor deferred to the triggerer and resumed in try {sensor['try_number']} on {sensor['hostname']}")

    # --- 4. event-driven scheduling ---------------------------------------------------------

    def watch_polls(self) -> int:
        import requests

        stats = requests.get(f"{self.args.wandb_url}/_admin/stats", timeout=10).json()
        return int(stats["graphql"]["operations"].get("WatchCollections", 0))

    def check_event_driven(self) -> None:
        poll = self.args.poll_seconds
        before = {r["dag_run_id"] for r in self.api.get(f"dags/{EVENT_DAG}/dagRuns")["dag_runs"]}
        expect(not before, f"{EVENT_DAG} ran before the alias moved: {before}")
        # The watcher counts what it sees at its first poll as seen: move the alias only after that.
        # Deferred sensors share the poll (same GraphQL operation), so count only polls made from now
        # on, when the sensors are done; a second later that poll's answer is surely taken.
        start = self.watch_polls()
        polls = wait_until("the triggerer to poll the watched collection",
                           lambda: (self.watch_polls() - start) or None, 120)
        time.sleep(1)
        target = self.sdk.artifact(f"{COLLECTION}:v0")
        moved_at = self.move_alias(f"{COLLECTION}:v0", "candidate")
        log(f"moved 'candidate' to {COLLECTION}:v0 with the SDK (after {polls} watch poll(s)); waiting for a run")

        def new_run() -> dict[str, Any] | None:
            found = self.api.get(f"dags/{EVENT_DAG}/dagRuns")["dag_runs"]
            return found[0] if found else None

        run = wait_until(f"{EVENT_DAG} to be triggered", new_run, 2 * poll + 60, every=0.5)
        latency = parse_time(run["queued_at"]) - moved_at
        expect(run["run_type"] == "asset_triggered", f"{EVENT_DAG} run is {run['run_type']!r}, not asset_triggered")
        expect(latency <= 2 * poll, f"{EVENT_DAG} was queued {latency:.1f}s after the move; more than two polls "
                                    f"({2 * poll:.0f}s)")
        state = wait_until(f"{EVENT_DAG} to finish",
                           lambda: (s if (s := self.api.run_state(EVENT_DAG, run["dag_run_id"])) in FINISHED else None),
                           self.args.run_timeout)
        expect(state == "success", f"{EVENT_DAG} run ended {state!r}")
        result = self.api.xcom(EVENT_DAG, run["dag_run_id"], "describe_candidate")
        expect(result["digest"] == target.digest and result["qualified_name"].endswith(":v0"),
               f"{EVENT_DAG} evaluated another version: {result}")
        host = self.api.task_instances(EVENT_DAG, run["dag_run_id"])["describe_candidate"]["hostname"]
        self.summary["event_driven"] = {"run_id": run["dag_run_id"], "latency_seconds": round(latency, 2),
                                        "poll_seconds": poll, "version": result["qualified_name"], "host": host}
        log(f"{EVENT_DAG} queued {latency:.1f}s after the move (poll {poll:.0f}s), evaluated "
            f"{result['qualified_name']} on {host}")

    # --- 5. extra links ---------------------------------------------------------------------

    def check_links(self, runs: dict[str, str]) -> dict[str, str]:
        checked = {}
        tasks = ((E2E_DAG, "download_on_a"), (PROMOTION_DAG, "download_candidate"), (E2E_DAG, "wait_for_ready"))
        for dag, task in tasks:
            links = self.api.links(dag, runs[dag], task)
            url = links.get("W&B Artifact") or ""
            version = self.api.xcom(dag, runs[dag], task)
            expect(url == version["url"], f"{dag}.{task}: W&B link {url!r} is not the version's "
                                                        f"URL {version['url']!r}")
            sdk_version = self.sdk.artifact(version["qualified_name"])
            expect(url == sdk_version.url, f"{dag}.{task}: W&B link {url!r}, the SDK says {sdk_version.url!r}")
            checked[f"{dag}.{task}"] = url
        self.summary["links"] = checked
        log(f"W&B links resolve to the versions: {checked}")
        return checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="Airflow API server base URL")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-file", required=True, help="the simple auth manager's passwords JSON")
    parser.add_argument("--wandb-url", required=True)
    parser.add_argument("--wandb-key", required=True)
    parser.add_argument("--work", required=True, help="the deployment's temp folder (machine-a/, machine-b/)")
    parser.add_argument("--artifacts", required=True, help="where screenshots and summary.json go")
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    parser.add_argument("--run-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    deployment = Deployment(args)
    try:
        deployment.wait_healthy()
        deployment.check_connection()
        deployment.wait_dags()
        runs = deployment.start_runs()
        deferred = deployment.follow_runs(runs)
        deployment.check_workers(runs)
        deployment.check_deferral(runs, deferred)
        deployment.check_links(runs)
        deployment.check_event_driven()
        from .screenshots import take_screenshots

        shots = take_screenshots(args.api, deployment.api.token, artifacts, E2E_DAG, runs[E2E_DAG], "download_on_a",
                                 deployment.summary["links"][f"{E2E_DAG}.download_on_a"])
        deployment.summary["screenshots"] = {name: str(path) for name, path in shots.items()}
    except CheckFailed as exc:
        deployment.summary["failed"] = str(exc)
        log(f"FAILED: {exc}")
        return 1
    finally:
        deployment.summary["check_seconds"] = round(time.monotonic() - started, 1)
        (artifacts / "summary.json").write_text(json.dumps(deployment.summary, indent=2) + "\n")
    log(f"all checks passed in {deployment.summary['check_seconds']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
