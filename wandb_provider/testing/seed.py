"""``--seed demo``: a team, a project and dataset/model collections a demo DAG can use.

The files are small but real: a CSV of labelled points and a JSON linear model, so the demo can
evaluate the model on the data and compute a true accuracy; and a raw customer export with the
faults real exports have (duplicates, blanks, stray spaces and case, unreadable numbers) for the
data-pipeline example to clean.
"""

from __future__ import annotations

import json
import random

from .store import SeedFile, Store

DEMO_TEAM = "acme"
DEMO_ORG = "acme-corp"
DEMO_PROJECT = "churn"
DATASET = "churn-dataset"
MODEL = "churn-model"
RAW = "churn-raw"
PLANS = ("basic", "pro", "enterprise")


def _dataset(seed: int, rows: int = 200) -> bytes:
    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for _ in range(rows):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        label = int(x1 + 0.5 * x2 + rng.gauss(0, 0.2) > 0)
        lines.append(f"{x1:.4f},{x2:.4f},{label}")
    return ("\n".join(lines) + "\n").encode()


def _raw_customers(seed: int, rows: int) -> bytes:
    """``customers.csv`` as exported: about one row in ten is a duplicate, has a blank or unreadable
    field, or writes its plan in another case or with spaces around it."""
    rng = random.Random(seed)
    lines = ["customer_id,plan,monthly_spend,support_tickets,churned"]
    for index in range(rows):
        plan = rng.choice(PLANS)
        spend = {"basic": 19.0, "pro": 49.0, "enterprise": 199.0}[plan] * rng.uniform(0.8, 1.2)
        tickets = rng.randint(0, 6)
        churned = "yes" if rng.random() < 0.1 + 0.08 * tickets else "no"
        fields = [f"C{1000 + index}", plan, f"{spend:.2f}", str(tickets), churned]
        fault = rng.random()
        if fault < 0.04:
            fields[2] = ""
        elif fault < 0.07:
            fields[3] = "n/a"
        elif fault < 0.12:
            fields[1] = f" {plan.upper()} "
        lines.append(",".join(fields))
        if rng.random() < 0.05:
            lines.append(",".join(fields))
    return ("\n".join(lines) + "\n").encode()


def _model(w1: float, w2: float, bias: float) -> bytes:
    return json.dumps({"kind": "linear", "weights": [w1, w2], "bias": bias}, indent=2).encode()


def seed_demo(store: Store, username: str) -> None:
    """Create the demo team (``username`` as admin), org, project and versions."""
    store.accounts.add_team(DEMO_TEAM, {username: "admin"})
    store.accounts.add_organization(DEMO_ORG, DEMO_TEAM)
    user = store.accounts.user_by_name(username)
    assert user is not None
    for index in range(3):
        store.seeder.seed_artifact(
            user, DEMO_TEAM, DEMO_PROJECT, DATASET, "dataset",
            [SeedFile("train.csv", _dataset(index)), SeedFile("test.csv", _dataset(100 + index)),
             SeedFile("README.md", f"Churn dataset, snapshot {index}.\n".encode())],
            aliases=["training"] if index == 2 else [],
            metadata={"rows": 200, "snapshot": index},
            description=f"Churn dataset snapshot {index}",
        )
    models = [(0.2, 0.9, 0.3), (0.9, 0.5, 0.0), (1.0, 0.45, 0.01)]
    for index, (w1, w2, bias) in enumerate(models):
        aliases = {0: [], 1: ["production"], 2: ["candidate"]}[index]
        # Each model is logged by its training run, whose summary has the validation loss (a gate's
        # ``run.summary.val_loss``) and whose config the learning rate.
        store.runs.upsert_run(user, {
            "entityName": DEMO_TEAM, "modelName": DEMO_PROJECT, "name": f"train-{index}", "jobType": "train",
            "state": "finished", "config": json.dumps({"lr": {"value": 0.01 * (index + 1), "desc": None}}),
            "summaryMetrics": json.dumps({"val_loss": round(0.5 - 0.1 * index, 2), "epoch": 10 + index}),
        })
        store.seeder.seed_artifact(
            user, DEMO_TEAM, DEMO_PROJECT, MODEL, "model",
            [SeedFile("model.json", _model(w1, w2, bias)),
             SeedFile("training/config.json", json.dumps({"epochs": 10 + index}).encode())],
            aliases=aliases,
            metadata={"accuracy": round(0.7 + 0.1 * index, 2), "framework": "linear",
                      "eval": {"split": "test"}},
            description=f"Churn model trained in round {index}",
            run=f"train-{index}",
        )
    for index, rows in enumerate((120, 150)):
        store.seeder.seed_artifact(
            user, DEMO_TEAM, DEMO_PROJECT, RAW, "dataset", [SeedFile("customers.csv", _raw_customers(index, rows))],
            metadata={"export": index, "source": "crm"}, description=f"Raw customer export {index}",
        )
