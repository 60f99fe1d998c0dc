"""``--seed demo``: a team, a project and dataset/model collections a demo DAG can use.

The files are small but real: a CSV of labelled points and a JSON linear model, so the demo can
evaluate the model on the data and compute a true accuracy.
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


def _dataset(seed: int, rows: int = 200) -> bytes:
    rng = random.Random(seed)
    lines = ["x1,x2,label"]
    for _ in range(rows):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        label = int(x1 + 0.5 * x2 + rng.gauss(0, 0.2) > 0)
        lines.append(f"{x1:.4f},{x2:.4f},{label}")
    return ("\n".join(lines) + "\n").encode()


def _model(w1: float, w2: float, bias: float) -> bytes:
    return json.dumps({"kind": "linear", "weights": [w1, w2], "bias": bias}, indent=2).encode()


def seed_demo(store: Store, username: str) -> None:
    """Create the demo team (``username`` as admin), org, project and versions."""
    store.add_team(DEMO_TEAM, {username: "admin"})
    store.add_organization(DEMO_ORG, DEMO_TEAM)
    user = store.user_by_name(username)
    assert user is not None
    for index in range(3):
        store.seed_artifact(
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
        store.seed_artifact(
            user, DEMO_TEAM, DEMO_PROJECT, MODEL, "model",
            [SeedFile("model.json", _model(w1, w2, bias)),
             SeedFile("training/config.json", json.dumps({"epochs": 10 + index}).encode())],
            aliases=aliases,
            metadata={"accuracy": round(0.7 + 0.1 * index, 2), "framework": "linear",
                      "eval": {"split": "test"}},
            description=f"Churn model trained in round {index}",
        )
